package falcon

// Big integers for the NTRU solver: little-endian arrays of 31-bit limbs
// (the top bit of each uint32 is zero), signed values in two's complement
// over the array length. Loops run over the full length regardless of the
// values, as in the reference.

// zintSub sets a -= b if ctl = 1 (a unchanged if ctl = 0) and returns the
// final borrow.
func zintSub(a, b []uint32, length int, ctl uint32) uint32 {
	var cc uint32
	m := -ctl
	for u := 0; u < length; u++ {
		aw := a[u]
		w := aw - b[u] - cc
		cc = w >> 31
		aw ^= ((w & 0x7FFFFFFF) ^ aw) & m
		a[u] = aw
	}
	return cc
}

// zintMulSmall multiplies m by x in place and returns the carry.
func zintMulSmall(m []uint32, mlen int, x uint32) uint32 {
	var cc uint32
	for u := 0; u < mlen; u++ {
		z := uint64(m[u])*uint64(x) + uint64(cc)
		m[u] = uint32(z) & 0x7FFFFFFF
		cc = uint32(z >> 31)
	}
	return cc
}

// zintModSmallUnsigned reduces an unsigned big integer modulo p.
func zintModSmallUnsigned(d []uint32, dlen int, p, p0i, r2 uint32) uint32 {
	var x uint32
	for u := dlen - 1; u >= 0; u-- {
		x = modpMontymul(x, r2, p, p0i)
		w := d[u] - p
		w += p & -(w >> 31)
		x = modpAdd(x, w, p)
	}
	return x
}

// zintModSmallSigned reduces a signed big integer modulo p; rx must be
// 2^(31*dlen) mod p.
func zintModSmallSigned(d []uint32, dlen int, p, p0i, r2, rx uint32) uint32 {
	if dlen == 0 {
		return 0
	}
	z := zintModSmallUnsigned(d, dlen, p, p0i, r2)
	return modpSub(z, rx&-(d[dlen-1]>>30), p)
}

// zintAddMulSmall sets x += y*s, with x one limb longer than y.
func zintAddMulSmall(x, y []uint32, length int, s uint32) {
	var cc uint32
	for u := 0; u < length; u++ {
		z := uint64(y[u])*uint64(s) + uint64(x[u]) + uint64(cc)
		x[u] = uint32(z) & 0x7FFFFFFF
		cc = uint32(z >> 31)
	}
	x[length] = cc
}

// zintNormZero maps x in [0, p) to the signed range (-p/2, p/2].
func zintNormZero(x, p []uint32, length int) {
	var r, bb uint32
	for u := length - 1; u >= 0; u-- {
		wx := x[u]
		wp := (p[u] >> 1) | (bb << 30)
		bb = p[u] & 1
		cc := wp - wx
		cc = ((-cc) >> 31) | -(cc >> 31)
		r |= cc & ((r & 1) - 1)
	}
	zintSub(x, p, length, r>>31)
}

// zintRebuildCRT converts num integers (at stride xstride in xx) from RNS
// form over the first xlen primes back to big integers, by Garner's
// method. tmp must have room for xlen words.
func zintRebuildCRT(xx []uint32, xlen, xstride, num int, normalizeSigned bool, tmp []uint32) {
	tmp[0] = smallPrimes[0].p
	for u := 1; u < xlen; u++ {
		p := smallPrimes[u].p
		s := smallPrimes[u].s
		p0i := modpNinv31(p)
		r2 := modpR2(p, p0i)
		for v, off := 0, 0; v < num; v, off = v+1, off+xstride {
			x := xx[off:]
			xp := x[u]
			xq := zintModSmallUnsigned(x, u, p, p0i, r2)
			xr := modpMontymul(s, modpSub(xp, xq, p), p, p0i)
			zintAddMulSmall(x, tmp, u, xr)
		}
		tmp[u] = zintMulSmall(tmp, u, p)
	}
	if normalizeSigned {
		for u, off := 0, 0; u < num; u, off = u+1, off+xstride {
			zintNormZero(xx[off:], tmp, xlen)
		}
	}
}

// zintNegate negates a if ctl = 1.
func zintNegate(a []uint32, length int, ctl uint32) {
	cc := ctl
	m := -ctl >> 1
	for u := 0; u < length; u++ {
		aw := a[u]
		aw = (aw ^ m) + cc
		a[u] = aw & 0x7FFFFFFF
		cc = aw >> 31
	}
}

