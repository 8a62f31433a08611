package pqc

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrUnsupported: the algorithm name is not in the registry.
	ErrUnsupported = errors.New("unsupported algorithm")
	// ErrInvalidArgument: an input has the wrong length or is malformed.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrVerify: a signature did not verify.
	ErrVerify = errors.New("signature verification failed")
)

// KEM is a key encapsulation mechanism over byte-slice keys.
type KEM interface {
	Name() string
	PublicKeySize() int
	SecretKeySize() int
	CiphertextSize() int
	SharedSecretSize() int
	// SeedSize is the length of the seed KeyFromSeed takes.
	SeedSize() int
	// EncapsSeedSize is the length of the seed EncapsulateDeterministic takes.
	EncapsSeedSize() int

	// GenerateKey reads its randomness from rand (crypto/rand.Reader when nil).
	GenerateKey(rand io.Reader) (pk, sk []byte, err error)
	// KeyFromSeed derives a key pair deterministically (derandomized keygen).
	KeyFromSeed(seed []byte) (pk, sk []byte, err error)
	Encapsulate(pk []byte, rand io.Reader) (ct, ss []byte, err error)
	// EncapsulateDeterministic is for known-answer tests only: reusing a
	// seed with the same public key yields the same shared secret.
	EncapsulateDeterministic(pk, seed []byte) (ct, ss []byte, err error)
	// Decapsulate returns an error only for inputs of the wrong length or an
	// invalid secret key; a tampered ciphertext yields the scheme's
	// implicit-rejection secret.
	Decapsulate(sk, ct []byte) (ss []byte, err error)
}

// Signature is a signature scheme over byte-slice keys.
type Signature interface {
	Name() string
	PublicKeySize() int
	SecretKeySize() int
	// SignatureMaxSize bounds the signature length; for most schemes every
	// signature has exactly this size, Falcon's vary below it.
	SignatureMaxSize() int
	SeedSize() int

	GenerateKey(rand io.Reader) (pk, sk []byte, err error)
	KeyFromSeed(seed []byte) (pk, sk []byte, err error)
	// Sign uses fresh randomness where the scheme is randomized or hedged.
	Sign(sk, msg []byte) (sig []byte, err error)
	// Verify returns nil or an error wrapping ErrVerify (or
	// ErrInvalidArgument for a malformed public key).
	Verify(pk, msg, sig []byte) error
}

var (
	// Keyed by lower-case name; exact canonical spellings are also keyed
	// as-is so the common lookup does not allocate a lower-case copy.
	kems = map[string]KEM{}
	sigs = map[string]Signature{}
	// Names in registration order, which is the order the C API lists them.
	kemNames, sigNames []string
)

func registerKEM(k KEM) {
	kems[strings.ToLower(k.Name())] = k
	kems[k.Name()] = k
	kemNames = append(kemNames, k.Name())
}

func registerSignature(s Signature) {
	sigs[strings.ToLower(s.Name())] = s
	sigs[s.Name()] = s
	sigNames = append(sigNames, s.Name())
}

// KEMByName finds a KEM by name, ignoring case.
func KEMByName(name string) (KEM, error) {
	if k, ok := kems[name]; ok {
		return k, nil
	}
	if k, ok := kems[strings.ToLower(name)]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("KEM %q: %w (known: %s)", name, ErrUnsupported, strings.Join(kemNames, ", "))
}

// SignatureByName finds a signature scheme by name, ignoring case.
func SignatureByName(name string) (Signature, error) {
	if s, ok := sigs[name]; ok {
		return s, nil
	}
	if s, ok := sigs[strings.ToLower(name)]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("signature scheme %q: %w (known: %s)", name, ErrUnsupported, strings.Join(sigNames, ", "))
}

// KEMNames lists the registered KEMs in a stable order.
func KEMNames() []string { return append([]string(nil), kemNames...) }

// SignatureNames lists the registered signature schemes in a stable order.
func SignatureNames() []string { return append([]string(nil), sigNames...) }

// checkLen is the one length check every entry point uses, so every error
// message has the same shape.
func checkLen(alg, what string, b []byte, want int) error {
	if len(b) != want {
		return fmt.Errorf("%s: %s is %d bytes, want %d: %w", alg, what, len(b), want, ErrInvalidArgument)
	}
	return nil
}
