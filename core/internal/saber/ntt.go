package saber

// Polynomial multiplication in Z_q[X]/(X^256+1) with q = 2^13 has no NTT of
// its own (q is a power of two), so products are computed over the integers
// and then reduced mod 2^13. The integer product is obtained with a
// negacyclic NTT modulo the prime
//
//	P = 536903681 = 2^29 + 2^15 + 1
//
// which is exact as long as every coefficient of the true integer result
// lies in [-P/2, P/2]. The bounds used by this package:
//
//   - A (or b) times a fresh binomial secret, summed over l terms:
//     |c| <= l * 256 * 8191 * mu/2 <= 25.2e6.
//   - Decryption multiplies the ciphertext vector by the secret read from
//     sk, both reduced to centred residues mod 2^10 (only the result mod
//     2^10 is needed there): |c| <= l * 256 * 512 * 512 <= 2^28 < P/2, for
//     any sk whatsoever.
//
// Coefficients are held in int64 with signed Montgomery multiplication
// (R = 2^32). montReduce is exact for any product below 2^62 in absolute
// value and returns at most |a|/2^32 + P/2, so values may grow lazily
// across layers; the few reductions needed are branch-free.

const (
	prime     = 536903681 // 2^29 + 2^15 + 1
	primeInv  = 536838145 // prime^-1 mod 2^32
	barrettV  = 524256    // round(2^48 / prime)
	invNScale = 134225920 // 2^64 / 256 mod prime: undoes the 1/256 and a Montgomery factor
	psi       = 475047723 // 7^((prime-1)/512), a primitive 512th root of unity
)

// nttPoly is a polynomial in the NTT domain (or on its way there).
type nttPoly [n]int64

// zetas[k] = psi^bitrev8(k) * 2^32 mod prime, centred; the order in which the
// butterflies below consume the twiddle factors.
var zetas = computeZetas()

func computeZetas() (z [n]int64) {
	const r = (1 << 32) % prime
	for k := range z {
		e := bitrev8(uint(k))
		v := powMod(psi, uint64(e)) * r % prime
		if v > prime/2 {
			z[k] = int64(v) - prime
		} else {
			z[k] = int64(v)
		}
	}
	return z
}

func bitrev8(k uint) uint {
	var r uint
	for i := 0; i < 8; i++ {
		r = r<<1 | (k>>i)&1
	}
	return r
}

func powMod(b, e uint64) uint64 {
	r := uint64(1)
	b %= prime
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = r * b % prime
		}
		b = b * b % prime
	}
	return r
}

// montReduce returns a residue of a * 2^-32 mod prime of absolute value at
// most |a|/2^32 + prime/2, for |a| < 2^63 - 2^61.
func montReduce(a int64) int64 {
	m := int32(a) * primeInv
	return (a - int64(m)*prime) >> 32
}

// barrettReduce returns a residue of a mod prime of absolute value at most
// prime/2 + 2^11, for |a| < 2^40.
func barrettReduce(a int64) int64 {
	t := (a*barrettV + 1<<47) >> 48
	return a - t*prime
}

