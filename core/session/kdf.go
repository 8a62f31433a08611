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
	labelRatchet  = "pqc-iiot v1 ratchet"
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

// The per-message derivations below run HMAC-SHA256 over fixed, short
// inputs on stack buffers: crypto/hmac allocates two digests and marshals
// their states on every call, which dominated the cost of a message. The
// construction is plain RFC 2104; TestFastHMACMatchesStdlib checks it
// against crypto/hmac and crypto/hkdf.

// hmac256 computes HMAC-SHA256 with a 32-byte key over msg (at most 64
// bytes) without allocating.
func hmac256(key *[32]byte, msg []byte) [32]byte {
	var buf [64 + 64]byte
	for i := range 64 {
		var k byte
		if i < 32 {
			k = key[i]
		}
		buf[i] = k ^ 0x36
	}
	n := copy(buf[64:], msg)
	inner := sha256.Sum256(buf[:64+n])
	for i := range 64 {
		var k byte
		if i < 32 {
			k = key[i]
		}
		buf[i] = k ^ 0x5c
	}
	copy(buf[64:], inner[:])
	return sha256.Sum256(buf[:96])
}

// kdfNext is kdfCK's chain step alone, for skipping ahead without the
// message keys (snapshots reserve numbers this way).
func kdfNext(ck *[32]byte) [32]byte { return hmac256(ck, []byte{0x02}) }

// kdfCK is Signal's symmetric-key ratchet step: the message key and the
// next chain key from one HMAC key with constant inputs 0x01 and 0x02.
func kdfCK(ck *[32]byte) (mk, next [32]byte) {
	return hmac256(ck, []byte{0x01}), hmac256(ck, []byte{0x02})
}

// msgAEAD uses the message key directly as a one-use AES-256-GCM key with
// the all-zero nonce. KDF_CK gives every message its own pseudorandom key,
// so no (key, nonce) pair ever repeats; a second expansion step into a
// separate key and nonce would buy nothing and cost two HMACs per message.
func msgAEAD(mk *[32]byte) (cipher.AEAD, [12]byte) {
	block, err := aes.NewCipher(mk[:])
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead, [12]byte{}
}
