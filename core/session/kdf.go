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
	// labelChainStep follows the chain key in the chain step's input; 15
	// bytes at most (ckInputSize).
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
// message (eight SHA-256 compressions). Ours is SHA-256 over the chain key
// followed by a fixed label and an output index, one 48-byte input (one
// compression) per 32-byte output: output 0 is the message key, output 1
// the next chain key. With a secret 256-bit key in front of a fixed-length
// input, SHA-256 is a PRF if its compression function is a PRF when keyed
// through the message block, an assumption HMAC's proof also makes (for
// its inner and outer keys); length extension needs inputs of varying
// length and does not apply.
// Recovering a used chain key from the next one means inverting SHA-256
// on a 256-bit unknown, so forward secrecy holds as with HMAC. With SHA-NI
// the step is two compressions and, unlike an AES key schedule behind
// crypto/aes's interface, allocates nothing (docs/protocol.md §2.4).

// ckInputSize is the chain step's input: chain key, label, zero padding
// and the output index as the last byte. 48 bytes fit one SHA-256 block.
const ckInputSize = 48

// ckOutput is output i of the chain step under ck.
func ckOutput(ck *[32]byte, i byte) [32]byte {
	var in [ckInputSize]byte
	copy(in[:32], ck[:])
	copy(in[32:ckInputSize-1], labelChainStep)
	in[ckInputSize-1] = i
	out := sha256.Sum256(in[:])
	clear(in[:32])
	return out
}

// kdfCK is the symmetric-key ratchet step: the message key and the next
// chain key from the current chain key.
func kdfCK(ck *[32]byte) (mk, next [32]byte) {
	return ckOutput(ck, 0), ckOutput(ck, 1)
}

// kdfNext is kdfCK's chain step alone, for skipping ahead without the
// message keys (snapshots reserve numbers this way).
func kdfNext(ck *[32]byte) [32]byte {
	return ckOutput(ck, 1)
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
