package pqc

import (
	"bytes"
	"errors"
	"testing"
)

// The sizes liboqs and the standards publish; a mismatch means a format
// change that would break interoperability.
var wantKEMSizes = map[string][4]int{ // pk, sk, ct, ss
	"ML-KEM-512":  {800, 1632, 768, 32},
	"ML-KEM-768":  {1184, 2400, 1088, 32},
	"ML-KEM-1024": {1568, 3168, 1568, 32},
	"Kyber512":    {800, 1632, 768, 32},
	"Kyber768":    {1184, 2400, 1088, 32},
	"Kyber1024":   {1568, 3168, 1568, 32},
	HybridKEMName: {1216, 32, 1120, 32},
	"LightSaber":  {672, 1568, 736, 32},
	"Saber":       {992, 2304, 1088, 32},
	"FireSaber":   {1312, 3040, 1472, 32},
}

var wantSigSizes = map[string][3]int{ // pk, sk, max signature
	"ML-DSA-44":   {1312, 2560, 2420},
	"ML-DSA-65":   {1952, 4032, 3309},
	"ML-DSA-87":   {2592, 4896, 4627},
	"Dilithium2":  {1312, 2528, 2420},
	"Dilithium3":  {1952, 4000, 3293},
	"Dilithium5":  {2592, 4864, 4595},
	"Ed25519":     {32, 64, 64},
	"Falcon-512":  {897, 1281, 752},
	"Falcon-1024": {1793, 2305, 1462},
}

func TestLookupIsCaseInsensitive(t *testing.T) {
	for _, name := range []string{"ml-kem-768", "ML-KEM-768", "Ml-Kem-768", "x25519-ml-kem-768"} {
		if _, err := KEMByName(name); err != nil {
			t.Errorf("KEMByName(%q): %v", name, err)
		}
	}
	for _, name := range []string{"ml-dsa-65", "ED25519", "dilithium3"} {
		if _, err := SignatureByName(name); err != nil {
			t.Errorf("SignatureByName(%q): %v", name, err)
		}
	}
}

func TestUnknownNamesAreUnsupported(t *testing.T) {
	for _, name := range []string{"", "ML-KEM-769", "RSA-2048", "ML-KEM-768 ", "ML-DSA-65"} {
		if _, err := KEMByName(name); !errors.Is(err, ErrUnsupported) {
			t.Errorf("KEMByName(%q) = %v, want ErrUnsupported", name, err)
		}
	}
	for _, name := range []string{"", "ML-DSA-66", "ML-KEM-768", "ecdsa"} {
		if _, err := SignatureByName(name); !errors.Is(err, ErrUnsupported) {
			t.Errorf("SignatureByName(%q) = %v, want ErrUnsupported", name, err)
		}
	}
}

func TestEveryRegisteredSchemeHasPublishedSizes(t *testing.T) {
	for _, name := range KEMNames() {
		k, _ := KEMByName(name)
		want, ok := wantKEMSizes[name]
		if !ok {
			t.Errorf("%s: no published sizes in the test table", name)
			continue
		}
		got := [4]int{k.PublicKeySize(), k.SecretKeySize(), k.CiphertextSize(), k.SharedSecretSize()}
		if got != want {
			t.Errorf("%s: sizes %v, want %v", name, got, want)
		}
	}
	for _, name := range SignatureNames() {
		s, _ := SignatureByName(name)
		want, ok := wantSigSizes[name]
		if !ok {
			t.Errorf("%s: no published sizes in the test table", name)
			continue
		}
		got := [3]int{s.PublicKeySize(), s.SecretKeySize(), s.SignatureMaxSize()}
		if got != want {
			t.Errorf("%s: sizes %v, want %v", name, got, want)
		}
	}
}

