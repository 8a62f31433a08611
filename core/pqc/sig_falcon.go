package pqc

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/pqc-iiot/pqc-iiot/core/internal/falcon"
)

func init() {
	registerSignature(falconScheme{falcon.Falcon512})
	registerSignature(falconScheme{falcon.Falcon1024})
}

// falconScheme adapts our Falcon implementation. Signatures are the
// detached PQClean/liboqs form (0x30+logn || nonce || compressed body), of
// variable length up to SignatureMaxSize.
type falconScheme struct{ *falcon.Params }

func (falconScheme) SeedSize() int { return falcon.KeySeedSize }

func (f falconScheme) GenerateKey(r io.Reader) (pk, sk []byte, err error) {
	seed, err := readSeed(r, f.Name(), falcon.KeySeedSize)
	if err != nil {
		return nil, nil, err
	}
	defer wipe(seed)
	return f.KeyFromSeed(seed)
}

func (f falconScheme) KeyFromSeed(seed []byte) (pk, sk []byte, err error) {
	if err := checkLen(f.Name(), "seed", seed, falcon.KeySeedSize); err != nil {
		return nil, nil, err
	}
	return f.Params.KeyFromSeed(seed)
}

func (f falconScheme) Sign(sk, msg []byte) ([]byte, error) {
	if err := checkLen(f.Name(), "secret key", sk, f.SecretKeySize()); err != nil {
		return nil, err
	}
	sig, err := f.Params.Sign(sk, msg, rand.Reader)
	if errors.Is(err, falcon.ErrInvalidKey) {
		return nil, fmt.Errorf("%w: %w", err, ErrInvalidArgument)
	}
	return sig, err
}

// Verify keeps the registry's contract: a malformed public key is an
// argument error, any bad signature (malformed encoding included) is a
// verification failure.
func (f falconScheme) Verify(pk, msg, sig []byte) error {
	if err := checkLen(f.Name(), "public key", pk, f.PublicKeySize()); err != nil {
		return err
	}
	err := f.Params.Verify(pk, msg, sig)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, falcon.ErrInvalidKey):
		return fmt.Errorf("%w: %w", err, ErrInvalidArgument)
	default:
		return fmt.Errorf("%w: %w", err, ErrVerify)
	}
}
