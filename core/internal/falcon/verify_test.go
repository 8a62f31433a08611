package falcon

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pqc-iiot/pqc-iiot/core/internal/nistdrbg"
)

// testKey returns a deterministic key pair and a signature on msg.
func testKey(t testing.TB, p *Params, msg []byte) (pk, sk, sig []byte) {
	t.Helper()
	seed := make([]byte, 48)
	for i := range seed {
		seed[i] = byte(i + int(p.logn))
	}
	drbg := nistdrbg.MustNew(seed)
	pk, sk, err := p.GenerateKey(drbg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err = p.Sign(sk, msg, drbg)
	if err != nil {
		t.Fatal(err)
	}
	return pk, sk, sig
}

// bitWriter builds arbitrary (possibly invalid) compressed encodings.
type bitWriter struct {
	out    []byte
	acc    uint64
	accLen uint
}

func (w *bitWriter) bits(v uint64, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.acc = w.acc<<1 | (v>>uint(i))&1
		w.accLen++
		if w.accLen == 8 {
			w.out = append(w.out, byte(w.acc))
			w.acc, w.accLen = 0, 0
		}
	}
}

// coeff writes sign, low 7 bits, then the high part in unary.
func (w *bitWriter) coeff(neg bool, m uint) {
	s := uint64(0)
	if neg {
		s = 1
	}
	w.bits(s, 1)
	w.bits(uint64(m&127), 7)
	for i := uint(0); i < m>>7; i++ {
		w.bits(0, 1)
	}
	w.bits(1, 1)
}

// finish pads with the given bit value.
func (w *bitWriter) finish(pad uint64) []byte {
	for w.accLen != 0 {
		w.bits(pad, 1)
	}
	return w.out
}

func encodeBody(s2 []int16, pad uint64, override func(i int, w *bitWriter) bool) []byte {
	w := &bitWriter{}
	for i, v := range s2 {
		if override != nil && override(i, w) {
			continue
		}
		neg := v < 0
		m := int(v)
		if neg {
			m = -m
		}
		w.coeff(neg, uint(m))
	}
	return w.finish(pad)
}

