package session

import (
	"runtime"
	"testing"
)

// BenchmarkMemoryPerSession reports the heap an established session keeps,
// both ends counted: b.N sessions are made between two managers (handshake
// plus one message each way, so both ratchet directions exist), every one
// is kept alive, and the live heap after a full collection is compared with
// the heap before. Manager bookkeeping (session tables, replay windows) is
// included because a session does not exist without it. The keystore is
// left out (Volatile): its pages live in bbolt's file mapping, not the Go
// heap.
//
//	go test -run '^$' -bench MemoryPerSession -benchtime 200x ./core/session
//
// The timed part is dominated by handshakes; ns/op is not the point, the
// B/session-pair and B/session-end metrics are. make bench reports them.
func BenchmarkMemoryPerSession(b *testing.B) {
	l := newLink(b, func(c *Config) { c.Store, c.Budget, c.Volatile = nil, nil, true })
	kept := make([]*Session, 0, 2*b.N)
	before := liveHeap()
	b.ResetTimer()
	for range b.N {
		sa, sb := l.handshake(b)
		send(b, sa, sb, "hello")
		send(b, sb, sa, "hello")
		kept = append(kept, sa, sb)
	}
	b.StopTimer()
	after := liveHeap()
	runtime.KeepAlive(kept)
	// The slice of pointers was allocated before the baseline; what grew is
	// the sessions and the managers' state for them.
	perPair := float64(after-before) / float64(b.N)
	// Go's first probe runs b.N=1, where a freed pool or timer outweighs one
	// session; from a few dozen sessions on the growth must show.
	if b.N >= 32 && perPair <= 0 {
		b.Fatalf("heap did not grow with %d live sessions (%d -> %d bytes): the measurement is broken", b.N, before, after)
	}
	b.ReportMetric(perPair, "B/session-pair")
	b.ReportMetric(perPair/2, "B/session-end")
}

// liveHeap is the heap still reachable after two full collections (the
// second one frees what finalizers released in the first).
func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
