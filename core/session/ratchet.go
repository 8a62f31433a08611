package session

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// SessionIDSize is the length of session ids.
const SessionIDSize = 16

// Data frame flags.
const (
	flagPleaseRatchet = 1 << 0 // the sender asks for a reply so a DH step happens
	flagEK            = 1 << 1 // a KEM encapsulation key follows the header
	flagCT            = 1 << 2 // a KEM ciphertext follows
	knownFlags        = flagPleaseRatchet | flagEK | flagCT
)

const (
	dataHeaderSize = 2 + SessionIDSize + 32 + 4 + 4 + 1
	tagSize        = 16
	// MaxPlaintext bounds a data frame's payload.
	MaxPlaintext = 60 << 10
	maxOldDHr    = 4 // previous peer ratchet keys remembered, to call their frames replays
	maxDKs       = 3 // own KEM decapsulation keys kept while a PQ step is outstanding
	// reserve is how far a snapshot reserves message numbers ahead by
	// default (Config.SnapshotReserve); well below MaxSkip so the peer
	// accepts the gap after a restore.
	reserve = 64
)

type skippedKey struct {
	pub [32]byte
	n   uint32
	mk  [32]byte
}

type kemPair struct{ ek, dk []byte }

// Session is an established session: a double ratchet with sparse
// post-quantum steps. Its methods are safe for concurrent use.
type Session struct {
	mu sync.Mutex
	m  *Manager

	id        [SessionIDSize]byte
	suite     Suite
	initiator bool
	peer      string
	peerKey   []byte
	context   string
	closed    bool
	made      uint64 // registration order in the manager (age)

	rk          [32]byte
	exporter    [32]byte // fixed at the handshake: Export's secret
	dhsPriv     [32]byte
	dhsPub      [32]byte
	dhr         [32]byte
	cks, ckr    [32]byte
	ns, nr, pn  uint32
	answered    bool // our sending key was made after the peer's current one
	stepPending bool // a DH step is due at the next send
	peerAsked   bool // the peer set "please ratchet"

	skipped []skippedKey // oldest first
	oldDHr  [][32]byte   // peer ratchet keys we have moved past
	dks     []kemPair    // own outstanding KEM keys, newest last
	peerEK  []byte       // latest KEM key the peer advertised, unused
	usedEK  [32]byte     // hash of the last peer key we encapsulated to
	sendCT  []byte       // KEM ciphertext carried by every frame of this sending chain
	pqCount uint64       // messages sent since the last PQ step
	pqAt    int64        // Unix time of the last PQ step
	pqSteps uint64       // completed post-quantum steps, for monitoring
	// restored: frames on the receiving chain from before a restart are
	// refused, so the session asks the peer to start a new chain.
	restored bool
	scratch  []byte // AAD buffer
	nsCeil   uint32 // with persistence: message numbers reserved by the last snapshot marshalled
	nrCeil   uint32
	ps       persistState // snapshot versions and the durable ceilings (reserve.go)
}

// ID is the session id.
func (s *Session) ID() [SessionIDSize]byte { return s.id }

// Peer is the other device's id.
func (s *Session) Peer() string { return s.peer }

// Context is the topic or path the session is bound to.
func (s *Session) Context() string { return s.context }

// NeedsReply reports that the peer asked for a reply so that the ratchet
// can take a DH (and possibly a post-quantum) step; send any message, an
// empty one will do.
func (s *Session) NeedsReply() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peerAsked
}

// PQSteps counts the post-quantum ratchet steps this session completed.
func (s *Session) PQSteps() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pqSteps
}

// Close wipes the keys and forgets the session (and its snapshot, with
// Resume); later calls fail with ErrClosed.
func (s *Session) Close() {
	s.mu.Lock()
	s.wipe()
	s.mu.Unlock()
	if s.m != nil {
		s.m.drop(s)
	}
}

