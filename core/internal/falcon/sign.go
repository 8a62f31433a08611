package falcon

import "io"

// l2bound[logn] is the squared-norm bound beta^2 on (s1, s2).
var l2bound = [11]uint32{0, 101498, 208714, 428865, 892039, 1852696, 3842630, 7959734, 16468416, 34034726, 70265242}

func smallintsToFpr(r []float64, t []int8, logn uint) {
	for u := 0; u < 1<<logn; u++ {
		r[u] = float64(t[u])
	}
}

// ffSamplingDyn is fast Fourier sampling with the LDL tree computed on the
// fly. On entry (t0, t1) is the target and (g00, g01, g11) the Gram matrix,
// all in FFT form; on exit (t0, t1) holds the sampled vector. The Gram
// matrix and tmp (at least 4n values) are used as scratch.
func ffSamplingDyn(sc *samplerZ, t0, t1, g00, g01, g11 []float64, origLogn, logn uint, tmp []float64) {
	if logn == 0 {
		leaf := sqrt(g00[0]) * fprInvSigma[origLogn]
		t0[0] = float64(sc.sample(t0[0], leaf))
		t1[0] = float64(sc.sample(t1[0], leaf))
		return
	}
	n := 1 << logn
	hn := n >> 1

	// Decompose G = L*D*adj(L); split the diagonal D (in g00, g11) for the
	// two recursive calls. L10 stays in g01.
	polyLDLFFT(g00, g01, g11, logn)
	polySplitFFT(tmp, tmp[hn:], g00, logn)
	copy(g00[:n], tmp[:n])
	polySplitFFT(tmp, tmp[hn:], g11, logn)
	copy(g11[:n], tmp[:n])
	copy(tmp[:n], g01[:n])
	copy(g01[:hn], g00[:hn])
	copy(g01[hn:n], g11[:hn])

	// Right half first: sample z1 from t1 with the d11 sub-tree.
	z1 := tmp[n:]
	polySplitFFT(z1, z1[hn:], t1, logn)
	ffSamplingDyn(sc, z1, z1[hn:], g11, g11[hn:], g01[hn:], origLogn, logn-1, z1[n:])
	polyMergeFFT(tmp[n<<1:], z1, z1[hn:], logn)

	// t0 += (t1 - z1) * l10, then sample z0 with the d00 sub-tree.
	copy(z1[:n], t1[:n])
	polySub(z1, tmp[n<<1:], logn)
	copy(t1[:n], tmp[n<<1:(n<<1)+n])
	polyMulFFT(tmp, z1, logn)
	polyAdd(t0, tmp, logn)

	z0 := tmp
	polySplitFFT(z0, z0[hn:], t0, logn)
	ffSamplingDyn(sc, z0, z0[hn:], g00, g00[hn:], g01, origLogn, logn-1, z0[n:])
	polyMergeFFT(t0, z0, z0[hn:], logn)
}

// basisFFT loads the secret basis B = [[g, -f], [G, -F]] in FFT form into
// b00, b01, b10, b11.
func basisFFT(b00, b01, b10, b11 []float64, f, g, F, G []int8, logn uint) {
	smallintsToFpr(b01, f, logn)
	smallintsToFpr(b00, g, logn)
	smallintsToFpr(b11, F, logn)
	smallintsToFpr(b10, G, logn)
	fft(b01, logn)
	fft(b00, logn)
	fft(b11, logn)
	fft(b10, logn)
	polyNeg(b01, logn)
	polyNeg(b11, logn)
}

