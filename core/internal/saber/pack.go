package saber

import "encoding/binary"

// Every SABER encoding (13-bit, 10-bit, eps_T-bit and the 1-bit message) is
// the same little-endian bit stream: coefficient i occupies bits
// [i*w, (i+1)*w) of the byte string. packBits/unpackBits handle any width;
// the 13- and 10-bit forms, which dominate, have unrolled versions.

// packBits writes the low w bits of each coefficient of in to out.
// len(out) must be w*len(in)/8.
func packBits(out []byte, in []uint16, w uint) {
	mask := uint64(1)<<w - 1
	var acc uint64
	var have uint
	o := 0
	for _, v := range in {
		acc |= (uint64(v) & mask) << have
		have += w
		for have >= 8 {
			out[o] = byte(acc)
			o++
			acc >>= 8
			have -= 8
		}
	}
}

// unpackBits is the inverse of packBits: it fills out with w-bit values.
func unpackBits(out []uint16, in []byte, w uint) {
	mask := uint64(1)<<w - 1
	var acc uint64
	var have uint
	i := 0
	for k := range out {
		for have < w {
			acc |= uint64(in[i]) << have
			i++
			have += 8
		}
		out[k] = uint16(acc & mask)
		acc >>= w
		have -= w
	}
}

// unpack13 decodes one polynomial packed at 13 bits (polyQBytes bytes),
// either as uint16 coefficients or straight into an NTT input.
// Eight coefficients span 13 bytes: the first four sit in bytes 0-7 and the
// last four in bytes 5-12, read as two overlapping 64-bit words.
func unpack13[T uint16 | int64](out *[n]T, in []byte) {
	in = in[:polyQBytes]
	for i := 0; i < n/8; i++ {
		blk := in[13*i : 13*i+13]
		x := binary.LittleEndian.Uint64(blk[0:8])
		y := binary.LittleEndian.Uint64(blk[5:13])
		c := out[8*i : 8*i+8]
		c[0] = T(uint16(x) & maskQ)
		c[1] = T(uint16(x>>13) & maskQ)
		c[2] = T(uint16(x>>26) & maskQ)
		c[3] = T(uint16(x>>39) & maskQ)
		c[4] = T(uint16(y>>12) & maskQ)
		c[5] = T(uint16(y>>25) & maskQ)
		c[6] = T(uint16(y>>38) & maskQ)
		c[7] = T(uint16(y >> 51))
	}
}

// unpack10 decodes one polynomial packed at 10 bits (polyPBytes bytes):
// four coefficients per 5 bytes. Like unpack13 it can fill an NTT input.
func unpack10[T uint16 | int64](out *[n]T, in []byte) {
	in = in[:polyPBytes]
	for i := 0; i < n/4; i++ {
		blk := in[5*i : 5*i+5]
		x := uint64(binary.LittleEndian.Uint32(blk[0:4])) | uint64(blk[4])<<32
		c := out[4*i : 4*i+4]
		c[0] = T(uint16(x) & maskP)
		c[1] = T(uint16(x>>10) & maskP)
		c[2] = T(uint16(x>>20) & maskP)
		c[3] = T(uint16(x >> 30))
	}
}

// pack10 encodes one polynomial at 10 bits; values must already be < 2^10.
func pack10(out []byte, in *[n]uint16) {
	out = out[:polyPBytes]
	for i := 0; i < n/4; i++ {
		c := in[4*i : 4*i+4]
		x := uint64(c[0]) | uint64(c[1])<<10 | uint64(c[2])<<20 | uint64(c[3])<<30
		blk := out[5*i : 5*i+5]
		binary.LittleEndian.PutUint32(blk[0:4], uint32(x))
		blk[4] = byte(x >> 32)
	}
}