func (s *Session) wipe() {
	s.closed = true
	s.ps.ceil = [2]ceilingKey{}
	clear(s.rk[:])
	clear(s.exporter[:])
	clear(s.dhsPriv[:])
	clear(s.cks[:])
	clear(s.ckr[:])
	for i := range s.skipped {
		clear(s.skipped[i].mk[:])
	}
	s.skipped = nil
	for _, k := range s.dks {
		clear(k.dk)
	}
	s.dks = nil
}

func (s *Session) usable() error {
	return s.usableUnder(s.policy())
}

// policy is the installed policy (nil without Trust). Senders read it
// before taking the session's lock: Trust's lock is shared by every
// session and the codec, and need not be taken while holding ours.
func (s *Session) policy() *identity.Policy {
	if t := s.m.cfg.Trust; t != nil {
		return t.Policy()
	}
	return nil
}

// usableUnder is usable with the policy p read by the caller.
func (s *Session) usableUnder(p *identity.Policy) error {
	if s.closed {
		return s.closedErr()
	}
	if s.m.cfg.Trust != nil {
		if err := s.suite.allowed(p); err != nil {
			s.wipe()
			return err
		}
	}
	return nil
}

// Protect encrypts one message for the peer.
func (s *Session) Protect(plaintext []byte) ([]byte, error) {
	return s.AppendProtect(nil, plaintext)
}

// AppendProtect is Protect appending the frame to dst (which may be nil),
// for callers that reuse a buffer or frame several messages into one: the
// data path then allocates only what the AES and GCM key schedules need.
// On error dst is returned unchanged.
//
// Only what orders messages happens under the session's lock: the checks,
// the header and the chain step that yields the message key. The AES-GCM
// key schedule and the encryption run after the lock is released, so
// publishers sharing a session (one per peer, many goroutines) queue for
// a few hundred nanoseconds each instead of for a whole encryption. Each
// message key is used once, by the caller that reserved it.
func (s *Session) AppendProtect(dst, plaintext []byte) ([]byte, error) {
	return s.appendProtect(dst, plaintext, s.context)
}

// MaxBinding bounds the data a frame can be bound to (ProtectBound).
const MaxBinding = 4096

// ProtectBound is Protect for a frame bound to data the transport carries
// beside it (CoAP: code, path, options, token): the AEAD also covers
// binding, which is not sent. UnprotectBound with any other binding fails
// the tag check before any state changes, so a frame moved elsewhere is
// refused without costing the genuine frame its message number. An empty
// binding is the same as Protect.
func (s *Session) ProtectBound(plaintext, binding []byte) ([]byte, error) {
	if len(binding) > MaxBinding {
		return nil, fmt.Errorf("%w: %d-byte binding", ErrMalformed, len(binding))
	}
	return s.appendProtect(nil, plaintext, s.context+string(binding))
}

// UnprotectBound opens a frame made by ProtectBound with the same binding.
func (s *Session) UnprotectBound(frame, binding []byte) ([]byte, error) {
	if len(binding) > MaxBinding {
		return nil, fmt.Errorf("%w: %d-byte binding", ErrMalformed, len(binding))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unprotect(nil, frame, s.context+string(binding))
}

// appendProtect protects with aadTail (the session context, then any
// binding) after the header as associated data.
func (s *Session) appendProtect(dst, plaintext []byte, aadTail string) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return dst, fmt.Errorf("%w: %d-byte message", ErrMalformed, len(plaintext))
	}
	p := s.policy()
	s.mu.Lock()
	frame, start, mk, err := s.reserveMessage(dst, len(plaintext), p)
	s.mu.Unlock()
	if err != nil {
		return dst, err
	}
	return sealMessage(frame, start, &mk, plaintext, aadTail), nil
}

