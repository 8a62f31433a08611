package falcon

import (
	"encoding/binary"
	"io"
	"math/bits"
)

// prng is the reference's ChaCha20-based generator that feeds the Gaussian
// sampler. It is seeded with 56 bytes taken from the signing SHAKE256
// stream: 48 bytes of ChaCha20 key/nonce words and an 8-byte block counter.
// Each refill runs eight ChaCha20 blocks with consecutive counters and
// interleaves their output 32 bits at a time into a 512-byte buffer.
type prng struct {
	buf   [512]byte
	ptr   int
	state [12]uint32
	ctr   uint64
}

var chachaConst = [4]uint32{0x61707865, 0x3320646e, 0x79622d32, 0x6b206574}

// init seeds the generator from src (56 bytes) and fills the buffer.
func (p *prng) init(src io.Reader) {
	var tmp [56]byte
	_, _ = io.ReadFull(src, tmp[:])
	for i := range p.state {
		p.state[i] = binary.LittleEndian.Uint32(tmp[4*i:])
	}
	p.ctr = binary.LittleEndian.Uint64(tmp[48:])
	clear(tmp[:])
	p.refill()
}

// chachaBlock runs the 20-round ChaCha20 core on in and adds the input
// back (the feed-forward), writing the result to out.
func chachaBlock(out, in *[16]uint32) {
	x0, x1, x2, x3 := in[0], in[1], in[2], in[3]
	x4, x5, x6, x7 := in[4], in[5], in[6], in[7]
	x8, x9, x10, x11 := in[8], in[9], in[10], in[11]
	x12, x13, x14, x15 := in[12], in[13], in[14], in[15]
	for i := 0; i < 10; i++ {
		x0, x4, x8, x12 = qr(x0, x4, x8, x12)
		x1, x5, x9, x13 = qr(x1, x5, x9, x13)
		x2, x6, x10, x14 = qr(x2, x6, x10, x14)
		x3, x7, x11, x15 = qr(x3, x7, x11, x15)
		x0, x5, x10, x15 = qr(x0, x5, x10, x15)
		x1, x6, x11, x12 = qr(x1, x6, x11, x12)
		x2, x7, x8, x13 = qr(x2, x7, x8, x13)
		x3, x4, x9, x14 = qr(x3, x4, x9, x14)
	}
	out[0], out[1], out[2], out[3] = x0+in[0], x1+in[1], x2+in[2], x3+in[3]
	out[4], out[5], out[6], out[7] = x4+in[4], x5+in[5], x6+in[6], x7+in[7]
	out[8], out[9], out[10], out[11] = x8+in[8], x9+in[9], x10+in[10], x11+in[11]
	out[12], out[13], out[14], out[15] = x12+in[12], x13+in[13], x14+in[14], x15+in[15]
}

func qr(a, b, c, d uint32) (uint32, uint32, uint32, uint32) {
	a += b
	d = bits.RotateLeft32(d^a, 16)
	c += d
	b = bits.RotateLeft32(b^c, 12)
	a += b
	d = bits.RotateLeft32(d^a, 8)
	c += d
	b = bits.RotateLeft32(b^c, 7)
	return a, b, c, d
}

// refill generates the next 512 bytes: eight blocks with counters
// ctr..ctr+7. The counter is XORed into the last two state words (the
// reference's layout), and block u's word v goes to bytes 32v+4u.
func (p *prng) refill() {
	cc := p.ctr
	var in, out [16]uint32
	for u := 0; u < 8; u++ {
		copy(in[0:4], chachaConst[:])
		copy(in[4:16], p.state[:])
		in[14] ^= uint32(cc)
		in[15] ^= uint32(cc >> 32)
		chachaBlock(&out, &in)
		cc++
		for v := 0; v < 16; v++ {
			binary.LittleEndian.PutUint32(p.buf[(u<<2)+(v<<5):], out[v])
		}
	}
	clear(in[:])
	clear(out[:])
	p.ctr = cc
	p.ptr = 0
}

// u64 returns 8 bytes as a little-endian integer. Like the reference it
// refills early rather than straddle the end of the buffer.
func (p *prng) u64() uint64 {
	u := p.ptr
	if u >= len(p.buf)-9 {
		p.refill()
		u = 0
	}
	p.ptr = u + 8
	return binary.LittleEndian.Uint64(p.buf[u:])
}

func (p *prng) u8() uint32 {
	v := uint32(p.buf[p.ptr])
	p.ptr++
	if p.ptr == len(p.buf) {
		p.refill()
	}
	return v
}

func (p *prng) wipe() {
	clear(p.buf[:])
	clear(p.state[:])
	p.ctr = 0
	p.ptr = 0
}
