package session

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"io"
)

// Multi-recipient sealed frames (docs/protocol.md, "Multi-recipient sealed
// frames"): the payload is encrypted once under a random content key, the
// content key is wrapped for each recipient under a secret encapsulated to
// that recipient's certified KEM key, and the sender signs the whole frame
// once. One MQTT publish then reaches every authorised subscriber of a
// topic, and each of them checks the sender's signature, so no recipient
// can forge a frame for another (unlike a shared symmetric tag).

// MaxRecipients bounds a multi-recipient frame: 32 X-Wing ciphertexts are
// about 36 KiB. SealMulti also refuses a frame larger than MaxSealedSize,
// so many recipients leave less room for the payload.
const MaxRecipients = 32

const (
	typeMultiSealed = 0x11
	labelMultiWrap  = "pqc-iiot v1 multi wrap"
	labelMultiSig   = "pqc-iiot v1 multi sig"
	wrappedKeySize  = 32 + 16 // content key + GCM tag
	// minEntry is the smallest encoding of one recipient entry: id length
	// and one id byte, key id, KEM id, ciphertext length, wrapped key.
	minEntry = 1 + 1 + KeyIDSize + 1 + 2 + wrappedKeySize
)

// multiEntry is one recipient's part of a multi-recipient frame.
type multiEntry struct {
	rcpt    string
	rcptKey []byte
	kem     byte
	kemCT   []byte
	wrapped []byte
}

// multiHeader is everything before the payload ciphertext.
type multiHeader struct {
	sender    string
	senderKey []byte
	seq       uint64
	entries   []multiEntry
}

// wrapInfo binds a wrapping key to the sender, the message, the recipient
// and the context, so one recipient's wrapped key cannot be moved to
// another frame, recipient or topic.
func (h *multiHeader) wrapInfo(e *multiEntry, context string) string {
	w := writer{}
	w.raw([]byte(labelMultiWrap))
	w.str8(h.sender)
	w.raw(h.senderKey)
	w.u64(h.seq)
	w.str8(e.rcpt)
	w.raw(e.rcptKey)
	w.u8(e.kem)
	w.bytes16(e.kemCT)
	w.str16(context)
	return string(w.b)
}

func wrapAEAD(ss []byte, info string) (cipher.AEAD, []byte, error) {
	return sealedAEAD(ss, info)
}

// contentAEAD uses an all-zero nonce: the content key is random and used
// for exactly one encryption.
func contentAEAD(cek []byte) (cipher.AEAD, []byte, error) {
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	return aead, make([]byte, 12), err
}

// SealMulti encrypts plaintext once for every recipient in rcpts, bound
// to context, and signs the frame with the current key. Recipients must be
// distinct devices.
func (s *Sealer) SealMulti(rcpts []Recipient, context string, plaintext []byte) ([]byte, error) {
	own := s.cfg.Local.Current
	if len(rcpts) == 0 || len(rcpts) > MaxRecipients || len(plaintext) > MaxSealedPlaintext || len(context) > MaxContextLen {
		return nil, fmt.Errorf("%w: %d recipients, %d-byte message", ErrMalformed, len(rcpts), len(plaintext))
	}
	seen := make(map[string]bool, len(rcpts))
	for _, r := range rcpts {
		if !validID(r.DeviceID) || len(r.KeyID) != KeyIDSize || seen[r.DeviceID] {
			return nil, fmt.Errorf("%w: recipient %q", ErrMalformed, r.DeviceID)
		}
		seen[r.DeviceID] = true
	}
	if err := s.cfg.policyFresh(s.cfg.now()); err != nil {
		return nil, err
	}
	seq, err := s.nextSeq()
	if err != nil {
		return nil, err
	}
	cek := make([]byte, 32)
	defer clear(cek)
	if _, err := io.ReadFull(s.cfg.rand(), cek); err != nil {
		return nil, err
	}
	h := multiHeader{sender: s.cfg.Local.ID, senderKey: own.KeyID, seq: seq, entries: make([]multiEntry, len(rcpts))}
	for i, r := range rcpts {
		kemID, kem, err := kemByAlg(r.KEM.Alg)
		if err != nil {
			return nil, err
		}
		ct, ss, err := kem.Encapsulate(r.KEM.Key, s.cfg.rand())
		if err != nil {
			return nil, err
		}
		e := &h.entries[i]
		*e = multiEntry{rcpt: r.DeviceID, rcptKey: r.KeyID, kem: kemID, kemCT: ct}
		aead, nonce, err := wrapAEAD(ss, h.wrapInfo(e, context))
		clear(ss)
		if err != nil {
			return nil, err
		}
		e.wrapped = aead.Seal(nil, nonce, cek, nil)
	}
	w := writer{}
	h.encode(&w)
	aead, nonce, err := contentAEAD(cek)
	if err != nil {
		return nil, err
	}
	frame, err := sealAndSign(&w, aead, nonce, plaintext, context, own, labelMultiSig)
	if err != nil {
		return nil, err
	}
	if len(frame) > MaxSealedSize {
		return nil, fmt.Errorf("%w: %d-byte frame for %d recipients exceeds %d", ErrMalformed, len(frame), len(rcpts), MaxSealedSize)
	}
	return frame, nil
}

