package falcon

import "crypto/sha3"

// shakeStream is a SHAKE256 output stream read in small pieces. Squeezing
// from SHAKE is a pure stream, so reading it through a buffer gives exactly
// the same bytes as the reference's many small extract calls.
type shakeStream struct {
	sh  *sha3.SHAKE
	buf [136 * 4]byte
	pos int
}

// newShakeStream absorbs the given inputs and prepares to squeeze.
func newShakeStream(inputs ...[]byte) *shakeStream {
	s := &shakeStream{sh: sha3.NewSHAKE256()}
	for _, in := range inputs {
		s.sh.Write(in)
	}
	s.pos = len(s.buf)
	return s
}

// Read fills p from the stream; it never fails.
func (s *shakeStream) Read(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if s.pos == len(s.buf) {
			s.sh.Read(s.buf[:])
			s.pos = 0
		}
		c := copy(p, s.buf[s.pos:])
		s.pos += c
		p = p[c:]
	}
	return n, nil
}

// u64 returns the next 8 bytes as a little-endian integer.
func (s *shakeStream) u64() uint64 {
	var b [8]byte
	s.Read(b[:])
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// u16be returns the next 2 bytes as a big-endian integer.
func (s *shakeStream) u16be() uint32 {
	if s.pos+2 <= len(s.buf) {
		v := uint32(s.buf[s.pos])<<8 | uint32(s.buf[s.pos+1])
		s.pos += 2
		return v
	}
	var b [2]byte
	s.Read(b[:])
	return uint32(b[0])<<8 | uint32(b[1])
}

// wipe erases the buffered output and the sponge state.
func (s *shakeStream) wipe() {
	clear(s.buf[:])
	s.sh.Reset()
	s.pos = len(s.buf)
}
