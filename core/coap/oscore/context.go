package oscore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// AEAD algorithm identifiers (COSE, RFC 9053).
const (
	AlgAESCCM16_64_128 = 10 // mandatory to implement in OSCORE
	AlgA128GCM         = 1
	AlgA256GCM         = 3
)

// DefaultReplayWindow is the replay window size used when Params.ReplayWindow is 0
// (RFC 8613 §3.2.2 recommends at least 32).
const DefaultReplayWindow = 32

// MaxReplayWindow is the largest supported replay window (one 64-bit bitmap).
const MaxReplayWindow = 64

// maxSeq is the largest sender sequence number: Partial IVs are at most 5 bytes (§3.3).
const maxSeq = 1<<40 - 1

// Sentinel errors of context creation and use.
var (
	ErrUnsupportedAlg = errors.New("oscore: unsupported AEAD algorithm")
	ErrInvalidParams  = errors.New("oscore: invalid security context parameters")
	ErrSeqExhausted   = errors.New("oscore: sender sequence numbers exhausted")
	ErrSeqPersist     = errors.New("oscore: cannot persist sender sequence number")
)

// Params are the inputs of an OSCORE security context (RFC 8613 §3.2).
type Params struct {
	MasterSecret []byte
	MasterSalt   []byte // may be empty
	IDContext    []byte // nil: absent (CBOR null in info); sent as kid context in requests when non-nil
	SenderID     []byte
	RecipientID  []byte
	AEAD         int // COSE algorithm; 0 means AES-CCM-16-64-128 (10)

	// ReplayWindow is the size of the server-side replay window, 1..64; 0 means 32.
	ReplayWindow int

	// FreshReplayWindow states that this context was just established and has never
	// received a message, so the replay window may start empty. When false (the safe
	// default, e.g. after a reboot that lost the window) the first request is only
	// accepted after an Echo round trip (RFC 8613 Appendix B.1.2, RFC 9175).
	FreshReplayWindow bool

	// Sequence persists the sender sequence number (Appendix B.1.1). nil means an
	// in-memory store starting at 0, suitable for tests and ephemeral contexts only.
	Sequence SeqStore
	// SeqBlock is how many sequence numbers are reserved per write; 0 means 64.
	SeqBlock uint64
}

// aeadSpec describes one supported AEAD algorithm.
type aeadSpec struct {
	keyLen, nonceLen, tagLen int
	build                    func(key []byte) (cipher.AEAD, error)
}

func aeadFor(alg int) (aeadSpec, error) {
	switch alg {
	case AlgAESCCM16_64_128:
		return aeadSpec{16, 13, 8, func(k []byte) (cipher.AEAD, error) {
			b, err := aes.NewCipher(k)
			if err != nil {
				return nil, err
			}
			return NewCCM(b, 8, 13)
		}}, nil
	case AlgA128GCM, AlgA256GCM:
		kl := 16
		if alg == AlgA256GCM {
			kl = 32
		}
		return aeadSpec{kl, 12, 16, func(k []byte) (cipher.AEAD, error) {
			b, err := aes.NewCipher(k)
			if err != nil {
				return nil, err
			}
			return cipher.NewGCM(b)
		}}, nil
	}
	return aeadSpec{}, fmt.Errorf("%w: %d", ErrUnsupportedAlg, alg)
}

// Context is a derived OSCORE security context: common, sender and recipient
// parts. It is safe for concurrent use.
type Context struct {
	alg          int
	spec         aeadSpec
	idContext    []byte
	senderID     []byte
	recipientID  []byte
	commonIV     []byte
	senderKey    []byte
	recipientKey []byte
	senderAEAD   cipher.AEAD
	recipAEAD    cipher.AEAD

	seq    *sequencer
	replay *replayWindow
	echo   *echoState

	obsMu sync.Mutex // guards notification numbers (client side)
}

