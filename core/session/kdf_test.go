package session

import (
	"bytes"
	"crypto/aes"
	"crypto/rand"
	"testing"
)

// The chain step is AES-256 under the chain key over the blocks
// "pqc-iiot v1 ck" || 0x00 || i for i = 0..3 (docs/protocol.md §2.4):
// checked against crypto/aes block by block, and kdfNext against kdfCK.
func TestChainStepMatchesSpecification(t *testing.T) {
	for range 100 {
		var ck [32]byte
		rand.Read(ck[:])
		block, err := aes.NewCipher(ck[:])
		if err != nil {
			t.Fatal(err)
		}
		var want [64]byte
		for i := range 4 {
			in := make([]byte, 16)
			copy(in, "pqc-iiot v1 ck")
			in[15] = byte(i)
			block.Encrypt(want[16*i:], in)
		}
		mk, next := kdfCK(&ck)
		if !bytes.Equal(mk[:], want[:32]) || !bytes.Equal(next[:], want[32:]) {
			t.Fatal("kdfCK differs from the specification")
		}
		if kdfNext(&ck) != next {
			t.Fatal("kdfNext differs from kdfCK's next chain key")
		}
		if mk == next || mk == ck || next == ck {
			t.Fatal("chain step outputs are not distinct")
		}
	}
}