// signAttempt performs one signing attempt with the basis recomputed from
// (f, g, F, G); it returns true and fills s2 if the result is short enough.
// tmp must hold at least 9n float64 values.
func signAttempt(sc *samplerZ, s2 []int16, f, g, F, G []int8, hm []uint16, logn uint, tmp []float64) bool {
	n := 1 << logn
	b00 := tmp[0:n]
	b01 := tmp[n : 2*n]
	b10 := tmp[2*n : 3*n]
	b11 := tmp[3*n : 4*n]
	basisFFT(b00, b01, b10, b11, f, g, F, G, logn)

	// Gram matrix G = B*adj(B):
	//   g00 = b00*adj(b00) + b01*adj(b01)
	//   g01 = b00*adj(b10) + b01*adj(b11)
	//   g11 = b10*adj(b10) + b11*adj(b11)
	t0 := tmp[4*n : 5*n]
	t1 := tmp[5*n : 6*n]
	copy(t0, b01)
	polyMulselfadjFFT(t0, logn)
	copy(t1, b00)
	polyMuladjFFT(t1, b10, logn)
	polyMulselfadjFFT(b00, logn)
	polyAdd(b00, t0, logn)
	copy(t0, b01)
	polyMuladjFFT(b01, b11, logn)
	polyAdd(b01, t1, logn)
	polyMulselfadjFFT(b10, logn)
	copy(t1, b11)
	polyMulselfadjFFT(t1, logn)
	polyAdd(b10, t1, logn)
	g00, g01, g11 := b00, b01, b10
	// b01 (-f in FFT form) was saved in t0; b11 (-F) is still in place.
	b01 = tmp[4*n : 5*n]
	t0 = tmp[5*n : 6*n]
	t1 = tmp[6*n : 7*n]

	// Target (t0, t1) = (hm, 0) * B^-1 = (-hm*F/q, hm*f/q) in FFT form.
	for u := 0; u < n; u++ {
		t0[u] = float64(hm[u])
	}
	fft(t0, logn)
	copy(t1, t0)
	polyMulFFT(t1, b01, logn)
	polyMulconst(t1, -fprInverseOfQ, logn)
	polyMulFFT(t0, b11, logn)
	polyMulconst(t0, fprInverseOfQ, logn)
	copy(b11, t0)
	copy(tmp[4*n:5*n], t1)
	// Now target is in tmp[3n:5n]; the Gram matrix in tmp[0:3n].
	t0 = tmp[3*n : 4*n]
	t1 = tmp[4*n : 5*n]
	ffSamplingDyn(sc, t0, t1, g00, g01, g11, logn, logn, tmp[5*n:])

	// Move the sample away, rebuild the basis and compute (t0, t1) * B.
	copy(tmp[5*n:7*n], tmp[3*n:5*n])
	t0 = tmp[5*n : 6*n]
	t1 = tmp[6*n : 7*n]
	b00 = tmp[0:n]
	b01 = tmp[n : 2*n]
	b10 = tmp[2*n : 3*n]
	b11 = tmp[3*n : 4*n]
	basisFFT(b00, b01, b10, b11, f, g, F, G, logn)
	tx := tmp[7*n : 8*n]
	ty := tmp[8*n : 9*n]
	copy(tx, t0)
	copy(ty, t1)
	polyMulFFT(tx, b00, logn)
	polyMulFFT(ty, b10, logn)
	polyAdd(tx, ty, logn)
	copy(ty, t0)
	polyMulFFT(ty, b01, logn)
	copy(t0, tx)
	polyMulFFT(t1, b11, logn)
	polyAdd(t1, ty, logn)
	ifft(t0, logn)
	ifft(t1, logn)

	// s1 = hm - t0, s2 = -t1; accept if ||(s1, s2)||^2 <= beta^2. The
	// running OR catches any 32-bit overflow of the sum.
	var sqn, ng uint32
	for u := 0; u < n; u++ {
		z := int32(hm[u]) - int32(fprRint(t0[u]))
		sqn += uint32(z * z)
		ng |= sqn
	}
	sqn |= -(ng >> 31)
	ok := isShortHalf(sqn, t1, logn, s2)
	return ok
}

// isShortHalf completes the norm computation with s2 = -round(t1) and
// writes s2 out.
func isShortHalf(sqn uint32, t1 []float64, logn uint, s2 []int16) bool {
	n := 1 << logn
	ng := -(sqn >> 31)
	for u := 0; u < n; u++ {
		z := int16(-fprRint(t1[u]))
		s2[u] = z
		zz := int32(z)
		sqn += uint32(zz * zz)
		ng |= sqn
	}
	sqn |= -(ng >> 31)
	return sqn <= l2bound[logn]
}

// signDyn loops over signing attempts, each seeded with 56 fresh bytes of
// rng, until one yields a short enough vector. Returns s2.
func signDyn(rng io.Reader, f, g, F, G []int8, hm []uint16, logn uint) []int16 {
	n := 1 << logn
	tmp := make([]float64, 9*n)
	s2 := make([]int16, n)
	sc := new(samplerZ)
	defer func() {
		clear(tmp)
		sc.p.wipe()
	}()
	for {
		sc.sigmaMin = fprSigmaMin[logn]
		sc.p.init(rng)
		if signAttempt(sc, s2, f, g, F, G, hm, logn, tmp) {
			return s2
		}
	}
}
