package coap

import (
	"testing"
	"time"

	"github.com/veraison/go-cose"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// TestCOSEAlgsMatchIdentity: the COSE algorithm ids used here are the ones
// core/identity writes (read back from self-signed CA certificates, since
// identity keeps its table unexported).
func TestCOSEAlgsMatchIdentity(t *testing.T) {
	for name, want := range coseAlgs {
		t.Run(name, func(t *testing.T) {
			ca, err := identity.NewRootCA("root-"+name, name, time.Now(), time.Hour, 0)
			if err != nil {
				t.Fatal(err)
			}
			var msg cose.Sign1Message
			if err := msg.UnmarshalCBOR(ca.Cert.Raw); err != nil {
				t.Fatal(err)
			}
			got, err := msg.Headers.Protected.Algorithm()
			if err != nil || got != want {
				t.Fatalf("identity writes %d (%v), we use %d", got, err, want)
			}
		})
	}
}

// TestParseSignedRefuses: header sets other than the documented one.
func TestParseSignedRefuses(t *testing.T) {
	base := func() *cose.Sign1Message {
		m := cose.NewSign1Message()
		m.Headers.Protected.SetAlgorithm(-49)
		m.Headers.Protected[cose.HeaderLabelKeyID] = make([]byte, 16)
		m.Headers.Protected[hdrSender] = "scada-1"
		m.Headers.Protected[hdrSeq] = uint64(7)
		m.Payload = []byte("x")
		m.Signature = []byte{1}
		return m
	}
	cases := []struct {
		name string
		mod  func(m *cose.Sign1Message)
		ok   bool
	}{
		{"valid", func(*cose.Sign1Message) {}, true},
		{"with content type", func(m *cose.Sign1Message) { m.Headers.Protected[cose.HeaderLabelContentType] = uint64(50) }, true},
		{"with method", func(m *cose.Sign1Message) { m.Headers.Protected[hdrCode] = uint64(1) }, true},
		{"response code as method", func(m *cose.Sign1Message) { m.Headers.Protected[hdrCode] = uint64(69) }, false},
		{"content type too large", func(m *cose.Sign1Message) { m.Headers.Protected[cose.HeaderLabelContentType] = uint64(70000) }, false},
		{"content type as text", func(m *cose.Sign1Message) { m.Headers.Protected[cose.HeaderLabelContentType] = "text/plain" }, false},
		{"sequence zero", func(m *cose.Sign1Message) { m.Headers.Protected[hdrSeq] = uint64(0) }, false},
		{"no sequence", func(m *cose.Sign1Message) { delete(m.Headers.Protected, hdrSeq) }, false},
		{"bad sender", func(m *cose.Sign1Message) { m.Headers.Protected[hdrSender] = "../x" }, false},
		{"short kid", func(m *cose.Sign1Message) { m.Headers.Protected[cose.HeaderLabelKeyID] = make([]byte, 8) }, false},
		{"extra header", func(m *cose.Sign1Message) { m.Headers.Protected[int64(-70199)] = 1 }, false},
		{"unprotected header", func(m *cose.Sign1Message) { m.Headers.Unprotected[cose.HeaderLabelKeyID] = []byte{1} }, false},
		{"detached payload", func(m *cose.Sign1Message) { m.Payload = nil }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.mod(m)
			b, err := m.MarshalCBOR()
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseSigned(b, 1<<16)
			if (err == nil) != tc.ok {
				t.Fatalf("parse: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	m := base()
	b, _ := m.MarshalCBOR()
	if _, err := parseSigned(b, len(b)-1); err == nil {
		t.Fatal("oversized envelope parsed")
	}
}

// TestSeqSourceDisjoint: sources sharing one keystore (a device that is a
// client and a server) never hand out the same number, also across a
// restart, and a skip moves a source past the floor.
func TestSeqSourceDisjoint(t *testing.T) {
	f := newTestFleet(t)
	d := f.enrol(t, "plc-1", nil, nil)
	seen := map[uint64]bool{}
	take := func(s *seqSource, n int) {
		for range n {
			v, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			if seen[v] {
				t.Fatalf("number %d handed out twice", v)
			}
			seen[v] = true
		}
	}
	a, b := &seqSource{st: d.st}, &seqSource{st: d.st}
	take(a, 10)
	take(b, 10)
	take(a, seqBlock) // a needs a second block
	d.reopen(t)
	c := &seqSource{st: d.st}
	take(c, 5)
	if !c.SkipPast(1 << 20) {
		t.Fatal("bounded skip refused")
	}
	if v, _ := c.Next(); v <= 1<<20 {
		t.Fatalf("after skip got %d", v)
	}
	if c.SkipPast(1 << 60) {
		t.Fatal("unbounded skip accepted")
	}
}