// forward transforms f in place. Inputs must satisfy |f[i]| < 2^14. With
// p = prime, a layer whose inputs are bounded by B multiplies by twiddles of
// size at most p/2 and adds at most B/16 + p/2, so the bound goes
// 0.5p, 1.03p, 1.6p, ... and stays below 5p after all eight layers: no
// reduction is needed, and such an output times a reduced one (see reduce)
// is far below 2^63.
func (f *nttPoly) forward() {
	// Layers are processed two at a time (radix 4) so every value is loaded
	// and stored once per pair of layers. Layer m uses zetas[2^m + block].
	for m, length := 0, n/2; length > 2; m, length = m+2, length/4 {
		half := length / 2
		for b, start := 0, 0; start < n; b, start = b+1, start+2*length {
			z1 := zetas[1<<m+b]
			z2 := zetas[2<<m+2*b]
			z3 := zetas[2<<m+2*b+1]
			q0 := f[start : start+half]
			q1 := f[start+half : start+length][:len(q0)]
			q2 := f[start+length : start+length+half][:len(q0)]
			q3 := f[start+length+half : start+2*length][:len(q0)]
			for j, a0 := range q0 {
				// Two layers of Cooley-Tukey butterflies: (a0,a2) and
				// (a1,a3) with z1, then (a0,a1) with z2 and (a2,a3) with
				// z3. Spelled out here and below because a helper would be
				// too large for the inliner.
				a1, a2, a3 := q1[j], q2[j], q3[j]
				t := montReduce(z1 * a2)
				a2 = a0 - t
				a0 += t
				t = montReduce(z1 * a3)
				a3 = a1 - t
				a1 += t
				t = montReduce(z2 * a1)
				q1[j] = a0 - t
				q0[j] = a0 + t
				t = montReduce(z3 * a3)
				q3[j] = a2 - t
				q2[j] = a2 + t
			}
		}
	}
	// The last two layers work on groups of four adjacent coefficients.
	z1s := zetas[64:128]
	z2s := zetas[128:256]
	for b, zz := range z1s {
		z1, z2, z3 := zz, z2s[2*b], z2s[2*b+1]
		q := f[4*b : 4*b+4]
		a0, a1, a2, a3 := q[0], q[1], q[2], q[3]
		t := montReduce(z1 * a2)
		a2 = a0 - t
		a0 += t
		t = montReduce(z1 * a3)
		a3 = a1 - t
		a1 += t
		t = montReduce(z2 * a1)
		q[1] = a0 - t
		q[0] = a0 + t
		t = montReduce(z3 * a3)
		q[3] = a2 - t
		q[2] = a2 + t
	}
}

// reduce brings every coefficient to a residue of absolute value below
// prime (about prime/2).
func (f *nttPoly) reduce() {
	for i := range f {
		f[i] = barrettReduce(f[i])
	}
}

// inverse undoes forward and removes the Montgomery factor that mulAcc
// introduced, so the result is the plain product mod prime, in
// (-2*prime, 2*prime). Inputs must satisfy |f[i]| < 4*prime (a sum of up to
// four mulAcc terms, each below 0.82*prime).
//
// Gentleman-Sande butterflies map (lo, hi) to (lo+hi, zeta*(lo-hi)): the
// product side is Montgomery-reduced while the sum side doubles. Layers go
// two at a time. The sums are Barrett-reduced in layers 0 and 3, which keeps
// every value below 16*prime and every product below 8*prime^2 < 2^62.
func (f *nttPoly) inverse() {
	f.invFirstPass()
	f.invMiddlePass(4, true)
	f.invMiddlePass(16, false)
	f.invLastPass()
}

// gsZetas returns the twiddle factors of one radix-4 step: layer length
// uses za for the first block pair and zb for the second, layer 2*length
// uses zc. Block s is the s-th group of 4*length coefficients.
func gsZetas(length, s int) (za, zb, zc int64) {
	return -zetas[n/length-1-2*s], -zetas[n/length-2-2*s], -zetas[n/2/length-1-s]
}

// invFirstPass runs layers 0 and 1 on groups of four adjacent coefficients,
// reducing the layer-0 sums of the (up to 4p) inputs.
func (f *nttPoly) invFirstPass() {
	for s := 0; s < n/4; s++ {
		za, zb, zc := gsZetas(1, s)
		q := f[4*s : 4*s+4]
		a0, a1, a2, a3 := q[0], q[1], q[2], q[3]
		a0, a1 = barrettReduce(a0+a1), montReduce(za*(a0-a1))
		a2, a3 = barrettReduce(a2+a3), montReduce(zb*(a2-a3))
		q[0], q[2] = a0+a2, montReduce(zc*(a0-a2))
		q[1], q[3] = a1+a3, montReduce(zc*(a1-a3))
	}
}

