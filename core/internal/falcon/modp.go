package falcon

// Arithmetic modulo the 31-bit primes of smallPrimes, in Montgomery form
// with R = 2^31, plus the NTT over those primes. All routines are
// branch-free in their data.

type smallPrime struct{ p, g, s uint32 }

func modpSet(x int32, p uint32) uint32 {
	w := uint32(x)
	w += p & -(w >> 31)
	return w
}

func modpNorm(x, p uint32) int32 {
	return int32(x - (p & (((x - ((p + 1) >> 1)) >> 31) - 1)))
}

// modpNinv31 returns -1/p mod 2^31.
func modpNinv31(p uint32) uint32 {
	y := 2 - p
	y *= 2 - p*y
	y *= 2 - p*y
	y *= 2 - p*y
	y *= 2 - p*y
	return 0x7FFFFFFF & -y
}

func modpR(p uint32) uint32 { return (1 << 31) - p }

func modpAdd(a, b, p uint32) uint32 {
	d := a + b - p
	d += p & -(d >> 31)
	return d
}

func modpSub(a, b, p uint32) uint32 {
	d := a - b
	d += p & -(d >> 31)
	return d
}

func modpMontymul(a, b, p, p0i uint32) uint32 {
	z := uint64(a) * uint64(b)
	w := ((z * uint64(p0i)) & 0x7FFFFFFF) * uint64(p)
	d := uint32((z+w)>>31) - p
	d += p & -(d >> 31)
	return d
}

// modpR2 returns 2^62 mod p.
func modpR2(p, p0i uint32) uint32 {
	z := modpR(p)
	z = modpAdd(z, z, p)
	z = modpMontymul(z, z, p, p0i)
	z = modpMontymul(z, z, p, p0i)
	z = modpMontymul(z, z, p, p0i)
	z = modpMontymul(z, z, p, p0i)
	z = modpMontymul(z, z, p, p0i)
	z = (z + (p & -(z & 1))) >> 1
	return z
}

// modpRx returns 2^(31*x) mod p (x is public).
func modpRx(x uint, p, p0i, r2 uint32) uint32 {
	x--
	r := r2
	z := modpR(p)
	for i := uint(0); (1 << i) <= x; i++ {
		if x&(1<<i) != 0 {
			z = modpMontymul(z, r, p, p0i)
		}
		r = modpMontymul(r, r, p, p0i)
	}
	return z
}

// modpDiv returns a/b mod p via Fermat; the exponent is public.
func modpDiv(a, b, p, p0i, r uint32) uint32 {
	e := p - 2
	z := r
	for i := 30; i >= 0; i-- {
		z = modpMontymul(z, z, p, p0i)
		z2 := modpMontymul(z, b, p, p0i)
		z ^= (z ^ z2) & -((e >> uint(i)) & 1)
	}
	z = modpMontymul(z, 1, p, p0i)
	return modpMontymul(a, z, p, p0i)
}

// rev10 is the 10-bit bit-reversal permutation.
var rev10 = func() [1024]uint16 {
	var t [1024]uint16
	for i := range t {
		r := 0
		for b := 0; b < 10; b++ {
			r |= ((i >> b) & 1) << (9 - b)
		}
		t[i] = uint16(r)
	}
	return t
}()

// modpMkgm2 fills gm and igm with the powers of a primitive 2n-th root of
// unity (from the 2048-th root g) and of its inverse, in bit-reversed order.
func modpMkgm2(gm, igm []uint32, logn uint, g, p, p0i uint32) {
	n := 1 << logn
	r2 := modpR2(p, p0i)
	g = modpMontymul(g, r2, p, p0i)
	for k := logn; k < 10; k++ {
		g = modpMontymul(g, g, p, p0i)
	}
	ig := modpDiv(r2, g, p, p0i, modpR(p))
	k := 10 - logn
	x1 := modpR(p)
	x2 := x1
	for u := 0; u < n; u++ {
		v := rev10[u<<k]
		gm[v] = x1
		igm[v] = x2
		x1 = modpMontymul(x1, g, p, p0i)
		x2 = modpMontymul(x2, ig, p, p0i)
	}
}

// modpNTT2Ext computes the NTT of the n values a[0], a[stride], ...
func modpNTT2Ext(a []uint32, stride int, gm []uint32, logn uint, p, p0i uint32) {
	if logn == 0 {
		return
	}
	n := 1 << logn
	t := n
	for m := 1; m < n; m <<= 1 {
		ht := t >> 1
		for u, v1 := 0, 0; u < m; u, v1 = u+1, v1+t {
			s := gm[m+u]
			r1 := v1 * stride
			r2 := r1 + ht*stride
			for v := 0; v < ht; v, r1, r2 = v+1, r1+stride, r2+stride {
				x := a[r1]
				y := modpMontymul(a[r2], s, p, p0i)
				a[r1] = modpAdd(x, y, p)
				a[r2] = modpSub(x, y, p)
			}
		}
		t = ht
	}
}

// modpINTT2Ext is the inverse of modpNTT2Ext, including division by n.
func modpINTT2Ext(a []uint32, stride int, igm []uint32, logn uint, p, p0i uint32) {
	if logn == 0 {
		return
	}
	n := 1 << logn
	t := 1
	for m := n; m > 1; m >>= 1 {
		hm := m >> 1
		dt := t << 1
		for u, v1 := 0, 0; u < hm; u, v1 = u+1, v1+dt {
			s := igm[hm+u]
			r1 := v1 * stride
			r2 := r1 + t*stride
			for v := 0; v < t; v, r1, r2 = v+1, r1+stride, r2+stride {
				x := a[r1]
				y := a[r2]
				a[r1] = modpAdd(x, y, p)
				a[r2] = modpMontymul(modpSub(x, y, p), s, p, p0i)
			}
		}
		t = dt
	}
	ni := uint32(1) << (31 - logn)
	for k, r := 0, 0; k < n; k, r = k+1, r+stride {
		a[r] = modpMontymul(a[r], ni, p, p0i)
	}
}

func modpNTT2(a []uint32, gm []uint32, logn uint, p, p0i uint32) {
	modpNTT2Ext(a, 1, gm, logn, p, p0i)
}

func modpINTT2(a []uint32, igm []uint32, logn uint, p, p0i uint32) {
	modpINTT2Ext(a, 1, igm, logn, p, p0i)
}

// modpPolyRecRes replaces f (in NTT form, degree 2^logn) with the NTT of
// its field norm N(f)(x^2) = f(x)*f(-x), of half the degree.
func modpPolyRecRes(f []uint32, logn uint, p, p0i, r2 uint32) {
	hn := 1 << (logn - 1)
	for u := 0; u < hn; u++ {
		w0 := f[u<<1]
		w1 := f[(u<<1)+1]
		f[u] = modpMontymul(modpMontymul(w0, w1, p, p0i), r2, p, p0i)
	}
}
