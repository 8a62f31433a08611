package falcon

// FFT over R[x]/(x^n+1) in the reference's layout: a polynomial of degree
// n is held as n/2 complex values, real parts in f[0:n/2] and imaginary
// parts in f[n/2:n], in bit-reversed order. Only half the roots are kept
// because the input is real, so the other half are conjugates.

// cmul returns (ar + i*ai) * (br + i*bi) without fused multiply-add.
func cmul(ar, ai, br, bi float64) (float64, float64) {
	return float64(ar*br) - float64(ai*bi), float64(ar*bi) + float64(ai*br)
}

// cdiv returns a/b computed as a * (conj(b) / |b|^2), the reference's order.
func cdiv(ar, ai, br, bi float64) (float64, float64) {
	m := 1.0 / (float64(br*br) + float64(bi*bi))
	br = br * m
	bi = -bi * m
	return cmul(ar, ai, br, bi)
}

func fft(f []float64, logn uint) {
	n := 1 << logn
	hn := n >> 1
	t := hn
	for u, m := uint(1), 2; u < logn; u, m = u+1, m<<1 {
		ht := t >> 1
		hm := m >> 1
		for i1, j1 := 0, 0; i1 < hm; i1, j1 = i1+1, j1+t {
			sRe := gmTab[(m+i1)<<1]
			sIm := gmTab[((m+i1)<<1)+1]
			for j := j1; j < j1+ht; j++ {
				xRe, xIm := f[j], f[j+hn]
				yRe, yIm := cmul(f[j+ht], f[j+ht+hn], sRe, sIm)
				f[j], f[j+hn] = xRe+yRe, xIm+yIm
				f[j+ht], f[j+ht+hn] = xRe-yRe, xIm-yIm
			}
		}
		t = ht
	}
}

func ifft(f []float64, logn uint) {
	n := 1 << logn
	t := 1
	m := n
	hn := n >> 1
	for u := logn; u > 1; u-- {
		hm := m >> 1
		dt := t << 1
		for i1, j1 := 0, 0; j1 < hn; i1, j1 = i1+1, j1+dt {
			sRe := gmTab[(hm+i1)<<1]
			sIm := -gmTab[((hm+i1)<<1)+1]
			for j := j1; j < j1+t; j++ {
				xRe, xIm := f[j], f[j+hn]
				yRe, yIm := f[j+t], f[j+t+hn]
				f[j], f[j+hn] = xRe+yRe, xIm+yIm
				f[j+t], f[j+t+hn] = cmul(xRe-yRe, xIm-yIm, sRe, sIm)
			}
		}
		t = dt
		m = hm
	}
	if logn > 0 {
		ni := fprP2[logn]
		for u := 0; u < n; u++ {
			f[u] *= ni
		}
	}
}

func polyAdd(a, b []float64, logn uint) {
	n := 1 << logn
	for u := 0; u < n; u++ {
		a[u] += b[u]
	}
}

func polySub(a, b []float64, logn uint) {
	n := 1 << logn
	for u := 0; u < n; u++ {
		a[u] -= b[u]
	}
}

func polyNeg(a []float64, logn uint) {
	n := 1 << logn
	for u := 0; u < n; u++ {
		a[u] = -a[u]
	}
}

func polyAdjFFT(a []float64, logn uint) {
	n := 1 << logn
	for u := n >> 1; u < n; u++ {
		a[u] = -a[u]
	}
}

func polyMulFFT(a, b []float64, logn uint) {
	hn := 1 << logn >> 1
	for u := 0; u < hn; u++ {
		a[u], a[u+hn] = cmul(a[u], a[u+hn], b[u], b[u+hn])
	}
}

func polyMuladjFFT(a, b []float64, logn uint) {
	hn := 1 << logn >> 1
	for u := 0; u < hn; u++ {
		a[u], a[u+hn] = cmul(a[u], a[u+hn], b[u], -b[u+hn])
	}
}

func polyMulselfadjFFT(a []float64, logn uint) {
	hn := 1 << logn >> 1
	for u := 0; u < hn; u++ {
		re, im := a[u], a[u+hn]
		a[u] = float64(re*re) + float64(im*im)
		a[u+hn] = 0
	}
}

