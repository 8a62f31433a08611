package saber

import "crypto/sha3"

// The IND-CPA public-key encryption scheme underneath the KEM. Polynomials
// mod 2^13 live in [n]uint16 and wrap mod 2^16 like the reference; only the
// low bits that each rounding step reads are ever used, so the wrap is
// harmless.

const (
	// h1 rounds to nearest when dropping logQ-logP bits.
	h1    = 1 << (logQ - logP - 1)
	maskQ = 1<<logQ - 1
	maskP = 1<<logP - 1
)

// h2 is the decryption rounding constant for eps_T = logT.
func h2(logT uint) uint16 {
	return 1<<(logP-2) - 1<<(logP-logT-1) + 1<<(logQ-logP-1)
}

// genSecret expands a noise seed into l binomial polynomials.
func (p *Params) genSecret(s [][n]uint16, seed []byte) {
	buf := sha3.SumSHAKE128(seed, p.l*p.coinBytes())
	for i := range s {
		sampleCBD(&s[i], buf[i*p.coinBytes():], p.mu)
	}
	clear(buf)
}

// matrixMulAcc streams the l*l matrix A from SHAKE-128(seedA), one
// polynomial at a time in the reference's row-major order, and adds A*s (or
// A^T*s when transpose is set) into acc, all in the NTT domain.
func (p *Params) matrixMulAcc(acc, s []nttPoly, seedA []byte, transpose bool) {
	xof := sha3.NewSHAKE128()
	xof.Write(seedA)
	var buf [polyQBytes]byte
	var aHat nttPoly
	for i := 0; i < p.l; i++ {
		for j := 0; j < p.l; j++ {
			xof.Read(buf[:])
			unpack13((*[n]int64)(&aHat), buf[:])
			aHat.forward()
			if transpose {
				acc[j].mulAcc(&aHat, &s[i])
			} else {
				acc[i].mulAcc(&aHat, &s[j])
			}
		}
	}
}

// roundToP turns a product mod 2^13 into a 10-bit value and packs it.
func roundToP(out []byte, acc *nttPoly) {
	var b [n]uint16
	fromNTT(&b, acc)
	for i := range b {
		b[i] = ((b[i]&maskQ + h1) >> (logQ - logP)) & maskP
	}
	pack10(out, &b)
	clear(b[:])
}

// cpaKeyGen writes the IND-CPA public key (packed b, seedA) to pk and the
// 13-bit packed secret to sk.
func (p *Params) cpaKeyGen(pk, sk, seedA, noiseSeed []byte) {
	var s [maxL][n]uint16
	var sHat, acc [maxL]nttPoly
	l := p.l
	p.genSecret(s[:l], noiseSeed)
	for i := 0; i < l; i++ {
		secretToNTT(&sHat[i], &s[i])
	}
	p.matrixMulAcc(acc[:l], sHat[:l], seedA, true)
	for i := 0; i < l; i++ {
		roundToP(pk[i*polyPBytes:(i+1)*polyPBytes], &acc[i])
		packBits(sk[i*polyQBytes:(i+1)*polyQBytes], s[i][:], logQ)
	}
	copy(pk[l*polyPBytes:], seedA)
	clear(s[:])
	clear(sHat[:])
	clear(acc[:])
}

// cpaEncrypt encrypts the 32-byte message m under pk with the noise seed
// coins, writing the ciphertext to ct.
func (p *Params) cpaEncrypt(ct, m, coins, pk []byte) {
	var sp [maxL][n]uint16
	var spHat, acc [maxL]nttPoly
	l := p.l
	p.genSecret(sp[:l], coins)
	for i := 0; i < l; i++ {
		secretToNTT(&spHat[i], &sp[i])
	}
	p.matrixMulAcc(acc[:l], spHat[:l], pk[l*polyPBytes:], false)
	for i := 0; i < l; i++ {
		roundToP(ct[i*polyPBytes:(i+1)*polyPBytes], &acc[i])
	}

	// v' = <b, s'> mod 2^10, then hide m in its top bit and keep eps_T bits.
	var bHat, vAcc nttPoly
	for i := 0; i < l; i++ {
		unpack10((*[n]int64)(&bHat), pk[i*polyPBytes:])
		bHat.forward()
		vAcc.mulAcc(&bHat, &spHat[i])
	}
	var v [n]uint16
	fromNTT(&v, &vAcc)
	logT := p.logT
	for i := range v {
		bit := uint16(m[i/8]>>(i%8)) & 1
		v[i] = ((v[i] - bit<<(logP-1) + h1) >> (logP - logT)) & (1<<logT - 1)
	}
	packBits(ct[l*polyPBytes:], v[:], logT)

	clear(sp[:])
	clear(spHat[:])
	clear(acc[:])
	clear(vAcc[:])
	clear(v[:])
}

// cpaDecrypt recovers the 32-byte message from ct with the packed secret sk.
func (p *Params) cpaDecrypt(m, sk, ct []byte) {
	var v [n]uint16
	p.decInnerProduct(&v, sk, ct)

	var cm [n]uint16
	logT := p.logT
	unpackBits(cm[:], ct[p.l*polyPBytes:], logT)
	c := h2(logT)
	for i := range v {
		v[i] = ((v[i] + c - cm[i]<<(logP-logT)) >> (logP - 1)) & 1
	}
	packBits(m, v[:], 1)
	clear(v[:])
}

// decInnerProduct sets v to <b', s> mod 2^10, b' from ct and s from sk.
//
// Only v mod 2^10 is used, so both factors are first reduced to centred
// residues mod 2^10; the integer sum is then at most l*256*512*512 <= 2^28
// in absolute value, inside the NTT's exact range, for any sk of the right
// length (the binomial secrets of a real key are at most 5 anyway).
func (p *Params) decInnerProduct(v *[n]uint16, sk, ct []byte) {
	var sHat, bHat, prod nttPoly
	for i := 0; i < p.l; i++ {
		unpack13((*[n]int64)(&sHat), sk[i*polyQBytes:])
		sHat.centreModP()
		sHat.forward()
		sHat.reduce()
		unpack10((*[n]int64)(&bHat), ct[i*polyPBytes:])
		bHat.centreModP()
		bHat.forward()
		prod.mulAcc(&bHat, &sHat)
	}
	prod.inverse()
	for j, x := range prod {
		v[j] = uint16(centre(x))
	}
	clear(sHat[:])
	clear(prod[:])
}

// centreModP replaces every coefficient (unpacked, so in [0, 2^13)) by its
// residue mod 2^10 in [-512, 511]. Branch-free: a shift pair sign-extends
// bit 9.
func (f *nttPoly) centreModP() {
	for i, x := range f {
		f[i] = (x << (64 - logP)) >> (64 - logP)
	}
}
