//go:build valgrind

// Command ctgrind runs one secret-handling operation with its secret inputs
// marked undefined for Valgrind's memcheck (the ctgrind technique): memcheck
// then reports every conditional branch and every memory address computed
// from secret bytes. Build with -tags valgrind so the Go runtime describes its
// allocator and stacks to Valgrind; scripts/ct.sh builds and runs it.
//
// Outputs that are public by design (public keys, ciphertexts, signatures,
// the shared secret handed to the caller) are marked defined again before the
// harness looks at them, which is the "declassification" step.
package main

/*
#include <stddef.h>
#include <valgrind/memcheck.h>
static void ct_secret(void *p, size_t n) { VALGRIND_MAKE_MEM_UNDEFINED(p, n); }
static void ct_public(void *p, size_t n) { VALGRIND_MAKE_MEM_DEFINED(p, n); }
static unsigned ct_on_valgrind(void) { return RUNNING_ON_VALGRIND; }
*/
import "C"

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"flag"
	"fmt"
	"os"
	"sort"
	"unsafe"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// secret marks b as secret: memcheck treats its bytes as uninitialised.
func secret(b []byte) {
	if len(b) > 0 {
		C.ct_secret(unsafe.Pointer(&b[0]), C.size_t(len(b)))
	}
}

// declassify marks b as public again.
func declassify(b []byte) {
	if len(b) > 0 {
		C.ct_public(unsafe.Pointer(&b[0]), C.size_t(len(b)))
	}
}

type target struct {
	// leaky targets are controls: the check must report them.
	leaky bool
	run   func() error
}

var targets = map[string]target{
	"saber-decaps/LightSaber": {run: kemDecaps("LightSaber", false)},
	"saber-decaps/Saber":      {run: kemDecaps("Saber", false)},
	"saber-decaps/FireSaber":  {run: kemDecaps("FireSaber", false)},
	// A tampered ciphertext takes the implicit-rejection path, which must
	// be just as silent.
	"saber-decaps-reject/Saber": {run: kemDecaps("Saber", true)},
	"saber-keygen/Saber":        {run: kemKeygen("Saber")},
	"saber-encaps/Saber":        {run: kemEncaps("Saber")},
	"mlkem-decaps/ML-KEM-768":   {run: kemDecaps("ML-KEM-768", false)},
	"falcon-sign/Falcon-512":    {run: falconSign("Falcon-512")},
	"falcon-sign/Falcon-1024":   {run: falconSign("Falcon-1024")},
	"falcon-keygen/Falcon-512":  {run: falconKeygen("Falcon-512")},
	"mldsa-sign/ML-DSA-65":      {run: sigSign("ML-DSA-65")},
	"x25519/ecdh":               {run: x25519Shared},
	"aes-gcm-open/AES-256-GCM":  {run: aesGCMOpen},

	"control-leaky/bytes.Equal":    {leaky: true, run: controlBytesEqual},
	"control-leaky/table-lookup":   {leaky: true, run: controlTableLookup},
	"control-clean/subtle.Compare": {run: controlSubtleCompare},
}

func kemDecaps(name string, tamper bool) func() error {
	return func() error {
		k, err := pqc.KEMByName(name)
		if err != nil {
			return err
		}
		pk, sk, err := k.GenerateKey(nil)
		if err != nil {
			return fmt.Errorf("keygen: %w", err)
		}
		ct, want, err := k.Encapsulate(pk, nil)
		if err != nil {
			return fmt.Errorf("encaps: %w", err)
		}
		if tamper {
			ct[len(ct)/2] ^= 1
		}
		secretKEMKey(sk, k.PublicKeySize())
		ss, err := k.Decapsulate(sk, ct)
		declassify(sk)
		if err != nil {
			return fmt.Errorf("decaps: %w", err)
		}
		declassify(ss)
		if bytes.Equal(ss, want) == tamper {
			return fmt.Errorf("decaps: shared secret agreement is %v with tamper=%v", !tamper, tamper)
		}
		return nil
	}
}

// secretKEMKey marks the secret parts of a SABER or ML-KEM secret key. Both
// lay it out as secret vector || public key || H(public key) || z; the
// middle two are public (ML-KEM even checks the hash with a plain compare).
func secretKEMKey(sk []byte, pkLen int) {
	const hashLen, zLen = 32, 32
	secret(sk[:len(sk)-pkLen-hashLen-zLen])
	secret(sk[len(sk)-zLen:])
}

func kemKeygen(name string) func() error {
	return func() error {
		k, err := pqc.KEMByName(name)
		if err != nil {
			return err
		}
		seed := make([]byte, k.SeedSize())
		// SABER's seed is seed_A || noise seed || z; seed_A becomes public
		// in the public key, the rest is secret.
		secret(seed[32:])
		pk, sk, err := k.KeyFromSeed(seed)
		if err != nil {
			return err
		}
		declassify(pk)
		declassify(sk)
		return nil
	}
}

func kemEncaps(name string) func() error {
	return func() error {
		k, err := pqc.KEMByName(name)
		if err != nil {
			return err
		}
		pk, _, err := k.GenerateKey(nil)
		if err != nil {
			return err
		}
		seed := make([]byte, k.EncapsSeedSize())
		secret(seed)
		ct, ss, err := k.EncapsulateDeterministic(pk, seed)
		if err != nil {
			return err
		}
		declassify(ct)
		declassify(ss)
		return nil
	}
}