// aadPool recycles AAD buffers for encryptions outside the session lock.
var aadPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// sealMessage encrypts plaintext with the one-use key mk after the header
// frame[start:], and wipes mk.
func sealMessage(frame []byte, start int, mk *[32]byte, plaintext []byte, context string) []byte {
	aead := msgAEAD(mk)
	clear(mk[:])
	buf := aadPool.Get().(*[]byte)
	aad := append(append((*buf)[:0], frame[start:]...), context...)
	frame = aead.Seal(frame, zeroNonce[:], plaintext, aad)
	if cap(aad) <= 1024 {
		*buf = aad
		aadPool.Put(buf)
	}
	return frame
}

// ProtectBatch protects messages in order under one lock.
func (s *Session) ProtectBatch(msgs [][]byte) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		var err error
		if out[i], err = s.protect(nil, m); err != nil {
			return out[:i], err
		}
	}
	return out, nil
}

func (s *Session) protect(dst, plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return dst, fmt.Errorf("%w: %d-byte message", ErrMalformed, len(plaintext))
	}
	frame, start, mk, err := s.reserveMessage(dst, len(plaintext), s.policy())
	if err != nil {
		return dst, err
	}
	return sealMessage(frame, start, &mk, plaintext, s.context), nil
}

// reserveMessage takes the next message number: it appends the frame's
// header to dst and returns the message key, the chain moved past it. The
// caller holds s.mu and must use the key once, for this frame.
func (s *Session) reserveMessage(dst []byte, ptLen int, p *identity.Policy) (frame []byte, start int, mk [32]byte, err error) {
	for {
		if err := s.prepareSend(p); err != nil {
			return dst, 0, mk, err
		}
		if !s.m.persists() {
			break
		}
		// Waiting for a reservation in flight releases the lock: anything
		// may have changed meanwhile, so check again from the top.
		waited, err := s.sendReserved()
		if err != nil {
			return dst, 0, mk, err
		}
		if !waited {
			s.reserveAhead()
			break
		}
	}
	frame, start = s.appendHeader(dst, ptLen)
	mk, next := kdfCK(&s.cks)
	s.cks = next
	s.ns++
	s.pqCount++
	s.peerAsked = false
	return frame, start, mk, nil
}

// prepareSend does what must happen before a message number is used: a
// pending DH step, the chain's hard cap, a due post-quantum advertisement.
func (s *Session) prepareSend(p *identity.Policy) error {
	if err := s.usableUnder(p); err != nil {
		return err
	}
	if s.stepPending {
		if err := s.sendStep(); err != nil {
			return err
		}
	}
	if s.ns >= s.m.cfg.HardCap {
		return fmt.Errorf("%w: %d messages on this chain", ErrRekeyRequired, s.ns)
	}
	return s.maybeAdvertise(p)
}

// aad is the header followed by the context: the context is not sent, the
// receiver supplies it, so a frame moved to another topic fails.
// It is built in a per-session scratch buffer (the session is locked),
// kept only while small so idle sessions stay small.
func (s *Session) aad(header []byte, context string) []byte {
	b := append(append(s.scratch[:0], header...), context...)
	if cap(b) <= 256 {
		s.scratch = b
	} else {
		s.scratch = nil
	}
	return b
}

func (s *Session) flags() byte {
	var f byte
	if s.ns >= s.m.cfg.SoftCap || s.restored {
		f |= flagPleaseRatchet
	}
	if s.advertising() {
		f |= flagEK | flagPleaseRatchet
	}
	if s.sendCT != nil {
		f |= flagCT
	}
	return f
}

func (s *Session) advertising() bool { return len(s.dks) > 0 }

