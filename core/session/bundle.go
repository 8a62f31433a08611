package session

import (
	"encoding/binary"
	"fmt"
)

// A bundle carries one session data frame per recipient session in a
// single transport message, with the sender's id in clear in front, so a
// publisher with sessions to N subscribers of one MQTT topic still makes
// one publish (one PUBACK, one retained copy) and each subscriber picks
// the frame of its own session (docs/protocol.md, "Session bundles").
// The bundle itself is not authenticated: every entry is, by its session,
// and the receiver checks that the session's peer is the claimed sender.

const typeBundle = 0x12

// MaxBundleFrames bounds the entries of a bundle.
const MaxBundleFrames = MaxRecipients

// EncodeBundle frames data frames made by sessions of sender.
func EncodeBundle(sender string, frames [][]byte) ([]byte, error) {
	if !validID(sender) || len(frames) == 0 || len(frames) > MaxBundleFrames {
		return nil, fmt.Errorf("%w: bundle of %d frames from %q", ErrMalformed, len(frames), sender)
	}
	n := 4 + len(sender)
	for _, f := range frames {
		n += 2 + len(f)
	}
	w := writer{b: make([]byte, 0, n)}
	w.u8(Version)
	w.u8(typeBundle)
	w.str8(sender)
	w.u8(byte(len(frames)))
	for _, f := range frames {
		w.bytes16(f)
	}
	return w.b, w.err
}

// AppendBundleHeader starts a bundle of n entries from sender in dst; add
// the entries with AppendBundleEntry. Together they build the bundle
// EncodeBundle would, without a separate buffer per frame.
func AppendBundleHeader(dst []byte, sender string, n int) ([]byte, error) {
	if !validID(sender) || n <= 0 || n > MaxBundleFrames {
		return dst, fmt.Errorf("%w: bundle of %d frames from %q", ErrMalformed, n, sender)
	}
	dst = append(dst, Version, typeBundle, byte(len(sender)))
	dst = append(dst, sender...)
	return append(dst, byte(n)), nil
}

// AppendBundleEntry protects plaintext with s straight into the bundle
// being built in dst. On error dst is returned unchanged.
func AppendBundleEntry(dst []byte, s *Session, plaintext []byte) ([]byte, error) {
	at := len(dst)
	b, err := s.AppendProtect(append(dst, 0, 0), plaintext)
	if err != nil {
		return dst, err
	}
	n := len(b) - at - 2
	if n > 0xffff {
		return dst, fmt.Errorf("%w: %d-byte bundle entry", ErrMalformed, n)
	}
	binary.BigEndian.PutUint16(b[at:], uint16(n))
	return b, nil
}

// ParseBundle splits a bundle; the frames alias the input.
func ParseBundle(b []byte) (sender string, frames [][]byte, err error) {
	raw, frames, err := SplitBundle(b, nil)
	if err != nil {
		return "", nil, err
	}
	return string(raw), frames, nil
}

// SplitBundle is ParseBundle appending the entries to frames (pass a
// small array's slice to avoid allocating) and returning the sender's id
// as bytes of b.
func SplitBundle(b []byte, frames [][]byte) (sender []byte, out [][]byte, err error) {
	r := reader{b: b}
	r.header(typeBundle)
	sender = r.bytes8()
	n := int(r.u8())
	// Each entry needs at least its length and a data frame header.
	if r.err == nil && (n == 0 || n > MaxBundleFrames || n*(2+dataHeaderSize+tagSize) > len(b)-r.off) {
		return nil, nil, fmt.Errorf("%w: bundle of %d frames", ErrMalformed, n)
	}
	for i := 0; r.err == nil && i < n; i++ {
		f := r.bytes16()
		if r.err == nil && len(f) < 2+SessionIDSize {
			return nil, nil, fmt.Errorf("%w: bundle entry of %d bytes", ErrMalformed, len(f))
		}
		frames = append(frames, f)
	}
	if err := r.end(); err != nil {
		return nil, nil, err
	}
	if !validIDBytes(sender) {
		return nil, nil, fmt.Errorf("%w: sender id syntax", ErrMalformed)
	}
	return sender, frames, nil
}

// IsBundle reports whether b claims to be a bundle (version and type only).
func IsBundle(b []byte) bool { return len(b) >= 2 && b[0] == Version && b[1] == typeBundle }

// ClaimedSender reads the sender a multi-recipient sealed frame, a bundle
// or a handshake Init names in clear, without cryptography: for charging
// the right budget before any verification. The claim is unauthenticated.
func ClaimedSender(b []byte) (string, bool) {
	if len(b) < 3 || b[0] != Version {
		return "", false
	}
	off := 2
	switch b[1] {
	case typeMultiSealed, typeBundle, typeSealed:
	case typeInit:
		off = 3 + SessionIDSize
	default:
		return "", false
	}
	if len(b) <= off || len(b) < off+1+int(b[off]) {
		return "", false
	}
	return string(b[off+1 : off+1+int(b[off])]), true
}

// FrameSessionID returns the session id of a data frame.
func FrameSessionID(frame []byte) ([SessionIDSize]byte, bool) {
	if len(frame) < 2+SessionIDSize || frame[0] != Version || frame[1] != typeData {
		return [SessionIDSize]byte{}, false
	}
	return [SessionIDSize]byte(frame[2 : 2+SessionIDSize]), true
}