func polyMulconst(a []float64, x float64, logn uint) {
	n := 1 << logn
	for u := 0; u < n; u++ {
		a[u] *= x
	}
}

func polyInvnorm2FFT(d, a, b []float64, logn uint) {
	hn := 1 << logn >> 1
	for u := 0; u < hn; u++ {
		ar, ai := a[u], a[u+hn]
		br, bi := b[u], b[u+hn]
		d[u] = 1.0 / ((float64(ar*ar) + float64(ai*ai)) + (float64(br*br) + float64(bi*bi)))
	}
}

func polyAddMuladjFFT(d, F, G, f, g []float64, logn uint) {
	hn := 1 << logn >> 1
	for u := 0; u < hn; u++ {
		aRe, aIm := cmul(F[u], F[u+hn], f[u], -f[u+hn])
		bRe, bIm := cmul(G[u], G[u+hn], g[u], -g[u+hn])
		d[u] = aRe + bRe
		d[u+hn] = aIm + bIm
	}
}

func polyMulAutoadjFFT(a, b []float64, logn uint) {
	hn := 1 << logn >> 1
	for u := 0; u < hn; u++ {
		a[u] *= b[u]
		a[u+hn] *= b[u]
	}
}

func polyDivAutoadjFFT(a, b []float64, logn uint) {
	hn := 1 << logn >> 1
	for u := 0; u < hn; u++ {
		ib := 1.0 / b[u]
		a[u] *= ib
		a[u+hn] *= ib
	}
}

// polyLDLFFT computes the LDL decomposition of the 2x2 Gram matrix
// [[g00, g01], [adj(g01), g11]] in place: g01 becomes L10 and g11 becomes D11.
func polyLDLFFT(g00, g01, g11 []float64, logn uint) {
	polyLDLmvFFT(g11, g01, g00, g01, g11, logn)
}

// polyLDLmvFFT is polyLDLFFT with separate outputs d11 and l10 (which may
// alias the inputs, since each index is read before it is written).
func polyLDLmvFFT(d11, l10, g00, g01, g11 []float64, logn uint) {
	hn := 1 << logn >> 1
	for u := 0; u < hn; u++ {
		g00Re, g00Im := g00[u], g00[u+hn]
		g01Re, g01Im := g01[u], g01[u+hn]
		g11Re, g11Im := g11[u], g11[u+hn]
		muRe, muIm := cdiv(g01Re, g01Im, g00Re, g00Im)
		g01Re, g01Im = cmul(muRe, muIm, g01Re, -g01Im)
		d11[u], d11[u+hn] = g11Re-g01Re, g11Im-g01Im
		l10[u] = muRe
		l10[u+hn] = -muIm
	}
}

// polySplitFFT splits f into f0, f1 with f(x) = f0(x^2) + x*f1(x^2).
func polySplitFFT(f0, f1, f []float64, logn uint) {
	n := 1 << logn
	hn := n >> 1
	qn := hn >> 1
	f0[0] = f[0]
	f1[0] = f[hn]
	for u := 0; u < qn; u++ {
		aRe, aIm := f[u<<1], f[(u<<1)+hn]
		bRe, bIm := f[(u<<1)+1], f[(u<<1)+1+hn]
		f0[u] = (aRe + bRe) * 0.5
		f0[u+qn] = (aIm + bIm) * 0.5
		tRe, tIm := cmul(aRe-bRe, aIm-bIm, gmTab[(u+hn)<<1], -gmTab[((u+hn)<<1)+1])
		f1[u] = tRe * 0.5
		f1[u+qn] = tIm * 0.5
	}
}

// polyMergeFFT is the inverse of polySplitFFT.
func polyMergeFFT(f, f0, f1 []float64, logn uint) {
	n := 1 << logn
	hn := n >> 1
	qn := hn >> 1
	f[0] = f0[0]
	f[hn] = f1[0]
	for u := 0; u < qn; u++ {
		aRe, aIm := f0[u], f0[u+qn]
		bRe, bIm := cmul(f1[u], f1[u+qn], gmTab[(u+hn)<<1], gmTab[((u+hn)<<1)+1])
		f[u<<1], f[(u<<1)+hn] = aRe+bRe, aIm+bIm
		f[(u<<1)+1], f[(u<<1)+1+hn] = aRe-bRe, aIm-bIm
	}
}