// NewContext derives a security context from p (RFC 8613 §3.2.1).
func NewContext(p Params) (*Context, error) {
	alg := p.AEAD
	if alg == 0 {
		alg = AlgAESCCM16_64_128
	}
	spec, err := aeadFor(alg)
	if err != nil {
		return nil, err
	}
	if len(p.MasterSecret) == 0 {
		return nil, fmt.Errorf("%w: empty master secret", ErrInvalidParams)
	}
	// §3.3: IDs are at most nonce length - 6 bytes; sender and recipient must differ.
	maxID := spec.nonceLen - 6
	if len(p.SenderID) > maxID || len(p.RecipientID) > maxID {
		return nil, fmt.Errorf("%w: sender/recipient ID longer than %d bytes", ErrInvalidParams, maxID)
	}
	if string(p.SenderID) == string(p.RecipientID) {
		return nil, fmt.Errorf("%w: sender and recipient ID are equal", ErrInvalidParams)
	}
	if p.ReplayWindow < 0 || p.ReplayWindow > MaxReplayWindow {
		return nil, fmt.Errorf("%w: replay window %d not in 1..%d", ErrInvalidParams, p.ReplayWindow, MaxReplayWindow)
	}
	c := &Context{
		alg: alg, spec: spec,
		idContext:   cloneOrNil(p.IDContext),
		senderID:    append([]byte{}, p.SenderID...),
		recipientID: append([]byte{}, p.RecipientID...),
	}
	if c.senderKey, err = derive(p, c.senderID, alg, "Key", spec.keyLen); err != nil {
		return nil, err
	}
	if c.recipientKey, err = derive(p, c.recipientID, alg, "Key", spec.keyLen); err != nil {
		return nil, err
	}
	if c.commonIV, err = derive(p, []byte{}, alg, "IV", spec.nonceLen); err != nil {
		return nil, err
	}
	if c.senderAEAD, err = spec.build(c.senderKey); err != nil {
		return nil, fmt.Errorf("oscore: sender AEAD: %w", err)
	}
	if c.recipAEAD, err = spec.build(c.recipientKey); err != nil {
		return nil, fmt.Errorf("oscore: recipient AEAD: %w", err)
	}
	store := p.Sequence
	if store == nil {
		store = NewMemorySeqStore(0)
	}
	block := p.SeqBlock
	if block == 0 {
		block = 64
	}
	c.seq = &sequencer{store: store, block: block}
	size := p.ReplayWindow
	if size == 0 {
		size = DefaultReplayWindow
	}
	c.replay = newReplayWindow(size, p.FreshReplayWindow)
	c.echo = newEchoState()
	return c, nil
}

func cloneOrNil(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// hkdfInfo encodes the CBOR info array [id, id_context, alg_aead, type, L] (§3.2.1).
func hkdfInfo(id, idContext []byte, alg int, typ string, l int) ([]byte, error) {
	var idc any
	if idContext != nil {
		idc = idContext
	}
	info, err := cborEnc.Marshal([]any{id, idc, alg, typ, l})
	if err != nil {
		return nil, fmt.Errorf("oscore: encode HKDF info: %w", err)
	}
	return info, nil
}

func derive(p Params, id []byte, alg int, typ string, l int) ([]byte, error) {
	info, err := hkdfInfo(id, p.IDContext, alg, typ, l)
	if err != nil {
		return nil, err
	}
	out, err := hkdf.Key(sha256.New, p.MasterSecret, p.MasterSalt, string(info), l)
	if err != nil {
		return nil, fmt.Errorf("oscore: HKDF %s: %w", typ, err)
	}
	return out, nil
}

// cborEnc is a deterministic (RFC 8949 §4.2.1) encoder.
var cborEnc = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// SenderID returns a copy of the sender ID.
func (c *Context) SenderID() []byte { return append([]byte{}, c.senderID...) }

// RecipientID returns a copy of the recipient ID.
func (c *Context) RecipientID() []byte { return append([]byte{}, c.recipientID...) }

// IDContext returns a copy of the ID context (nil when absent).
func (c *Context) IDContext() []byte { return cloneOrNil(c.idContext) }

// AEAD returns the COSE algorithm identifier of the context.
func (c *Context) AEAD() int { return c.alg }

// nonce builds the AEAD nonce from the Partial IV and the ID of its generator (§5.2).
func (c *Context) nonce(idPIV, piv []byte) []byte {
	n := make([]byte, c.spec.nonceLen)
	n[0] = byte(len(idPIV))
	idField := n[1 : c.spec.nonceLen-5]
	copy(idField[len(idField)-len(idPIV):], idPIV)
	copy(n[c.spec.nonceLen-len(piv):], piv)
	for i := range n {
		n[i] ^= c.commonIV[i]
	}
	return n
}

// aad builds the Enc_structure ["Encrypt0", h”, external_aad] (§5.4), where
// external_aad wraps [oscore_version, [alg_aead], request_kid, request_piv, options].
func (c *Context) aad(requestKID, requestPIV []byte) ([]byte, error) {
	ext, err := cborEnc.Marshal([]any{1, []any{c.alg}, requestKID, requestPIV, []byte{}})
	if err != nil {
		return nil, fmt.Errorf("oscore: encode external_aad: %w", err)
	}
	enc, err := cborEnc.Marshal([]any{"Encrypt0", []byte{}, ext})
	if err != nil {
		return nil, fmt.Errorf("oscore: encode Enc_structure: %w", err)
	}
	return enc, nil
}
