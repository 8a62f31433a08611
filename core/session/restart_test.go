package session

import (
	"errors"
	"testing"
	"time"
)

// When both ends restart, the sender's first frame is accepted: a
// restored sender skips past every number the restarted receiver may have
// reserved, so nothing it sends after a restart is refused as a replay
// (found by the Node-RED suite: the first message after the third restart
// of both clients was lost). Old frames stay refused; nothing is reused.
func TestBothEndsRestartFirstFrameAccepted(t *testing.T) {
	resume := func(c *Config) { c.Resume = true }
	l := newLink(t, resume)
	restart := func(d *device, m *Manager) (*Manager, *Session) {
		t.Helper()
		m.Close()
		d.reopen(t)
		cfg := l.f.cfg(d)
		cfg.Resume = true
		nm := NewManager(cfg)
		restored, err := nm.Resume()
		if err != nil || len(restored) != 1 {
			t.Fatalf("resume: %v (%d sessions)", err, len(restored))
		}
		return nm, restored[0]
	}
	ma, mb, sa := l.ma, l.mb, l.sa
	var sent [][]byte
	for round := range 4 {
		for i := range 3 {
			f, err := sa.Protect([]byte{byte(round), byte(i)})
			if err != nil {
				t.Fatal(err)
			}
			if _, pt, err := mb.Unprotect(f, dataTopic); err != nil || pt[0] != byte(round) || pt[1] != byte(i) {
				t.Fatalf("round %d message %d after both restarted: %v", round, i, err)
			}
			sent = append(sent, f)
		}
		ma, sa = restart(l.a, ma)
		mb, _ = restart(l.b, mb)
		for i, f := range sent {
			if _, _, err := mb.Unprotect(f, dataTopic); !errors.Is(err, ErrReplay) {
				t.Fatalf("round %d: old frame %d after restart: %v, want ErrReplay", round, i, err)
			}
		}
	}
}

// Sealed messages obey the fleet policy as sessions do: with a stale
// policy neither Seal nor Open proceeds (fail closed), single- or
// multi-recipient.
func TestSealedFailsClosedUnderExpiredPolicy(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	s, rcpt := sealFor(t, f, a, b)
	o := newOpener(t, f, b)
	frame, err := s.Seal(rcpt, topic, []byte("22.5 C"))
	if err != nil {
		t.Fatal(err)
	}
	multi, err := s.SealMulti([]Recipient{rcpt}, topic, []byte("22.5 C"))
	if err != nil {
		t.Fatal(err)
	}
	f.clk.advance(31 * 24 * time.Hour) // past the policy's 30 days
	if _, err := s.Seal(rcpt, topic, []byte("late")); !errors.Is(err, ErrPolicy) {
		t.Errorf("Seal under an expired policy: %v, want ErrPolicy", err)
	}
	if _, err := s.SealMulti([]Recipient{rcpt}, topic, []byte("late")); !errors.Is(err, ErrPolicy) {
		t.Errorf("SealMulti under an expired policy: %v, want ErrPolicy", err)
	}
	if _, err := o.Open(frame, topic); !errors.Is(err, ErrPolicy) {
		t.Errorf("Open under an expired policy: %v, want ErrPolicy", err)
	}
	if _, err := o.OpenMulti(multi, topic); !errors.Is(err, ErrPolicy) {
		t.Errorf("OpenMulti under an expired policy: %v, want ErrPolicy", err)
	}
}

// A peer that keeps re-handshaking (restarts, lost Responses, rekeys)
// replaces its session without telling us: each side keeps only the newest
// MaxSessionsPerPeer sessions per peer, context and role, in memory and in
// the store, and the newest ones still work (found by the MQTT soak: the
// responder grew by one session per handshake).
func TestSupersededSessionsAreDropped(t *testing.T) {
	resume := func(c *Config) { c.Resume = true }
	l := newLink(t, resume)
	var last [2]*Session
	for range 50 {
		sa, sb := l.handshake(t)
		last = [2]*Session{sa, sb}
	}
	for _, m := range []*Manager{l.ma, l.mb} {
		m.mu.Lock()
		n := len(m.sessions)
		m.mu.Unlock()
		// the link's first session plus 50 more, all the same peer and role
		if n != m.cfg.MaxSessionsPerPeer {
			t.Fatalf("manager holds %d sessions, want %d", n, m.cfg.MaxSessionsPerPeer)
		}
	}
	names, err := l.b.st.List(statePrefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != l.mb.cfg.MaxSessionsPerPeer {
		t.Fatalf("store holds %d snapshots, want %d", len(names), l.mb.cfg.MaxSessionsPerPeer)
	}
	send(t, last[0], last[1], "newest works")
	send(t, last[1], last[0], "both ways")
}
