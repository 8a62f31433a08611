package falcon

import "unsafe"

// NTRU equation solver: given f, g find F, G with f*G - g*F = q mod x^n+1.
// This follows the reference algorithm step for step (F is not unique,
// so the exact sequence of reductions determines the key bytes): the field
// norm is taken recursively down to degree 1, solved there with a binary
// extended GCD, and lifted back up with Babai reduction at every level.
// Big integers are kept in RNS form over smallPrimes wherever possible.

// maxBlSmall[depth] is the limb length of f and g at each depth;
// maxBlLarge[depth] the length of the unreduced F and G.
var (
	maxBlSmall = [11]int{1, 1, 2, 2, 4, 7, 14, 27, 53, 106, 209}
	maxBlLarge = [10]int{2, 2, 5, 7, 12, 21, 40, 78, 157, 308}
)

// bitLength gives the measured average and standard deviation of the bit
// length of f and g coefficients at each depth.
var bitLength = [11]struct{ avg, std int }{
	{4, 0}, {11, 1}, {24, 1}, {50, 1}, {102, 1}, {202, 2},
	{401, 4}, {794, 5}, {1577, 8}, {3138, 13}, {6308, 25},
}

const depthIntFG = 4

// ntruTmp is the solver's scratch area. Like the reference, the solver
// reuses the same memory alternately for 31-bit limbs and for float64
// values, so w and f are two views of one allocation: float offset k is
// word offset 2k.
type ntruTmp struct {
	w []uint32
	f []float64
}

func newNTRUTmp(logn uint) *ntruTmp {
	// 28 bytes per coefficient is the reference bound; a little slack.
	words := 8 << logn
	backing := make([]float64, words/2)
	return &ntruTmp{
		w: unsafe.Slice((*uint32)(unsafe.Pointer(&backing[0])), words),
		f: backing,
	}
}

func (t *ntruTmp) wipe() { clear(t.f) }

// fAt returns the float64 view starting at word offset off, rounded up to
// an 8-byte boundary.
func (t *ntruTmp) fAt(off int) ([]float64, int) {
	off = (off + 1) &^ 1
	return t.f[off/2:], off
}

// polyBigToFp converts n big integers (flen limbs, stride fstride) to
// float64, approximately.
func polyBigToFp(d []float64, f []uint32, flen, fstride int, logn uint) {
	n := 1 << logn
	if flen == 0 {
		clear(d[:n])
		return
	}
	for u, off := 0, 0; u < n; u, off = u+1, off+fstride {
		neg := -(f[off+flen-1] >> 30)
		xm := neg >> 1
		cc := neg & 1
		x := 0.0
		fsc := 1.0
		for v := 0; v < flen; v, fsc = v+1, fsc*fprPTwo31 {
			w := (f[off+v] ^ xm) + cc
			cc = w >> 31
			w &= 0x7FFFFFFF
			w -= (w << 1) & neg
			x += float64(float64(int32(w)) * fsc)
		}
		d[u] = x
	}
}

// polyBigToSmall converts one-limb integers to int8, failing if one is
// outside [-lim, lim]. The values are secret (F and G), so all of them are
// converted and checked with a mask; only the verdict is a branch.
func polyBigToSmall(d []int8, s []uint32, lim int32, logn uint) bool {
	var bad uint32
	for u := 0; u < 1<<logn; u++ {
		z := zintOneToPlain(s[u])
		bad |= uint32(z+lim) | uint32(lim-z)
		d[u] = int8(z)
	}
	return bad>>31 == 0
}

// polySubScaled sets F -= k*f*2^(31*sch+scl) with schoolbook
// multiplication mod x^n+1 (used at the deep, small levels).
func polySubScaled(F []uint32, Flen, Fstride int, f []uint32, flen, fstride int, k []int32, sch, scl uint32, logn uint) {
	n := 1 << logn
	for u := 0; u < n; u++ {
		kf := -k[u]
		x := u * Fstride
		y := 0
		for v := 0; v < n; v++ {
			zintAddScaledMulSmall(F[x:], Flen, f[y:], flen, kf, sch, scl)
			if u+v == n-1 {
				x = 0
				kf = -kf
			} else {
				x += Fstride
			}
			y += fstride
		}
	}
}

