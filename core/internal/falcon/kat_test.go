package falcon

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/pqc-iiot/pqc-iiot/core/internal/katfile"
	"github.com/pqc-iiot/pqc-iiot/core/internal/nistdrbg"
)

const katDir = "../../../testdata/kat/falcon"

// smFromDetached rebuilds the NIST "signed message" layout from a detached
// signature: L || nonce || msg || 0x20+logn || body, L = 1+len(body).
func smFromDetached(sig, msg []byte) []byte {
	logn := sig[0] - 0x30
	nonce := sig[1 : 1+NonceSize]
	body := sig[1+NonceSize:]
	l := 1 + len(body)
	sm := []byte{byte(l >> 8), byte(l)}
	sm = append(sm, nonce...)
	sm = append(sm, msg...)
	sm = append(sm, 0x20+logn)
	return append(sm, body...)
}

// detachedFromSM is the inverse of smFromDetached.
func detachedFromSM(sm []byte, mlen int, logn uint) ([]byte, error) {
	if len(sm) < 2+NonceSize+mlen+1 {
		return nil, fmt.Errorf("sm too short")
	}
	l := int(sm[0])<<8 | int(sm[1])
	if 2+NonceSize+mlen+l != len(sm) {
		return nil, fmt.Errorf("sm length mismatch")
	}
	if sm[2+NonceSize+mlen] != 0x20+byte(logn) {
		return nil, fmt.Errorf("sm header mismatch")
	}
	sig := []byte{0x30 + byte(logn)}
	sig = append(sig, sm[2:2+NonceSize]...)
	return append(sig, sm[2+NonceSize+mlen+1:]...), nil
}

func runKAT(t *testing.T, p *Params, file string) {
	entries, err := katfile.Read(filepath.Join(katDir, file))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 100 {
		t.Fatalf("expected 100 entries, got %d", len(entries))
	}
	for _, e := range entries {
		e := e
		t.Run("count="+e["count"], func(t *testing.T) {
			drbg := nistdrbg.MustNew(e.Bytes("seed"))
			msg := e.Bytes("msg")
			if len(msg) != e.Int("mlen") {
				t.Fatal("mlen mismatch")
			}
			pk, sk, err := p.GenerateKey(drbg)
			if err != nil {
				t.Fatal(err)
			}
			if want := e.Bytes("pk"); !bytes.Equal(pk, want) {
				t.Fatalf("pk mismatch\n got %s\nwant %s", hex.EncodeToString(pk[:32]), hex.EncodeToString(want[:32]))
			}
			if want := e.Bytes("sk"); !bytes.Equal(sk, want) {
				t.Fatalf("sk mismatch")
			}
			sig, err := p.Sign(sk, msg, drbg)
			if err != nil {
				t.Fatal(err)
			}
			sm := smFromDetached(sig, msg)
			want := e.Bytes("sm")
			if !bytes.Equal(sm, want) {
				t.Fatalf("sm mismatch (len %d vs %d)", len(sm), len(want))
			}
			if len(sm) != e.Int("smlen") {
				t.Fatal("smlen mismatch")
			}
			// Verify the stored sm, converted to the detached form.
			det, err := detachedFromSM(want, len(msg), p.logn)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Verify(e.Bytes("pk"), msg, det); err != nil {
				t.Fatalf("verify KAT signature: %v", err)
			}
		})
	}
}

func TestKAT512(t *testing.T)  { runKAT(t, Falcon512, "falcon512-KAT.rsp") }
func TestKAT1024(t *testing.T) { runKAT(t, Falcon1024, "falcon1024-KAT.rsp") }
