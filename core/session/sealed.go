package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// Limits of sealed frames, checked before parsing.
const (
	MaxSealedSize      = 64 << 10
	MaxSealedPlaintext = 48 << 10
)

// Labels. Each derivation and signature has its own, so no output of one
// can be presented as another.
const (
	labelSealedKey = "pqc-iiot v1 sealed"
	labelSealedSig = "pqc-iiot v1 sealed sig"
)

// Store record and counter names.
const (
	seqCounter     = "session/sealed/tx-seq"
	rxCeilPrefix   = "session/sealed/rx/"
	windowsRecord  = "session/sealed/windows"
	defaultSealKEM = pqc.HybridKEMName
)

// Recipient is who a sealed frame is for: a device and the certified KEM
// key it will decapsulate with.
type Recipient struct {
	DeviceID string
	KeyID    []byte
	KEM      identity.PublicKey
}

// RecipientOf looks up a peer's current certified key of kemAlg (X-Wing
// when empty).
func RecipientOf(peers PeerKeys, deviceID, kemAlg string, now time.Time) (Recipient, error) {
	if kemAlg == "" {
		kemAlg = defaultSealKEM
	}
	keyID, kems, err := peers.Current(deviceID, now)
	if err != nil {
		return Recipient{}, err
	}
	for _, k := range kems {
		if k.Alg == kemAlg {
			return Recipient{DeviceID: deviceID, KeyID: keyID, KEM: k}, nil
		}
	}
	return Recipient{}, fmt.Errorf("%w: %s has no certified %s key", ErrPolicy, deviceID, kemAlg)
}

// sealedHeader is the part of a sealed frame before the AEAD ciphertext.
type sealedHeader struct {
	sender, recipient  string
	senderKey, rcptKey []byte
	seq                uint64
	kem                byte
	kemCT              []byte
}

func (h *sealedHeader) encode(w *writer) {
	w.u8(Version)
	w.u8(typeSealed)
	w.str8(h.sender)
	w.raw(h.senderKey)
	w.str8(h.recipient)
	w.raw(h.rcptKey)
	w.u64(h.seq)
	w.u8(h.kem)
	w.bytes16(h.kemCT)
}

// keyInfo binds everything that names the message to its key, so a key
// can only ever be derived for one (sender, recipient, context, sequence).
func (h *sealedHeader) keyInfo(context string) string {
	w := writer{}
	w.raw([]byte(labelSealedKey))
	w.str8(h.sender)
	w.raw(h.senderKey)
	w.str8(h.recipient)
	w.raw(h.rcptKey)
	w.str16(context)
	w.u64(h.seq)
	w.bytes16(h.kemCT)
	return string(w.b)
}

// sealedAEAD derives the per-message AES-256-GCM key and nonce. A fresh
// KEM secret per message makes a derived nonce safe.
func sealedAEAD(ss []byte, info string) (cipher.AEAD, []byte, error) {
	okm, err := hkdf.Key(sha256.New, ss, nil, info, 32+12)
	if err != nil {
		return nil, nil, err
	}
	defer clear(okm)
	block, err := aes.NewCipher(okm[:32])
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	return aead, append([]byte(nil), okm[32:]...), err
}

func sigInput(label string, signed []byte, context string) []byte {
	w := writer{}
	w.raw([]byte(label))
	w.raw(signed)
	w.str16(context)
	return w.b
}

// Sealer makes sealed frames.
type Sealer struct {
	cfg Config
	seq *SequenceAllocator
	mem uint64 // sequence numbers without a store
	mu  sync.Mutex
}

// NewSealer needs cfg.Local and, on a device, cfg.Store for the sequence.
func NewSealer(cfg Config) *Sealer {
	s := &Sealer{cfg: cfg.withDefaults()}
	if cfg.Store != nil {
		s.seq = NewSequenceAllocator(cfg.Store, seqCounter, DefaultSeqBlock)
	}
	return s
}

