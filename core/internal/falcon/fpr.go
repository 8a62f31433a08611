package falcon

import (
	"math"
	"math/bits"
)

// Floating-point helpers.
//
// Falcon's reference code is specified on IEEE-754 binary64 with
// round-to-nearest-even and no fused multiply-add. Go may fuse x*y+z on some
// architectures (arm64, ppc64le, s390x) unless the product is explicitly
// converted, so every product that feeds an addition or subtraction in this
// package is written as float64(x*y).

// Constants, given as exact bit patterns so that they match the reference
// tables to the last bit.
var (
	fprQ             = math.Float64frombits(4667981563525332992) // 12289
	fprInverseOfQ    = math.Float64frombits(4545632735260551042) // 1/12289
	fprInv2SqrSigma0 = math.Float64frombits(4594603506513722306) // 1/(2*1.8205^2)
	fprLog2          = math.Float64frombits(4604418534313441775)
	fprInvLog2       = math.Float64frombits(4609176140021203710)
	fprBnormMax      = math.Float64frombits(4670353323383631276)
	fprInvSqrt2      = math.Float64frombits(4604544271217802189)
	fprInvSqrt8      = math.Float64frombits(4600040671590431693)
	fprPTwo31        = math.Float64frombits(4746794007248502784)
	fprPTwo31m1      = math.Float64frombits(4746794007244308480)
	fprMTwo31m1      = math.Float64frombits(13970166044099084288)
	fprPTwo63m1      = math.Float64frombits(4890909195324358656)
	fprMTwo63m1      = math.Float64frombits(14114281232179134464)
	fprPTwo63        = math.Float64frombits(4890909195324358656)
)

// fprInvSigma[logn] is 1/sigma for the round-3 per-degree sigma.
var fprInvSigma = [11]float64{
	0,
	math.Float64frombits(4574611497772390042),
	math.Float64frombits(4574501679055810265),
	math.Float64frombits(4574396282908341804),
	math.Float64frombits(4574245855758572086),
	math.Float64frombits(4574103865040221165),
	math.Float64frombits(4573969550563515544),
	math.Float64frombits(4573842244705920822),
	math.Float64frombits(4573721358406441454),
	math.Float64frombits(4573606369665796042),
	math.Float64frombits(4573496814039276259),
}

// fprSigmaMin[logn] is the round-3 sigma_min.
var fprSigmaMin = [11]float64{
	0,
	math.Float64frombits(4607707126469777035),
	math.Float64frombits(4607777455861499430),
	math.Float64frombits(4607846828256951418),
	math.Float64frombits(4607949175006100261),
	math.Float64frombits(4608049571757433526),
	math.Float64frombits(4608148125896792003),
	math.Float64frombits(4608244935301382692),
	math.Float64frombits(4608340089478362016),
	math.Float64frombits(4608433670533905013),
	math.Float64frombits(4608525754002622308),
}

// fprP2[logn] is 2^(1-logn), the iFFT normalisation factor.
var fprP2 = [11]float64{2, 1, 0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625, 0.001953125}

// gmTab is the FFT twiddle table as float64 values.
var gmTab = func() []float64 {
	t := make([]float64, len(gmTabBits))
	for i, b := range gmTabBits {
		t[i] = math.Float64frombits(b)
	}
	return t
}()

// The three rounding helpers below work on the bit pattern, without
// data-dependent branches, because their inputs are secret in the sampler
// and in key generation. They are valid for |x| < 2^63.

func ursh(x uint64, n int) uint64 {
	x ^= (x ^ (x >> 32)) & -uint64(n>>5)
	return x >> uint(n&31)
}

func irsh(x int64, n int) int64 {
	x ^= (x ^ (x >> 32)) & -int64(n>>5)
	return x >> uint(n&31)
}

func ulsh(x uint64, n int) uint64 {
	x ^= (x ^ (x << 32)) & -uint64(n>>5)
	return x << uint(n&31)
}

// fprRint rounds to the nearest integer, ties to even.
func fprRint(f float64) int64 {
	x := math.Float64bits(f)
	m := ((x << 10) | (1 << 62)) & ((1 << 63) - 1)
	e := 1085 - (int(x>>52) & 0x7FF)
	m &= -uint64(uint32(e-64) >> 31)
	e &= 63
	d := ulsh(m, 63-e)
	dd := uint32(d) | (uint32(d>>32) & 0x1FFFFFFF)
	fl := uint32(d>>61) | ((dd | -dd) >> 31)
	m = ursh(m, e) + uint64((0xC8>>fl)&1)
	s := uint64(x >> 63)
	return (int64(m) ^ -int64(s)) + int64(s)
}

// fprFloor rounds towards minus infinity.
func fprFloor(f float64) int64 {
	x := math.Float64bits(f)
	e := int(x>>52) & 0x7FF
	t := x >> 63
	xi := int64(((x << 10) | (1 << 62)) & ((1 << 63) - 1))
	xi = (xi ^ -int64(t)) + int64(t)
	cc := 1085 - e
	xi = irsh(xi, cc&63)
	xi ^= (xi ^ -int64(t)) & -int64(uint32(63-cc)>>31)
	return xi
}

// fprTrunc rounds towards zero.
func fprTrunc(f float64) int64 {
	x := math.Float64bits(f)
	e := int(x>>52) & 0x7FF
	xu := ((x << 10) | (1 << 62)) & ((1 << 63) - 1)
	cc := 1085 - e
	xu = ursh(xu, cc&63)
	xu &= -uint64(uint32(cc-64) >> 31)
	t := x >> 63
	xu = (xu ^ -t) + t
	return int64(xu)
}

// mulhi64 returns the high 64 bits of z*y. The reference assembles this
// from 32-bit limb products; the result is the same exact value, and
// bits.Mul64 compiles to a single constant-time instruction on 64-bit
// targets.
func mulhi64(z, y uint64) uint64 {
	hi, _ := bits.Mul64(z, y)
	return hi
}

// expmP63 returns 2^63 * ccs * exp(-x), for 0 <= x < log(2), using the
// FACCT integer polynomial so that no secret-dependent float path is taken.
func expmP63(x, ccs float64) uint64 {
	c := [...]uint64{
		0x00000004741183A3, 0x00000036548CFC06, 0x0000024FDCBF140A,
		0x0000171D939DE045, 0x0000D00CF58F6F84, 0x000680681CF796E3,
		0x002D82D8305B0FEA, 0x011111110E066FD0, 0x0555555555070F00,
		0x155555555581FF00, 0x400000000002B400, 0x7FFFFFFFFFFF4800,
		0x8000000000000000,
	}
	y := c[0]
	z := uint64(fprTrunc(x*fprPTwo63)) << 1
	for u := 1; u < len(c); u++ {
		y = c[u] - mulhi64(z, y)
	}
	z = uint64(fprTrunc(ccs*fprPTwo63)) << 1
	return mulhi64(z, y)
}

func sqrt(x float64) float64 { return math.Sqrt(x) }
