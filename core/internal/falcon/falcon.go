package falcon

import (
	"errors"
	"fmt"
	"io"
)

// Sizes in bytes.
const (
	PublicKeySize512     = 897
	SecretKeySize512     = 1281
	SignatureMaxSize512  = 752
	PublicKeySize1024    = 1793
	SecretKeySize1024    = 2305
	SignatureMaxSize1024 = 1462

	// NonceSize is the length of the random salt r hashed with the message.
	NonceSize = 40
	// KeySeedSize is the length of the seed that determines a key pair.
	KeySeedSize = 48
)

// Sentinel errors; returned errors wrap one of these.
var (
	ErrVerify           = errors.New("falcon: signature verification failed")
	ErrInvalidKey       = errors.New("falcon: invalid key")
	ErrInvalidSignature = errors.New("falcon: invalid signature encoding")
)

// Params describes one Falcon parameter set.
type Params struct {
	name   string
	logn   uint
	pkSize int
	skSize int
	sigMax int
}

// The two standard parameter sets.
var (
	Falcon512  = &Params{name: "Falcon-512", logn: 9, pkSize: PublicKeySize512, skSize: SecretKeySize512, sigMax: SignatureMaxSize512}
	Falcon1024 = &Params{name: "Falcon-1024", logn: 10, pkSize: PublicKeySize1024, skSize: SecretKeySize1024, sigMax: SignatureMaxSize1024}
)

// Name returns "Falcon-512" or "Falcon-1024".
func (p *Params) Name() string { return p.name }

// PublicKeySize returns the encoded public key length.
func (p *Params) PublicKeySize() int { return p.pkSize }

// SecretKeySize returns the encoded secret key length.
func (p *Params) SecretKeySize() int { return p.skSize }

// SignatureMaxSize returns the maximum length of a detached signature.
func (p *Params) SignatureMaxSize() int { return p.sigMax }

func (p *Params) n() int { return 1 << p.logn }

// GenerateKey reads a 48-byte seed from rand (one Read call, as the NIST
// KAT generator does) and derives the key pair from it.
func (p *Params) GenerateKey(rand io.Reader) (pk, sk []byte, err error) {
	seed := make([]byte, KeySeedSize)
	defer clear(seed)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, nil, fmt.Errorf("falcon: reading key seed: %w", err)
	}
	return p.KeyFromSeed(seed)
}

// KeyFromSeed deterministically derives a key pair from a 48-byte seed
// (the input of the SHAKE256 stream that drives key generation).
func (p *Params) KeyFromSeed(seed []byte) (pk, sk []byte, err error) {
	if len(seed) != KeySeedSize {
		return nil, nil, fmt.Errorf("falcon: key seed must be %d bytes, got %d", KeySeedSize, len(seed))
	}
	rng := newShakeStream(seed)
	f, g, F, G, h := keygen(rng, p.logn)
	rng.wipe()
	defer func() {
		clear(f)
		clear(g)
		clear(F)
		clear(G)
	}()
	sk, err = p.encodeSecret(f, g, F)
	if err != nil {
		return nil, nil, err
	}
	return p.encodePublic(h), sk, nil
}

func (p *Params) encodePublic(h []uint16) []byte {
	pk := make([]byte, 1, p.pkSize)
	pk[0] = byte(p.logn)
	return append(pk, modqEncode(h, p.logn)...)
}

func (p *Params) encodeSecret(f, g, F []int8) ([]byte, error) {
	sk := make([]byte, 1, p.skSize)
	sk[0] = 0x50 + byte(p.logn)
	for i, part := range [][]int8{f, g, F} {
		bits := maxFgBits[p.logn]
		if i == 2 {
			bits = maxFGBits[p.logn]
		}
		enc, ok := trimI8Encode(part, p.logn, bits)
		if !ok {
			return nil, fmt.Errorf("%w: coefficient out of range", ErrInvalidKey)
		}
		sk = append(sk, enc...)
		clear(enc)
	}
	if len(sk) != p.skSize {
		return nil, fmt.Errorf("%w: bad encoded length", ErrInvalidKey)
	}
	return sk, nil
}

// decodeSecret parses sk into f, g, F and recomputes G.
func (p *Params) decodeSecret(sk []byte) (f, g, F, G []int8, err error) {
	if len(sk) != p.skSize {
		return nil, nil, nil, nil, fmt.Errorf("%w: secret key must be %d bytes, got %d", ErrInvalidKey, p.skSize, len(sk))
	}
	if sk[0] != 0x50+byte(p.logn) {
		return nil, nil, nil, nil, fmt.Errorf("%w: bad secret key header 0x%02x", ErrInvalidKey, sk[0])
	}
	n := p.n()
	f = make([]int8, n)
	g = make([]int8, n)
	F = make([]int8, n)
	G = make([]int8, n)
	fail := func(msg string) ([]int8, []int8, []int8, []int8, error) {
		clear(f)
		clear(g)
		clear(F)
		clear(G)
		return nil, nil, nil, nil, fmt.Errorf("%w: %s", ErrInvalidKey, msg)
	}
	off := 1
	for i, part := range [][]int8{f, g, F} {
		bits := maxFgBits[p.logn]
		if i == 2 {
			bits = maxFGBits[p.logn]
		}
		used := trimI8Decode(part, p.logn, bits, sk[off:])
		if used == 0 {
			return fail("malformed secret key coefficients")
		}
		off += used
	}
	if off != len(sk) {
		return fail("trailing bytes in secret key")
	}
	if !completePrivate(G, f, g, F, p.logn) {
		return fail("secret key does not complete to a valid basis")
	}
	return f, g, F, G, nil
}

