package falcon

// solveNTRUBinaryDepth1 is the lift from depth 2 to depth 1 specialised
// for the binary case: f and g at depth 1 are recomputed from the top
// level, F and G are reduced once with a full floating-point Babai step
// (their coefficients fit in float64 at that depth), and the result is
// left as one-limb integers.
func solveNTRUBinaryDepth1(lognTop uint, f, g []int8, t *ntruTmp) bool {
	tmp := t.w
	const depth = 1
	nTop := 1 << lognTop
	logn := lognTop - depth
	n := 1 << logn
	hn := n >> 1
	slen := maxBlSmall[depth]
	dlen := maxBlSmall[depth+1]
	llen := maxBlLarge[depth]

	Fd := 0
	Gd := Fd + dlen*hn
	Ft := Gd + dlen*hn
	Gt := Ft + llen*n

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

	copy(tmp[0:llen*n], tmp[Ft:Ft+llen*n])
	Ft = 0
	copy(tmp[Ft+llen*n:Ft+2*llen*n], tmp[Gt:Gt+llen*n])
	Gt = Ft + llen*n
	ft := Gt + llen*n
	gt := ft + slen*n
	t1 := gt + slen*n

	for u := 0; u < llen; u++ {
		p := smallPrimes[u].p
		p0i := modpNinv31(p)
		r2 := modpR2(p, p0i)

		gm := t1
		igm := gm + nTop
		fx := igm + n
		gx := fx + nTop
		modpMkgm2(tmp[gm:gm+nTop], tmp[igm:igm+nTop], lognTop, smallPrimes[u].g, p, p0i)
		for v := 0; v < nTop; v++ {
			tmp[fx+v] = modpSet(int32(f[v]), p)
			tmp[gx+v] = modpSet(int32(g[v]), p)
		}
		modpNTT2(tmp[fx:], tmp[gm:], lognTop, p, p0i)
		modpNTT2(tmp[gx:], tmp[gm:], lognTop, p, p0i)
		for e := lognTop; e > logn; e-- {
			modpPolyRecRes(tmp[fx:], e, p, p0i, r2)
			modpPolyRecRes(tmp[gx:], e, p, p0i, r2)
		}

		// Compact the tables: only the first n entries of igm are needed.
		copy(tmp[gm+n:gm+2*n], tmp[igm:igm+n])
		igm = gm + n
		copy(tmp[igm+n:igm+2*n], tmp[fx:fx+n])
		fx = igm + n
		copy(tmp[fx+n:fx+2*n], tmp[gx:gx+n])
		gx = fx + n

		Fp := gx + n
		Gp := Fp + hn
		for v, x, y := 0, Ft+u, Gt+u; v < hn; v, x, y = v+1, x+llen, y+llen {
			tmp[Fp+v] = tmp[x]
			tmp[Gp+v] = tmp[y]
		}
		modpNTT2(tmp[Fp:Fp+hn], tmp[gm:], logn-1, p, p0i)
		modpNTT2(tmp[Gp:Gp+hn], tmp[gm:], logn-1, p, p0i)
		liftFG(tmp, Ft+u, Gt+u, llen, hn, tmp[fx:fx+n], tmp[gx:gx+n], tmp[Fp:Fp+hn], tmp[Gp:Gp+hn], p, p0i, r2)
		modpINTT2Ext(tmp[Ft+u:], llen, tmp[igm:], logn, p, p0i)
		modpINTT2Ext(tmp[Gt+u:], llen, tmp[igm:], logn, p, p0i)

		if u < slen {
			modpINTT2(tmp[fx:fx+n], tmp[igm:], logn, p, p0i)
			modpINTT2(tmp[gx:gx+n], tmp[igm:], logn, p, p0i)
			for v, x, y := 0, ft+u, gt+u; v < n; v, x, y = v+1, x+slen, y+slen {
				tmp[x] = tmp[fx+v]
				tmp[y] = tmp[gx+v]
			}
		}
	}

	// Ft and Gt are adjacent, as are ft and gt: rebuild each pair at once.
	zintRebuildCRT(tmp[Ft:], llen, llen, n<<1, true, tmp[t1:])
	zintRebuildCRT(tmp[ft:], slen, slen, n<<1, true, tmp[t1:])

	// Convert to floating point, moving things around exactly as the
	// reference does (the buffers overlap).
	rt1, o1 := t.fAt(gt + slen*n)
	rt2 := rt1[n:]
	polyBigToFp(rt1, tmp[Ft:], llen, llen, logn)
	polyBigToFp(rt2, tmp[Gt:], llen, llen, logn)

	copy(tmp[0:2*slen*n], tmp[ft:ft+2*slen*n])
	ft = 0
	gt = ft + slen*n
	rt3, o3 := t.fAt(gt + slen*n)
	copy(t.f[o3/2:o3/2+2*n], t.f[o1/2:o1/2+2*n])
	rt1 = rt3
	rt2 = rt1[n:]
	rt3 = rt2[n:]
	rt4 := rt3[n:]
	polyBigToFp(rt3, tmp[ft:], slen, slen, logn)
	polyBigToFp(rt4, tmp[gt:], slen, slen, logn)

	copy(t.f[0:4*n], t.f[o3/2:o3/2+4*n])
	rt1 = t.f[0:]
	rt2 = t.f[n:]
	rt3 = t.f[2*n:]
	rt4 = t.f[3*n:]

	fft(rt1, logn)
	fft(rt2, logn)
	fft(rt3, logn)
	fft(rt4, logn)
	rt5 := t.f[4*n:]
	rt6 := t.f[5*n:]
	polyAddMuladjFFT(rt5, rt1, rt2, rt3, rt4, logn)
	polyInvnorm2FFT(rt6, rt3, rt4, logn)
	polyMulAutoadjFFT(rt5, rt6, logn)
	ifft(rt5, logn)
	for u := 0; u < n; u++ {
		z := rt5[u]
		if !(z < fprPTwo63m1) || !(fprMTwo63m1 < z) {
			return false
		}
		rt5[u] = float64(fprRint(z))
	}
	fft(rt5, logn)
	polyMulFFT(rt3, rt5, logn)
	polyMulFFT(rt4, rt5, logn)
	polySub(rt1, rt3, logn)
	polySub(rt2, rt4, logn)
	ifft(rt1, logn)
	ifft(rt2, logn)

	Ft = 0
	Gt = Ft + n
	_, o3 = t.fAt(Gt + n)
	copy(t.f[o3/2:o3/2+2*n], t.f[0:2*n])
	rt1 = t.f[o3/2:]
	rt2 = rt1[n:]
	for u := 0; u < n; u++ {
		tmp[Ft+u] = uint32(fprRint(rt1[u]))
		tmp[Gt+u] = uint32(fprRint(rt2[u]))
	}
	return true
}

