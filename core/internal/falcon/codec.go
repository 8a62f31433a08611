package falcon

// Encodings (round 3 / PQClean):
//   public key h: 14 bits per coefficient, big-endian bit order;
//   f, g, F:      fixed-width two's complement ("trim_i8"), the most
//                 negative value being forbidden;
//   signature s2: compressed (sign bit, 7 low bits, high bits in unary).

// maxFgBits / maxFGBits give the trim_i8 widths per degree.
var (
	maxFgBits = [11]uint{0, 8, 8, 8, 8, 8, 7, 7, 6, 6, 5}
	maxFGBits = [11]uint{0, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8}
)

// modqEncode packs h (all < q) at 14 bits each.
func modqEncode(x []uint16, logn uint) []byte {
	n := 1 << logn
	out := make([]byte, 0, (n*14+7)>>3)
	var acc uint32
	accLen := 0
	for u := 0; u < n; u++ {
		acc = (acc << 14) | uint32(x[u])
		accLen += 14
		for accLen >= 8 {
			accLen -= 8
			out = append(out, byte(acc>>uint(accLen)))
		}
	}
	if accLen > 0 {
		out = append(out, byte(acc<<uint(8-accLen)))
	}
	return out
}

// modqDecode unpacks exactly (14n+7)/8 bytes; it rejects values >= q and
// non-zero padding bits.
func modqDecode(x []uint16, logn uint, in []byte) bool {
	n := 1 << logn
	if len(in) != (n*14+7)>>3 {
		return false
	}
	var acc uint32
	accLen := 0
	u, v := 0, 0
	for u < n {
		acc = (acc << 8) | uint32(in[v])
		v++
		accLen += 8
		if accLen >= 14 {
			accLen -= 14
			w := (acc >> uint(accLen)) & 0x3FFF
			if w >= mqQ {
				return false
			}
			x[u] = uint16(w)
			u++
		}
	}
	return acc&((1<<uint(accLen))-1) == 0
}

// trimI8Encode packs x at the given width; it fails if a value is out of
// the symmetric range.
func trimI8Encode(x []int8, logn, bits uint) ([]byte, bool) {
	n := 1 << logn
	// The coefficients are secret: the range check scans all of them and
	// accumulates a sign-bit mask instead of stopping at the first bad one.
	maxv := int32(1)<<(bits-1) - 1
	var bad uint32
	for u := 0; u < n; u++ {
		v := int32(x[u])
		bad |= uint32(v+maxv) | uint32(maxv-v)
	}
	if bad>>31 != 0 {
		return nil, false
	}
	out := make([]byte, 0, (n*int(bits)+7)>>3)
	var acc uint32
	var accLen uint
	mask := uint32(1)<<bits - 1
	for u := 0; u < n; u++ {
		acc = (acc << bits) | (uint32(uint8(x[u])) & mask)
		accLen += bits
		for accLen >= 8 {
			accLen -= 8
			out = append(out, byte(acc>>accLen))
		}
	}
	if accLen > 0 {
		out = append(out, byte(acc<<(8-accLen)))
	}
	return out, true
}

// trimI8Decode unpacks n values from in and returns the number of bytes
// used, or 0 on error (short input, forbidden -2^(bits-1), bad padding).
func trimI8Decode(x []int8, logn, bits uint, in []byte) int {
	n := 1 << logn
	inLen := (n*int(bits) + 7) >> 3
	if inLen > len(in) {
		return 0
	}
	var acc uint32
	var accLen uint
	mask1 := uint32(1)<<bits - 1
	mask2 := uint32(1) << (bits - 1)
	// The decoded values are secret: the forbidden value -2^(bits-1) and
	// non-zero padding are collected in bad and judged once at the end, so
	// the time taken does not reveal where a bad value was.
	var bad uint32
	u, v := 0, 0
	for u < n {
		acc = (acc << 8) | uint32(in[v])
		v++
		accLen += 8
		for accLen >= bits && u < n {
			accLen -= bits
			w := (acc >> accLen) & mask1
			w |= -(w & mask2)
			d := w ^ -mask2
			bad |= ^(d | -d) >> 31 // 1 iff w == -mask2
			x[u] = int8(int32(w))
			u++
		}
	}
	bad |= acc & ((1 << accLen) - 1)
	if bad != 0 {
		return 0
	}
	return inLen
}

// compEncode compresses s2; it returns nil if a value is out of range or
// the result would exceed maxLen bytes.
func compEncode(x []int16, logn uint, maxLen int) []byte {
	n := 1 << logn
	for u := 0; u < n; u++ {
		if x[u] < -2047 || x[u] > 2047 {
			return nil
		}
	}
	out := make([]byte, 0, maxLen)
	var acc uint32
	var accLen uint
	for u := 0; u < n; u++ {
		acc <<= 1
		t := int32(x[u])
		if t < 0 {
			t = -t
			acc |= 1
		}
		w := uint32(t)
		acc <<= 7
		acc |= w & 127
		w >>= 7
		accLen += 8
		acc <<= w + 1
		acc |= 1
		accLen += uint(w) + 1
		for accLen >= 8 {
			accLen -= 8
			if len(out) >= maxLen {
				return nil
			}
			out = append(out, byte(acc>>accLen))
		}
	}
	if accLen > 0 {
		if len(out) >= maxLen {
			return nil
		}
		out = append(out, byte(acc<<(8-accLen)))
	}
	return out
}

// compDecode decompresses n values and returns the number of bytes read,
// or 0 if the encoding is invalid or non-canonical ("-0", a value above
// 2047, non-zero padding bits, or truncated input).
func compDecode(x []int16, logn uint, in []byte) int {
	n := 1 << logn
	var acc uint32
	var accLen uint
	v := 0
	for u := 0; u < n; u++ {
		if v >= len(in) {
			return 0
		}
		acc = (acc << 8) | uint32(in[v])
		v++
		b := acc >> accLen
		s := b & 128
		m := b & 127
		for {
			if accLen == 0 {
				if v >= len(in) {
					return 0
				}
				acc = (acc << 8) | uint32(in[v])
				v++
				accLen = 8
			}
			accLen--
			if (acc>>accLen)&1 != 0 {
				break
			}
			m += 128
			if m > 2047 {
				return 0
			}
		}
		if s != 0 && m == 0 {
			return 0
		}
		if s != 0 {
			x[u] = -int16(m)
		} else {
			x[u] = int16(m)
		}
	}
	if acc&((1<<accLen)-1) != 0 {
		return 0
	}
	return v
}

// hashToPoint maps the SHAKE256(nonce || msg) stream to a polynomial mod q
// by rejection sampling 16-bit values below 5q. The message is public, so
// the variable-time version is appropriate.
func hashToPoint(sc *shakeStream, x []uint16, logn uint) {
	n := 1 << logn
	for i := 0; i < n; {
		w := sc.u16be()
		if w < 61445 {
			for w >= mqQ {
				w -= mqQ
			}
			x[i] = uint16(w)
			i++
		}
	}
}
