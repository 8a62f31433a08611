package falcon

// Arithmetic modulo q = 12289 in Montgomery representation (R = 2^16), and
// the NTT used for public-key computation and verification.

const (
	mqQ   = 12289
	mqQ0I = 12287 // -1/q mod 2^16
	mqR   = 4091  // 2^16 mod q
	mqR2  = 10952 // 2^32 mod q
)

func mqConvSmall(x int32) uint32 {
	y := uint32(x)
	y += mqQ & -(y >> 31)
	return y
}

func mqAdd(x, y uint32) uint32 {
	d := x + y - mqQ
	d += mqQ & -(d >> 31)
	return d
}

func mqSub(x, y uint32) uint32 {
	d := x - y
	d += mqQ & -(d >> 31)
	return d
}

func mqRshift1(x uint32) uint32 {
	x += mqQ & -(x & 1)
	return x >> 1
}

func mqMontymul(x, y uint32) uint32 {
	z := x * y
	w := ((z * mqQ0I) & 0xFFFF) * mqQ
	z = (z + w) >> 16
	z -= mqQ
	z += mqQ & -(z >> 31)
	return z
}

// mqInvMonty returns 1/y in Montgomery form, for y in Montgomery form
// (0 maps to 0). It raises y to q-2 with a fixed addition chain, so it
// runs in constant time.
func mqInvMonty(y0 uint32) uint32 {
	y1 := mqMontymul(y0, y0)
	y2 := mqMontymul(y1, y0)
	y3 := mqMontymul(y2, y1)
	y4 := mqMontymul(y3, y3)
	y5 := mqMontymul(y4, y4)
	y6 := mqMontymul(y5, y5)
	y7 := mqMontymul(y6, y6)
	y8 := mqMontymul(y7, y7)
	y9 := mqMontymul(y8, y2)
	y10 := mqMontymul(y9, y8)
	y11 := mqMontymul(y10, y10)
	y12 := mqMontymul(y11, y11)
	y13 := mqMontymul(y12, y9)
	y14 := mqMontymul(y13, y13)
	y15 := mqMontymul(y14, y14)
	y16 := mqMontymul(y15, y10)
	y17 := mqMontymul(y16, y16)
	return mqMontymul(y17, y0)
}

// mqPolyDiv sets x[u] = x[u]/y[u] mod q for all u (plain representation)
// and reports whether every y[u] was non-zero. It uses Montgomery's batch
// inversion (one exponentiation and three multiplications per element);
// modular division has a unique result, so this matches the reference's
// per-element division exactly. The work does not depend on the values.
func mqPolyDiv(x, y []uint16, logn uint) bool {
	return mqPolyDivMask(x, y, logn) == 0
}

// mqPolyDivMask is mqPolyDiv returning 1 (instead of false) when some y[u]
// is zero, so callers working on secrets can fold the verdict into a mask
// without a branch.
func mqPolyDivMask(x, y []uint16, logn uint) uint32 {
	n := 1 << logn
	prefix := make([]uint16, n)
	var zero uint32
	acc := uint32(mqR) // 1 in Montgomery form
	for u := 0; u < n; u++ {
		zero |= (uint32(y[u]) - 1) >> 31
		acc = mqMontymul(acc, mqMontymul(uint32(y[u]), mqR2))
		prefix[u] = uint16(acc)
	}
	inv := mqInvMonty(acc)
	for u := n - 1; u >= 0; u-- {
		yu := mqMontymul(uint32(y[u]), mqR2)
		before := uint32(mqR)
		if u > 0 {
			before = uint32(prefix[u-1])
		}
		iu := mqMontymul(inv, before) // 1/y[u], Montgomery form
		inv = mqMontymul(inv, yu)
		x[u] = uint16(mqMontymul(iu, uint32(x[u])))
	}
	clear(prefix)
	return zero
}

func mqNTT(a []uint16, logn uint) {
	n := 1 << logn
	t := n
	for m := 1; m < n; m <<= 1 {
		ht := t >> 1
		for i, j1 := 0, 0; i < m; i, j1 = i+1, j1+t {
			s := uint32(mqGM[m+i])
			for j := j1; j < j1+ht; j++ {
				u := uint32(a[j])
				v := mqMontymul(uint32(a[j+ht]), s)
				a[j] = uint16(mqAdd(u, v))
				a[j+ht] = uint16(mqSub(u, v))
			}
		}
		t = ht
	}
}

