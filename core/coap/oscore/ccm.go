package oscore

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// ccm implements Counter with CBC-MAC (RFC 3610, NIST SP 800-38C) over a
// 128-bit block cipher. The standard library has no CCM, and OSCORE's
// mandatory algorithm (AES-CCM-16-64-128, COSE alg 10) needs it.
type ccm struct {
	block   cipher.Block
	tagSize int // M in RFC 3610
	lenSize int // L in RFC 3610; nonce size is 15-L
}

// ErrCCMOpen is returned by the CCM AEAD when the tag does not verify.
var ErrCCMOpen = errors.New("oscore: ccm: message authentication failed")

// NewCCM returns a CCM AEAD over block (which must have a 16-byte block size)
// with the given tag size (4, 6, ..., 16) and nonce size (7 to 13 bytes).
func NewCCM(block cipher.Block, tagSize, nonceSize int) (cipher.AEAD, error) {
	if block.BlockSize() != 16 {
		return nil, fmt.Errorf("oscore: ccm: block size %d, need 16", block.BlockSize())
	}
	if tagSize < 4 || tagSize > 16 || tagSize%2 != 0 {
		return nil, fmt.Errorf("oscore: ccm: invalid tag size %d", tagSize)
	}
	if nonceSize < 7 || nonceSize > 13 {
		return nil, fmt.Errorf("oscore: ccm: invalid nonce size %d", nonceSize)
	}
	return &ccm{block: block, tagSize: tagSize, lenSize: 15 - nonceSize}, nil
}

func (c *ccm) NonceSize() int { return 15 - c.lenSize }
func (c *ccm) Overhead() int  { return c.tagSize }

// maxPlaintext is the largest message the L-byte length field can describe.
func (c *ccm) maxPlaintext() uint64 {
	if c.lenSize >= 8 {
		return 1<<63 - 1
	}
	return 1<<(8*uint(c.lenSize)) - 1
}

// counterBlock builds A_i: flags (L-1), the nonce, and the counter i in L bytes.
func (c *ccm) counterBlock(nonce []byte, i uint64) [16]byte {
	var a [16]byte
	a[0] = byte(c.lenSize - 1)
	copy(a[1:], nonce)
	for j := 15; j > 15-c.lenSize; j-- {
		a[j] = byte(i)
		i >>= 8
	}
	return a
}

// mac computes the unencrypted CBC-MAC tag T over B_0, the encoded AAD and the message.
func (c *ccm) mac(nonce, msg, ad []byte) [16]byte {
	var x [16]byte
	flags := byte(8 * ((c.tagSize - 2) / 2))
	flags |= byte(c.lenSize - 1)
	if len(ad) > 0 {
		flags |= 0x40
	}
	x[0] = flags
	copy(x[1:], nonce)
	n := uint64(len(msg))
	for j := 15; j > 15-c.lenSize; j-- {
		x[j] = byte(n)
		n >>= 8
	}
	c.block.Encrypt(x[:], x[:])
	if len(ad) > 0 {
		c.absorb(&x, encodeADLength(len(ad)), ad)
	}
	if len(msg) > 0 {
		c.absorb(&x, nil, msg)
	}
	return x
}

// absorb runs CBC-MAC over prefix||data, zero-padded to a whole number of blocks.
func (c *ccm) absorb(x *[16]byte, prefix, data []byte) {
	pos := 0
	feed := func(b byte) {
		x[pos] ^= b
		pos++
		if pos == 16 {
			c.block.Encrypt(x[:], x[:])
			pos = 0
		}
	}
	for _, b := range prefix {
		feed(b)
	}
	for _, b := range data {
		feed(b)
	}
	if pos != 0 {
		c.block.Encrypt(x[:], x[:])
	}
}

// encodeADLength encodes l(a) as RFC 3610 §2.2 prescribes.
func encodeADLength(n int) []byte {
	switch {
	case n < 0xFF00:
		return binary.BigEndian.AppendUint16(nil, uint16(n))
	case uint64(n) <= 0xFFFFFFFF:
		return binary.BigEndian.AppendUint32([]byte{0xFF, 0xFE}, uint32(n))
	default:
		return binary.BigEndian.AppendUint64([]byte{0xFF, 0xFF}, uint64(n))
	}
}

// ctr encrypts (or decrypts) src into dst with counter blocks A_1, A_2, ....
// The counter never wraps into the nonce because messages are limited to
// 2^(8L)-1 bytes.
func (c *ccm) ctr(nonce, dst, src []byte) {
	a1 := c.counterBlock(nonce, 1)
	cipher.NewCTR(c.block, a1[:]).XORKeyStream(dst, src)
}

func (c *ccm) Seal(dst, nonce, plaintext, additionalData []byte) []byte {
	if len(nonce) != c.NonceSize() {
		panic("oscore: ccm: incorrect nonce length")
	}
	if uint64(len(plaintext)) > c.maxPlaintext() {
		panic("oscore: ccm: plaintext too long")
	}
	tag := c.mac(nonce, plaintext, additionalData)
	ret, out := sliceForAppend(dst, len(plaintext)+c.tagSize)
	c.ctr(nonce, out[:len(plaintext)], plaintext)
	a0 := c.counterBlock(nonce, 0)
	var s0 [16]byte
	c.block.Encrypt(s0[:], a0[:])
	subtle.XORBytes(out[len(plaintext):], tag[:c.tagSize], s0[:c.tagSize])
	return ret
}

func (c *ccm) Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error) {
	if len(nonce) != c.NonceSize() {
		return nil, fmt.Errorf("oscore: ccm: nonce length %d, need %d", len(nonce), c.NonceSize())
	}
	if len(ciphertext) < c.tagSize {
		return nil, ErrCCMOpen
	}
	n := len(ciphertext) - c.tagSize
	if uint64(n) > c.maxPlaintext() {
		return nil, ErrCCMOpen
	}
	ret, out := sliceForAppend(dst, n)
	c.ctr(nonce, out, ciphertext[:n])
	tag := c.mac(nonce, out, additionalData)
	a0 := c.counterBlock(nonce, 0)
	var s0 [16]byte
	c.block.Encrypt(s0[:], a0[:])
	var expected [16]byte
	subtle.XORBytes(expected[:c.tagSize], tag[:c.tagSize], s0[:c.tagSize])
	if subtle.ConstantTimeCompare(expected[:c.tagSize], ciphertext[n:]) != 1 {
		clear(out) // never hand out unauthenticated plaintext
		return nil, ErrCCMOpen
	}
	return ret, nil
}

// sliceForAppend extends in by n bytes, reusing capacity when possible.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}