// invMiddlePass runs layers length and 2*length, optionally reducing the
// second layer's sums.
func (f *nttPoly) invMiddlePass(length int, reduceSums bool) {
	for s, start := 0, 0; start < n; s, start = s+1, start+4*length {
		za, zb, zc := gsZetas(length, s)
		q0 := f[start : start+length]
		q1 := f[start+length : start+2*length][:len(q0)]
		q2 := f[start+2*length : start+3*length][:len(q0)]
		q3 := f[start+3*length : start+4*length][:len(q0)]
		for j, a0 := range q0 {
			a1, a2, a3 := q1[j], q2[j], q3[j]
			a0, a1 = a0+a1, montReduce(za*(a0-a1))
			a2, a3 = a2+a3, montReduce(zb*(a2-a3))
			q2[j] = montReduce(zc * (a0 - a2))
			q3[j] = montReduce(zc * (a1 - a3))
			a0 += a2
			a1 += a3
			if reduceSums { // public, loop-invariant
				a0, a1 = barrettReduce(a0), barrettReduce(a1)
			}
			q0[j], q1[j] = a0, a1
		}
	}
}

// invLastPass runs layers 6 and 7 and folds in the final scaling by
// 2^64/256, multiplying the last sums and differences straight by the
// scale factor (and the scaled twiddle) instead of adding a separate pass.
func (f *nttPoly) invLastPass() {
	const length = n / 4
	za, zb, zc := gsZetas(length, 0)
	zcScaled := centre(montReduce(zc * invNScale))
	q0 := f[0:length]
	q1 := f[length : 2*length][:len(q0)]
	q2 := f[2*length : 3*length][:len(q0)]
	q3 := f[3*length : 4*length][:len(q0)]
	for j, a0 := range q0 {
		a1, a2, a3 := q1[j], q2[j], q3[j]
		a0, a1 = a0+a1, montReduce(za*(a0-a1))
		a2, a3 = a2+a3, montReduce(zb*(a2-a3))
		q0[j] = montReduce(invNScale * (a0 + a2))
		q2[j] = montReduce(zcScaled * (a0 - a2))
		q1[j] = montReduce(invNScale * (a1 + a3))
		q3[j] = montReduce(zcScaled * (a1 - a3))
	}
}

// mulAcc adds the pointwise product a*b (times 2^-32) to acc.
func (acc *nttPoly) mulAcc(a, b *nttPoly) {
	for i := range acc {
		acc[i] += montReduce(a[i] * b[i])
	}
}

// centre maps a residue x in (-2*prime, 2*prime) to the representative in
// [-prime/2, prime/2], which equals the true integer coefficient when that is
// known to lie in the range. Branch-free.
func centre(x int64) int64 {
	x += (x >> 63) & prime               // now in (-prime, 2*prime)
	x += (x >> 63) & prime               // now in [0, 2*prime)
	x -= ((prime - 1 - x) >> 63) & prime // now in [0, prime)
	x -= ((prime/2 - x) >> 63) & prime   // above prime/2: subtract prime
	return x
}

// loadSigned copies a polynomial of 16-bit two's complement coefficients in
// (-2^14, 2^14) into f.
func (f *nttPoly) loadSigned(src *[n]uint16) {
	for i, v := range src {
		f[i] = int64(int16(v))
	}
}

// secretToNTT transforms a signed polynomial and reduces the result: the
// reduced side of every pointwise product in this package is a secret, whose
// transform is reused across a whole row or column.
func secretToNTT(dst *nttPoly, src *[n]uint16) {
	dst.loadSigned(src)
	dst.forward()
	dst.reduce()
}

// fromNTT inverts acc and stores the exact integer result mod 2^16; callers
// mask the bits they need.
func fromNTT(dst *[n]uint16, acc *nttPoly) {
	acc.inverse()
	for i, v := range acc {
		dst[i] = uint16(centre(v))
	}
}
