package session

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"testing"
)

// Reservations are written in the background (reserve.go); these tests
// pin down what must still hold at every instant: nothing is used above
// what the store holds.

// frameN is a data frame's message number.
func frameN(f []byte) uint32 { return binary.BigEndian.Uint32(f[2+SessionIDSize+32+4:]) }

// storedCeilings reads the snapshot the store holds for s, as a crash at
// this instant would find it: the first send and receive numbers a
// restored session would use.
func storedCeilings(t *testing.T, d *device, s *Session) (ns, nr uint32) {
	t.Helper()
	b, err := d.st.Get(stateName(s.ID()))
	if err != nil {
		t.Fatalf("no snapshot in the store: %v", err)
	}
	var r Session
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	return r.ns, r.nr
}

// reserving is a link with persistence, a small reservation (so many
// background writes happen) and no ratchet step falling due.
func reserving(t *testing.T) *link {
	l := newLink(t, func(c *Config) {
		c.Resume, c.SnapshotReserve, c.SoftCap = true, 16, 1<<20
	})
	p := l.f.policy
	p.Sequence, p.RekeyMessages, p.RekeySeconds = 2, 0, 0
	l.f.applyPolicy(t, p, l.a.trust, l.b.trust)
	return l
}

// Rule 3 with background reservations: after every Protect the snapshot
// in the store already reserves past the number just used, and after
// every accepted frame the receiver's stored ceiling is past it, so a
// crash at any instant neither reuses a message key nor re-accepts.
func TestReservationDurableBeforeUse(t *testing.T) {
	l := reserving(t)
	for i := range 200 {
		f, err := l.sa.Protect([]byte("telemetry"))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		n := frameN(f)
		if ns, _ := storedCeilings(t, l.a, l.sa); ns <= n {
			t.Fatalf("sent message %d while the store reserves only below %d", n, ns)
		}
		if _, err := l.sb.Unprotect(f); err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		if _, nr := storedCeilings(t, l.b, l.sb); nr <= n {
			t.Fatalf("accepted message %d while the store would accept it again from %d", n, nr)
		}
	}
}

