package saber

import (
	"bytes"
	"crypto/sha3"
	"errors"
	"io"
	"testing"
)

func TestSizes(t *testing.T) {
	want := map[string][4]int{ // pk, sk, ct, ss (testdata/kat/README.md)
		"LightSaber": {672, 1568, 736, 32},
		"Saber":      {992, 2304, 1088, 32},
		"FireSaber":  {1312, 3040, 1472, 32},
	}
	for _, p := range allParams {
		got := [4]int{p.PublicKeySize(), p.SecretKeySize(), p.CiphertextSize(), p.SharedSecretSize()}
		if got != want[p.Name()] {
			t.Errorf("%s sizes = %v, want %v", p.Name(), got, want[p.Name()])
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, p := range allParams {
		t.Run(p.Name(), func(t *testing.T) {
			for i := 0; i < 20; i++ {
				pk, sk, err := p.GenerateKey(nil)
				if err != nil {
					t.Fatal(err)
				}
				ct, ss, err := p.Encapsulate(pk, nil)
				if err != nil {
					t.Fatal(err)
				}
				got, err := p.Decapsulate(sk, ct)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, ss) {
					t.Fatal("decapsulated secret differs")
				}
			}
		})
	}
}

// rejectionSecret is SHA3-256(z || SHA3-256(ct)), the implicit-rejection
// output for a ciphertext that fails the re-encryption check.
func rejectionSecret(sk, ct []byte) []byte {
	hc := sha3.Sum256(ct)
	ss := sha3.Sum256(append(append([]byte{}, sk[len(sk)-32:]...), hc[:]...))
	return ss[:]
}

func TestTamperedCiphertextImplicitRejection(t *testing.T) {
	for _, p := range allParams {
		t.Run(p.Name(), func(t *testing.T) {
			pk, sk, err := p.KeyFromSeed(bytes.Repeat([]byte{7}, KeySeedSize))
			if err != nil {
				t.Fatal(err)
			}
			ct, ss, err := p.EncapsulateDeterministic(pk, bytes.Repeat([]byte{9}, EncapsSeedSize))
			if err != nil {
				t.Fatal(err)
			}
			positions := []int{0, 1, 319, polyPBytes, p.l*polyPBytes - 1, p.l * polyPBytes, len(ct) - 1}
			for _, pos := range positions {
				for _, bit := range []uint{0, 3, 7} {
					bad := bytes.Clone(ct)
					bad[pos] ^= 1 << bit
					got, err := p.Decapsulate(sk, bad)
					if err != nil {
						t.Fatalf("pos %d bit %d: %v", pos, bit, err)
					}
					if bytes.Equal(got, ss) {
						t.Fatalf("pos %d bit %d: tampered ciphertext gave the real secret", pos, bit)
					}
					if want := rejectionSecret(sk, bad); !bytes.Equal(got, want) {
						t.Fatalf("pos %d bit %d: got %x, want implicit-rejection secret %x", pos, bit, got, want)
					}
				}
			}
			// An all-zero ciphertext of the right length is rejected the same way.
			zero := make([]byte, len(ct))
			got, err := p.Decapsulate(sk, zero)
			if err != nil || !bytes.Equal(got, rejectionSecret(sk, zero)) {
				t.Fatalf("zero ciphertext: got %x, %v", got, err)
			}
		})
	}
}

// TestWrongKeyRejection decapsulates with an unrelated secret key.
func TestWrongKeyRejection(t *testing.T) {
	p := Saber
	pk, _, _ := p.GenerateKey(nil)
	_, sk2, _ := p.GenerateKey(nil)
	ct, ss, _ := p.Encapsulate(pk, nil)
	got, err := p.Decapsulate(sk2, ct)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, ss) || !bytes.Equal(got, rejectionSecret(sk2, ct)) {
		t.Fatal("wrong key did not give the implicit-rejection secret")
	}
}

