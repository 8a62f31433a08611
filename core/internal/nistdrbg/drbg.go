// Package nistdrbg is the reduced AES-256 CTR_DRBG that NIST's PQC known-answer
// test generators use (rng.c: randombytes_init / randombytes).
//
// It exists only so known-answer tests can replay the official .rsp files. It is
// deterministic by design and must never be used as a source of real randomness.
//
// Output depends on how requests are split: Read(32) twice differs from Read(64)
// once, because each call ends with an Update that rekeys the generator and
// discards the rest of the last block. Callers must make the same calls, with the
// same lengths, as the reference implementation they replay.
package nistdrbg

import (
	"crypto/aes"
	"fmt"
)

// SeedSize is the size of the entropy input randombytes_init takes.
const SeedSize = 48

// DRBG is the state of one generator: key K and counter V.
type DRBG struct {
	key [32]byte
	v   [16]byte
}

// New seeds a generator as randombytes_init(seed, NULL, 256) does.
func New(seed []byte) (*DRBG, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("nistdrbg: seed is %d bytes, want %d", len(seed), SeedSize)
	}
	d := &DRBG{}
	d.update(seed)
	return d, nil
}

// MustNew is New for test code with a constant, known-good seed.
func MustNew(seed []byte) *DRBG {
	d, err := New(seed)
	if err != nil {
		panic(err)
	}
	return d
}

// Read fills out as one randombytes(out, len(out)) call. It never fails, so
// the DRBG can stand where an io.Reader is expected.
func (d *DRBG) Read(out []byte) (int, error) {
	block, _ := aes.NewCipher(d.key[:]) // a 32-byte key cannot fail
	var buf [16]byte
	for off := 0; off < len(out); off += 16 {
		d.incrementV()
		block.Encrypt(buf[:], d.v[:])
		copy(out[off:], buf[:])
	}
	d.update(nil)
	return len(out), nil
}

// Bytes is Read into a fresh slice of n bytes.
func (d *DRBG) Bytes(n int) []byte {
	out := make([]byte, n)
	d.Read(out)
	return out
}

// update is CTR_DRBG_Update with optional 48 bytes of provided data.
func (d *DRBG) update(provided []byte) {
	block, _ := aes.NewCipher(d.key[:])
	var t [48]byte
	for i := 0; i < 3; i++ {
		d.incrementV()
		block.Encrypt(t[16*i:16*i+16], d.v[:])
	}
	for i := range provided {
		t[i] ^= provided[i]
	}
	copy(d.key[:], t[:32])
	copy(d.v[:], t[32:])
}

// incrementV adds one to V as a 128-bit big-endian integer.
func (d *DRBG) incrementV() {
	for i := 15; i >= 0; i-- {
		d.v[i]++
		if d.v[i] != 0 {
			return
		}
	}
}
