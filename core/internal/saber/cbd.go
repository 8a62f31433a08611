package saber

import "encoding/binary"

// sampleCBD fills s with centred binomial samples: coefficient i is the
// number of set bits in the first mu/2 bits of its mu-bit slice of buf minus
// the number in the second half. Values are stored mod 2^16 (so -1 is
// 0xffff), which is what the reference produces and what packing at 13 bits
// expects.
//
// Four coefficients come from one little-endian word of 4*mu bits. Bits are
// counted in parallel: with h = mu/2, adding (t >> j) & mask for j < h gives,
// in every h-bit field, that field's population count. No table lookup or
// branch depends on buf.
func sampleCBD(s *[n]uint16, buf []byte, mu int) {
	switch mu {
	case 6: // h = 3: fields of 3 bits in a 24-bit word
		const m = 0x249249
		for i := 0; i < n/4; i++ {
			b := buf[3*i : 3*i+3]
			t := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			d := t&m + (t>>1)&m + (t>>2)&m
			split4((*[4]uint16)(s[4*i:]), uint64(d), 3)
		}
	case 8: // h = 4: nibbles of a 32-bit word
		const m = 0x11111111
		for i := 0; i < n/4; i++ {
			t := binary.LittleEndian.Uint32(buf[4*i : 4*i+4])
			d := t&m + (t>>1)&m + (t>>2)&m + (t>>3)&m
			split4((*[4]uint16)(s[4*i:]), uint64(d), 4)
		}
	case 10: // h = 5: fields of 5 bits in a 40-bit word
		const m = 0x0842108421
		for i := 0; i < n/4; i++ {
			b := buf[5*i : 5*i+5]
			t := uint64(binary.LittleEndian.Uint32(b[0:4])) | uint64(b[4])<<32
			d := t&m + (t>>1)&m + (t>>2)&m + (t>>3)&m + (t>>4)&m
			split4((*[4]uint16)(s[4*i:]), d, 5)
		}
	default:
		panic("saber: unsupported binomial parameter")
	}
}

// split4 turns the eight h-bit counts in d into four samples: count 2k
// minus count 2k+1.
func split4(out *[4]uint16, d uint64, h uint) {
	f := uint64(1)<<h - 1
	out[0] = uint16(d&f - (d>>h)&f)
	out[1] = uint16((d>>(2*h))&f - (d>>(3*h))&f)
	out[2] = uint16((d>>(4*h))&f - (d>>(5*h))&f)
	out[3] = uint16((d>>(6*h))&f - (d>>(7*h))&f)
}