// solveNTRUBinaryDepth0 finishes at the top level: the unreduced F, G are
// computed modulo a single prime (the final values are small), and one
// Babai step is done with k = round((F*adj(f) + G*adj(g)) / (f*adj(f) +
// g*adj(g))), where the numerator and denominator are computed exactly mod
// p and then converted to floating point.
func solveNTRUBinaryDepth0(logn uint, f, g []int8, t *ntruTmp) bool {
	tmp := t.w
	n := 1 << logn
	hn := n >> 1
	p := smallPrimes[0].p
	p0i := modpNinv31(p)
	r2 := modpR2(p, p0i)

	Fp := 0
	Gp := Fp + hn
	ft := Gp + hn
	gt := ft + n
	gm := gt + n
	igm := gm + n
	modpMkgm2(tmp[gm:gm+n], tmp[igm:igm+n], logn, smallPrimes[0].g, p, p0i)

	for u := 0; u < hn; u++ {
		tmp[Fp+u] = modpSet(zintOneToPlain(tmp[Fp+u]), p)
		tmp[Gp+u] = modpSet(zintOneToPlain(tmp[Gp+u]), p)
	}
	modpNTT2(tmp[Fp:Fp+hn], tmp[gm:], logn-1, p, p0i)
	modpNTT2(tmp[Gp:Gp+hn], tmp[gm:], logn-1, p, p0i)

	for u := 0; u < n; u++ {
		tmp[ft+u] = modpSet(int32(f[u]), p)
		tmp[gt+u] = modpSet(int32(g[u]), p)
	}
	modpNTT2(tmp[ft:ft+n], tmp[gm:], logn, p, p0i)
	modpNTT2(tmp[gt:gt+n], tmp[gm:], logn, p, p0i)

	for u := 0; u < n; u += 2 {
		ftA := tmp[ft+u]
		ftB := tmp[ft+u+1]
		gtA := tmp[gt+u]
		gtB := tmp[gt+u+1]
		mFp := modpMontymul(tmp[Fp+(u>>1)], r2, p, p0i)
		mGp := modpMontymul(tmp[Gp+(u>>1)], r2, p, p0i)
		tmp[ft+u] = modpMontymul(gtB, mFp, p, p0i)
		tmp[ft+u+1] = modpMontymul(gtA, mFp, p, p0i)
		tmp[gt+u] = modpMontymul(ftB, mGp, p, p0i)
		tmp[gt+u+1] = modpMontymul(ftA, mGp, p, p0i)
	}
	modpINTT2(tmp[ft:ft+n], tmp[igm:], logn, p, p0i)
	modpINTT2(tmp[gt:gt+n], tmp[igm:], logn, p, p0i)

	// Now F at Fp (n words), G at Gp = Fp+n.
	Gp = Fp + n
	t1 := Gp + n
	copy(tmp[Fp:Fp+2*n], tmp[ft:ft+2*n])
	t2 := t1 + n
	t3 := t2 + n
	t4 := t3 + n
	t5 := t4 + n

	// Numerator F*adj(f) + G*adj(g) (in t2) and denominator
	// f*adj(f) + g*adj(g) (in t3), mod p.
	modpMkgm2(tmp[t1:t1+n], tmp[t2:t2+n], logn, smallPrimes[0].g, p, p0i)
	modpNTT2(tmp[Fp:Fp+n], tmp[t1:], logn, p, p0i)
	modpNTT2(tmp[Gp:Gp+n], tmp[t1:], logn, p, p0i)

	adjoint := func(s []int8) {
		tmp[t4] = modpSet(int32(s[0]), p)
		tmp[t5] = tmp[t4]
		for u := 1; u < n; u++ {
			tmp[t4+u] = modpSet(int32(s[u]), p)
			tmp[t5+n-u] = modpSet(-int32(s[u]), p)
		}
		modpNTT2(tmp[t4:t4+n], tmp[t1:], logn, p, p0i)
		modpNTT2(tmp[t5:t5+n], tmp[t1:], logn, p, p0i)
	}
	adjoint(f)
	for u := 0; u < n; u++ {
		w := modpMontymul(tmp[t5+u], r2, p, p0i)
		tmp[t2+u] = modpMontymul(w, tmp[Fp+u], p, p0i)
		tmp[t3+u] = modpMontymul(w, tmp[t4+u], p, p0i)
	}
	adjoint(g)
	for u := 0; u < n; u++ {
		w := modpMontymul(tmp[t5+u], r2, p, p0i)
		tmp[t2+u] = modpAdd(tmp[t2+u], modpMontymul(w, tmp[Gp+u], p, p0i), p)
		tmp[t3+u] = modpAdd(tmp[t3+u], modpMontymul(w, tmp[t4+u], p, p0i), p)
	}

	modpMkgm2(tmp[t1:t1+n], tmp[t4:t4+n], logn, smallPrimes[0].g, p, p0i)
	modpINTT2(tmp[t2:t2+n], tmp[t4:], logn, p, p0i)
	modpINTT2(tmp[t3:t3+n], tmp[t4:], logn, p, p0i)
	for u := 0; u < n; u++ {
		tmp[t1+u] = uint32(modpNorm(tmp[t2+u], p))
		tmp[t2+u] = uint32(modpNorm(tmp[t3+u], p))
	}

	// Denominator (auto-adjoint) to FFT; keep only its real half.
	rt3, o3 := t.fAt(t3)
	for u := 0; u < n; u++ {
		rt3[u] = float64(int32(tmp[t2+u]))
	}
	fft(rt3, logn)
	rt2, o2 := t.fAt(t2)
	copy(rt2[:hn], t.f[o3/2:o3/2+hn])
	rt3 = t.f[o2/2+hn:]
	for u := 0; u < n; u++ {
		rt3[u] = float64(int32(tmp[t1+u]))
	}
	fft(rt3, logn)
	polyDivAutoadjFFT(rt3, rt2, logn)
	ifft(rt3, logn)
	for u := 0; u < n; u++ {
		tmp[t1+u] = modpSet(int32(fprRint(rt3[u])), p)
	}

	// (F, G) -= k*(f, g) mod p; the results are small, so normalising to
	// the signed range gives the true values.
	t2 = t1 + n
	t3 = t2 + n
	t4 = t3 + n
	t5 = t4 + n
	modpMkgm2(tmp[t2:t2+n], tmp[t3:t3+n], logn, smallPrimes[0].g, p, p0i)
	for u := 0; u < n; u++ {
		tmp[t4+u] = modpSet(int32(f[u]), p)
		tmp[t5+u] = modpSet(int32(g[u]), p)
	}
	modpNTT2(tmp[t1:t1+n], tmp[t2:], logn, p, p0i)
	modpNTT2(tmp[t4:t4+n], tmp[t2:], logn, p, p0i)
	modpNTT2(tmp[t5:t5+n], tmp[t2:], logn, p, p0i)
	for u := 0; u < n; u++ {
		kw := modpMontymul(tmp[t1+u], r2, p, p0i)
		tmp[Fp+u] = modpSub(tmp[Fp+u], modpMontymul(kw, tmp[t4+u], p, p0i), p)
		tmp[Gp+u] = modpSub(tmp[Gp+u], modpMontymul(kw, tmp[t5+u], p, p0i), p)
	}
	modpINTT2(tmp[Fp:Fp+n], tmp[t3:], logn, p, p0i)
	modpINTT2(tmp[Gp:Gp+n], tmp[t3:], logn, p, p0i)
	for u := 0; u < n; u++ {
		tmp[Fp+u] = uint32(modpNorm(tmp[Fp+u], p))
		tmp[Gp+u] = uint32(modpNorm(tmp[Gp+u], p))
	}
	return true
}

