package pqc

import (
	"fmt"
	"io"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/dilithium/mode2"
	"github.com/cloudflare/circl/sign/dilithium/mode3"
	"github.com/cloudflare/circl/sign/dilithium/mode5"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

func init() {
	for _, s := range []*circlSignature{
		// ML-DSA signs hedged (FIPS 204 §3.4): fresh randomness mixed with
		// the key, so a faulty RNG does not leak the key and fault attacks on
		// deterministic signing do not apply. The context string is empty.
		{name: "ML-DSA-44", s: mldsa44.Scheme(), sign: hedged(mldsa44.SignTo, mldsa44.SignatureSize)},
		{name: "ML-DSA-65", s: mldsa65.Scheme(), sign: hedged(mldsa65.SignTo, mldsa65.SignatureSize)},
		{name: "ML-DSA-87", s: mldsa87.Scheme(), sign: hedged(mldsa87.SignTo, mldsa87.SignatureSize)},
		// Round-3 Dilithium signs deterministically, as its reference does.
		{name: "Dilithium2", s: mode2.Scheme()},
		{name: "Dilithium3", s: mode3.Scheme()},
		{name: "Dilithium5", s: mode5.Scheme()},
	} {
		registerSignature(s)
	}
}

// circlSignature adapts a circl sign.Scheme to the byte-slice interface.
type circlSignature struct {
	name string
	s    sign.Scheme
	// sign replaces the scheme's deterministic Sign when set.
	sign func(sk sign.PrivateKey, msg []byte) ([]byte, error)
}

// hedged builds a randomized signer from an ML-DSA package's SignTo.
func hedged[SK any](signTo func(*SK, []byte, []byte, bool, []byte) error, size int) func(sign.PrivateKey, []byte) ([]byte, error) {
	return func(sk sign.PrivateKey, msg []byte) ([]byte, error) {
		sig := make([]byte, size)
		if err := signTo(any(sk).(*SK), msg, nil, true, sig); err != nil {
			return nil, err
		}
		return sig, nil
	}
}

func (c *circlSignature) Name() string          { return c.name }
func (c *circlSignature) PublicKeySize() int    { return c.s.PublicKeySize() }
func (c *circlSignature) SecretKeySize() int    { return c.s.PrivateKeySize() }
func (c *circlSignature) SignatureMaxSize() int { return c.s.SignatureSize() }
func (c *circlSignature) SeedSize() int         { return c.s.SeedSize() }

func (c *circlSignature) GenerateKey(r io.Reader) (pk, sk []byte, err error) {
	seed, err := readSeed(r, c.name, c.s.SeedSize())
	if err != nil {
		return nil, nil, err
	}
	defer wipe(seed)
	return c.KeyFromSeed(seed)
}

func (c *circlSignature) KeyFromSeed(seed []byte) (pk, sk []byte, err error) {
	if err := checkLen(c.name, "seed", seed, c.s.SeedSize()); err != nil {
		return nil, nil, err
	}
	pub, priv := c.s.DeriveKey(seed)
	if pk, err = pub.MarshalBinary(); err != nil {
		return nil, nil, fmt.Errorf("%s: encode public key: %w", c.name, err)
	}
	if sk, err = priv.MarshalBinary(); err != nil {
		return nil, nil, fmt.Errorf("%s: encode secret key: %w", c.name, err)
	}
	return pk, sk, nil
}

func (c *circlSignature) Sign(sk, msg []byte) ([]byte, error) {
	if err := checkLen(c.name, "secret key", sk, c.s.PrivateKeySize()); err != nil {
		return nil, err
	}
	priv, err := c.s.UnmarshalBinaryPrivateKey(sk)
	if err != nil {
		return nil, fmt.Errorf("%s: secret key: %v: %w", c.name, err, ErrInvalidArgument)
	}
	if c.sign != nil {
		sig, err := c.sign(priv, msg)
		if err != nil {
			return nil, fmt.Errorf("%s: sign: %w", c.name, err)
		}
		return sig, nil
	}
	return c.s.Sign(priv, msg, nil), nil
}

func (c *circlSignature) Verify(pk, msg, sig []byte) error {
	if err := checkLen(c.name, "public key", pk, c.s.PublicKeySize()); err != nil {
		return err
	}
	pub, err := c.s.UnmarshalBinaryPublicKey(pk)
	if err != nil {
		return fmt.Errorf("%s: public key: %v: %w", c.name, err, ErrInvalidArgument)
	}
	// A signature of the wrong length is a forgery like any other: it
	// fails verification rather than being an argument error.
	if len(sig) != c.s.SignatureSize() || !c.s.Verify(pub, msg, sig, nil) {
		return fmt.Errorf("%s: %w", c.name, ErrVerify)
	}
	return nil
}