// Publishers on many goroutines share a session: every frame gets its own
// number and the receiver accepts each once, in number order.
func TestConcurrentProtectWithReservations(t *testing.T) {
	l := reserving(t)
	const workers, each = 8, 60
	var mu sync.Mutex
	var frames [][]byte
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				f, err := l.sa.Protect([]byte("x"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				frames = append(frames, f)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(frames, func(a, b []byte) int { return int(frameN(a)) - int(frameN(b)) })
	for i, f := range frames {
		if frameN(f) != uint32(i) {
			t.Fatalf("frame %d carries number %d: numbers skipped or reused", i, frameN(f))
		}
		if _, err := l.sb.Unprotect(f); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if _, err := l.sb.Unprotect(f); !errors.Is(err, ErrReplay) {
			t.Fatalf("frame %d again: %v, want ErrReplay", i, err)
		}
	}
}

// A crash in the middle of background reservations: the restored sender
// starts above every number it used, and the live receiver accepts its
// next frame (a gap, not a reuse).
func TestCrashDuringReservationsNeverReusesNumbers(t *testing.T) {
	l := reserving(t)
	var last uint32
	for range 70 { // several reservations of 16
		f := send(t, l.sa, l.sb, "m")
		last = frameN(f)
	}
	// The crash: whatever the store holds now is all that survives.
	ns, _ := storedCeilings(t, l.a, l.sa)
	l.ma.Close()
	l.a.reopen(t)
	cfg := l.f.cfg(l.a)
	cfg.Resume, cfg.SnapshotReserve, cfg.SoftCap = true, 16, 1<<20
	ma := NewManager(cfg)
	t.Cleanup(ma.Close)
	restored, err := ma.Resume()
	if err != nil || len(restored) != 1 {
		t.Fatalf("resume: %v (%d sessions)", err, len(restored))
	}
	f, err := restored[0].Protect([]byte("after the crash"))
	if err != nil {
		t.Fatal(err)
	}
	if n := frameN(f); n <= last || n < ns {
		t.Fatalf("restored sender used number %d; %d was used and %d reserved before the crash", n, last, ns)
	}
	if pt, err := l.sb.Unprotect(f); err != nil || string(pt) != "after the crash" {
		t.Fatalf("receiver after the sender's crash: %q, %v", pt, err)
	}
}

// A store that fails under a background write closes the session: no
// frame leaves above the last durable ceiling.
func TestFailedReservationClosesSession(t *testing.T) {
	l := reserving(t)
	send(t, l.sa, l.sb, "ok")
	durable, _ := storedCeilings(t, l.a, l.sa)
	l.a.st.Close()
	var err error
	var f []byte
	for i := 0; err == nil; i++ {
		if f, err = l.sa.Protect([]byte("x")); err == nil && frameN(f) >= durable {
			t.Fatalf("message %d sent above the durable ceiling %d", frameN(f), durable)
		}
		if i > 100 {
			t.Fatal("the session goes on with a dead store")
		}
	}
	if !errors.Is(err, ErrPersist) && !errors.Is(err, ErrClosed) {
		t.Fatalf("dead store: %v, want ErrPersist or ErrClosed", err)
	}
	if _, err := l.sa.Protect([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after the failure: %v, want ErrClosed", err)
	}
}

// The append forms write into the caller's buffer and leave it unchanged
// on failure.
func TestAppendForms(t *testing.T) {
	l := reserving(t)
	prefix := []byte("prefix")
	f, err := l.sa.AppendProtect(slices.Clone(prefix), []byte("payload"))
	if err != nil || string(f[:len(prefix)]) != "prefix" {
		t.Fatalf("AppendProtect: %v", err)
	}
	frame := f[len(prefix):]
	tampered := slices.Clone(frame)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"tampered", tampered, ErrAuth},
		{"truncated", frame[:dataHeaderSize], ErrMalformed},
		{"genuine", frame, nil},
		{"replayed", frame, ErrReplay},
	} {
		out, err := l.sb.AppendUnprotect(slices.Clone(prefix), tc.frame)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
		want := "prefix"
		if tc.want == nil {
			want = "prefixpayload"
		}
		if string(out) != want {
			t.Fatalf("%s: buffer %q, want %q", tc.name, out, want)
		}
	}
}

// The receiver's crash in the middle of background reservations: frames
// it may have accepted are refused after the restart, and the first frame
// above its stored ceiling opens (the chain key cached at the ceiling and
// written by the background reservation is the right one).
func TestReceiverCrashDuringReservations(t *testing.T) {
	l := reserving(t)
	var frames [][]byte
	for range 70 {
		frames = append(frames, send(t, l.sa, l.sb, "m"))
	}
	_, nr := storedCeilings(t, l.b, l.sb)
	l.mb.Close()
	l.b.reopen(t)
	cfg := l.f.cfg(l.b)
	cfg.Resume, cfg.SnapshotReserve, cfg.SoftCap = true, 16, 1<<20
	mb := NewManager(cfg)
	t.Cleanup(mb.Close)
	restored, err := mb.Resume()
	if err != nil || len(restored) != 1 {
		t.Fatalf("resume: %v (%d sessions)", err, len(restored))
	}
	sb := restored[0]
	for i, f := range frames {
		if _, err := sb.Unprotect(f); !errors.Is(err, ErrReplay) {
			t.Fatalf("frame %d after the restart: %v, want ErrReplay", i, err)
		}
	}
	for {
		f, err := l.sa.Protect([]byte("fresh"))
		if err != nil {
			t.Fatal(err)
		}
		pt, err := sb.Unprotect(f)
		if frameN(f) < nr {
			if !errors.Is(err, ErrReplay) {
				t.Fatalf("frame %d below the stored ceiling %d: %v, want ErrReplay", frameN(f), nr, err)
			}
			continue
		}
		if err != nil || string(pt) != "fresh" {
			t.Fatalf("frame %d at the stored ceiling %d: %q, %v", frameN(f), nr, pt, err)
		}
		break
	}
}