// appendHeader appends a data frame header to dst, with room for the rest
// of the frame, and returns where the frame starts.
func (s *Session) appendHeader(dst []byte, ptLen int) ([]byte, int) {
	f := s.flags()
	size := dataHeaderSize + ptLen + tagSize
	if f&flagEK != 0 {
		size += len(s.dks[len(s.dks)-1].ek)
	}
	size += len(s.sendCT)
	b := slices.Grow(dst, size)
	start := len(b)
	b = append(b, Version, typeData)
	b = append(b, s.id[:]...)
	b = append(b, s.dhsPub[:]...)
	b = binary.BigEndian.AppendUint32(b, s.pn)
	b = binary.BigEndian.AppendUint32(b, s.ns)
	b = append(b, f)
	if f&flagEK != 0 {
		b = append(b, s.dks[len(s.dks)-1].ek...)
	}
	return append(b, s.sendCT...), start
}

// sendStep starts a new sending chain: a fresh X25519 key and, when the
// peer advertised a KEM key we have not used, an encapsulation to it whose
// secret joins the DH output in the root-chain step. The ciphertext rides
// in every frame of the new chain, so whichever frame arrives first lets
// the peer take the same step.
func (s *Session) sendStep() error {
	if err := s.newSendChain(); err != nil {
		return err
	}
	if s.m.persists() {
		// The new chain is used only once it is durable: a crash must not
		// bring back a root key the peer has moved past.
		return s.m.save(s)
	}
	return nil
}

// newSendChain is sendStep without the write.
func (s *Session) newSendChain() error {
	priv, err := ecdh.X25519().GenerateKey(s.m.cfg.rand())
	if err != nil {
		return err
	}
	dh, err := x25519(priv.Bytes(), s.dhr[:])
	if err != nil {
		return err
	}
	defer clear(dh)
	// Everything that can fail happens before the state changes.
	var ct, ss []byte
	if s.peerEK != nil {
		kem, err := s.suite.kem()
		if err != nil {
			return err
		}
		if ct, ss, err = kem.Encapsulate(s.peerEK, s.m.cfg.rand()); err != nil {
			return err
		}
		defer clear(ss)
		s.usedEK = sha256.Sum256(s.peerEK)
		s.peerEK = nil
		s.pqDone()
	}
	s.sendCT = ct
	s.rk, s.cks = kdfRK(&s.rk, dh, ss)
	copy(s.dhsPriv[:], priv.Bytes())
	copy(s.dhsPub[:], priv.PublicKey().Bytes())
	s.pn, s.ns = s.ns, 0
	s.answered, s.stepPending = true, false
	return nil
}

func (s *Session) pqDone() {
	s.pqSteps++
	s.pqCount = 0
	s.pqAt = s.m.cfg.now().Unix()
}

// maybeAdvertise starts a post-quantum step when policy says one is due:
// a fresh KEM key pair whose public half goes into every frame until the
// peer's answer arrives.
func (s *Session) maybeAdvertise(p *identity.Policy) error {
	if s.advertising() || s.m.cfg.Trust == nil {
		return nil
	}
	if p == nil {
		return nil
	}
	due := p.RekeyMessages > 0 && s.pqCount >= p.RekeyMessages ||
		p.RekeySeconds > 0 && s.m.cfg.now().Unix()-s.pqAt >= int64(p.RekeySeconds)
	if !due {
		return nil
	}
	kem, err := s.suite.kem()
	if err != nil {
		return err
	}
	ek, dk, err := kem.GenerateKey(s.m.cfg.rand())
	if err != nil {
		return err
	}
	s.dks = append(s.dks, kemPair{ek: ek, dk: dk})
	if len(s.dks) > maxDKs {
		clear(s.dks[0].dk)
		s.dks = s.dks[1:]
	}
	return nil
}

func x25519(priv, pub []byte) ([]byte, error) {
	sk, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pk, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: ratchet key", ErrMalformed)
	}
	dh, err := sk.ECDH(pk)
	if err != nil {
		return nil, fmt.Errorf("%w: ratchet key", ErrAuth) // low-order point
	}
	return dh, nil
}

// dataFrame is a parsed data frame; slices point into the input.
type dataFrame struct {
	header []byte
	sid    []byte
	pub    [32]byte
	pn, n  uint32
	flags  byte
	ek, ct []byte
	body   []byte
}

