package pqc

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/cloudflare/circl/kem"
	"github.com/cloudflare/circl/kem/kyber/kyber1024"
	"github.com/cloudflare/circl/kem/kyber/kyber512"
	"github.com/cloudflare/circl/kem/kyber/kyber768"
	"github.com/cloudflare/circl/kem/mlkem/mlkem1024"
	"github.com/cloudflare/circl/kem/mlkem/mlkem512"
	"github.com/cloudflare/circl/kem/mlkem/mlkem768"
	"github.com/cloudflare/circl/kem/xwing"
)

// HybridKEMName is the X25519 + ML-KEM-768 hybrid. It is X-Wing
// (draft-connolly-cfrg-xwing-kem): SHA3-256 over both shared secrets, the
// X25519 ciphertext and public key, and a domain label.
const HybridKEMName = "X25519-ML-KEM-768"

func init() {
	for _, k := range []struct {
		name   string
		scheme kem.Scheme
	}{
		{"ML-KEM-512", mlkem512.Scheme()},
		{"ML-KEM-768", mlkem768.Scheme()},
		{"ML-KEM-1024", mlkem1024.Scheme()},
		{"Kyber512", kyber512.Scheme()},
		{"Kyber768", kyber768.Scheme()},
		{"Kyber1024", kyber1024.Scheme()},
		{HybridKEMName, xwing.Scheme()},
	} {
		registerKEM(&circlKEM{name: k.name, s: k.scheme})
	}
}

// circlKEM adapts a circl kem.Scheme to the byte-slice KEM interface.
type circlKEM struct {
	name string
	s    kem.Scheme
}

func (k *circlKEM) Name() string          { return k.name }
func (k *circlKEM) PublicKeySize() int    { return k.s.PublicKeySize() }
func (k *circlKEM) SecretKeySize() int    { return k.s.PrivateKeySize() }
func (k *circlKEM) CiphertextSize() int   { return k.s.CiphertextSize() }
func (k *circlKEM) SharedSecretSize() int { return k.s.SharedKeySize() }
func (k *circlKEM) SeedSize() int         { return k.s.SeedSize() }
func (k *circlKEM) EncapsSeedSize() int   { return k.s.EncapsulationSeedSize() }

func (k *circlKEM) GenerateKey(r io.Reader) (pk, sk []byte, err error) {
	seed, err := readSeed(r, k.name, k.s.SeedSize())
	if err != nil {
		return nil, nil, err
	}
	defer wipe(seed)
	return k.KeyFromSeed(seed)
}

func (k *circlKEM) KeyFromSeed(seed []byte) (pk, sk []byte, err error) {
	if err := checkLen(k.name, "seed", seed, k.s.SeedSize()); err != nil {
		return nil, nil, err
	}
	pub, priv := k.s.DeriveKeyPair(seed)
	if pk, err = pub.MarshalBinary(); err != nil {
		return nil, nil, fmt.Errorf("%s: encode public key: %w", k.name, err)
	}
	if sk, err = priv.MarshalBinary(); err != nil {
		return nil, nil, fmt.Errorf("%s: encode secret key: %w", k.name, err)
	}
	return pk, sk, nil
}

func (k *circlKEM) Encapsulate(pk []byte, r io.Reader) (ct, ss []byte, err error) {
	seed, err := readSeed(r, k.name, k.s.EncapsulationSeedSize())
	if err != nil {
		return nil, nil, err
	}
	defer wipe(seed)
	return k.EncapsulateDeterministic(pk, seed)
}

func (k *circlKEM) EncapsulateDeterministic(pk, seed []byte) (ct, ss []byte, err error) {
	if err := checkLen(k.name, "public key", pk, k.s.PublicKeySize()); err != nil {
		return nil, nil, err
	}
	if err := checkLen(k.name, "encapsulation seed", seed, k.s.EncapsulationSeedSize()); err != nil {
		return nil, nil, err
	}
	pub, err := k.s.UnmarshalBinaryPublicKey(pk)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: public key: %v: %w", k.name, err, ErrInvalidArgument)
	}
	if ct, ss, err = k.s.EncapsulateDeterministically(pub, seed); err != nil {
		return nil, nil, fmt.Errorf("%s: encapsulate: %v: %w", k.name, err, ErrInvalidArgument)
	}
	return ct, ss, nil
}

func (k *circlKEM) Decapsulate(sk, ct []byte) (ss []byte, err error) {
	if err := checkLen(k.name, "secret key", sk, k.s.PrivateKeySize()); err != nil {
		return nil, err
	}
	if err := checkLen(k.name, "ciphertext", ct, k.s.CiphertextSize()); err != nil {
		return nil, err
	}
	priv, err := k.s.UnmarshalBinaryPrivateKey(sk)
	if err != nil {
		return nil, fmt.Errorf("%s: secret key: %v: %w", k.name, err, ErrInvalidArgument)
	}
	if ss, err = k.s.Decapsulate(priv, ct); err != nil {
		return nil, fmt.Errorf("%s: decapsulate: %v: %w", k.name, err, ErrInvalidArgument)
	}
	return ss, nil
}

// readSeed draws n bytes from r, or from the operating system when r is nil.
func readSeed(r io.Reader, alg string, n int) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	seed := make([]byte, n)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("%s: read randomness: %w", alg, err)
	}
	return seed, nil
}

// wipe clears secret bytes once they are no longer needed.
func wipe(b []byte) { clear(b) }