func mqINTT(a []uint16, logn uint) {
	n := 1 << logn
	t := 1
	m := n
	for m > 1 {
		hm := m >> 1
		dt := t << 1
		for i, j1 := 0, 0; i < hm; i, j1 = i+1, j1+dt {
			s := uint32(mqIGM[hm+i])
			for j := j1; j < j1+t; j++ {
				u := uint32(a[j])
				v := uint32(a[j+t])
				a[j] = uint16(mqAdd(u, v))
				a[j+t] = uint16(mqMontymul(mqSub(u, v), s))
			}
		}
		t = dt
		m = hm
	}
	ni := uint32(mqR)
	for m := n; m > 1; m >>= 1 {
		ni = mqRshift1(ni)
	}
	for i := 0; i < n; i++ {
		a[i] = uint16(mqMontymul(uint32(a[i]), ni))
	}
}

func mqPolyTomonty(f []uint16, logn uint) {
	for u := 0; u < 1<<logn; u++ {
		f[u] = uint16(mqMontymul(uint32(f[u]), mqR2))
	}
}

func mqPolyMontymulNTT(f, g []uint16, logn uint) {
	for u := 0; u < 1<<logn; u++ {
		f[u] = uint16(mqMontymul(uint32(f[u]), uint32(g[u])))
	}
}

// toNTTMonty converts a public key to the NTT + Montgomery form used by
// verifyRaw.
func toNTTMonty(h []uint16, logn uint) {
	mqNTT(h, logn)
	mqPolyTomonty(h, logn)
}

// isShort reports whether ||(s1, s2)||^2 <= beta^2, with overflow saturation.
func isShort(s1, s2 []int16, logn uint) bool {
	var s, ng uint32
	for u := 0; u < 1<<logn; u++ {
		z := int32(s1[u])
		s += uint32(z * z)
		ng |= s
		z = int32(s2[u])
		s += uint32(z * z)
		ng |= s
	}
	s |= -(ng >> 31)
	return s <= l2bound[logn]
}

// verifyRaw checks that s1 = c0 - s2*h mod q (centred) is such that
// (s1, s2) is short. h must be in NTT + Montgomery form.
func verifyRaw(c0 []uint16, s2 []int16, h []uint16, logn uint) bool {
	n := 1 << logn
	tt := make([]uint16, n)
	for u := 0; u < n; u++ {
		w := uint32(int32(s2[u]))
		w += mqQ & -(w >> 31)
		tt[u] = uint16(w)
	}
	mqNTT(tt, logn)
	mqPolyMontymulNTT(tt, h, logn)
	mqINTT(tt, logn)
	s1 := make([]int16, n)
	for u := 0; u < n; u++ {
		w := int32(mqSub(uint32(tt[u]), uint32(c0[u])))
		w -= int32(mqQ & -(((mqQ >> 1) - uint32(w)) >> 31))
		s1[u] = int16(w)
	}
	return isShort(s1, s2, logn)
}

// computePublic computes h = g/f mod q; it fails if f is not invertible.
func computePublic(h []uint16, f, g []int8, logn uint) bool {
	n := 1 << logn
	tt := make([]uint16, n)
	for u := 0; u < n; u++ {
		tt[u] = uint16(mqConvSmall(int32(f[u])))
		h[u] = uint16(mqConvSmall(int32(g[u])))
	}
	mqNTT(h, logn)
	mqNTT(tt, logn)
	ok := mqPolyDiv(h, tt, logn)
	mqINTT(h, logn)
	clear(tt)
	return ok
}

// completePrivate recomputes G = g*F/f mod q from the stored key parts,
// and fails if f is not invertible or G has a coefficient outside [-127, 127].
func completePrivate(G, f, g, F []int8, logn uint) bool {
	n := 1 << logn
	t1 := make([]uint16, n)
	t2 := make([]uint16, n)
	defer clear(t1)
	defer clear(t2)
	for u := 0; u < n; u++ {
		t1[u] = uint16(mqConvSmall(int32(g[u])))
		t2[u] = uint16(mqConvSmall(int32(F[u])))
	}
	mqNTT(t1, logn)
	mqNTT(t2, logn)
	mqPolyTomonty(t1, logn)
	mqPolyMontymulNTT(t1, t2, logn)
	for u := 0; u < n; u++ {
		t2[u] = uint16(mqConvSmall(int32(f[u])))
	}
	mqNTT(t2, logn)
	bad := mqPolyDivMask(t1, t2, logn)
	mqINTT(t1, logn)
	for u := 0; u < n; u++ {
		w := uint32(t1[u])
		w -= mqQ & ^-((w - (mqQ >> 1)) >> 31)
		gi := int32(w)
		bad |= uint32((gi + 127) >> 31) // gi < -127
		bad |= uint32((127 - gi) >> 31) // gi > 127
		G[u] = int8(gi)
	}
	return bad == 0
}