func TestKEMRoundTripAndImplicitRejection(t *testing.T) {
	for _, name := range KEMNames() {
		t.Run(name, func(t *testing.T) {
			k, _ := KEMByName(name)
			pk, sk, err := k.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			ct, ss, err := k.Encapsulate(pk, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(ct) != k.CiphertextSize() || len(ss) != k.SharedSecretSize() {
				t.Fatalf("ct %d bytes, ss %d bytes", len(ct), len(ss))
			}
			got, err := k.Decapsulate(sk, ct)
			if err != nil || !bytes.Equal(got, ss) {
				t.Fatalf("decapsulate: %v, secrets equal %v", err, bytes.Equal(got, ss))
			}
			tampered := bytes.Clone(ct)
			tampered[len(tampered)/2] ^= 0x01
			bad, err := k.Decapsulate(sk, tampered)
			if err != nil {
				t.Fatalf("tampered ciphertext returned an error (must be implicit rejection): %v", err)
			}
			if bytes.Equal(bad, ss) {
				t.Fatal("tampered ciphertext decapsulated to the real secret")
			}
			_, otherSK, _ := k.GenerateKey(nil)
			if wrong, _ := k.Decapsulate(otherSK, ct); bytes.Equal(wrong, ss) {
				t.Fatal("the wrong secret key decapsulated to the real secret")
			}
		})
	}
}

func TestKEMKeyFromSeedIsDeterministic(t *testing.T) {
	for _, name := range KEMNames() {
		k, _ := KEMByName(name)
		seed := bytes.Repeat([]byte{7}, k.SeedSize())
		pk1, sk1, err1 := k.KeyFromSeed(seed)
		pk2, sk2, err2 := k.KeyFromSeed(seed)
		if err1 != nil || err2 != nil || !bytes.Equal(pk1, pk2) || !bytes.Equal(sk1, sk2) {
			t.Errorf("%s: KeyFromSeed is not deterministic (%v, %v)", name, err1, err2)
		}
		eseed := bytes.Repeat([]byte{9}, k.EncapsSeedSize())
		ct1, ss1, _ := k.EncapsulateDeterministic(pk1, eseed)
		ct2, ss2, _ := k.EncapsulateDeterministic(pk1, eseed)
		if !bytes.Equal(ct1, ct2) || !bytes.Equal(ss1, ss2) {
			t.Errorf("%s: EncapsulateDeterministic is not deterministic", name)
		}
	}
}

// Every input of every KEM entry point, one byte short and one byte long.
func TestKEMRejectsBadLengths(t *testing.T) {
	for _, name := range KEMNames() {
		k, _ := KEMByName(name)
		pk, sk, _ := k.GenerateKey(nil)
		ct, _, _ := k.Encapsulate(pk, nil)
		for _, delta := range []int{-1, 1} {
			resize := func(b []byte) []byte {
				if delta < 0 {
					return b[:len(b)-1]
				}
				return append(bytes.Clone(b), 0)
			}
			cases := map[string]error{}
			_, _, cases["KeyFromSeed(seed)"] = k.KeyFromSeed(resize(make([]byte, k.SeedSize())))
			_, _, cases["Encapsulate(pk)"] = k.Encapsulate(resize(pk), nil)
			_, _, cases["EncapsulateDeterministic(seed)"] = k.EncapsulateDeterministic(pk, resize(make([]byte, k.EncapsSeedSize())))
			_, cases["Decapsulate(sk)"] = k.Decapsulate(resize(sk), ct)
			_, cases["Decapsulate(ct)"] = k.Decapsulate(sk, resize(ct))
			_, cases["Decapsulate(nil ct)"] = k.Decapsulate(sk, nil)
			for what, err := range cases {
				if !errors.Is(err, ErrInvalidArgument) {
					t.Errorf("%s %s with length %+d: %v, want ErrInvalidArgument", name, what, delta, err)
				}
			}
		}
	}
}

func TestSignVerifyAndForgeries(t *testing.T) {
	for _, name := range SignatureNames() {
		t.Run(name, func(t *testing.T) {
			s, _ := SignatureByName(name)
			pk, sk, err := s.GenerateKey(nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("telemetry: boiler 3 at 412 K")
			sig, err := s.Sign(sk, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(sig) > s.SignatureMaxSize() {
				t.Fatalf("signature %d bytes exceeds max %d", len(sig), s.SignatureMaxSize())
			}
			if err := s.Verify(pk, msg, sig); err != nil {
				t.Fatalf("valid signature rejected: %v", err)
			}
			otherPK, _, _ := s.GenerateKey(nil)
			flipped := bytes.Clone(sig)
			flipped[len(flipped)/2] ^= 0x10
			for what, err := range map[string]error{
				"flipped signature bit": s.Verify(pk, msg, flipped),
				"other message":         s.Verify(pk, []byte("telemetry: boiler 3 at 413 K"), sig),
				"wrong public key":      s.Verify(otherPK, msg, sig),
				"truncated signature":   s.Verify(pk, msg, sig[:len(sig)-1]),
				"extended signature":    s.Verify(pk, msg, append(bytes.Clone(sig), 0)),
				"empty signature":       s.Verify(pk, msg, nil),
			} {
				if !errors.Is(err, ErrVerify) {
					t.Errorf("%s: %v, want ErrVerify", what, err)
				}
			}
		})
	}
}

func TestSignatureRejectsBadLengths(t *testing.T) {
	for _, name := range SignatureNames() {
		s, _ := SignatureByName(name)
		pk, sk, _ := s.GenerateKey(nil)
		sig, _ := s.Sign(sk, []byte("m"))
		cases := map[string]error{}
		_, _, cases["KeyFromSeed(short seed)"] = s.KeyFromSeed(make([]byte, s.SeedSize()-1))
		_, cases["Sign(short sk)"] = s.Sign(sk[:len(sk)-1], []byte("m"))
		_, cases["Sign(long sk)"] = s.Sign(append(bytes.Clone(sk), 0), []byte("m"))
		cases["Verify(short pk)"] = s.Verify(pk[:len(pk)-1], []byte("m"), sig)
		cases["Verify(long pk)"] = s.Verify(append(bytes.Clone(pk), 0), []byte("m"), sig)
		for what, err := range cases {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("%s %s: %v, want ErrInvalidArgument", name, what, err)
			}
		}
	}
}

func TestSignatureKeyFromSeedIsDeterministic(t *testing.T) {
	for _, name := range SignatureNames() {
		s, _ := SignatureByName(name)
		seed := bytes.Repeat([]byte{3}, s.SeedSize())
		pk1, sk1, err1 := s.KeyFromSeed(seed)
		pk2, sk2, err2 := s.KeyFromSeed(seed)
		if err1 != nil || err2 != nil || !bytes.Equal(pk1, pk2) || !bytes.Equal(sk1, sk2) {
			t.Errorf("%s: KeyFromSeed is not deterministic (%v, %v)", name, err1, err2)
		}
	}
}

// A random reader that fails must surface as an error, not as a key made
// from zeros.
func TestFailingRandomnessIsAnError(t *testing.T) {
	k, _ := KEMByName("ML-KEM-768")
	if _, _, err := k.GenerateKey(bytes.NewReader(nil)); err == nil {
		t.Error("KEM GenerateKey succeeded with an empty random source")
	}
	s, _ := SignatureByName("ML-DSA-65")
	if _, _, err := s.GenerateKey(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Error("signature GenerateKey succeeded with a short random source")
	}
}
