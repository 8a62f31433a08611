package falcon

// liftFG computes, for one prime, the unreduced F, G at this level from the
// half-degree solution (Fp, Gp in NTT form) and f, g (fx, gx in NTT form):
// F(x) = F'(x^2)*g(-x), G(x) = G'(x^2)*f(-x). Results are written to
// w[x], w[x+llen] (and y) for each pair of NTT slots.
func liftFG(w []uint32, Ft, Gt, llen, hn int, fx, gx, Fp, Gp []uint32, p, p0i, r2 uint32) {
	for v, x, y := 0, Ft, Gt; v < hn; v, x, y = v+1, x+(llen<<1), y+(llen<<1) {
		ftA := fx[v<<1]
		ftB := fx[(v<<1)+1]
		gtA := gx[v<<1]
		gtB := gx[(v<<1)+1]
		mFp := modpMontymul(Fp[v], r2, p, p0i)
		mGp := modpMontymul(Gp[v], r2, p, p0i)
		w[x] = modpMontymul(gtB, mFp, p, p0i)
		w[x+llen] = modpMontymul(gtA, mFp, p, p0i)
		w[y] = modpMontymul(ftB, mGp, p, p0i)
		w[y+llen] = modpMontymul(ftA, mGp, p, p0i)
	}
}