// zintCoReduce sets (a, b) = ((a*xa + b*xb) / 2^31, (a*ya + b*yb) / 2^31),
// making negative results positive; bit 0 / bit 1 of the result say
// whether a / b were negated.
func zintCoReduce(a, b []uint32, length int, xa, xb, ya, yb int64) uint32 {
	var cca, ccb int64
	for u := 0; u < length; u++ {
		wa := uint64(a[u])
		wb := uint64(b[u])
		za := wa*uint64(xa) + wb*uint64(xb) + uint64(cca)
		zb := wa*uint64(ya) + wb*uint64(yb) + uint64(ccb)
		if u > 0 {
			a[u-1] = uint32(za) & 0x7FFFFFFF
			b[u-1] = uint32(zb) & 0x7FFFFFFF
		}
		cca = int64(za) >> 31
		ccb = int64(zb) >> 31
	}
	a[length-1] = uint32(cca)
	b[length-1] = uint32(ccb)
	nega := uint32(uint64(cca) >> 63)
	negb := uint32(uint64(ccb) >> 63)
	zintNegate(a, length, nega)
	zintNegate(b, length, negb)
	return nega | (negb << 1)
}

// zintFinishMod brings a value in (-m, 2m) (neg says it is negative) back
// to [0, m).
func zintFinishMod(a []uint32, length int, m []uint32, neg uint32) {
	var cc uint32
	for u := 0; u < length; u++ {
		cc = (a[u] - m[u] - cc) >> 31
	}
	xm := -neg >> 1
	ym := -(neg | (1 - cc))
	cc = neg
	for u := 0; u < length; u++ {
		aw := a[u]
		mw := (m[u] ^ xm) & ym
		aw = aw - mw - cc
		a[u] = aw & 0x7FFFFFFF
		cc = aw >> 31
	}
}

// zintCoReduceMod is zintCoReduce modulo m, with a Montgomery-style
// division by 2^31 (m0i = -1/m mod 2^31).
func zintCoReduceMod(a, b, m []uint32, length int, m0i uint32, xa, xb, ya, yb int64) {
	var cca, ccb int64
	fa := ((a[0]*uint32(xa) + b[0]*uint32(xb)) * m0i) & 0x7FFFFFFF
	fb := ((a[0]*uint32(ya) + b[0]*uint32(yb)) * m0i) & 0x7FFFFFFF
	for u := 0; u < length; u++ {
		wa := uint64(a[u])
		wb := uint64(b[u])
		za := wa*uint64(xa) + wb*uint64(xb) + uint64(m[u])*uint64(fa) + uint64(cca)
		zb := wa*uint64(ya) + wb*uint64(yb) + uint64(m[u])*uint64(fb) + uint64(ccb)
		if u > 0 {
			a[u-1] = uint32(za) & 0x7FFFFFFF
			b[u-1] = uint32(zb) & 0x7FFFFFFF
		}
		cca = int64(za) >> 31
		ccb = int64(zb) >> 31
	}
	a[length-1] = uint32(cca)
	b[length-1] = uint32(ccb)
	zintFinishMod(a, length, m, uint32(uint64(cca)>>63))
	zintFinishMod(b, length, m, uint32(uint64(ccb)>>63))
}

