package nistdrbg

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/pqc-iiot/pqc-iiot/core/internal/katfile"
)

// masterSeed is the entropy input NIST's KAT generators start from: 0..47.
func masterSeed() []byte {
	s := make([]byte, SeedSize)
	for i := range s {
		s[i] = byte(i)
	}
	return s
}

// The KEM generator draws seed_count = randombytes(48) from the master DRBG
// for count 0..99: reproducing every stored seed proves Read and update.
func TestMasterDRBGReproducesKEMSeeds(t *testing.T) {
	entries, err := katfile.Read(filepath.Join("..", "..", "..", "testdata", "kat", "saber", "Saber-PQCkemKAT_2304.rsp"))
	if err != nil {
		t.Fatal(err)
	}
	master := MustNew(masterSeed())
	for _, e := range entries {
		if got := master.Bytes(48); !bytes.Equal(got, e.Bytes("seed")) {
			t.Fatalf("count %s: seed %x, want %x", e["count"], got, e.Bytes("seed"))
		}
	}
}

// The signature generator interleaves seed (48 bytes) and msg (33*(count+1))
// draws; Falcon's file checks calls of lengths that are not block multiples.
func TestMasterDRBGReproducesSignatureSeedsAndMessages(t *testing.T) {
	entries, err := katfile.Read(filepath.Join("..", "..", "..", "testdata", "kat", "falcon", "falcon512-KAT.rsp"))
	if err != nil {
		t.Fatal(err)
	}
	master := MustNew(masterSeed())
	for _, e := range entries {
		if got := master.Bytes(48); !bytes.Equal(got, e.Bytes("seed")) {
			t.Fatalf("count %s: seed mismatch", e["count"])
		}
		if got := master.Bytes(e.Int("mlen")); !bytes.Equal(got, e.Bytes("msg")) {
			t.Fatalf("count %s: msg mismatch", e["count"])
		}
	}
}

func TestNewRejectsWrongSeedLength(t *testing.T) {
	for _, n := range []int{0, 32, 47, 49} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New accepted a %d-byte seed", n)
		}
	}
}

func TestSplitReadsDifferFromOneRead(t *testing.T) {
	a := MustNew(masterSeed())
	b := MustNew(masterSeed())
	two := append(a.Bytes(32), a.Bytes(32)...)
	if bytes.Equal(two, b.Bytes(64)) {
		t.Fatal("Read(32)+Read(32) equals Read(64); update between calls is missing")
	}
}