func (h *multiHeader) encode(w *writer) {
	w.u8(Version)
	w.u8(typeMultiSealed)
	w.str8(h.sender)
	w.raw(h.senderKey)
	w.u64(h.seq)
	w.u8(byte(len(h.entries)))
	for _, e := range h.entries {
		w.str8(e.rcpt)
		w.raw(e.rcptKey)
		w.u8(e.kem)
		w.bytes16(e.kemCT)
		w.raw(e.wrapped)
	}
}

// parseMulti checks the structure only; nothing is verified.
func parseMulti(frame []byte) (h multiHeader, ct []byte, signedLen int, sig []byte, err error) {
	r := reader{b: frame}
	r.header(typeMultiSealed)
	h.sender = string(r.bytes8())
	h.senderKey = r.take(KeyIDSize)
	h.seq = r.u64()
	n := int(r.u8())
	// Bound the count by what is left before allocating for it.
	if r.err == nil && (n == 0 || n > MaxRecipients || n*minEntry > len(frame)-r.off) {
		return h, nil, 0, nil, fmt.Errorf("%w: %d recipients", ErrMalformed, n)
	}
	if r.err == nil {
		h.entries = make([]multiEntry, n)
	}
	for i := range h.entries {
		e := &h.entries[i]
		e.rcpt = string(r.bytes8())
		e.rcptKey = r.take(KeyIDSize)
		e.kem = r.u8()
		e.kemCT = r.bytes16()
		e.wrapped = r.take(wrappedKeySize)
	}
	ct = r.bytes16()
	signedLen = r.off
	sig = r.bytes16()
	return h, ct, signedLen, sig, r.end()
}

// MultiSealedSender returns the claimed sender of a multi-recipient frame
// without any cryptography, or false when frame is not one. The claim is
// unauthenticated: transports use it only to choose whose budget to charge.
func MultiSealedSender(frame []byte) (string, bool) {
	if len(frame) < 3 || frame[0] != Version || frame[1] != typeMultiSealed {
		return "", false
	}
	n := int(frame[2])
	if len(frame) < 3+n {
		return "", false
	}
	return string(frame[3 : 3+n]), true
}

// IsMultiSealed reports whether frame claims to be a multi-recipient
// sealed frame (version and type bytes only).
func IsMultiSealed(frame []byte) bool {
	return len(frame) >= 2 && frame[0] == Version && frame[1] == typeMultiSealed
}

// OpenMulti checks a multi-recipient frame received on context and
// returns the payload if this device is among the recipients. A frame that
// does not name this device fails with ErrWrongRecipient before any
// cryptography. Otherwise, cheapest first: sender's key, replay
// pre-check, budget, signature, decapsulation, unwrapping and decryption;
// the replay window records the sequence number only after all of them
// passed. Multi-recipient and single-recipient sealed frames share the
// sender's sequence and this device's replay window.
func (o *Opener) OpenMulti(frame []byte, context string) (*Opened, error) {
	if len(frame) > MaxSealedSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(frame))
	}
	h, ct, signedLen, sig, err := parseMulti(frame)
	if err != nil {
		return nil, err
	}
	if !validID(h.sender) {
		return nil, fmt.Errorf("%w: device id syntax", ErrMalformed)
	}
	var mine *multiEntry
	for i := range h.entries {
		e := &h.entries[i]
		if !validID(e.rcpt) {
			return nil, fmt.Errorf("%w: recipient id syntax", ErrMalformed)
		}
		if e.rcpt == o.cfg.Local.ID {
			mine = e
		}
	}
	if mine == nil {
		return nil, fmt.Errorf("%w: %d recipients, not %s", ErrWrongRecipient, len(h.entries), o.cfg.Local.ID)
	}
	now := o.cfg.now()
	own, err := o.cfg.Local.epoch(mine.rcptKey, now)
	if err != nil {
		return nil, err
	}
	alg, kem, err := kemByID(mine.kem)
	if err != nil {
		return nil, err
	}
	key, err := own.kem(alg)
	if err != nil {
		return nil, err
	}
	if len(mine.kemCT) != kem.CiphertextSize() {
		return nil, fmt.Errorf("%w: KEM ciphertext of %d bytes", ErrMalformed, len(mine.kemCT))
	}
	if err := o.authenticate(h.sender, h.senderKey, h.seq, labelMultiSig, frame[:signedLen], context, sig, now); err != nil {
		return nil, err
	}
	ss, err := kem.Decapsulate(key.Secret(), mine.kemCT)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuth, err)
	}
	waead, wnonce, err := wrapAEAD(ss, h.wrapInfo(mine, context))
	clear(ss)
	if err != nil {
		return nil, err
	}
	cek, err := waead.Open(nil, wnonce, mine.wrapped, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped key", ErrAuth)
	}
	defer clear(cek)
	aead, nonce, err := contentAEAD(cek)
	if err != nil {
		return nil, err
	}
	header := frame[:signedLen-2-len(ct)]
	pt, err := aead.Open(nil, nonce, ct, append(append([]byte(nil), header...), context...))
	if err != nil {
		return nil, fmt.Errorf("%w: AEAD tag", ErrAuth)
	}
	if err := o.accept(h.sender, h.seq); err != nil {
		clear(pt)
		return nil, err
	}
	return &Opened{Sender: h.sender, SenderKey: h.senderKey, Seq: h.seq, Plaintext: pt}, nil
}
