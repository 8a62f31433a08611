package session

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// MaxExport bounds Export's output (HKDF-SHA256's limit is 255 blocks; no
// use needs more than a few keys).
const MaxExport = 255

// Export derives n bytes of keying material bound to this session's
// handshake, for another protocol to use (as TLS exporters, RFC 8446 §7.5,
// and EDHOC_Exporter, RFC 9528 §4.2.1, do): OSCORE master secret and salt in
// CoAP's OSCORE mode are made this way. Both ends get the same bytes for the
// same label and context; different labels give independent keys. The
// secret behind it is fixed at the handshake, so later ratchet steps do not
// change exported keys: re-handshake to re-key an exported context.
//
// The label is the caller's name for the use, e.g. "OSCORE Master Secret".
func (s *Session) Export(label string, context []byte, n int) ([]byte, error) {
	if n <= 0 || n > MaxExport {
		return nil, fmt.Errorf("%w: export length %d (1..%d)", ErrMalformed, n, MaxExport)
	}
	if label == "" || len(label) > 255 || len(context) > 0xffff {
		return nil, fmt.Errorf("%w: export label or context length", ErrMalformed)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	// info = label prefix || u8 len(label) || label || u16 len(context) || context:
	// unambiguous for any pair of strings.
	info := make([]byte, 0, len(labelExport)+3+len(label)+len(context))
	info = append(info, labelExport...)
	info = append(info, byte(len(label)))
	info = append(info, label...)
	info = append(info, byte(len(context)>>8), byte(len(context)))
	info = append(info, context...)
	return hkdf.Expand(sha256.New, s.exporter[:], string(info), n)
}
