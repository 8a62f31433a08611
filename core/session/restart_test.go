package session

import (
	"errors"
	"testing"
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
