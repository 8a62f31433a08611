package pqc

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
)

func init() { registerSignature(ed25519Scheme{}) }

// ed25519Scheme is classical Ed25519 (RFC 8032) from the standard library,
// for hybrid identities. Secret keys are the 64-byte seed||public form.
type ed25519Scheme struct{}

const ed25519Name = "Ed25519"

func (ed25519Scheme) Name() string          { return ed25519Name }
func (ed25519Scheme) PublicKeySize() int    { return ed25519.PublicKeySize }
func (ed25519Scheme) SecretKeySize() int    { return ed25519.PrivateKeySize }
func (ed25519Scheme) SignatureMaxSize() int { return ed25519.SignatureSize }
func (ed25519Scheme) SeedSize() int         { return ed25519.SeedSize }

func (e ed25519Scheme) GenerateKey(r io.Reader) (pk, sk []byte, err error) {
	seed, err := readSeed(r, ed25519Name, ed25519.SeedSize)
	if err != nil {
		return nil, nil, err
	}
	defer wipe(seed)
	return e.KeyFromSeed(seed)
}

func (ed25519Scheme) KeyFromSeed(seed []byte) (pk, sk []byte, err error) {
	if err := checkLen(ed25519Name, "seed", seed, ed25519.SeedSize); err != nil {
		return nil, nil, err
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return append([]byte(nil), priv[32:]...), priv, nil
}

func (ed25519Scheme) Sign(sk, msg []byte) ([]byte, error) {
	if err := checkLen(ed25519Name, "secret key", sk, ed25519.PrivateKeySize); err != nil {
		return nil, err
	}
	// A private copy: callers may pass memory Go does not own (see capi).
	priv := ed25519.PrivateKey(bytes.Clone(sk))
	defer clear(priv)
	return ed25519.Sign(priv, msg), nil
}

func (ed25519Scheme) Verify(pk, msg, sig []byte) error {
	if err := checkLen(ed25519Name, "public key", pk, ed25519.PublicKeySize); err != nil {
		return err
	}
	if !ed25519.Verify(ed25519.PublicKey(pk), msg, sig) {
		return fmt.Errorf("%s: %w", ed25519Name, ErrVerify)
	}
	return nil
}
