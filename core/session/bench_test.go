package session

import (
	"runtime"
	"testing"
)

// go test -run '^$' -bench . -benchmem ./core/session/

func BenchmarkProtectUnprotect64(b *testing.B) {
	l := newLink(b, func(c *Config) { c.HardCap = 1 << 31 })
	// The data path alone: no PQ step falls due (a one-way flood would
	// otherwise advertise a KEM key in every frame, waiting for a reply).
	p := l.f.policy
	p.Sequence, p.RekeyMessages, p.RekeySeconds = 2, 0, 0
	l.f.applyPolicy(b, p, l.a.trust, l.b.trust)
	msg := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f, err := l.sa.Protect(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.sb.Unprotect(f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

func BenchmarkHandshake(b *testing.B) {
	l := newLink(b, nil)
	l.ma.cfg.Store, l.mb.cfg.Store = nil, nil // measure the crypto, not fsync
	l.ma.cfg.Volatile, l.mb.cfg.Volatile = true, true
	l.ma.cfg.Budget, l.mb.cfg.Budget = nil, nil
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l.handshake(b)
	}
}

func BenchmarkSealOpen64(b *testing.B) {
	f := newFleet(b)
	a, c := f.pair(b)
	s, rcpt := sealFor(b, f, a, c)
	s.seq, s.cfg.Volatile = nil, true
	cfg := f.cfg(c)
	cfg.Store, cfg.Budget, cfg.Volatile = nil, nil, true
	o, _ := NewOpener(cfg)
	msg := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		fr, err := s.Seal(rcpt, topic, msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := o.Open(fr, topic); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMemoryPerIdleSession measures the heap an established, idle session
// keeps: sessions made, then released, and the difference measured.
func TestMemoryPerIdleSession(t *testing.T) {
	l := newLink(t, nil)
	l.ma.cfg.Store, l.mb.cfg.Store, l.ma.cfg.Budget, l.mb.cfg.Budget = nil, nil, nil, nil
	l.ma.cfg.Volatile, l.mb.cfg.Volatile = true, true
	n := 1000
	if testing.Short() {
		n = 100
	}
	for range n {
		sa, sb := l.handshake(t)
		send(t, sa, sb, "hello")
		send(t, sb, sa, "hello")
	}
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	l.ma.Close()
	l.mb.Close()
	runtime.GC()
	runtime.ReadMemStats(&without)
	per := float64(with.HeapAlloc-without.HeapAlloc) / float64(2*n)
	t.Logf("heap per idle session (one end, incl. manager bookkeeping): %.0f bytes over %d sessions", per, 2*n)
	if per > 8<<10 {
		t.Fatalf("%.0f bytes per idle session, want < 8 KiB", per)
	}
}