// solveNTRU computes F and G (coefficients within [-lim, lim]) and checks
// the NTRU equation mod one prime.
func solveNTRU(logn uint, F, G, f, g []int8, lim int32, t *ntruTmp) bool {
	n := 1 << logn
	if !solveNTRUDeepest(logn, f, g, t.w) {
		return false
	}
	if logn <= 2 {
		for depth := int(logn) - 1; depth >= 0; depth-- {
			if !solveNTRUIntermediate(logn, f, g, depth, t) {
				return false
			}
		}
	} else {
		for depth := int(logn) - 1; depth >= 2; depth-- {
			if !solveNTRUIntermediate(logn, f, g, depth, t) {
				return false
			}
		}
		if !solveNTRUBinaryDepth1(logn, f, g, t) {
			return false
		}
		if !solveNTRUBinaryDepth0(logn, f, g, t) {
			return false
		}
	}
	tmp := t.w
	// Convert both before judging, so timing does not say which one failed.
	okF := polyBigToSmall(F, tmp[0:n], lim, logn)
	okG := polyBigToSmall(G, tmp[n:2*n], lim, logn)
	if !okF || !okG {
		return false
	}

	// Check f*G - g*F = q modulo the first prime.
	Gt := tmp[0:n]
	ft := tmp[n : 2*n]
	gt := tmp[2*n : 3*n]
	Ft := tmp[3*n : 4*n]
	gm := tmp[4*n : 5*n]
	p := smallPrimes[0].p
	p0i := modpNinv31(p)
	modpMkgm2(gm, tmp[0:n], logn, smallPrimes[0].g, p, p0i)
	for u := 0; u < n; u++ {
		Gt[u] = modpSet(int32(G[u]), p)
	}
	for u := 0; u < n; u++ {
		ft[u] = modpSet(int32(f[u]), p)
		gt[u] = modpSet(int32(g[u]), p)
		Ft[u] = modpSet(int32(F[u]), p)
	}
	modpNTT2(ft, gm, logn, p, p0i)
	modpNTT2(gt, gm, logn, p, p0i)
	modpNTT2(Ft, gm, logn, p, p0i)
	modpNTT2(Gt, gm, logn, p, p0i)
	r := modpMontymul(12289, 1, p, p0i)
	var diff uint32
	for u := 0; u < n; u++ {
		z := modpSub(modpMontymul(ft[u], Gt[u], p, p0i), modpMontymul(gt[u], Ft[u], p, p0i), p)
		diff |= z ^ r
	}
	return diff == 0
}
