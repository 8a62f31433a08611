package pqc

import (
	"errors"
	"fmt"
	"io"

	"github.com/pqc-iiot/pqc-iiot/core/internal/saber"
)

func init() {
	for _, p := range []*saber.Params{saber.LightSaber, saber.Saber, saber.FireSaber} {
		registerKEM(saberKEM{p})
	}
}

// saberKEM adapts our SABER implementation: it adds the seed sizes and
// maps its length errors to ErrInvalidArgument.
type saberKEM struct{ *saber.Params }

func (saberKEM) SeedSize() int       { return saber.KeySeedSize }
func (saberKEM) EncapsSeedSize() int { return saber.EncapsSeedSize }

func (k saberKEM) GenerateKey(r io.Reader) (pk, sk []byte, err error) {
	seed, err := readSeed(r, k.Name(), saber.KeySeedSize)
	if err != nil {
		return nil, nil, err
	}
	defer wipe(seed)
	return k.KeyFromSeed(seed)
}

func (k saberKEM) KeyFromSeed(seed []byte) (pk, sk []byte, err error) {
	pk, sk, err = k.Params.KeyFromSeed(seed)
	return pk, sk, saberError(err)
}

func (k saberKEM) Encapsulate(pk []byte, r io.Reader) (ct, ss []byte, err error) {
	seed, err := readSeed(r, k.Name(), saber.EncapsSeedSize)
	if err != nil {
		return nil, nil, err
	}
	defer wipe(seed)
	return k.EncapsulateDeterministic(pk, seed)
}

func (k saberKEM) EncapsulateDeterministic(pk, seed []byte) (ct, ss []byte, err error) {
	ct, ss, err = k.Params.EncapsulateDeterministic(pk, seed)
	return ct, ss, saberError(err)
}

func (k saberKEM) Decapsulate(sk, ct []byte) ([]byte, error) {
	ss, err := k.Params.Decapsulate(sk, ct)
	return ss, saberError(err)
}

func saberError(err error) error {
	if err != nil && errors.Is(err, saber.ErrInvalidLength) {
		return fmt.Errorf("%w: %w", err, ErrInvalidArgument)
	}
	return err
}
