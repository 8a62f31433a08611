package saber

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pqc-iiot/pqc-iiot/core/internal/katfile"
	"github.com/pqc-iiot/pqc-iiot/core/internal/nistdrbg"
)

var allParams = []*Params{LightSaber, Saber, FireSaber}

func katPath(p *Params) string {
	return filepath.Join("..", "..", "..", "testdata", "kat", "saber",
		fmt.Sprintf("%s-PQCkemKAT_%d.rsp", p.Name(), p.SecretKeySize()))
}

// TestKAT replays every entry of the official response files: the per-entry
// DRBG drives GenerateKey and Encapsulate exactly as randombytes did, and
// decapsulating the stored ciphertext with the stored secret key must give
// the stored shared secret.
func TestKAT(t *testing.T) {
	for _, p := range allParams {
		t.Run(p.Name(), func(t *testing.T) {
			entries, err := katfile.Read(katPath(p))
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 100 {
				t.Fatalf("read %d entries, want 100", len(entries))
			}
			for _, e := range entries {
				t.Run(fmt.Sprintf("count=%d", e.Int("count")), func(t *testing.T) {
					checkKATEntry(t, p, e)
				})
			}
		})
	}
}

func checkKATEntry(t *testing.T, p *Params, e katfile.Entry) {
	t.Helper()
	drbg := nistdrbg.MustNew(e.Bytes("seed"))
	pk, sk, err := p.GenerateKey(drbg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pk, e.Bytes("pk")) {
		t.Fatal("pk mismatch")
	}
	if !bytes.Equal(sk, e.Bytes("sk")) {
		t.Fatal("sk mismatch")
	}
	ct, ss, err := p.Encapsulate(pk, drbg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ct, e.Bytes("ct")) {
		t.Fatal("ct mismatch")
	}
	if !bytes.Equal(ss, e.Bytes("ss")) {
		t.Fatal("ss mismatch")
	}
	got, err := p.Decapsulate(e.Bytes("sk"), e.Bytes("ct"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, e.Bytes("ss")) {
		t.Fatal("decapsulated ss mismatch")
	}
}