func (s *Sealer) nextSeq() (uint64, error) {
	if s.seq != nil {
		return s.seq.Next()
	}
	if err := s.cfg.durable(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem++
	return s.mem, nil
}

// Seal encrypts plaintext to rcpt, bound to context (an MQTT topic or CoAP
// path the receiver will supply), and signs it with the current key.
func (s *Sealer) Seal(rcpt Recipient, context string, plaintext []byte) ([]byte, error) {
	own := s.cfg.Local.Current
	if len(plaintext) > MaxSealedPlaintext || !validID(rcpt.DeviceID) || len(rcpt.KeyID) != KeyIDSize {
		return nil, fmt.Errorf("%w: seal arguments", ErrMalformed)
	}
	if err := s.cfg.policyFresh(s.cfg.now()); err != nil {
		return nil, err
	}
	kemID, kem, err := kemByAlg(rcpt.KEM.Alg)
	if err != nil {
		return nil, err
	}
	seq, err := s.nextSeq()
	if err != nil {
		return nil, err
	}
	ct, ss, err := kem.Encapsulate(rcpt.KEM.Key, s.cfg.rand())
	if err != nil {
		return nil, err
	}
	defer clear(ss)
	h := sealedHeader{sender: s.cfg.Local.ID, senderKey: own.KeyID, recipient: rcpt.DeviceID, rcptKey: rcpt.KeyID, seq: seq, kem: kemID, kemCT: ct}
	w := writer{}
	h.encode(&w)
	aead, nonce, err := sealedAEAD(ss, h.keyInfo(context))
	if err != nil {
		return nil, err
	}
	return sealAndSign(&w, aead, nonce, plaintext, context, own, labelSealedSig)
}

// sealAndSign completes a sealed or multi-recipient frame whose header is
// in w: the AEAD ciphertext (the header and the context as associated
// data), then the sender's signature over label, everything before it and
// the context.
func sealAndSign(w *writer, aead cipher.AEAD, nonce, plaintext []byte, context string, own *EpochKeys, label string) ([]byte, error) {
	aad := append(append([]byte(nil), w.b...), context...)
	w.bytes16(aead.Seal(nil, nonce, plaintext, aad))
	if w.err != nil {
		return nil, w.err
	}
	sig, err := own.sign(sigInput(label, w.b, context))
	if err != nil {
		return nil, err
	}
	w.bytes16(sig)
	return w.b, w.err
}

// Opener checks and decrypts sealed frames, keeping per-sender replay
// windows. It is safe for concurrent use.
type Opener struct {
	cfg     Config
	mu      sync.Mutex
	windows *Windows
	ceil    map[string]uint64 // durable high-water marks, when cfg.Store is set
}

// NewOpener restores the windows saved by Close at a clean shutdown (and
// deletes them, so that a later crash cannot bring back a stale copy). For
// every other sender, the durable high-water mark applies: sequence
// numbers at or below it are refused.
func NewOpener(cfg Config) (*Opener, error) {
	o := &Opener{cfg: cfg.withDefaults(), windows: NewWindows(), ceil: map[string]uint64{}}
	if err := cfg.durable(); err != nil {
		return nil, err
	}
	if cfg.Store == nil {
		return o, nil
	}
	raw, err := cfg.Store.Get(windowsRecord)
	if errors.Is(err, store.ErrNotFound) {
		return o, nil
	}
	if err != nil {
		return nil, err
	}
	if err := o.windows.UnmarshalBinary(raw); err != nil {
		return nil, err
	}
	for id := range o.windows.m {
		if o.ceil[id], err = cfg.Store.Counter(rxCeilPrefix + id); err != nil {
			return nil, err
		}
	}
	return o, cfg.Store.Delete(windowsRecord)
}

// Close saves the exact windows for the next NewOpener.
func (o *Opener) Close() error {
	if o.cfg.Store == nil {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	raw, err := o.windows.MarshalBinary()
	if err != nil {
		return err
	}
	return o.cfg.Store.Put(windowsRecord, raw)
}

// Windows exposes the replay windows, for callers that persist them
// themselves (without a Store).
func (o *Opener) Windows() *Windows { return o.windows }

// Opened is an authenticated sealed message.
type Opened struct {
	Sender    string
	SenderKey []byte
	Seq       uint64
	Plaintext []byte
}

// Open checks a sealed frame received on context. The checks run cheapest
// first and nothing is recorded until the signature and the AEAD tag
// verified: size, parse, id syntax, addressee, sender's key, replay
// pre-check, budget, signature, decapsulation and decryption, and only then
// the replay window.
func (o *Opener) Open(frame []byte, context string) (*Opened, error) {
	if len(frame) > MaxSealedSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(frame))
	}
	h, aeadCT, signedLen, sig, err := parseSealed(frame)
	if err != nil {
		return nil, err
	}
	now := o.cfg.now()
	if !validID(h.sender) || !validID(h.recipient) {
		return nil, fmt.Errorf("%w: device id syntax", ErrMalformed)
	}
	if h.recipient != o.cfg.Local.ID {
		return nil, fmt.Errorf("%w: for %s", ErrWrongRecipient, h.recipient)
	}
	own, err := o.cfg.Local.epoch(h.rcptKey, now)
	if err != nil {
		return nil, err
	}
	if err := o.authenticate(h.sender, h.senderKey, h.seq, labelSealedSig, frame[:signedLen], context, sig, now); err != nil {
		return nil, err
	}
	pt, err := h.decrypt(own, aeadCT, frame[:len(frame)-len(aeadCT)-len(sig)-4], context)
	if err != nil {
		return nil, err
	}
	if err := o.accept(h.sender, h.seq); err != nil {
		clear(pt)
		return nil, err
	}
	return &Opened{Sender: h.sender, SenderKey: h.senderKey, Seq: h.seq, Plaintext: pt}, nil
}