// decodePublic parses pk into h (coefficients mod q).
func (p *Params) decodePublic(pk []byte) ([]uint16, error) {
	if len(pk) != p.pkSize {
		return nil, fmt.Errorf("%w: public key must be %d bytes, got %d", ErrInvalidKey, p.pkSize, len(pk))
	}
	if pk[0] != byte(p.logn) {
		return nil, fmt.Errorf("%w: bad public key header 0x%02x", ErrInvalidKey, pk[0])
	}
	h := make([]uint16, p.n())
	if !modqDecode(h, p.logn, pk[1:]) {
		return nil, fmt.Errorf("%w: public key coefficient out of range or bad padding", ErrInvalidKey)
	}
	return h, nil
}

// PublicKeyFromSecret recomputes the public key h = g/f mod q from sk.
func (p *Params) PublicKeyFromSecret(sk []byte) ([]byte, error) {
	f, g, F, G, err := p.decodeSecret(sk)
	if err != nil {
		return nil, err
	}
	defer func() {
		clear(f)
		clear(g)
		clear(F)
		clear(G)
	}()
	h := make([]uint16, p.n())
	if !computePublic(h, f, g, p.logn) {
		return nil, fmt.Errorf("%w: f is not invertible mod q", ErrInvalidKey)
	}
	return p.encodePublic(h), nil
}

func hashMessage(nonce, msg []byte, logn uint) []uint16 {
	sc := newShakeStream(nonce, msg)
	hm := make([]uint16, 1<<logn)
	hashToPoint(sc, hm, logn)
	return hm
}

// Sign signs msg with sk. It reads the 40-byte nonce and then a 48-byte
// seed from rand (two Read calls, as the NIST KAT generator does) and
// returns the detached signature 0x30+logn || nonce || compressed s2.
func (p *Params) Sign(sk, msg []byte, rand io.Reader) ([]byte, error) {
	f, g, F, G, err := p.decodeSecret(sk)
	if err != nil {
		return nil, err
	}
	defer func() {
		clear(f)
		clear(g)
		clear(F)
		clear(G)
	}()
	nonce := make([]byte, NonceSize)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("falcon: reading nonce: %w", err)
	}
	hm := hashMessage(nonce, msg, p.logn)

	seed := make([]byte, 48)
	defer clear(seed)
	if _, err := io.ReadFull(rand, seed); err != nil {
		return nil, fmt.Errorf("falcon: reading signing seed: %w", err)
	}
	rng := newShakeStream(seed)
	defer rng.wipe()

	maxBody := p.sigMax - 1 - NonceSize
	for {
		s2 := signDyn(rng, f, g, F, G, hm, p.logn)
		body := compEncode(s2, p.logn, maxBody)
		if body == nil {
			// Too long to encode (probability negligible): sign again
			// with fresh randomness from the same stream.
			continue
		}
		sig := make([]byte, 0, 1+NonceSize+len(body))
		sig = append(sig, 0x30+byte(p.logn))
		sig = append(sig, nonce...)
		return append(sig, body...), nil
	}
}

// Verify checks a detached signature. It returns nil if the signature is
// valid and otherwise an error wrapping ErrVerify (for a well-formed but
// wrong signature), ErrInvalidSignature or ErrInvalidKey.
func (p *Params) Verify(pk, msg, sig []byte) error {
	h, err := p.decodePublic(pk)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrVerify, err)
	}
	if len(sig) < 1+NonceSize+1 {
		return fmt.Errorf("%w: %w: signature too short", ErrVerify, ErrInvalidSignature)
	}
	if sig[0] != 0x30+byte(p.logn) {
		return fmt.Errorf("%w: %w: bad signature header 0x%02x", ErrVerify, ErrInvalidSignature, sig[0])
	}
	if len(sig) > p.sigMax {
		return fmt.Errorf("%w: %w: signature too long", ErrVerify, ErrInvalidSignature)
	}
	nonce := sig[1 : 1+NonceSize]
	body := sig[1+NonceSize:]
	s2 := make([]int16, p.n())
	used := compDecode(s2, p.logn, body)
	if used == 0 {
		return fmt.Errorf("%w: %w: malformed compressed signature", ErrVerify, ErrInvalidSignature)
	}
	if used != len(body) {
		return fmt.Errorf("%w: %w: trailing bytes after signature", ErrVerify, ErrInvalidSignature)
	}
	toNTTMonty(h, p.logn)
	hm := hashMessage(nonce, msg, p.logn)
	if !verifyRaw(hm, s2, h, p.logn) {
		return fmt.Errorf("%w: signature norm over bound", ErrVerify)
	}
	return nil
}