// zintBezout computes u, v with x*u - y*v = 1 for odd x, y (binary GCD
// with 31-bit approximation steps, constant time). It returns false if x
// and y are not coprime or not both odd. tmp needs 4*length words.
func zintBezout(u, v, x, y []uint32, length int, tmp []uint32) bool {
	if length == 0 {
		return false
	}
	u0 := u
	v0 := v
	u1 := tmp[0:length]
	v1 := tmp[length : 2*length]
	a := tmp[2*length : 3*length]
	b := tmp[3*length : 4*length]
	x0i := modpNinv31(x[0])
	y0i := modpNinv31(y[0])
	copy(a, x[:length])
	copy(b, y[:length])
	u0[0] = 1
	clear(u0[1:length])
	clear(v0[:length])
	copy(u1, y[:length])
	copy(v1, x[:length])
	v1[0]--

	for num := 62*uint32(length) + 30; num >= 30; num -= 30 {
		// Approximations of a and b on their top 33 bits and low 31 bits.
		c0 := ^uint32(0)
		c1 := ^uint32(0)
		var a0, a1, b0, b1 uint32
		for j := length - 1; j >= 0; j-- {
			aw := a[j]
			bw := b[j]
			a0 ^= (a0 ^ aw) & c0
			a1 ^= (a1 ^ aw) & c1
			b0 ^= (b0 ^ bw) & c0
			b1 ^= (b1 ^ bw) & c1
			c1 = c0
			c0 &= (((aw | bw) + 0x7FFFFFFF) >> 31) - 1
		}
		a1 |= a0 & c1
		a0 &= ^c1
		b1 |= b0 & c1
		b0 &= ^c1
		aHi := (uint64(a0) << 31) + uint64(a1)
		bHi := (uint64(b0) << 31) + uint64(b1)
		aLo := a[0]
		bLo := b[0]

		var pa, pb, qa, qb int64 = 1, 0, 0, 1
		for i := 0; i < 31; i++ {
			rz := bHi - aHi
			rt := uint32((rz ^ ((aHi ^ bHi) & (aHi ^ rz))) >> 63)
			oa := (aLo >> uint(i)) & 1
			ob := (bLo >> uint(i)) & 1
			cAB := oa & ob & rt
			cBA := oa & ob & ^rt
			cA := cAB | (oa ^ 1)

			aLo -= bLo & -cAB
			aHi -= bHi & -uint64(cAB)
			pa -= qa & -int64(cAB)
			pb -= qb & -int64(cAB)
			bLo -= aLo & -cBA
			bHi -= aHi & -uint64(cBA)
			qa -= pa & -int64(cBA)
			qb -= pb & -int64(cBA)

			aLo += aLo & (cA - 1)
			pa += pa & (int64(cA) - 1)
			pb += pb & (int64(cA) - 1)
			aHi ^= (aHi ^ (aHi >> 1)) & -uint64(cA)
			bLo += bLo & -cA
			qa += qa & -int64(cA)
			qb += qb & -int64(cA)
			bHi ^= (bHi ^ (bHi >> 1)) & (uint64(cA) - 1)
		}

		r := zintCoReduce(a, b, length, pa, pb, qa, qb)
		pa -= (pa + pa) & -int64(r&1)
		pb -= (pb + pb) & -int64(r&1)
		qa -= (qa + qa) & -int64(r>>1)
		qb -= (qb + qb) & -int64(r>>1)
		zintCoReduceMod(u0, u1, y, length, y0i, pa, pb, qa, qb)
		zintCoReduceMod(v0, v1, x, length, x0i, pa, pb, qa, qb)
	}

	rc := a[0] ^ 1
	for j := 1; j < length; j++ {
		rc |= a[j]
	}
	return (1-((rc|-rc)>>31))&x[0]&y[0] != 0
}

// zintAddScaledMulSmall sets x += k*y*2^(31*sch+scl), truncated to xlen.
func zintAddScaledMulSmall(x []uint32, xlen int, y []uint32, ylen int, k int32, sch, scl uint32) {
	if ylen == 0 {
		return
	}
	ysign := -(y[ylen-1] >> 30) >> 1
	var tw uint32
	var cc int32
	for u := int(sch); u < xlen; u++ {
		v := u - int(sch)
		var wy uint32
		if v < ylen {
			wy = y[v]
		} else {
			wy = ysign
		}
		wys := ((wy << scl) & 0x7FFFFFFF) | tw
		tw = wy >> (31 - scl)
		z := uint64(int64(wys)*int64(k) + int64(x[u]) + int64(cc))
		x[u] = uint32(z) & 0x7FFFFFFF
		cc = int32(uint32(z >> 31))
	}
}

// zintSubScaled sets x -= y*2^(31*sch+scl), truncated to xlen.
func zintSubScaled(x []uint32, xlen int, y []uint32, ylen int, sch, scl uint32) {
	if ylen == 0 {
		return
	}
	ysign := -(y[ylen-1] >> 30) >> 1
	var tw, cc uint32
	for u := int(sch); u < xlen; u++ {
		v := u - int(sch)
		var wy uint32
		if v < ylen {
			wy = y[v]
		} else {
			wy = ysign
		}
		wys := ((wy << scl) & 0x7FFFFFFF) | tw
		tw = wy >> (31 - scl)
		w := x[u] - wys - cc
		x[u] = w & 0x7FFFFFFF
		cc = w >> 31
	}
}

// zintOneToPlain reads a one-limb signed big integer.
func zintOneToPlain(x uint32) int32 {
	w := x
	w |= (w & 0x40000000) << 1
	return int32(w)
}