// polySubScaledNTT is polySubScaled computing k*f via NTT over enough
// primes; tmp needs room for 2n + n*(flen+1) + n words.
func polySubScaledNTT(F []uint32, Flen, Fstride int, f []uint32, flen, fstride int, k []int32, sch, scl uint32, logn uint, tmp []uint32) {
	n := 1 << logn
	tlen := flen + 1
	gm := tmp[0:n]
	igm := tmp[n : 2*n]
	fk := tmp[2*n:]
	t1 := tmp[2*n+n*tlen:]
	for u := 0; u < tlen; u++ {
		p := smallPrimes[u].p
		p0i := modpNinv31(p)
		r2 := modpR2(p, p0i)
		rx := modpRx(uint(flen), p, p0i, r2)
		modpMkgm2(gm, igm, logn, smallPrimes[u].g, p, p0i)
		for v := 0; v < n; v++ {
			t1[v] = modpSet(k[v], p)
		}
		modpNTT2(t1, gm, logn, p, p0i)
		for v, y, x := 0, 0, u; v < n; v, y, x = v+1, y+fstride, x+tlen {
			fk[x] = zintModSmallSigned(f[y:], flen, p, p0i, r2, rx)
		}
		modpNTT2Ext(fk[u:], tlen, gm, logn, p, p0i)
		for v, x := 0, u; v < n; v, x = v+1, x+tlen {
			fk[x] = modpMontymul(modpMontymul(t1[v], fk[x], p, p0i), r2, p, p0i)
		}
		modpINTT2Ext(fk[u:], tlen, igm, logn, p, p0i)
	}
	zintRebuildCRT(fk, tlen, tlen, n, true, t1)
	for u, x, y := 0, 0, 0; u < n; u, x, y = u+1, x+Fstride, y+tlen {
		zintSubScaled(F[x:], Flen, fk[y:], tlen, sch, scl)
	}
}