// solveNTRUIntermediate lifts the solution from depth+1 to depth, then
// reduces it with repeated Babai rounding (k = round((F*adj(f) +
// G*adj(g)) / (f*adj(f) + g*adj(g))), computed in floating point on the
// top limbs) until F and G are about the size of f and g.
func solveNTRUIntermediate(lognTop uint, f, g []int8, depth int, t *ntruTmp) bool {
	tmp := t.w
	logn := lognTop - uint(depth)
	n := 1 << logn
	hn := n >> 1
	slen := maxBlSmall[depth]
	dlen := maxBlSmall[depth+1]
	llen := maxBlLarge[depth]

	// Previous result (Fd, Gd) is at the start; f, g at this depth go
	// after it.
	Fd := 0
	Gd := Fd + dlen*hn
	ft := Gd + dlen*hn
	makeFg(tmp[ft:], f, g, lognTop, depth, true)

	// Layout: Ft, Gt (n*llen each), then ft, gt (n*slen each), then Fd, Gd.
	Ft := 0
	Gt := Ft + n*llen
	t1 := Gt + n*llen
	copy(tmp[t1:t1+2*n*slen], tmp[ft:ft+2*n*slen])
	ft = t1
	gt := ft + slen*n
	t1 = gt + slen*n
	copy(tmp[t1:t1+2*hn*dlen], tmp[Fd:Fd+2*hn*dlen])
	Fd = t1
	Gd = Fd + hn*dlen

	// Reduce Fd and Gd modulo all primes we need.
	for u := 0; u < llen; u++ {
		p := smallPrimes[u].p
		p0i := modpNinv31(p)
		r2 := modpR2(p, p0i)
		rx := modpRx(uint(dlen), p, p0i, r2)
		for v, xs, ys, xd, yd := 0, Fd, Gd, Ft+u, Gt+u; v < hn; v, xs, ys, xd, yd = v+1, xs+dlen, ys+dlen, xd+llen, yd+llen {
			tmp[xd] = zintModSmallSigned(tmp[xs:], dlen, p, p0i, r2, rx)
			tmp[yd] = zintModSmallSigned(tmp[ys:], dlen, p, p0i, r2, rx)
		}
	}

	// Compute the unreduced F and G modulo each prime.
	for u := 0; u < llen; u++ {
		p := smallPrimes[u].p
		p0i := modpNinv31(p)
		r2 := modpR2(p, p0i)
		if u == slen {
			zintRebuildCRT(tmp[ft:], slen, slen, n, true, tmp[t1:])
			zintRebuildCRT(tmp[gt:], slen, slen, n, true, tmp[t1:])
		}
		gm := tmp[t1 : t1+n]
		igm := tmp[t1+n : t1+2*n]
		fx := tmp[t1+2*n : t1+3*n]
		gx := tmp[t1+3*n : t1+4*n]
		modpMkgm2(gm, igm, logn, smallPrimes[u].g, p, p0i)
		if u < slen {
			for v, x, y := 0, ft+u, gt+u; v < n; v, x, y = v+1, x+slen, y+slen {
				fx[v] = tmp[x]
				gx[v] = tmp[y]
			}
			modpINTT2Ext(tmp[ft+u:], slen, igm, logn, p, p0i)
			modpINTT2Ext(tmp[gt+u:], slen, igm, logn, p, p0i)
		} else {
			rx := modpRx(uint(slen), p, p0i, r2)
			for v, x, y := 0, ft, gt; v < n; v, x, y = v+1, x+slen, y+slen {
				fx[v] = zintModSmallSigned(tmp[x:], slen, p, p0i, r2, rx)
				gx[v] = zintModSmallSigned(tmp[y:], slen, p, p0i, r2, rx)
			}
			modpNTT2(fx, gm, logn, p, p0i)
			modpNTT2(gx, gm, logn, p, p0i)
		}
		Fp := tmp[t1+4*n : t1+4*n+hn]
		Gp := tmp[t1+4*n+hn : t1+4*n+n]
		for v, x, y := 0, Ft+u, Gt+u; v < hn; v, x, y = v+1, x+llen, y+llen {
			Fp[v] = tmp[x]
			Gp[v] = tmp[y]
		}
		modpNTT2(Fp, gm, logn-1, p, p0i)
		modpNTT2(Gp, gm, logn-1, p, p0i)
		liftFG(tmp, Ft+u, Gt+u, llen, hn, fx, gx, Fp, Gp, p, p0i, r2)
		modpINTT2Ext(tmp[Ft+u:], llen, igm, logn, p, p0i)
		modpINTT2Ext(tmp[Gt+u:], llen, igm, logn, p, p0i)
	}
	zintRebuildCRT(tmp[Ft:], llen, llen, n, true, tmp[t1:])
	zintRebuildCRT(tmp[Gt:], llen, llen, n, true, tmp[t1:])

	// Floating-point buffers: rt3, rt4 = f, g (FFT); rt5 = 1/(ff*+gg*);
	// rt1, rt2 = F, G approximations; k = the rounded quotient.
	rt3, o3 := t.fAt(t1)
	rt4 := rt3[n:]
	rt5 := rt4[n:]
	o1 := o3 + 2*(2*n+hn)
	rt1 := t.f[o1/2:]
	// The reference keeps k over the start of rt1 and uses the words after
	// k as scratch for the NTT-based subtraction; rt1 and rt2 are
	// recomputed on each iteration so that overlap is harmless. k itself is
	// kept in its own slice here.
	rt2, _ := t.fAt(o1 + 2*n)
	t1 = o1 + n
	k := make([]int32, n)

	rlen := slen
	if rlen > 10 {
		rlen = 10
	}
	polyBigToFp(rt3, tmp[ft+slen-rlen:], rlen, slen, logn)
	polyBigToFp(rt4, tmp[gt+slen-rlen:], rlen, slen, logn)

	scaleFg := 31 * (slen - rlen)
	minblFg := bitLength[depth].avg - 6*bitLength[depth].std
	maxblFg := bitLength[depth].avg + 6*bitLength[depth].std

	fft(rt3, logn)
	fft(rt4, logn)
	polyInvnorm2FFT(rt5, rt3, rt4, logn)
	polyAdjFFT(rt3, logn)
	polyAdjFFT(rt4, logn)

	FGlen := llen
	maxblFG := 31 * llen
	scaleK := maxblFG - minblFg

	for {
		rlen = FGlen
		if rlen > 10 {
			rlen = 10
		}
		scaleFG := 31 * (FGlen - rlen)
		polyBigToFp(rt1, tmp[Ft+FGlen-rlen:], rlen, llen, logn)
		polyBigToFp(rt2, tmp[Gt+FGlen-rlen:], rlen, llen, logn)

		fft(rt1, logn)
		fft(rt2, logn)
		polyMulFFT(rt1, rt3, logn)
		polyMulFFT(rt2, rt4, logn)
		polyAdd(rt2, rt1, logn)
		polyMulAutoadjFFT(rt2, rt5, logn)
		ifft(rt2, logn)

		// Scale by 2^-dc so that k fits in 31 bits; pdc is computed by
		// square-and-multiply exactly as in the reference.
		dc := scaleK - scaleFG + scaleFg
		var pt float64
		if dc < 0 {
			dc = -dc
			pt = 2.0
		} else {
			pt = 0.5
		}
		pdc := 1.0
		for dc != 0 {
			if dc&1 != 0 {
				pdc *= pt
			}
			dc >>= 1
			pt *= pt
		}
		for u := 0; u < n; u++ {
			xv := rt2[u] * pdc
			if !(fprMTwo31m1 < xv) || !(xv < fprPTwo31m1) {
				return false
			}
			k[u] = int32(fprRint(xv))
		}

		sch := uint32(scaleK / 31)
		scl := uint32(scaleK % 31)
		if depth <= depthIntFG {
			polySubScaledNTT(tmp[Ft:], FGlen, llen, tmp[ft:], slen, slen, k, sch, scl, logn, tmp[t1:])
			polySubScaledNTT(tmp[Gt:], FGlen, llen, tmp[gt:], slen, slen, k, sch, scl, logn, tmp[t1:])
		} else {
			polySubScaled(tmp[Ft:], FGlen, llen, tmp[ft:], slen, slen, k, sch, scl, logn)
			polySubScaled(tmp[Gt:], FGlen, llen, tmp[gt:], slen, slen, k, sch, scl, logn)
		}

		newMaxblFG := scaleK + maxblFg + 10
		if newMaxblFG < maxblFG {
			maxblFG = newMaxblFG
			if FGlen*31 >= maxblFG+31 {
				FGlen--
			}
		}
		if scaleK <= 0 {
			break
		}
		scaleK -= 25
		if scaleK < 0 {
			scaleK = 0
		}
	}
	clear(k)

	// Sign-extend F and G to slen limbs if they shrank below that.
	if FGlen < slen {
		for u, x, y := 0, Ft, Gt; u < n; u, x, y = u+1, x+llen, y+llen {
			sw := -(tmp[x+FGlen-1] >> 30) >> 1
			for v := FGlen; v < slen; v++ {
				tmp[x+v] = sw
			}
			sw = -(tmp[y+FGlen-1] >> 30) >> 1
			for v := FGlen; v < slen; v++ {
				tmp[y+v] = sw
			}
		}
	}

	// Compact to slen limbs per coefficient at the start of tmp.
	for u, x, y := 0, 0, 0; u < n<<1; u, x, y = u+1, x+slen, y+llen {
		copy(tmp[x:x+slen], tmp[y:y+slen])
	}
	return true
}