func withBody(p *Params, sig, body []byte) []byte {
	out := append([]byte{}, sig[:1+NonceSize]...)
	return append(out, body...)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	for _, p := range []*Params{Falcon512, Falcon1024} {
		t.Run(p.Name(), func(t *testing.T) {
			msg := []byte("round trip")
			pk, sk, sig := testKey(t, p, msg)
			if len(pk) != p.PublicKeySize() || len(sk) != p.SecretKeySize() || len(sig) > p.SignatureMaxSize() {
				t.Fatal("bad sizes")
			}
			if err := p.Verify(pk, msg, sig); err != nil {
				t.Fatal(err)
			}
			pk2, err := p.PublicKeyFromSecret(sk)
			if err != nil || !bytes.Equal(pk, pk2) {
				t.Fatalf("PublicKeyFromSecret: %v", err)
			}
			if err := p.Verify(pk, []byte("other message"), sig); !errors.Is(err, ErrVerify) {
				t.Fatalf("wrong message accepted: %v", err)
			}
		})
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	for _, p := range []*Params{Falcon512, Falcon1024} {
		t.Run(p.Name(), func(t *testing.T) {
			msg := []byte("negative tests")
			pk, _, sig := testKey(t, p, msg)
			n := p.n()
			s2 := make([]int16, n)
			body := sig[1+NonceSize:]
			if compDecode(s2, p.logn, body) != len(body) {
				t.Fatal("cannot decode own signature")
			}
			// Our re-encoder must reproduce the canonical body.
			if !bytes.Equal(encodeBody(s2, 0, nil), body) {
				t.Fatal("test encoder disagrees with compEncode")
			}
			// The position of the first zero and first non-zero coefficients.
			zeroAt, nzAt := -1, -1
			for i, v := range s2 {
				if v == 0 && zeroAt < 0 {
					zeroAt = i
				}
				if v != 0 && nzAt < 0 {
					nzAt = i
				}
			}
			bitLen := 0
			for _, v := range s2 {
				m := int(v)
				if m < 0 {
					m = -m
				}
				bitLen += 9 + m>>7
			}

			type tc struct {
				name    string
				pk, sig []byte
				msg     []byte
				want    error
			}
			var cases []tc
			add := func(name string, pk, sig []byte, want error) {
				cases = append(cases, tc{name, pk, sig, msg, want})
			}
			mod := func(b []byte, f func([]byte)) []byte {
				c := append([]byte{}, b...)
				f(c)
				return c
			}

			add("empty signature", pk, nil, ErrInvalidSignature)
			add("header only", pk, sig[:1], ErrInvalidSignature)
			add("nonce but no body", pk, sig[:1+NonceSize], ErrInvalidSignature)
			add("wrong header 0x29 (sm form)", pk, mod(sig, func(b []byte) { b[0] = 0x20 + byte(p.logn) }), ErrInvalidSignature)
			add("wrong header other degree", pk, mod(sig, func(b []byte) { b[0] = 0x30 + byte(19-p.logn) }), ErrInvalidSignature)
			add("trailing zero byte", pk, append(append([]byte{}, sig...), 0), ErrInvalidSignature)
			add("trailing 0xFF", pk, append(append([]byte{}, sig...), 0xFF), ErrInvalidSignature)
			add("truncated body", pk, sig[:len(sig)-1], ErrInvalidSignature)
			add("too long overall", pk, append(append([]byte{}, sig...), make([]byte, p.SignatureMaxSize())...), ErrInvalidSignature)
			if zeroAt >= 0 {
				add("minus zero", pk, withBody(p, sig, encodeBody(s2, 0, func(i int, w *bitWriter) bool {
					if i == zeroAt {
						w.coeff(true, 0)
						return true
					}
					return false
				})), ErrInvalidSignature)
			}
			add("magnitude 2048 (overlong unary)", pk, withBody(p, sig, encodeBody(s2, 0, func(i int, w *bitWriter) bool {
				if i == nzAt {
					w.coeff(false, 2048)
					return true
				}
				return false
			})), ErrInvalidSignature)
			if bitLen%8 != 0 {
				add("non-zero padding bits", pk, withBody(p, sig, encodeBody(s2, 1, nil)), ErrInvalidSignature)
			} else {
				t.Log("signature has no padding bits; padding case covered by trailing bytes")
			}
			// A valid encoding of a vector with a huge norm.
			big := make([]int16, n)
			for i := range big {
				big[i] = 2047
			}
			add("norm over bound", pk, withBody(p, sig, encodeBody(big, 0, nil)), ErrVerify)
			// s2 = 0 is short, but s1 = c would then be huge.
			add("all-zero s2", pk, withBody(p, sig, encodeBody(make([]int16, n), 0, nil)), ErrVerify)
			// Flip the sign of one coefficient: still canonical, wrong value.
			add("modified coefficient", pk, withBody(p, sig, encodeBody(s2, 0, func(i int, w *bitWriter) bool {
				if i == nzAt {
					v := s2[i]
					w.coeff(v > 0, uint(max(v, -v)))
					return true
				}
				return false
			})), ErrVerify)
			add("modified nonce", pk, mod(sig, func(b []byte) { b[1] ^= 1 }), ErrVerify)

			add("public key too short", pk[:len(pk)-1], sig, ErrInvalidKey)
			add("public key too long", append(append([]byte{}, pk...), 0), sig, ErrInvalidKey)
			add("public key wrong header", mod(pk, func(b []byte) { b[0] = byte(19 - p.logn) }), sig, ErrInvalidKey)
			add("public key coefficient = q", mod(pk, func(b []byte) {
				// First coefficient: 14 bits = 12289 = 0x3001.
				b[1] = 0x3001 >> 6
				b[2] = (b[2] & 0x03) | byte((0x3001&0x3F)<<2)
			}), sig, ErrInvalidKey)
			add("public key coefficient = 0x3FFF", mod(pk, func(b []byte) {
				b[1] = 0xFF
				b[2] |= 0xFC
			}), sig, ErrInvalidKey)
			// 14*n is a multiple of 8 for n = 512 and 1024, so public keys
			// have no padding bits; out-of-range values are covered above.

			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					err := p.Verify(c.pk, c.msg, c.sig)
					if err == nil {
						t.Fatal("accepted")
					}
					if !errors.Is(err, ErrVerify) {
						t.Fatalf("error does not wrap ErrVerify: %v", err)
					}
					if !errors.Is(err, c.want) {
						t.Fatalf("error %v does not wrap %v", err, c.want)
					}
				})
			}
			// Sanity: the untouched inputs still verify.
			if err := p.Verify(pk, msg, sig); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSecretKeyValidation(t *testing.T) {
	for _, p := range []*Params{Falcon512, Falcon1024} {
		t.Run(p.Name(), func(t *testing.T) {
			_, sk, _ := testKey(t, p, []byte("x"))
			rnd := nistdrbg.MustNew(make([]byte, 48))
			bad := map[string][]byte{
				"short":      sk[:len(sk)-1],
				"long":       append(append([]byte{}, sk...), 0),
				"header":     append([]byte{0x50 + byte(19-p.logn)}, sk[1:]...),
				"pk header":  append([]byte{byte(p.logn)}, sk[1:]...),
				"forbidden":  append(append([]byte{sk[0]}, 0x80, 0), sk[3:]...),
				"empty":      nil,
				"all zeroes": append([]byte{sk[0]}, make([]byte, len(sk)-1)...),
			}
			for name, k := range bad {
				if _, err := p.Sign(k, []byte("m"), rnd); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("%s: Sign error = %v", name, err)
				}
				if _, err := p.PublicKeyFromSecret(k); !errors.Is(err, ErrInvalidKey) {
					t.Errorf("%s: PublicKeyFromSecret error = %v", name, err)
				}
			}
			if _, _, err := p.KeyFromSeed(make([]byte, 47)); err == nil {
				t.Error("short seed accepted")
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	msg := []byte("fuzz")
	pk, _, sig := testKey(f, Falcon512, msg)
	pk1, _, sig1 := testKey(f, Falcon1024, msg)
	f.Add(uint8(0), msg, sig, []byte(nil))
	f.Add(uint8(1), msg, sig1, []byte(nil))
	f.Add(uint8(0), msg, sig[:50], []byte(nil))
	f.Add(uint8(0), msg, append(append([]byte{}, sig...), 0), []byte(nil))
	f.Add(uint8(2), msg, sig, pk)
	f.Fuzz(func(t *testing.T, which uint8, m, s, key []byte) {
		p, k := Falcon512, pk
		if which&1 == 1 {
			p, k = Falcon1024, pk1
		}
		if which&2 == 2 {
			k = key
		}
		// Decoding alone must also be safe on arbitrary input.
		s2 := make([]int16, p.n())
		_ = compDecode(s2, p.logn, s)
		err := p.Verify(k, m, s)
		if err != nil && !errors.Is(err, ErrVerify) {
			t.Fatalf("error not wrapping ErrVerify: %v", err)
		}
	})
}