func parseSealed(frame []byte) (h sealedHeader, aeadCT []byte, signedLen int, sig []byte, err error) {
	r := reader{b: frame}
	r.header(typeSealed)
	h.sender = string(r.bytes8())
	h.senderKey = r.take(KeyIDSize)
	h.recipient = string(r.bytes8())
	h.rcptKey = r.take(KeyIDSize)
	h.seq = r.u64()
	h.kem = r.u8()
	h.kemCT = r.bytes16()
	aeadCT = r.bytes16()
	signedLen = r.off
	sig = r.bytes16()
	return h, aeadCT, signedLen, sig, r.end()
}

func (h *sealedHeader) decrypt(own *EpochKeys, aeadCT, header []byte, context string) ([]byte, error) {
	alg, kem, err := kemByID(h.kem)
	if err != nil {
		return nil, err
	}
	key, err := own.kem(alg)
	if err != nil {
		return nil, err
	}
	if len(h.kemCT) != kem.CiphertextSize() {
		return nil, fmt.Errorf("%w: KEM ciphertext of %d bytes", ErrMalformed, len(h.kemCT))
	}
	ss, err := kem.Decapsulate(key.Secret(), h.kemCT)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAuth, err)
	}
	defer clear(ss)
	aead, nonce, err := sealedAEAD(ss, h.keyInfo(context))
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, nonce, aeadCT, append(append([]byte(nil), header...), context...))
	if err != nil {
		return nil, fmt.Errorf("%w: AEAD tag", ErrAuth)
	}
	return pt, nil
}

// precheck is read-only: it consults the window and the durable
// high-water mark without recording anything.
func (o *Opener) precheck(sender string, seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	floor, err := o.floor(sender)
	if err != nil {
		return err
	}
	if seq <= floor {
		return fmt.Errorf("%w: sequence %d at or below the restart mark %d", ErrReplay, seq, floor)
	}
	return o.windows.Check(sender, seq)
}

// floor is the durable mark of a sender whose exact window was not
// restored: everything at or below it may have been accepted before a
// crash.
func (o *Opener) floor(sender string) (uint64, error) {
	if o.cfg.Store == nil {
		return 0, nil
	}
	if _, ok := o.windows.m[sender]; ok {
		return 0, nil
	}
	c, ok := o.ceil[sender]
	if !ok {
		var err error
		if c, err = o.cfg.Store.Counter(rxCeilPrefix + sender); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrPersist, err)
		}
	}
	return c, nil
}

// accept re-checks under the lock (a concurrent Open may have taken the
// same number), pushes the durable mark ahead when seq passes it, and
// records seq. A mark that cannot be persisted refuses the message (fail
// closed): accepting it could let it be replayed after a crash.
func (o *Opener) accept(sender string, seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	floor, err := o.floor(sender)
	if err != nil {
		return err
	}
	if seq <= floor {
		return ErrReplay
	}
	if err := o.windows.Check(sender, seq); err != nil {
		return err
	}
	if o.cfg.Store != nil {
		if err := o.raiseCeiling(sender, seq); err != nil {
			return err
		}
	}
	if _, ok := o.windows.m[sender]; !ok && floor > 0 {
		o.windows.SetFloor(sender, floor)
	}
	o.windows.Accept(sender, seq)
	return nil
}

func (o *Opener) raiseCeiling(sender string, seq uint64) error {
	c, ok := o.ceil[sender]
	if !ok {
		var err error
		if c, err = o.cfg.Store.Counter(rxCeilPrefix + sender); err != nil {
			return fmt.Errorf("%w: %v", ErrPersist, err)
		}
	}
	if seq > c {
		v, err := o.cfg.Store.Increment(rxCeilPrefix+sender, seq+o.cfg.ReplayMargin-c)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPersist, err)
		}
		c = v
	}
	o.ceil[sender] = c
	return nil
}

// authenticate is the sender check both sealed formats share, cheapest
// first: the sender's certified key (a map read), the read-only replay
// pre-check, the budget charge, and only then the signature. Nothing is
// recorded here; the caller accepts the sequence after decryption.
func (o *Opener) authenticate(sender string, senderKey []byte, seq uint64, label string, signed []byte, context string, sig []byte, now time.Time) error {
	if err := o.cfg.policyFresh(now); err != nil {
		return err
	}
	pub, err := o.cfg.Peers.SigningKey(sender, senderKey, now)
	if err != nil {
		return err
	}
	if err := o.precheck(sender, seq); err != nil {
		return err
	}
	if err := allow(o.cfg.Budget, sender); err != nil {
		return err
	}
	return verifySig(pub, sigInput(label, signed, context), sig)
}
