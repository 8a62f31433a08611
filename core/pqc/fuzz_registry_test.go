package pqc

import (
	"bytes"
	"testing"
)

// Fuzz targets over the registry, so every scheme — our own Falcon and
// SABER as well as circl's and the standard library's — is reached the way
// the session layer and the C API reach it. Keys come from fixed seeds, so
// seeds and the committed corpus are genuine in every fuzzing process.
//
// Invariants: a wrong length is refused with an error, never a panic; a
// KEM decapsulates any ciphertext of the right length deterministically to
// a secret of the right size, and a ciphertext other than the genuine one
// never yields the genuine secret (implicit rejection); a signature
// verifies only for the exact public key, message and signature bytes that
// were signed (no malleability through unused bits or alternative
// encodings).

type kemFixture struct {
	k          KEM
	sk, ct, ss []byte
}

type sigFixture struct {
	s            Signature
	pk, msg, sig []byte
}

func seeded(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func kemFixtures(t testing.TB) []kemFixture {
	var out []kemFixture
	for _, name := range KEMNames() {
		k, _ := KEMByName(name)
		pk, sk, err := k.KeyFromSeed(seeded(k.SeedSize(), 7))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ct, ss, err := k.EncapsulateDeterministic(pk, seeded(k.EncapsSeedSize(), 9))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, kemFixture{k, sk, ct, ss})
	}
	return out
}

func sigFixtures(t testing.TB) []sigFixture {
	var out []sigFixture
	for _, name := range SignatureNames() {
		s, _ := SignatureByName(name)
		pk, sk, err := s.KeyFromSeed(seeded(s.SeedSize(), 7))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		msg := []byte("fuzz message for " + name)
		sig, err := s.Sign(sk, msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, sigFixture{s, pk, msg, sig})
	}
	return out
}

func FuzzRegistryDecapsulate(f *testing.F) {
	fx := kemFixtures(f)
	for i, x := range fx {
		f.Add(uint8(i), x.ct)
		f.Add(uint8(i), x.ct[:len(x.ct)-1])
	}
	f.Fuzz(func(t *testing.T, which uint8, ct []byte) {
		x := fx[int(which)%len(fx)]
		ss, err := x.k.Decapsulate(x.sk, ct)
		if len(ct) != x.k.CiphertextSize() {
			if err == nil {
				t.Fatalf("%s: %d-byte ciphertext accepted", x.k.Name(), len(ct))
			}
			return
		}
		if err != nil {
			// Hybrids may refuse an invalid X25519 share; nothing else may
			// fail on a ciphertext of the right length.
			if x.k.Name() != "X25519-ML-KEM-768" {
				t.Fatalf("%s: %v", x.k.Name(), err)
			}
			return
		}
		if len(ss) != x.k.SharedSecretSize() {
			t.Fatalf("%s: %d-byte secret", x.k.Name(), len(ss))
		}
		again, _ := x.k.Decapsulate(x.sk, ct)
		if !bytes.Equal(ss, again) {
			t.Fatalf("%s: decapsulation is not deterministic", x.k.Name())
		}
		if bytes.Equal(ss, x.ss) != bytes.Equal(ct, x.ct) {
			t.Fatalf("%s: secret/ciphertext mismatch for %x", x.k.Name(), ct)
		}
	})
}

// FuzzRegistryVerify edits one of public key, message and signature (part
// selects which) of a genuine triple: mask is XORed in at off and resize
// shortens or extends it. ML-DSA and Falcon sign with fresh randomness, so
// the input is an edit of this process's genuine signature rather than
// bytes that are only genuine in the process that made them.
func FuzzRegistryVerify(f *testing.F) {
	fx := sigFixtures(f)
	for i := range fx {
		for part := range uint8(3) {
			f.Add(uint8(i), part, uint16(0), []byte{}, int8(0))
			f.Add(uint8(i), part, uint16(3), []byte{1}, int8(0))
			f.Add(uint8(i), part, uint16(0), []byte{}, int8(-1))
			f.Add(uint8(i), part, uint16(0), []byte{}, int8(1))
		}
	}
	f.Fuzz(func(t *testing.T, which, part uint8, off uint16, mask []byte, resize int8) {
		x := fx[int(which)%len(fx)]
		args := [][]byte{x.pk, x.msg, x.sig}
		args[part%3] = edit(args[part%3], int(off), mask, int(resize))
		err := x.s.Verify(args[0], args[1], args[2])
		genuine := bytes.Equal(args[0], x.pk) && bytes.Equal(args[1], x.msg) && bytes.Equal(args[2], x.sig)
		if (err == nil) != genuine {
			t.Fatalf("%s: part %d edited to %x: verify=%v, genuine=%v", x.s.Name(), part%3, args[part%3], err, genuine)
		}
	})
}

// edit returns a copy of b resized by delta (zero-extended) with mask
// XORed in from off (wrapping).
func edit(b []byte, off int, mask []byte, delta int) []byte {
	n := max(len(b)+delta, 0)
	out := make([]byte, n)
	copy(out, b)
	for i, m := range mask {
		if n > 0 {
			out[(off+i)%n] ^= m
		}
	}
	return out
}