func falconSign(name string) func() error {
	return func() error {
		s, err := pqc.SignatureByName(name)
		if err != nil {
			return err
		}
		pk, sk, err := s.GenerateKey(nil)
		if err != nil {
			return err
		}
		msg := []byte("ctgrind: falcon signing with a secret key")
		secret(sk[1:]) // byte 0 is the public header
		sig, err := s.Sign(sk, msg)
		declassify(sk)
		if err != nil {
			return err
		}
		declassify(sig)
		return s.Verify(pk, msg, sig)
	}
}

// sigSign signs with an ML-DSA secret key (circl), for comparison with
// Falcon.
func sigSign(name string) func() error {
	return func() error {
		s, err := pqc.SignatureByName(name)
		if err != nil {
			return err
		}
		pk, sk, err := s.GenerateKey(nil)
		if err != nil {
			return err
		}
		msg := []byte("ctgrind: signing with a secret key")
		// ML-DSA's sk is rho || K || tr || s1 || s2 || t0 (FIPS 204):
		// rho and tr (a hash of the public key) are public.
		const rhoLen, keyLen, trLen = 32, 32, 64
		secret(sk[rhoLen : rhoLen+keyLen])
		secret(sk[rhoLen+keyLen+trLen:])
		sig, err := s.Sign(sk, msg)
		declassify(sk)
		if err != nil {
			return err
		}
		declassify(sig)
		return s.Verify(pk, msg, sig)
	}
}

// x25519Shared computes an X25519 shared secret (crypto/ecdh) with a
// secret private scalar.
func x25519Shared() error {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	peer, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	raw := priv.Bytes()
	secret(raw)
	k, err := ecdh.X25519().NewPrivateKey(raw)
	if err != nil {
		return err
	}
	ss, err := k.ECDH(peer.PublicKey())
	if err != nil {
		return err
	}
	declassify(ss)
	return nil
}

// aesGCMOpen opens an AES-256-GCM message with a secret key; the verdict
// (tag valid or not) is public.
func aesGCMOpen() error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	ct := aead.Seal(nil, nonce, []byte("ctgrind: a sealed telemetry reading"), nil)
	secret(key)
	block, err = aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err = cipher.NewGCM(block)
	if err != nil {
		return err
	}
	pt, err := aead.Open(nil, nonce, ct, nil)
	declassify(pt)
	return err
}

func falconKeygen(name string) func() error {
	return func() error {
		s, err := pqc.SignatureByName(name)
		if err != nil {
			return err
		}
		seed := make([]byte, s.SeedSize())
		seed[0] = 1
		secret(seed)
		pk, sk, err := s.KeyFromSeed(seed)
		if err != nil {
			return err
		}
		declassify(pk)
		declassify(sk)
		return nil
	}
}

// controlBytesEqual compares secrets with bytes.Equal, which stops at the
// first difference: the check must flag it.
func controlBytesEqual() error {
	a := bytes.Repeat([]byte{0x5a}, 64)
	b := bytes.Clone(a)
	b[63] ^= 1
	secret(a)
	eq := bytes.Equal(a, b)
	declassify(a)
	if eq {
		return fmt.Errorf("bytes.Equal: different inputs reported equal")
	}
	return nil
}

// sbox is a 256-entry table read at a secret index.
var sbox = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i*7 + 3)
	}
	return t
}()

// controlTableLookup indexes a table with secret bytes (the AES T-table
// mistake): the check must flag the secret-dependent addresses.
func controlTableLookup() error {
	key := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	secret(key)
	var acc byte
	for _, k := range key {
		acc ^= sbox[k]
	}
	out := []byte{acc}
	declassify(out)
	return nil
}

// controlSubtleCompare is the constant-time comparison the library uses; it
// must stay silent, showing that the harness itself adds no reports.
func controlSubtleCompare() error {
	a := bytes.Repeat([]byte{0x5a}, 64)
	b := bytes.Clone(a)
	b[63] ^= 1
	secret(a)
	eq := []byte{byte(subtle.ConstantTimeCompare(a, b))}
	declassify(a)
	declassify(eq)
	if eq[0] != 0 {
		return fmt.Errorf("subtle.ConstantTimeCompare: different inputs reported equal")
	}
	return nil
}

func main() {
	list := flag.Bool("list", false, "print the targets, one per line, with 'leaky' for controls")
	name := flag.String("target", "", "target to run")
	flag.Parse()
	if *list {
		names := make([]string, 0, len(targets))
		for n := range targets {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			kind := "clean"
			if targets[n].leaky {
				kind = "leaky"
			}
			fmt.Println(n, kind)
		}
		return
	}
	t, ok := targets[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "ctgrind: unknown target %q (use -list)\n", *name)
		os.Exit(2)
	}
	if C.ct_on_valgrind() == 0 {
		fmt.Fprintln(os.Stderr, "ctgrind: not running under valgrind; the marks have no effect")
	}
	if err := t.run(); err != nil {
		fmt.Fprintf(os.Stderr, "ctgrind: %s: %v\n", *name, err)
		os.Exit(1)
	}
}
