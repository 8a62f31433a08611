package falcon

// gauss1024_12289 is the cumulative distribution table used to sample f
// and g (a discrete Gaussian with sigma = 1.17*sqrt(q/(2*1024))); for
// smaller degrees several samples are added up.
var gauss1024_12289 = [...]uint64{
	1283868770400643928, 6416574995475331444, 4078260278032692663,
	2353523259288686585, 1227179971273316331, 575931623374121527,
	242543240509105209, 91437049221049666, 30799446349977173,
	9255276791179340, 2478152334826140, 590642893610164,
	125206034929641, 23590435911403, 3948334035941,
	586753615614, 77391054539, 9056793210,
	940121950, 86539696, 7062824,
	510971, 32764, 1862,
	94, 4, 0,
}

// mkgauss samples one coefficient; the table scan touches every entry.
func mkgauss(rng *shakeStream, logn uint) int32 {
	g := 1 << (10 - logn)
	var val int32
	for u := 0; u < g; u++ {
		r := rng.u64()
		neg := uint32(r >> 63)
		r &^= 1 << 63
		f := uint32((r - gauss1024_12289[0]) >> 63)
		var v uint32
		r = rng.u64()
		r &^= 1 << 63
		for k := 1; k < len(gauss1024_12289); k++ {
			t := uint32((r-gauss1024_12289[k])>>63) ^ 1
			v |= uint32(k) & -(t & (f ^ 1))
			f |= t
		}
		v = (v ^ -neg) + neg
		val += int32(v)
	}
	return val
}

// polySmallMkgauss samples f with coefficients in [-127, 127] and odd
// parity (so that its resultant with x^n+1 is odd). Rejections leak only
// through timing of the retry, as in the reference.
func polySmallMkgauss(rng *shakeStream, f []int8, logn uint) {
	n := 1 << logn
	var mod2 uint32
	for u := 0; u < n; u++ {
		for {
			s := mkgauss(rng, logn)
			if s < -127 || s > 127 {
				continue
			}
			if u == n-1 {
				if mod2^uint32(s&1) == 0 {
					continue
				}
			} else {
				mod2 ^= uint32(s & 1)
			}
			f[u] = int8(s)
			break
		}
	}
}

func polySmallSqnorm(f []int8, logn uint) uint32 {
	var s, ng uint32
	for u := 0; u < 1<<logn; u++ {
		z := int32(f[u])
		s += uint32(z * z)
		ng |= s
	}
	return s | -(ng >> 31)
}

// keygen draws (f, g) from rng until they pass all checks and the NTRU
// equation can be solved, then returns f, g, F, G and the public key h.
func keygen(rng *shakeStream, logn uint) (f, g, F, G []int8, h []uint16) {
	n := 1 << logn
	f = make([]int8, n)
	g = make([]int8, n)
	F = make([]int8, n)
	G = make([]int8, n)
	h = make([]uint16, n)
	t := newNTRUTmp(logn)
	defer t.wipe()
	rt := make([]float64, 3*n)
	defer clear(rt)

	for {
		polySmallMkgauss(rng, f, logn)
		polySmallMkgauss(rng, g, logn)

		// Coefficients must fit the encoding width.
		// Every coefficient is checked (sign-bit mask, no early exit), so
		// only the verdict on the candidate is visible, not which
		// coefficient failed.
		lim := int32(1)<<(maxFgBits[logn]-1) - 1
		var bad uint32
		for u := 0; u < n; u++ {
			fu, gu := int32(f[u]), int32(g[u])
			bad |= uint32(fu+lim) | uint32(lim-fu) | uint32(gu+lim) | uint32(lim-gu)
		}
		if bad>>31 != 0 {
			continue
		}

		// ||(f, g)||^2 must be below 1.17^2 * q.
		normf := polySmallSqnorm(f, logn)
		normg := polySmallSqnorm(g, logn)
		norm := (normf + normg) | -((normf | normg) >> 31)
		if norm >= 16823 {
			continue
		}

		// The orthogonalised vector q*(adj(f), adj(g))/(f*adj(f)+g*adj(g))
		// must be short too.
		rt1 := rt[0:n]
		rt2 := rt[n : 2*n]
		rt3 := rt[2*n : 3*n]
		smallintsToFpr(rt1, f, logn)
		smallintsToFpr(rt2, g, logn)
		fft(rt1, logn)
		fft(rt2, logn)
		polyInvnorm2FFT(rt3, rt1, rt2, logn)
		polyAdjFFT(rt1, logn)
		polyAdjFFT(rt2, logn)
		polyMulconst(rt1, fprQ, logn)
		polyMulconst(rt2, fprQ, logn)
		polyMulAutoadjFFT(rt1, rt3, logn)
		polyMulAutoadjFFT(rt2, rt3, logn)
		ifft(rt1, logn)
		ifft(rt2, logn)
		bnorm := 0.0
		for u := 0; u < n; u++ {
			bnorm += float64(rt1[u] * rt1[u])
			bnorm += float64(rt2[u] * rt2[u])
		}
		if !(bnorm < fprBnormMax) {
			continue
		}

		if !computePublic(h, f, g, logn) {
			continue
		}
		if !solveNTRU(logn, F, G, f, g, int32(1<<(maxFGBits[logn]-1))-1, t) {
			continue
		}
		return f, g, F, G, h
	}
}
