package session

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// Handshake limits.
const (
	MaxHandshakeSize = 16 << 10
	MaxContextLen    = 1024
	confirmSize      = 16
	// MaxClockSkew bounds how far an Init's timestamp may be from the
	// responder's clock; the counter is the replay defence, the timestamp
	// limits how long a captured Init stays useful if counters were lost.
	MaxClockSkew = 5 * time.Minute
)

// initMsg is a parsed or to-be-encoded Init.
type initMsg struct {
	suite            Suite
	sid              [SessionIDSize]byte
	initiator, rcpt  string
	initKey, rcptKey []byte
	context          string
	counter          uint64
	timestamp        uint64
	x25519           []byte
	ek               []byte
	signedLen        int // bytes covered by the signature
	sig              []byte
}

func (m *initMsg) encodeBody() ([]byte, error) {
	w := writer{}
	w.u8(Version)
	w.u8(typeInit)
	w.u8(byte(m.suite))
	w.raw(m.sid[:])
	w.str8(m.initiator)
	w.raw(m.initKey)
	w.str8(m.rcpt)
	w.raw(m.rcptKey)
	w.str16(m.context)
	w.u64(m.counter)
	w.u64(m.timestamp)
	w.raw(m.x25519)
	w.bytes16(m.ek)
	return w.b, w.err
}

// parseInit checks lengths against the suite as it reads; unknown suites
// are refused before anything else is parsed.
func parseInit(frame []byte) (*initMsg, error) {
	r := reader{b: frame}
	r.header(typeInit)
	m := &initMsg{suite: Suite(r.u8())}
	if r.err != nil {
		return nil, r.err
	}
	kem, err := m.suite.kem()
	if err != nil {
		return nil, fmt.Errorf("%w: suite 0x%02x", ErrPolicy, byte(m.suite))
	}
	copy(m.sid[:], r.take(SessionIDSize))
	m.initiator = string(r.bytes8())
	m.initKey = r.take(KeyIDSize)
	m.rcpt = string(r.bytes8())
	m.rcptKey = r.take(KeyIDSize)
	m.context = string(r.bytes16())
	m.counter, m.timestamp = r.u64(), r.u64()
	m.x25519 = r.take(32)
	m.ek = r.bytes16()
	m.signedLen = r.off
	m.sig = r.bytes16()
	if err := r.end(); err != nil {
		return nil, err
	}
	if len(m.ek) != kem.PublicKeySize() || len(m.context) > MaxContextLen {
		return nil, fmt.Errorf("%w: Init field sizes", ErrMalformed)
	}
	if !validID(m.initiator) || !validID(m.rcpt) {
		return nil, fmt.Errorf("%w: device id syntax", ErrMalformed)
	}
	return m, nil
}

// respMsg is a parsed or to-be-encoded Response.
type respMsg struct {
	suite     Suite
	sid       [SessionIDSize]byte
	x25519    []byte
	ct        []byte
	thLen     int // bytes of the Response in the transcript hash
	confirm   []byte
	signedLen int
	sig       []byte
}

func (m *respMsg) encodeTH() ([]byte, error) {
	w := writer{}
	w.u8(Version)
	w.u8(typeResponse)
	w.u8(byte(m.suite))
	w.raw(m.sid[:])
	w.raw(m.x25519)
	w.bytes16(m.ct)
	return w.b, w.err
}

func parseResponse(frame []byte) (*respMsg, error) {
	r := reader{b: frame}
	r.header(typeResponse)
	m := &respMsg{suite: Suite(r.u8())}
	if r.err != nil {
		return nil, r.err
	}
	kem, err := m.suite.kem()
	if err != nil {
		return nil, fmt.Errorf("%w: suite 0x%02x", ErrPolicy, byte(m.suite))
	}
	copy(m.sid[:], r.take(SessionIDSize))
	m.x25519 = r.take(32)
	m.ct = r.bytes16()
	m.thLen = r.off
	m.confirm = r.take(confirmSize)
	m.signedLen = r.off
	m.sig = r.bytes16()
	if err := r.end(); err != nil {
		return nil, err
	}
	if len(m.ct) != kem.CiphertextSize() {
		return nil, fmt.Errorf("%w: KEM ciphertext of %d bytes", ErrMalformed, len(m.ct))
	}
	return m, nil
}

// transcript is TH = SHA-256(label || Init || Response up to its KEM
// ciphertext): everything both sides said before keys exist.
func transcript(init, respTH []byte) []byte {
	h := sha256.New()
	h.Write([]byte(labelTH))
	h.Write(init)
	h.Write(respTH)
	return h.Sum(nil)
}

// handshakeKeys is the TLS 1.3-style schedule: one extract over both
// shared secrets salted with the transcript, then an expand per key.
type handshakeKeys struct {
	root, i2r, r2i, finished, exporter [32]byte
}

func deriveHandshake(th, dh, kemSS []byte) (*handshakeKeys, error) {
	ikm := append(append([]byte(nil), dh...), kemSS...)
	defer clear(ikm)
	prk, err := hkdf.Extract(sha256.New, ikm, th)
	if err != nil {
		return nil, err
	}
	defer clear(prk)
	k := &handshakeKeys{}
	for _, o := range []struct {
		label string
		out   *[32]byte
	}{{labelRoot, &k.root}, {labelChainI2R, &k.i2r}, {labelChainR2I, &k.r2i}, {labelFinished, &k.finished}, {labelExporter, &k.exporter}} {
		b, err := hkdf.Expand(sha256.New, prk, o.label, 32)
		if err != nil {
			return nil, err
		}
		copy(o.out[:], b)
		clear(b)
	}
	return k, nil
}

func (k *handshakeKeys) confirm(th []byte) []byte {
	h := hmac.New(sha256.New, k.finished[:])
	h.Write(th)
	return h.Sum(nil)[:confirmSize]
}

func (k *handshakeKeys) wipe() {
	clear(k.root[:])
	clear(k.i2r[:])
	clear(k.r2i[:])
	clear(k.finished[:])
	clear(k.exporter[:])
}

// pending is an Init we sent and wait to hear about.
type pending struct {
	init    []byte
	msg     *initMsg
	eph     *ecdh.PrivateKey
	ek, dk  []byte
	kem     pqc.KEM
	expires time.Time
}

func (p *pending) wipe() { clear(p.dk) }