func (s *Session) parse(frame []byte, d *dataFrame) error {
	kem, err := s.suite.kem()
	if err != nil {
		return err
	}
	if len(frame) > dataHeaderSize+kem.PublicKeySize()+kem.CiphertextSize()+MaxPlaintext+tagSize {
		return fmt.Errorf("%w: %d-byte frame", ErrMalformed, len(frame))
	}
	r := reader{b: frame}
	r.header(typeData)
	d.sid = r.take(SessionIDSize)
	copy(d.pub[:], r.take(32))
	d.pn, d.n, d.flags = r.u32(), r.u32(), r.u8()
	if r.err == nil && d.flags&^knownFlags != 0 {
		return fmt.Errorf("%w: unknown flags 0x%02x", ErrMalformed, d.flags)
	}
	if d.flags&flagEK != 0 {
		d.ek = r.take(kem.PublicKeySize())
	}
	if d.flags&flagCT != 0 {
		d.ct = r.take(kem.CiphertextSize())
	}
	d.header = frame[:r.off]
	d.body = r.rest()
	if r.err != nil {
		return r.err
	}
	if len(d.body) < tagSize {
		return fmt.Errorf("%w: no room for the tag", ErrMalformed)
	}
	if !bytes.Equal(d.sid, s.id[:]) {
		return ErrUnknownSession
	}
	return nil
}

// Unprotect authenticates and decrypts a frame received for this session.
// Nothing in the session changes unless the tag verifies: the candidate
// state is computed aside and committed afterwards, so forged frames
// cannot desynchronize it.
func (s *Session) Unprotect(frame []byte) ([]byte, error) {
	return s.AppendUnprotect(nil, frame)
}

// AppendUnprotect is Unprotect appending the plaintext to dst (which may
// be nil); on error dst is returned unchanged.
func (s *Session) AppendUnprotect(dst, frame []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unprotect(dst, frame, s.context)
}

// UnprotectBatch unprotects frames in order under one lock; the error of
// each frame is reported in errs, and a failed frame does not stop the
// others.
func (s *Session) UnprotectBatch(frames [][]byte) (plaintexts [][]byte, errs []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	plaintexts, errs = make([][]byte, len(frames)), make([]error, len(frames))
	for i, f := range frames {
		plaintexts[i], errs[i] = s.unprotect(nil, f, s.context)
	}
	return plaintexts, errs
}

// candidate is the state a frame would lead to, committed only after the
// frame authenticated.
type candidate struct {
	skippedUse int // index into s.skipped of the key used, or -1
	newSkipped []skippedKey
	step       bool // a receiving DH step
	rk, ckr    [32]byte
	nr         uint32
	dkUsed     int    // index into s.dks of the KEM key used, or -1
	dst        []byte // the plaintext is appended to it
}

func (s *Session) unprotect(dst, frame []byte, context string) ([]byte, error) {
	if err := s.usable(); err != nil {
		return dst, err
	}
	var d dataFrame
	if err := s.parse(frame, &d); err != nil {
		return dst, err
	}
	if s.m.persists() {
		s.recvReserved(&d)
		if err := s.usable(); err != nil {
			return dst, err
		}
	}
	c := candidate{skippedUse: -1, dkUsed: -1, dst: dst}
	out, err := s.trial(&d, context, &c)
	for i := range c.newSkipped {
		if err != nil {
			clear(c.newSkipped[i].mk[:])
		}
	}
	if err != nil {
		return dst, err
	}
	if err := s.commit(&d, &c); err != nil {
		clear(out[len(dst):])
		return dst, err
	}
	return out, nil
}