func TestDeterministicAPIsMatchReaderAPIs(t *testing.T) {
	seed := make([]byte, KeySeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	for _, p := range allParams {
		pk1, sk1, _ := p.KeyFromSeed(seed)
		pk2, sk2, err := p.GenerateKey(bytes.NewReader(seed))
		if err != nil || !bytes.Equal(pk1, pk2) || !bytes.Equal(sk1, sk2) {
			t.Fatalf("%s: GenerateKey and KeyFromSeed disagree (%v)", p.Name(), err)
		}
		r := seed[:EncapsSeedSize]
		ct1, ss1, _ := p.EncapsulateDeterministic(pk1, r)
		ct2, ss2, err := p.Encapsulate(pk1, bytes.NewReader(r))
		if err != nil || !bytes.Equal(ct1, ct2) || !bytes.Equal(ss1, ss2) {
			t.Fatalf("%s: Encapsulate and EncapsulateDeterministic disagree (%v)", p.Name(), err)
		}
	}
}

func TestShortRandomness(t *testing.T) {
	p := LightSaber
	if _, _, err := p.GenerateKey(bytes.NewReader(make([]byte, KeySeedSize-1))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("GenerateKey with short reader: %v", err)
	}
	pk, _, _ := p.GenerateKey(nil)
	if _, _, err := p.Encapsulate(pk, bytes.NewReader(nil)); !errors.Is(err, io.EOF) {
		t.Errorf("Encapsulate with empty reader: %v", err)
	}
}

// TestInvalidLengths feeds every byte-slice input of every function one
// byte too short, one byte too long, empty and nil.
func TestInvalidLengths(t *testing.T) {
	for _, p := range allParams {
		pk, sk, _ := p.GenerateKey(nil)
		ct, _, _ := p.Encapsulate(pk, nil)
		r := make([]byte, EncapsSeedSize)
		seed := make([]byte, KeySeedSize)
		variants := func(good []byte) map[string][]byte {
			return map[string][]byte{
				"nil":   nil,
				"empty": {},
				"short": good[:len(good)-1],
				"long":  append(bytes.Clone(good), 0),
			}
		}
		type call struct {
			input string
			run   func(b []byte) error
			good  []byte
		}
		calls := []call{
			{"KeyFromSeed seed", func(b []byte) error { _, _, err := p.KeyFromSeed(b); return err }, seed},
			{"Encapsulate pk", func(b []byte) error { _, _, err := p.Encapsulate(b, nil); return err }, pk},
			{"EncapsulateDeterministic pk", func(b []byte) error { _, _, err := p.EncapsulateDeterministic(b, r); return err }, pk},
			{"EncapsulateDeterministic seed", func(b []byte) error { _, _, err := p.EncapsulateDeterministic(pk, b); return err }, r},
			{"Decapsulate sk", func(b []byte) error { _, err := p.Decapsulate(b, ct); return err }, sk},
			{"Decapsulate ct", func(b []byte) error { _, err := p.Decapsulate(sk, b); return err }, ct},
		}
		for _, c := range calls {
			if err := c.run(c.good); err != nil {
				t.Fatalf("%s %s: correct length rejected: %v", p.Name(), c.input, err)
			}
			for name, b := range variants(c.good) {
				t.Run(p.Name()+"/"+c.input+"/"+name, func(t *testing.T) {
					err := c.run(b)
					if !errors.Is(err, ErrInvalidLength) {
						t.Fatalf("got %v, want ErrInvalidLength", err)
					}
				})
			}
		}
	}
}

// TestMismatchedParameterSets uses keys of one set with another set.
func TestMismatchedParameterSets(t *testing.T) {
	pk, sk, _ := LightSaber.GenerateKey(nil)
	ct, _, _ := LightSaber.Encapsulate(pk, nil)
	if _, _, err := Saber.Encapsulate(pk, nil); !errors.Is(err, ErrInvalidLength) {
		t.Errorf("Saber.Encapsulate(LightSaber pk): %v", err)
	}
	if _, err := FireSaber.Decapsulate(sk, ct); !errors.Is(err, ErrInvalidLength) {
		t.Errorf("FireSaber.Decapsulate(LightSaber sk, ct): %v", err)
	}
}

// TestArbitrarySecretKey checks that decapsulation with a secret key full
// of arbitrary bytes (13-bit secret coefficients far outside the binomial
// range) still returns 32 bytes without error, deterministically
// (TestDecryptExactRange checks the arithmetic itself).
func TestArbitrarySecretKey(t *testing.T) {
	for _, p := range allParams {
		sk := bytes.Repeat([]byte{0xa5, 0x5a, 0xff}, p.SecretKeySize())[:p.SecretKeySize()]
		ct := bytes.Repeat([]byte{0xff}, p.CiphertextSize())
		a, err1 := p.Decapsulate(sk, ct)
		b, err2 := p.Decapsulate(sk, ct)
		if err1 != nil || err2 != nil || len(a) != 32 || !bytes.Equal(a, b) {
			t.Fatalf("%s: %v %v", p.Name(), err1, err2)
		}
	}
}

// FuzzDecapsulate must never panic. The low two bits of mode pick the
// parameter set; unless bit 2 is set the data is cut or zero-padded to the
// ciphertext size, so most inputs reach the full decapsulation path. A
// correct-length ciphertext always yields 32 bytes, and one that is not the
// honest ciphertext yields the implicit-rejection secret.
func FuzzDecapsulate(f *testing.F) {
	type fixture struct{ sk, ct []byte }
	fixtures := make(map[*Params]fixture)
	for i, p := range allParams {
		pk, sk, _ := p.KeyFromSeed(make([]byte, KeySeedSize))
		ct, _, _ := p.EncapsulateDeterministic(pk, make([]byte, EncapsSeedSize))
		fixtures[p] = fixture{sk, ct}
		f.Add(uint8(i), ct)
	}
	f.Add(uint8(1), []byte{})
	f.Add(uint8(6), []byte{1, 2, 3})
	f.Add(uint8(5), make([]byte, Saber.CiphertextSize()))
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		p := allParams[int(mode&3)%len(allParams)]
		fx := fixtures[p]
		ct := data
		if mode&4 == 0 {
			ct = make([]byte, p.CiphertextSize())
			copy(ct, data)
		}
		ss, err := p.Decapsulate(fx.sk, ct)
		if len(ct) != p.CiphertextSize() {
			if !errors.Is(err, ErrInvalidLength) || ss != nil {
				t.Fatalf("length %d: got %x, %v", len(ct), ss, err)
			}
			return
		}
		if err != nil || len(ss) != SharedSecretSize {
			t.Fatalf("got %d-byte secret, %v", len(ss), err)
		}
		if !bytes.Equal(ct, fx.ct) && !bytes.Equal(ss, rejectionSecret(fx.sk, ct)) {
			t.Fatal("altered ciphertext did not give the implicit-rejection secret")
		}
	})
}

func TestMaxCiphertextSize(t *testing.T) {
	for _, p := range allParams {
		if p.CiphertextSize() > maxCiphertextSize {
			t.Fatalf("%s ciphertext exceeds maxCiphertextSize", p.Name())
		}
	}
}