// makeFgStep takes f, g at data (degree 2^logn, RNS over
// maxBlSmall[depth] primes, optionally in NTT form) and replaces them with
// their field norms (degree 2^(logn-1), over maxBlSmall[depth+1] primes).
func makeFgStep(data []uint32, logn uint, depth int, inNTT, outNTT bool) {
	n := 1 << logn
	hn := n >> 1
	slen := maxBlSmall[depth]
	tlen := maxBlSmall[depth+1]
	fd := 0
	gd := fd + hn*tlen
	fs := gd + hn*tlen
	gs := fs + n*slen
	gm := data[gs+n*slen:]
	igm := gm[n:]
	t1 := igm[n:]
	copy(data[fs:fs+2*n*slen], data[0:2*n*slen])

	halve := func(dst int, u int, p, p0i, r2 uint32) {
		for v, x := 0, dst+u; v < hn; v, x = v+1, x+tlen {
			w0 := t1[v<<1]
			w1 := t1[(v<<1)+1]
			data[x] = modpMontymul(modpMontymul(w0, w1, p, p0i), r2, p, p0i)
		}
	}

	for u := 0; u < slen; u++ {
		p := smallPrimes[u].p
		p0i := modpNinv31(p)
		r2 := modpR2(p, p0i)
		modpMkgm2(gm, igm, logn, smallPrimes[u].g, p, p0i)

		for v, x := 0, fs+u; v < n; v, x = v+1, x+slen {
			t1[v] = data[x]
		}
		if !inNTT {
			modpNTT2(t1, gm, logn, p, p0i)
		}
		halve(fd, u, p, p0i, r2)
		if inNTT {
			modpINTT2Ext(data[fs+u:], slen, igm, logn, p, p0i)
		}

		for v, x := 0, gs+u; v < n; v, x = v+1, x+slen {
			t1[v] = data[x]
		}
		if !inNTT {
			modpNTT2(t1, gm, logn, p, p0i)
		}
		halve(gd, u, p, p0i, r2)
		if inNTT {
			modpINTT2Ext(data[gs+u:], slen, igm, logn, p, p0i)
		}

		if !outNTT {
			modpINTT2Ext(data[fd+u:], tlen, igm, logn-1, p, p0i)
			modpINTT2Ext(data[gd+u:], tlen, igm, logn-1, p, p0i)
		}
	}

	// The remaining output primes need f and g as big integers.
	zintRebuildCRT(data[fs:], slen, slen, n, true, gm)
	zintRebuildCRT(data[gs:], slen, slen, n, true, gm)

	for u := slen; u < tlen; u++ {
		p := smallPrimes[u].p
		p0i := modpNinv31(p)
		r2 := modpR2(p, p0i)
		rx := modpRx(uint(slen), p, p0i, r2)
		modpMkgm2(gm, igm, logn, smallPrimes[u].g, p, p0i)
		for v, x := 0, fs; v < n; v, x = v+1, x+slen {
			t1[v] = zintModSmallSigned(data[x:], slen, p, p0i, r2, rx)
		}
		modpNTT2(t1, gm, logn, p, p0i)
		halve(fd, u, p, p0i, r2)
		for v, x := 0, gs; v < n; v, x = v+1, x+slen {
			t1[v] = zintModSmallSigned(data[x:], slen, p, p0i, r2, rx)
		}
		modpNTT2(t1, gm, logn, p, p0i)
		halve(gd, u, p, p0i, r2)
		if !outNTT {
			modpINTT2Ext(data[fd+u:], tlen, igm, logn-1, p, p0i)
			modpINTT2Ext(data[gd+u:], tlen, igm, logn-1, p, p0i)
		}
	}
}

// makeFg computes the field norms of f and g down to the given depth.
func makeFg(data []uint32, f, g []int8, logn uint, depth int, outNTT bool) {
	n := 1 << logn
	ft := data[0:n]
	gt := data[n : 2*n]
	p0 := smallPrimes[0].p
	for u := 0; u < n; u++ {
		ft[u] = modpSet(int32(f[u]), p0)
		gt[u] = modpSet(int32(g[u]), p0)
	}
	if depth == 0 && outNTT {
		p := smallPrimes[0].p
		p0i := modpNinv31(p)
		gm := data[2*n : 3*n]
		igm := data[3*n : 4*n]
		modpMkgm2(gm, igm, logn, smallPrimes[0].g, p, p0i)
		modpNTT2(ft, gm, logn, p, p0i)
		modpNTT2(gt, gm, logn, p, p0i)
		return
	}
	if depth == 0 {
		return
	}
	if depth == 1 {
		makeFgStep(data, logn, 0, false, outNTT)
		return
	}
	makeFgStep(data, logn, 0, false, true)
	for d := 1; d+1 < depth; d++ {
		makeFgStep(data, logn-uint(d), d, true, true)
	}
	makeFgStep(data, logn-uint(depth)+1, depth-1, true, outNTT)
}

// solveNTRUDeepest solves the degree-1 equation on the resultants with the
// extended GCD.
func solveNTRUDeepest(lognTop uint, f, g []int8, tmp []uint32) bool {
	length := maxBlSmall[lognTop]
	Fp := tmp[0:]
	Gp := tmp[length:]
	fp := tmp[2*length:]
	gp := tmp[3*length:]
	t1 := tmp[4*length:]
	makeFg(fp, f, g, lognTop, int(lognTop), false)
	zintRebuildCRT(fp, length, length, 2, false, t1)
	if !zintBezout(Gp, Fp, fp, gp, length, t1) {
		return false
	}
	const q = 12289
	if zintMulSmall(Fp, length, q) != 0 || zintMulSmall(Gp, length, q) != 0 {
		return false
	}
	return true
}
