package falcon

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"testing"
)

// floatDigest runs the floating-point building blocks on fixed inputs and
// hashes every resulting bit pattern. Small rounding differences (such as
// those caused by fused multiply-add) rarely change a KAT, because the
// sampler and the final rounding absorb them, but they always change this
// digest.
func floatDigest() string {
	const logn = 9
	n := 1 << logn
	h := sha256.New()
	put := func(v []float64) {
		var b [8]byte
		for _, x := range v {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(x))
			h.Write(b[:])
		}
	}
	a := make([]float64, n)
	b := make([]float64, n)
	c := make([]float64, n)
	x := uint32(1)
	next := func() float64 {
		x = x*1664525 + 1013904223
		return float64(int32(x>>8)%200) / 7
	}
	for i := range a {
		a[i], b[i], c[i] = next(), next(), next()
	}
	fft(a, logn)
	fft(b, logn)
	fft(c, logn)
	put(a)
	d := append([]float64{}, a...)
	polyMulFFT(d, b, logn)
	put(d)
	polyMuladjFFT(d, c, logn)
	put(d)
	g00 := append([]float64{}, a...)
	polyMulselfadjFFT(g00, logn)
	g11 := append([]float64{}, b...)
	polyMulselfadjFFT(g11, logn)
	polyAdd(g00, g11, logn)
	g01 := append([]float64{}, a...)
	polyMuladjFFT(g01, c, logn)
	polyLDLFFT(g00, g01, g11, logn)
	put(g00)
	put(g01)
	put(g11)
	e := make([]float64, n)
	polyInvnorm2FFT(e, a, b, logn)
	put(e)
	polyAddMuladjFFT(e, a, b, c, d, logn)
	put(e)
	f0 := make([]float64, n)
	polySplitFFT(f0, f0[n/2:], e, logn)
	put(f0)
	polyMergeFFT(e, f0, f0[n/2:], logn)
	ifft(e, logn)
	put(e)
	var s float64
	for _, v := range e {
		s += float64(v * v)
	}
	put([]float64{s, math.Float64frombits(expmP63(0.3, 0.9))})
	return hex.EncodeToString(h.Sum(nil))
}

func TestFloatDeterminism(t *testing.T) {
	const want = "25d10fb0c9c5c9ca253238e725362e8131466b7d5b8c4658776a639079df868a"
	if got := floatDigest(); got != want {
		t.Fatalf("floating-point results differ from the reference rounding: %s", got)
	}
}