// trial finds the message key for d without touching the session.
func (s *Session) trial(d *dataFrame, context string, c *candidate) ([]byte, error) {
	aad := s.aad(d.header, context)
	if d.pub != s.dhr || d.n < s.nr {
		for i := range s.skipped {
			if k := &s.skipped[i]; k.pub == d.pub && k.n == d.n {
				c.skippedUse = i
				return openTo(c.dst, &k.mk, d.body, aad)
			}
		}
	}
	switch {
	case d.pub == s.dhr && d.n < s.nr:
		return nil, fmt.Errorf("%w: message %d, chain at %d", ErrReplay, d.n, s.nr)
	case d.pub == s.dhr:
		return s.trialChain(d, aad, c, s.ckr, s.nr, s.dhr)
	}
	for _, old := range s.oldDHr {
		if old == d.pub {
			return nil, fmt.Errorf("%w: frame of a past chain", ErrReplay)
		}
	}
	return s.trialStep(d, aad, c)
}

// trialChain advances a copy of a receiving chain to d.n, keeping the keys
// it skips, and opens d.
func (s *Session) trialChain(d *dataFrame, aad []byte, c *candidate, ck [32]byte, from uint32, pub [32]byte) ([]byte, error) {
	gap := d.n - from
	if gap > uint32(s.m.cfg.MaxJump) {
		return nil, fmt.Errorf("%w: message %d is %d ahead of the chain", ErrMalformed, d.n, gap)
	}
	// Long jumps (many lost frames) cost CPU before the tag is checked.
	if gap > uint32(s.m.cfg.MaxSkip) {
		if err := allow(s.m.cfg.Budget, s.peer); err != nil {
			return nil, err
		}
	}
	ck = s.skip(c, ck, pub, from, d.n)
	mk, next := kdfCK(&ck)
	defer clear(mk[:])
	pt, err := openTo(c.dst, &mk, d.body, aad)
	if err != nil {
		return nil, err
	}
	c.ckr, c.nr = next, d.n+1
	return pt, nil
}

// skip advances ck from message from to message to, keeping the keys of
// only the last MaxSkip messages skipped: older ones would be evicted at
// once anyway.
func (s *Session) skip(c *candidate, ck [32]byte, pub [32]byte, from, to uint32) [32]byte {
	keepFrom := from
	if to-from > uint32(s.m.cfg.MaxSkip) {
		keepFrom = to - uint32(s.m.cfg.MaxSkip)
	}
	for i := from; i < to; i++ {
		mk, next := kdfCK(&ck)
		if i >= keepFrom {
			c.newSkipped = append(c.newSkipped, skippedKey{pub: pub, n: i, mk: mk})
		} else {
			clear(mk[:])
		}
		ck = next
	}
	return ck
}

// trialStep computes a receiving DH step for a new peer ratchet key: the
// rest of the current receiving chain up to pn is kept as skipped keys,
// then the root chain advances with DH and, if the frame carries a KEM
// ciphertext, the secret from one of our outstanding KEM keys (tried
// newest first; implicit rejection makes a wrong key yield a wrong secret,
// which the tag then refuses).
func (s *Session) trialStep(d *dataFrame, aad []byte, c *candidate) ([]byte, error) {
	// Keys of the old chain only serve late frames; the new chain does not
	// depend on them. So pn below nr (normal after a restore, whose
	// snapshot reserved past it) keeps nothing, and a gap beyond MaxJump
	// is not derived at all: those frames are lost, the session goes on.
	if d.pn > s.nr && d.pn-s.nr <= uint32(s.m.cfg.MaxJump) {
		s.skip(c, s.ckr, s.dhr, s.nr, d.pn)
	}
	// A new ratchet key costs an X25519 (and maybe decapsulations) before
	// the tag can be checked: charge the peer's budget first (rule 4).
	if err := allow(s.m.cfg.Budget, s.peer); err != nil {
		return nil, err
	}
	dh, err := x25519(s.dhsPriv[:], d.pub[:])
	if err != nil {
		return nil, err
	}
	defer clear(dh)
	kept := len(c.newSkipped)
	try := func(ss []byte) ([]byte, error) {
		c.newSkipped = c.newSkipped[:kept]
		rk, ckr := kdfRK(&s.rk, dh, ss)
		pt, err := s.trialChain(d, aad, c, ckr, 0, d.pub)
		if err == nil {
			c.rk, c.step = rk, true
		}
		return pt, err
	}
	if d.ct == nil {
		return try(nil)
	}
	kem, err := s.suite.kem()
	if err != nil {
		return nil, err
	}
	for i := len(s.dks) - 1; i >= 0; i-- {
		ss, err := kem.Decapsulate(s.dks[i].dk, d.ct)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		pt, err := try(ss)
		clear(ss)
		if err == nil {
			c.dkUsed = i
			return pt, nil
		}
	}
	return nil, fmt.Errorf("%w: no KEM key of ours opens this step", ErrAuth)
}

