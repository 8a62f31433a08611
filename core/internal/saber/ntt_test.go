package saber

import (
	"math/rand/v2"
	"testing"
)

// schoolbook is the plain negacyclic product over the integers.
func schoolbook(a, b *[n]int64) (c [n]int64) {
	for i := range a {
		for j := range b {
			if i+j < n {
				c[i+j] += a[i] * b[j]
			} else {
				c[i+j-n] -= a[i] * b[j]
			}
		}
	}
	return c
}

func TestNTTConstants(t *testing.T) {
	if powMod(psi, 256) != prime-1 {
		t.Fatal("psi is not a primitive 512th root of unity")
	}
	p, inv := int32(prime), int32(primeInv)
	if p*inv != 1 {
		t.Fatal("primeInv is wrong")
	}
	if (invNScale*256)%prime != powMod(2, 64) {
		t.Fatal("invNScale is wrong")
	}
}

// TestNTTExactAtBounds multiplies extreme inputs: the integer results must
// come back exactly (not only mod 2^13).
func TestNTTExactAtBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type gen func() int64
	cases := []struct {
		name  string
		a, b  gen
		terms int
	}{
		{"A-times-secret", func() int64 { return rng.Int64N(8192) }, func() int64 { return rng.Int64N(11) - 5 }, 4},
		{"A-max", func() int64 { return 8191 }, func() int64 { return -5 }, 4},
		{"dec-max", func() int64 { return -512 }, func() int64 { return -512 }, 4},
		{"dec-random", func() int64 { return rng.Int64N(1024) - 512 }, func() int64 { return rng.Int64N(1024) - 512 }, 4},
	}
	for _, tc := range cases {
		var want [n]int64
		var acc nttPoly
		for term := 0; term < tc.terms; term++ {
			var a, b [n]int64
			var pa, pb [n]uint16
			for i := range a {
				a[i], b[i] = tc.a(), tc.b()
				pa[i], pb[i] = uint16(a[i]), uint16(b[i])
			}
			c := schoolbook(&a, &b)
			for i := range want {
				want[i] += c[i]
			}
			var na, nb nttPoly
			secretToNTT(&na, &pa)
			nb.loadSigned(&pb)
			nb.forward()
			acc.mulAcc(&na, &nb)
		}
		acc.inverse()
		for i := range acc {
			if int64(centre(acc[i])) != want[i] {
				t.Fatalf("%s: coefficient %d = %d, want %d", tc.name, i, centre(acc[i]), want[i])
			}
		}
	}
}

func TestUnrolledUnpack(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, polyQBytes)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	var want, got [n]uint16
	unpackBits(want[:], buf, logQ)
	unpack13(&got, buf)
	var got64 [n]int64
	unpack13(&got64, buf)
	for i := range got64 {
		if uint16(got64[i]) != want[i] {
			t.Fatal("int64 unpack13 disagrees")
		}
	}
	if want != got {
		t.Fatal("unpack13 disagrees with unpackBits")
	}
	unpackBits(want[:], buf[:polyPBytes], logP)
	unpack10(&got, buf)
	if want != got {
		t.Fatal("unpack10 disagrees with unpackBits")
	}
}

// refInverse is a plain radix-2 inverse transform with full reductions in
// int64, including the 2^32 factor that compensates mulAcc's 2^-32.
func refInverse(in *nttPoly) (out [n]int64) {
	mod := func(x int64) int64 { return ((x % prime) + prime) % prime }
	for i, v := range in {
		out[i] = mod(int64(v))
	}
	k := n
	for length := 1; length < n; length <<= 1 {
		for start := 0; start < n; start += 2 * length {
			k--
			// zetas[k] carries a factor 2^32; strip it with 2^-32.
			z := mod(-int64(zetas[k]) * int64(powMod(powMod(2, 32), prime-2)))
			for j := start; j < start+length; j++ {
				t := out[j]
				out[j] = mod(t + out[j+length])
				out[j+length] = mod(z * mod(t-out[j+length]))
			}
		}
	}
	scale := int64(powMod(2, 32) * powMod(256, prime-2) % prime) // 2^32/256
	for i := range out {
		out[i] = mod(out[i] * scale)
	}
	return out
}

// TestInverseExtremeInputs drives inverse with inputs at its documented
// limit (|x| < 4p), where lazy reduction is tightest.
func TestInverseExtremeInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 200; trial++ {
		var f nttPoly
		for i := range f {
			switch trial % 3 {
			case 0:
				f[i] = 4*prime - 1
			case 1:
				f[i] = -(4*prime - 1)
			default:
				f[i] = rng.Int64N(8*prime-1) - (4*prime - 1)
			}
		}
		want := refInverse(&f)
		f.inverse()
		for i := range f {
			if got := (int64(f[i])%prime + prime) % prime; got != want[i] {
				t.Fatalf("trial %d coefficient %d: got %d want %d", trial, i, got, want[i])
			}
		}
	}
}

// refInnerProduct is the reference's <b', s> with schoolbook products in
// 16-bit wrapping arithmetic.
func refInnerProduct(p *Params, sk, ct []byte) (v [n]uint16) {
	for i := 0; i < p.l; i++ {
		var s, b [n]uint16
		unpackBits(s[:], sk[i*polyQBytes:(i+1)*polyQBytes], logQ)
		unpackBits(b[:], ct[i*polyPBytes:(i+1)*polyPBytes], logP)
		for x := range b {
			for y := range s {
				if x+y < n {
					v[x+y] += b[x] * s[y]
				} else {
					v[x+y-n] -= b[x] * s[y]
				}
			}
		}
	}
	return v
}

// TestDecryptExactRange compares the decryption inner product, mod 2^10,
// with the schoolbook reference for arbitrary 13-bit secrets and
// ciphertexts, including the extreme case where every product is
// (-512)*(-512) and one coefficient reaches l*2^26.
func TestDecryptExactRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range allParams {
		for trial := 0; trial < 6; trial++ {
			s := make([]uint16, p.l*n)
			b := make([]uint16, p.l*n)
			for i := range s {
				switch trial {
				case 0: // 512 is -512 once centred mod 2^10
					s[i], b[i] = 512, 512
				case 1: // the same residue written as -512 mod 2^13
					s[i], b[i] = 0x1e00, 512
				case 2:
					s[i], b[i] = 511, 511
				default:
					s[i] = uint16(rng.IntN(1 << logQ))
					b[i] = uint16(rng.IntN(1 << logP))
				}
			}
			sk := make([]byte, p.cpaSecretKeySize())
			packBits(sk, s, logQ)
			ct := make([]byte, p.CiphertextSize())
			packBits(ct, b, logP)
			var got [n]uint16
			p.decInnerProduct(&got, sk, ct)
			want := refInnerProduct(p, sk, ct)
			for i := range got {
				if (got[i]-want[i])&maskP != 0 {
					t.Fatalf("%s trial %d coefficient %d: got %d, reference %d (mod 2^10)", p.Name(), trial, i, got[i]&maskP, want[i]&maskP)
				}
			}
		}
	}
}
