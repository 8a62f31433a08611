package store

import (
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KeySource says how the 32-byte master key is obtained. The only
// implementations are Passphrase and RawKey: the store records which kind it
// was created with, and the set is closed so that the header format stays
// fully specified.
type KeySource interface {
	kdf() byte
	masterKey(h *header) ([]byte, error)
}

// Argon2Params are Argon2id cost parameters. They are fixed when a store is
// created and kept in its header, so a store stays openable when the defaults
// change.
type Argon2Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultArgon2 follows RFC 9106's second recommendation scaled to a small
// device: 64 MiB, 3 passes, 2 lanes (the gateway class this targets has 2
// cores).
var DefaultArgon2 = Argon2Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// Bounds accepted from a header. The upper bounds stop a tampered header from
// making Open allocate gigabytes or spin for minutes before the key check can
// fail.
const (
	maxArgon2Time   = 64
	maxArgon2Memory = 1 << 20 // 1 GiB in KiB
)

func (p Argon2Params) validate() error {
	if p.Time < 1 || p.Time > maxArgon2Time {
		return fmt.Errorf("%w: argon2 time %d out of range 1..%d", ErrInvalid, p.Time, maxArgon2Time)
	}
	if p.Threads < 1 {
		return fmt.Errorf("%w: argon2 threads must be at least 1", ErrInvalid)
	}
	if p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxArgon2Memory {
		return fmt.Errorf("%w: argon2 memory %d KiB out of range %d..%d", ErrInvalid, p.MemoryKiB, 8*uint32(p.Threads), maxArgon2Memory)
	}
	return nil
}

const (
	kdfArgon2id byte = 1
	kdfRaw      byte = 2
)

type passphrase struct{ p []byte }

// Passphrase derives the master key with Argon2id from p, the per-store random
// salt and the parameters in the store's header. The slice is referenced, not
// copied, so that the caller's wipe of p is the only copy to wipe; keep p
// unchanged until Create or Open returns.
func Passphrase(p []byte) KeySource { return passphrase{p} }

func (passphrase) kdf() byte { return kdfArgon2id }

func (k passphrase) masterKey(h *header) ([]byte, error) {
	if len(k.p) == 0 {
		return nil, fmt.Errorf("%w: empty passphrase", ErrInvalid)
	}
	if err := h.argon.validate(); err != nil {
		return nil, err
	}
	return argon2.IDKey(k.p, h.salt[:], h.argon.Time, h.argon.MemoryKiB, h.argon.Threads, keySize), nil
}

type rawKey struct{ k []byte }

// RawKey uses k (32 bytes, e.g. unsealed from a TPM or secure element) as the
// master key. Like Passphrase it references k rather than copying it.
func RawKey(k []byte) KeySource { return rawKey{k} }

func (rawKey) kdf() byte { return kdfRaw }

func (k rawKey) masterKey(*header) ([]byte, error) {
	if len(k.k) != keySize {
		return nil, fmt.Errorf("%w: raw key is %d bytes, want %d", ErrInvalid, len(k.k), keySize)
	}
	return append([]byte(nil), k.k...), nil
}