func open(mk *[32]byte, body, aad []byte) ([]byte, error) {
	return openTo(nil, mk, body, aad)
}

// openTo opens body appending the plaintext to dst.
func openTo(dst []byte, mk *[32]byte, body, aad []byte) ([]byte, error) {
	pt, err := msgAEAD(mk).Open(dst, zeroNonce[:], body, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: AEAD tag", ErrAuth)
	}
	return pt, nil
}

// commit applies an authenticated frame's candidate state.
func (s *Session) commit(d *dataFrame, c *candidate) error {
	if c.skippedUse >= 0 {
		clear(s.skipped[c.skippedUse].mk[:])
		s.skipped = append(s.skipped[:c.skippedUse], s.skipped[c.skippedUse+1:]...)
	} else {
		if c.step {
			s.oldDHr = append(s.oldDHr, s.dhr)
			if len(s.oldDHr) > maxOldDHr {
				s.oldDHr = s.oldDHr[1:]
			}
			s.rk, s.dhr, s.answered, s.restored = c.rk, d.pub, false, false
			s.pqCommit(c.dkUsed)
		}
		clear(s.ckr[:])
		s.ckr, s.nr = c.ckr, c.nr
		s.addSkipped(c.newSkipped)
		if !s.answered {
			s.stepPending = true
		}
	}
	if d.flags&flagPleaseRatchet != 0 {
		s.peerAsked = true
	}
	if d.ek != nil && d.pub == s.dhr && sha256.Sum256(d.ek) != s.usedEK {
		s.peerEK = bytes.Clone(d.ek)
	}
	if !s.m.persists() {
		return nil
	}
	if c.step {
		// A persisting session answers a new peer ratchet key at once, as
		// Signal's ratchet does, rather than at its next send: the new
		// sending chain then goes into the write this step needs anyway,
		// and publishers never wait for a second one. If it fails, the
		// step stays pending for the next send.
		if s.stepPending {
			_ = s.newSendChain()
		}
		return s.m.save(s)
	}
	if s.nr > s.ps.durNr {
		return s.m.save(s)
	}
	s.reserveAhead()
	return nil
}

// pqCommit finishes our post-quantum step: the KEM key used and all older
// ones are destroyed, and the advertisement stops.
func (s *Session) pqCommit(used int) {
	if used < 0 {
		return
	}
	for i := 0; i <= used; i++ {
		clear(s.dks[i].dk)
	}
	s.dks = s.dks[used+1:]
	if len(s.dks) == 0 {
		s.dks = nil
	}
	s.pqDone()
}

// addSkipped keeps at most MaxSkip keys, dropping the oldest: a flood of
// gaps costs the oldest out-of-order frames, never the whole set.
func (s *Session) addSkipped(keys []skippedKey) {
	s.skipped = append(s.skipped, keys...)
	if over := len(s.skipped) - s.m.cfg.MaxSkip; over > 0 {
		for i := range over {
			clear(s.skipped[i].mk[:])
		}
		s.skipped = append(s.skipped[:0], s.skipped[over:]...)
	}
}
