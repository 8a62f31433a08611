package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
)

// Labels of the session key schedule (docs/protocol.md lists them all).
const (
	labelInitSig  = "pqc-iiot v1 hs-init"
	labelRespSig  = "pqc-iiot v1 hs-resp"
	labelTH       = "pqc-iiot v1 hs-th"
	labelRoot     = "pqc-iiot v1 root"
	labelChainI2R = "pqc-iiot v1 chain i2r"
	labelChainR2I = "pqc-iiot v1 chain r2i"
	labelFinished = "pqc-iiot v1 finished"
	labelExporter = "pqc-iiot v1 exporter"
	labelExport   = "pqc-iiot v1 export "
	labelRatchet  = "pqc-iiot v1 ratchet"
	// labelChainStep prefixes the AES blocks of the chain step; 15 bytes
	// at most, the 16th is the block counter.
	labelChainStep = "pqc-iiot v1 ck"
)

// kdfRK is the root-chain step of the double ratchet: HKDF with the root
// key as salt and the DH output (and, on a post-quantum step, the KEM
// secret) as input; it yields the next root key and a new chain key.
func kdfRK(rk *[32]byte, dh, kemSS []byte) (newRK, ck [32]byte) {
	ikm := make([]byte, 0, len(dh)+len(kemSS))
	ikm = append(append(ikm, dh...), kemSS...)
	out, err := hkdf.Key(sha256.New, ikm, rk[:], labelRatchet, 64)
	if err != nil {
		panic(err) // only for lengths beyond 255*32
	}
	copy(newRK[:], out[:32])
	copy(ck[:], out[32:])
	clear(out)
	clear(ikm)
	return newRK, ck
}

// The symmetric-key ratchet. Signal's KDF_CK is two HMAC-SHA256 calls per
// message (eight SHA-256 compressions), which was most of the cost of a
// message here even with SHA-NI. Ours keys AES-256 with the chain key and
// encrypts four distinct constant blocks (NIST SP 800-108 counter mode with
// a block cipher PRF): blocks 0-1 are the message key, blocks 2-3 the next
// chain key. Under a uniformly random 256-bit key AES is a PRF on these four
// inputs (PRP/PRF switching costs at most 6/2^128); recovering the chain key
// from the next one would be a key-recovery attack on AES-256 from known
// blocks, so used chain keys stay out of reach (forward secrecy) as with
// HMAC. With AES-NI the step costs one key expansion and four blocks.

// ckBlock is the input block i of the chain step: a label and a counter.
func ckBlock(i byte) [16]byte {
	var b [16]byte
	copy(b[:], labelChainStep)
	b[15] = i
	return b
}

var ckBlocks = [4][16]byte{ckBlock(0), ckBlock(1), ckBlock(2), ckBlock(3)}

// chainStep encrypts the constant blocks from..from+len(out)/16-1 under ck
// into out. out must not be on the stack of a caller that cares: the
// cipher.Block interface call makes it escape, so callers pass a buffer
// that lives in the session (kdfBuf) rather than a fresh local array.
func chainStep(ck *[32]byte, out []byte, from int) {
	block, err := aes.NewCipher(ck[:])
	if err != nil {
		panic(err) // a 32-byte key cannot fail
	}
	for i := 0; i < len(out)/16; i++ {
		block.Encrypt(out[16*i:16*i+16], ckBlocks[from+i][:])
	}
}

// kdfBuf is the scratch a chain step writes into; one per session, used
// under the session's lock.
type kdfBuf [64]byte

// kdfCK is the symmetric-key ratchet step: the message key and the next
// chain key from the current chain key.
func kdfCK(ck *[32]byte) (mk, next [32]byte) {
	var buf kdfBuf
	return kdfCKBuf(ck, &buf)
}

// kdfCKBuf is kdfCK writing through the session's scratch: no allocation.
func kdfCKBuf(ck *[32]byte, buf *kdfBuf) (mk, next [32]byte) {
	chainStep(ck, buf[:], 0)
	copy(mk[:], buf[:32])
	copy(next[:], buf[32:])
	clear(buf[:])
	return mk, next
}

// kdfNext is kdfCK's chain step alone, for skipping ahead without the
// message keys (snapshots reserve numbers this way).
func kdfNext(ck *[32]byte) (next [32]byte) {
	var buf kdfBuf
	return kdfNextBuf(ck, &buf)
}

// kdfNextBuf is kdfNext through the session's scratch.
func kdfNextBuf(ck *[32]byte, buf *kdfBuf) (next [32]byte) {
	chainStep(ck, buf[:32], 2)
	copy(next[:], buf[:32])
	clear(buf[:32])
	return next
}

// zeroNonce is shared and never written: a nonce built per call would
// escape through the AEAD interface and cost an allocation per message.
var zeroNonce [12]byte

// msgAEAD uses the message key directly as a one-use AES-256-GCM key with
// the all-zero nonce. KDF_CK gives every message its own pseudorandom key,
// so no (key, nonce) pair ever repeats; a second expansion step into a
// separate key and nonce would buy nothing and cost two HMACs per message.
func msgAEAD(mk *[32]byte) cipher.AEAD {
	block, err := aes.NewCipher(mk[:])
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}
