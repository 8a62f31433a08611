package oscore

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// BenchmarkRequestRoundTrip: protect + unprotect of a 64-byte request
// (AES-CCM-16-64-128), including the replay window.
func BenchmarkRequestRoundTrip(b *testing.B) {
	cp, sp := pairParams(true)
	client, _ := NewContext(cp)
	server, _ := NewContext(sp)
	req := getHello()
	req.Code = codes.POST
	req.Payload = bytes.Repeat([]byte{0x42}, 64)
	b.ReportAllocs()
	b.SetBytes(64)
	for b.Loop() {
		prot, _, err := client.ProtectRequest(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := server.UnprotectRequest(prot); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResponseRoundTrip: protect + unprotect of a 64-byte response that
// reuses the request nonce.
func BenchmarkResponseRoundTrip(b *testing.B) {
	cp, sp := pairParams(true)
	client, _ := NewContext(cp)
	server, _ := NewContext(sp)
	resp := message.Message{Code: codes.Content, Payload: bytes.Repeat([]byte{0x42}, 64)}
	b.ReportAllocs()
	b.SetBytes(64)
	for b.Loop() {
		b.StopTimer()
		prot, cex, _ := client.ProtectRequest(getHello())
		_, sex, err := server.UnprotectRequest(prot)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p, err := server.ProtectResponse(resp, sex, false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := client.UnprotectResponse(p, cex); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCCMSeal64 isolates the AES-CCM cost for 64 bytes.
func BenchmarkCCMSeal64(b *testing.B) {
	cp, _ := pairParams(true)
	c, _ := NewContext(cp)
	pt, nonce, aad := make([]byte, 64), make([]byte, 13), make([]byte, 20)
	dst := make([]byte, 0, 128)
	b.SetBytes(64)
	b.ReportAllocs()
	for b.Loop() {
		dst = c.senderAEAD.Seal(dst[:0], nonce, pt, aad)
	}
}

// BenchmarkBlockwiseGET: a 5000-byte GET over UDP loopback through Handler
// and Client as core/coap's OSCORE mode runs them: 10 protected 512-byte
// Block2 exchanges, the handler once, the rest from the response cache.
func BenchmarkBlockwiseGET(b *testing.B) {
	cp, sp := pairParams(true)
	srv := startBlockServer(b, resolverFor(mustContext(b, sp)), time.Second)
	cl := NewClient(dialLimited(b, srv.addr, time.Second), mustContext(b, cp))
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(5000)
	for b.Loop() {
		resp, err := cl.Get(ctx, "/big")
		if err != nil {
			b.Fatal(err)
		}
		if body, _ := resp.ReadBody(); len(body) != 5000 {
			b.Fatalf("%d bytes", len(body))
		}
	}
}
