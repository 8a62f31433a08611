package session

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestSoakSessions opens and closes sessions between two managers over real
// keystores (handshake counters and Resume snapshots persisted with fsync)
// and moves messages both ways through each (DH steps on every change of
// direction, a post-quantum step every RekeyMessages). It samples the heap,
// goroutines, open file descriptors, the managers' tables and the
// keystore's snapshot records, and fails if any grows past its bound after
// warm-up: a leak of one session per cycle shows within seconds.
//
// PQC_SOAK=5m (any Go duration) sets the run time; 5 s by default, so the
// normal suite runs a short version. scripts/soak.sh runs the long one.
func TestSoakSessions(t *testing.T) {
	d := soakDuration(t)
	l := newLink(t, func(c *Config) { c.Resume = true })
	s := newSoak(t, d, func() soakSample {
		return soakSample{tables: managerTables(l.ma) + managerTables(l.mb),
			records: storeRecords(t, l.a) + storeRecords(t, l.b)}
	})
	l.sa.Close()
	l.sb.Close()
	const burst = 50 // one-way messages before the other side answers
	var sessions, messages int
	for !s.done() {
		sa, sb := l.handshake(t)
		sessions++
		for range 8 {
			for i := range burst {
				send(t, sa, sb, fmt.Sprintf("reading %d", i))
			}
			send(t, sb, sa, "ack")
			messages += burst + 1
		}
		sa.Close()
		sb.Close()
		s.maybeSample(t)
	}
	s.report(t, fmt.Sprintf("%d sessions opened and closed, %d messages", sessions, messages), float64(messages))
}

// soakSample is one observation. heap is HeapInuse after a collection;
// tables and records are what a closed session must leave behind (none).
type soakSample struct {
	heap       uint64
	goroutines int
	fds        int
	tables     int
	records    int
}

type soak struct {
	start, end, warm time.Time
	next             time.Time
	every            time.Duration
	extra            func() soakSample
	base, peak       *soakSample
	samples          int
}

func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("PQC_SOAK")
	if v == "" {
		if testing.Short() {
			t.Skip("soak: set PQC_SOAK=duration, or run without -short for the 5 s version")
		}
		return 5 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("PQC_SOAK=%q: want a duration such as 5m", v)
	}
	return d
}

// newSoak starts the clock: the first fifth of the run (at least a second)
// is warm-up, then samples are taken about twenty times over the run.
func newSoak(t *testing.T, d time.Duration, extra func() soakSample) *soak {
	now := time.Now()
	warm := max(d/5, time.Second)
	return &soak{start: now, end: now.Add(d), warm: now.Add(warm), next: now.Add(warm),
		every: max((d-warm)/20, 200*time.Millisecond), extra: extra}
}

func (s *soak) done() bool { return !time.Now().Before(s.end) }

func (s *soak) maybeSample(t *testing.T) {
	if now := time.Now(); now.Before(s.next) {
		return
	}
	s.next = time.Now().Add(s.every)
	s.sample(t)
}

func (s *soak) sample(t *testing.T) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cur := s.extra()
	cur.heap, cur.goroutines, cur.fds = ms.HeapInuse, runtime.NumGoroutine(), openFDs(t)
	s.samples++
	if s.base == nil {
		s.base, s.peak = &cur, &soakSample{}
		*s.peak = cur
		return
	}
	s.peak.heap = max(s.peak.heap, cur.heap)
	s.peak.goroutines = max(s.peak.goroutines, cur.goroutines)
	s.peak.fds = max(s.peak.fds, cur.fds)
	// The bounds: the heap may breathe (caches, map growth, GC pacing) by
	// a quarter of the baseline plus 1 MiB; nothing else may grow at all.
	if limit := s.base.heap + s.base.heap/4 + 1<<20; cur.heap > limit {
		t.Fatalf("heap in use grew from %d to %d bytes (bound %d) after %s", s.base.heap, cur.heap, limit, time.Since(s.start).Round(time.Second))
	}
	if cur.goroutines > s.base.goroutines {
		t.Fatalf("goroutines grew from %d to %d", s.base.goroutines, cur.goroutines)
	}
	if cur.fds > s.base.fds {
		t.Fatalf("open file descriptors grew from %d to %d", s.base.fds, cur.fds)
	}
	if cur.tables != s.base.tables || cur.records != s.base.records {
		t.Fatalf("closed sessions left state behind: tables %d -> %d, keystore records %d -> %d",
			s.base.tables, cur.tables, s.base.records, cur.records)
	}
}

func (s *soak) report(t *testing.T, what string, units float64) {
	s.sample(t) // the last sample is checked too
	el := time.Since(s.start)
	t.Logf("soak %s: %s (%.0f/s); heap in use %d KiB at warm-up, peak %d KiB; goroutines %d (peak %d); fds %d (peak %d); %d samples",
		el.Round(time.Second), what, units/el.Seconds(), s.base.heap>>10, s.peak.heap>>10,
		s.base.goroutines, s.peak.goroutines, s.base.fds, s.peak.fds, s.samples)
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("soak: cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// managerTables counts what the manager keeps per session or handshake.
func managerTables(m *Manager) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions) + len(m.pending) + len(m.accepted) + len(m.respOf)
}

func storeRecords(t *testing.T, d *device) int {
	names, err := d.st.List(statePrefix)
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}
