package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// The chain step is SHA-256 over ck || "pqc-iiot v1 ck" || 0x00 || i,
// i = 0 for the message key and 1 for the next chain key
// (docs/protocol.md §2.4): a fixed vector (computed with Python's hashlib
// from the specification), then random keys against crypto/sha256, and
// kdfNext against kdfCK.
func TestChainStepMatchesSpecification(t *testing.T) {
	var ck [32]byte
	for i := range ck {
		ck[i] = byte(i)
	}
	mk, next := kdfCK(&ck)
	if hex.EncodeToString(mk[:]) != "5c1a2e279383939fc2217c591909c0d4674fd43c7b3b03e5d9ea25d825360cd2" ||
		hex.EncodeToString(next[:]) != "1b84d7579a7f5a6e18adf696c5e8f8e8b5ca08239fe4f485ca2f20342c4b20cc" {
		t.Fatalf("vector: mk %x next %x", mk, next)
	}
	spec := func(ck [32]byte, i byte) [32]byte {
		in := append(append(ck[:], "pqc-iiot v1 ck\x00"...), i)
		return sha256.Sum256(in)
	}
	for range 100 {
		rand.Read(ck[:])
		mk, next := kdfCK(&ck)
		if mk != spec(ck, 0) || next != spec(ck, 1) {
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

// The chain step runs for every message on both sides: it must not
// allocate.
func TestChainStepAllocatesNothing(t *testing.T) {
	var ck [32]byte
	if n := testing.AllocsPerRun(100, func() { ck, _ = kdfCK(&ck) }); n != 0 {
		t.Fatalf("kdfCK: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { ck = kdfNext(&ck) }); n != 0 {
		t.Fatalf("kdfNext: %v allocations", n)
	}
}
