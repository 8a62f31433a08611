package falcon

// gaussian0Dist is the reverse cumulative distribution of the half-Gaussian
// with sigma0 = 1.8205, as 72-bit values split into three 24-bit limbs
// (high, middle, low).
var gaussian0Dist = [...]uint32{
	10745844, 3068844, 3741698,
	5559083, 1580863, 8248194,
	2260429, 13669192, 2736639,
	708981, 4421575, 10046180,
	169348, 7122675, 4136815,
	30538, 13063405, 7650655,
	4132, 14505003, 7826148,
	417, 16768101, 11363290,
	31, 8444042, 8086568,
	1, 12844466, 265321,
	0, 1232676, 13644283,
	0, 38047, 9111839,
	0, 870, 6138264,
	0, 14, 12545723,
	0, 0, 3104126,
	0, 0, 28824,
	0, 0, 198,
	0, 0, 1,
}

// gaussian0 samples the base half-Gaussian. It draws a 72-bit value and
// counts how many table entries exceed it; every entry is compared, with
// borrow arithmetic only, so neither timing nor memory access depends on
// the result.
func gaussian0(p *prng) int {
	lo := p.u64()
	hi := p.u8()
	v0 := uint32(lo) & 0xFFFFFF
	v1 := uint32(lo>>24) & 0xFFFFFF
	v2 := uint32(lo>>48) | (hi << 16)
	z := 0
	for u := 0; u < len(gaussian0Dist); u += 3 {
		w0 := gaussian0Dist[u+2]
		w1 := gaussian0Dist[u+1]
		w2 := gaussian0Dist[u]
		cc := (v0 - w0) >> 31
		cc = (v1 - w1 - cc) >> 31
		cc = (v2 - w2 - cc) >> 31
		z += int(cc)
	}
	return z
}

// berExp returns 1 with probability ccs*exp(-x), x >= 0. The comparison
// with random bytes stops at the first differing byte, as in the reference;
// that leaks only how many bytes were equal, which is independent of secrets
// with overwhelming probability.
func berExp(p *prng, x, ccs float64) bool {
	s := int(fprTrunc(x * fprInvLog2))
	r := x - float64(float64(s)*fprLog2)
	// Saturate s at 63 without a branch.
	sw := uint32(s)
	sw ^= (sw ^ 63) & -((63 - sw) >> 31)
	s = int(sw)
	z := ((expmP63(r, ccs) << 1) - 1) >> uint(s)
	var w uint32
	i := 64
	for {
		i -= 8
		w = p.u8() - (uint32(z>>uint(i)) & 0xFF)
		if w != 0 || i <= 0 {
			break
		}
	}
	return w>>31 != 0
}

// samplerZ draws an integer from the discrete Gaussian centred on mu with
// standard deviation 1/isigma.
type samplerZ struct {
	p        prng
	sigmaMin float64
}

func (sc *samplerZ) sample(mu, isigma float64) int {
	s := int(fprFloor(mu))
	r := mu - float64(s)
	dss := float64(isigma*isigma) * 0.5
	ccs := isigma * sc.sigmaMin
	for {
		z0 := gaussian0(&sc.p)
		b := int(sc.p.u8() & 1)
		z := b + ((b<<1)-1)*z0
		d := float64(z) - r
		x := float64(float64(d*d) * dss)
		x = x - float64(float64(z0*z0)*fprInv2SqrSigma0)
		if berExp(&sc.p, x, ccs) {
			return s + z
		}
	}
}
