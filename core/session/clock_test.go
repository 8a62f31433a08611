package session

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// Clock faults. Devices on a plant floor lose their clock on power cuts and
// get it back from NTP in jumps, in either direction. These tests move the
// injected clock by such jumps and check the engine's promises: nothing is
// accepted twice, no sequence number (hence no nonce) is reused, whatever is
// stale fails closed, and a backward jump does not bring back something that
// already expired and was dropped. Time only gates freshness; uniqueness
// rests on durable counters, which no clock can move.

// withClock returns d's configuration with its own clock.
func (f *fleet) withClock(d *device, c *clock) Config {
	cfg := f.cfg(d)
	cfg.Now = c.now
	return cfg
}

// An Init accepted once stays refused whatever the responder's clock does:
// inside MaxClockSkew the durable handshake counter refuses it (ErrReplay),
// outside it the timestamp does (ErrExpired) — or, when the clock went back
// before the initiator's certificate was issued, the certificate does
// (identity.ErrNotYetValid: every handshake fails closed until the clock is
// right). A restarted responder refuses it too, and a new Init made at the
// responder's time works whenever the certificates are valid then, so the
// refusals leave nothing wedged.
func TestClockJumpDoesNotReopenInitReplay(t *testing.T) {
	for _, tc := range []struct {
		name string
		jump time.Duration
		want error
	}{
		{"back 4 min, inside skew", -4 * time.Minute, ErrReplay},
		{"forward 4 min, inside skew", 4 * time.Minute, ErrReplay},
		{"back 2 h, before the certificates", -2 * time.Hour, identity.ErrNotYetValid},
		{"forward 2 h, outside skew", 2 * time.Hour, ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t)
			a, b := f.pair(t)
			bclk := &clock{t0}
			ma, mb := NewManager(f.cfg(a)), NewManager(f.withClock(b, bclk))
			older, _ := ma.Initiate(b.id, dataTopic)
			accepted, _ := ma.Initiate(b.id, dataTopic)
			if _, _, err := mb.HandleHandshake(accepted); err != nil {
				t.Fatal(err)
			}
			bclk.advance(tc.jump)

			if _, s, err := mb.HandleHandshake(older); !errors.Is(err, tc.want) || s != nil {
				t.Fatalf("older Init after the jump: session %v, %v, want %v", s != nil, err, tc.want)
			}
			restarted := NewManager(f.withClock(b, bclk))
			for name, frame := range map[string][]byte{"older": older, "accepted": accepted} {
				if _, s, err := restarted.HandleHandshake(frame); !errors.Is(err, tc.want) || s != nil {
					t.Fatalf("%s Init to a restarted responder: session %v, %v, want %v", name, s != nil, err, tc.want)
				}
			}

			if tc.jump < 0 && tc.want == identity.ErrNotYetValid {
				return
			}
			f.clk.t = bclk.t // the initiator's clock follows
			fresh, err := ma.Initiate(b.id, dataTopic)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := restarted.HandleHandshake(fresh); err != nil {
				t.Fatalf("new Init at the responder's time: %v", err)
			}
		})
	}
}

// An Init refused as stale is refused because of the clock only. Once the
// responder's clock comes back into range it may be accepted, but at most
// once: its retransmission gets the cached Response and the same session,
// and after a newer Init it is a replay.
func TestStaleInitIsAcceptedAtMostOnceAfterClockReturns(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	bclk := &clock{t0.Add(MaxClockSkew + time.Minute)}
	ma, mb := NewManager(f.cfg(a)), NewManager(f.withClock(b, bclk))
	init, _ := ma.Initiate(b.id, dataTopic)
	if _, _, err := mb.HandleHandshake(init); !errors.Is(err, ErrExpired) {
		t.Fatalf("Init %v old: %v, want ErrExpired", MaxClockSkew+time.Minute, err)
	}
	bclk.t = t0
	r1, s1, err := mb.HandleHandshake(init)
	if err != nil {
		t.Fatalf("Init once the clock is back: %v", err)
	}
	r2, s2, err := mb.HandleHandshake(init)
	if err != nil || !bytes.Equal(r1, r2) || s1 != s2 {
		t.Fatalf("second delivery: %v, same response %v, same session %v", err, bytes.Equal(r1, r2), s1 == s2)
	}
	newer, _ := ma.Initiate(b.id, dataTopic)
	if _, _, err := mb.HandleHandshake(newer); err != nil {
		t.Fatal(err)
	}
	if _, s, err := mb.HandleHandshake(init); !errors.Is(err, ErrReplay) || s != nil {
		t.Fatalf("first Init after a newer one: %v, want ErrReplay", err)
	}
}

// A pending handshake that expired is gone: setting the initiator's clock
// back to before the expiry does not let its Response complete it, whether
// the expiry was noticed by the late Response itself or by the sweep that
// a later Initiate runs.
func TestClockBackDoesNotRevivePendingHandshake(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expire func(t *testing.T, ma *Manager, resp []byte, peer string)
	}{
		{"expired on the late Response", func(t *testing.T, ma *Manager, resp []byte, _ string) {
			if _, s, err := ma.HandleHandshake(resp); !errors.Is(err, ErrExpired) || s != nil {
				t.Fatalf("late Response: %v, want ErrExpired", err)
			}
		}},
		{"swept by a later Initiate", func(t *testing.T, ma *Manager, _ []byte, peer string) {
			if _, err := ma.Initiate(peer, dataTopic); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFleet(t)
			a, b := f.pair(t)
			aclk := &clock{t0}
			ma, mb := NewManager(f.withClock(a, aclk)), NewManager(f.cfg(b))
			init, _ := ma.Initiate(b.id, dataTopic)
			resp, _, err := mb.HandleHandshake(init)
			if err != nil {
				t.Fatal(err)
			}
			aclk.advance(31 * time.Second) // default HandshakeTimeout is 30 s
			tc.expire(t, ma, resp, b.id)
			aclk.t = t0
			if _, s, err := ma.HandleHandshake(resp); !errors.Is(err, ErrUnknownSession) || s != nil {
				t.Fatalf("Response after the clock went back: session %v, %v, want ErrUnknownSession", s != nil, err)
			}
		})
	}
}

// A backward jump before a pending handshake expired only lengthens its
// wait: the Response completes it once, and its retransmission changes
// nothing.
func TestClockBackBeforeExpiryCompletesOnce(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	aclk := &clock{t0}
	ma, mb := NewManager(f.withClock(a, aclk)), NewManager(f.cfg(b))
	init, _ := ma.Initiate(b.id, dataTopic)
	resp, sb, err := mb.HandleHandshake(init)
	if err != nil {
		t.Fatal(err)
	}
	aclk.advance(-time.Hour)
	_, sa, err := ma.HandleHandshake(resp)
	if err != nil || sa == nil {
		t.Fatalf("Response: %v", err)
	}
	if reply, s, err := ma.HandleHandshake(resp); reply != nil || s != nil || err != nil {
		t.Fatalf("retransmitted Response: %v %v %v", reply, s, err)
	}
	send(t, sa, sb, "after the jump")
}

// The post-quantum step timer (policy RekeySeconds) follows the clock: a
// backward jump postpones the step, it never breaks the session or makes a
// step run twice, and a forward jump past the period makes it run. Across
// all of it every frame is distinct (fresh message keys, no nonce reuse) and
// every frame is accepted exactly once.
func TestClockJumpsAndPostQuantumStepTimer(t *testing.T) {
	f := newFleet(t)
	f.policy.RekeyMessages = 0 // only the timer triggers steps
	f.policy.RekeySeconds = 600
	a, b := f.pair(t)
	ma, mb := NewManager(f.cfg(a)), NewManager(f.cfg(b))
	init, _ := ma.Initiate(b.id, dataTopic)
	resp, sb, err := mb.HandleHandshake(init)
	if err != nil {
		t.Fatal(err)
	}
	_, sa, err := ma.HandleHandshake(resp)
	if err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	exchange := func(n int) {
		t.Helper()
		for range n {
			for _, dir := range [][2]*Session{{sa, sb}, {sb, sa}} {
				frame := send(t, dir[0], dir[1], "reading")
				if seen[string(frame)] {
					t.Fatal("a frame repeated: message key reused")
				}
				seen[string(frame)] = true
				if _, err := dir[1].Unprotect(frame); !errors.Is(err, ErrReplay) {
					t.Fatalf("frame replayed: %v, want ErrReplay", err)
				}
			}
		}
	}
	steps := func() uint64 {
		if sa.PQSteps() != sb.PQSteps() {
			t.Fatalf("peers disagree on PQ steps: %d and %d", sa.PQSteps(), sb.PQSteps())
		}
		return sa.PQSteps()
	}

	for _, tc := range []struct {
		name      string
		jump      time.Duration
		wantSteps func(before uint64) bool
	}{
		{"back 1 h: no step, session works", -time.Hour, func(n uint64) bool { return n == 0 }},
		{"forward to 1 s short of the period", time.Hour + 599*time.Second, func(n uint64) bool { return n == 0 }},
		{"forward past the period: a step", 2 * time.Second, func(n uint64) bool { return n >= 1 }},
		{"back 1 day right after: no second step", -24 * time.Hour, func(n uint64) bool { return n == 1 }},
		{"forward 2 days: a step again", 48 * time.Hour, func(n uint64) bool { return n >= 2 }},
	} {
		f.clk.advance(tc.jump)
		exchange(4)
		if n := steps(); !tc.wantSteps(n) {
			t.Fatalf("%s: %d PQ steps", tc.name, n)
		}
	}
}

// Sealed messages carry durable sequence numbers, not timestamps: after a
// clock jump in either direction (and a restart of sender and receiver) the
// sender's numbers keep increasing, old frames are refused as replays, and
// new frames are accepted once.
func TestClockJumpSealedNoReuseNoReplay(t *testing.T) {
	for _, jump := range []time.Duration{-30 * time.Minute, -50 * time.Minute, time.Hour, 20 * 24 * time.Hour} {
		t.Run(jump.String(), func(t *testing.T) {
			f := newFleet(t)
			a, b := f.pair(t)
			seal := func(s *Sealer, msg string) []byte {
				t.Helper()
				rcpt, err := RecipientOf(TrustPeers{a.trust}, b.id, "", f.clk.now())
				if err != nil {
					t.Fatal(err)
				}
				frame, err := s.Seal(rcpt, topic, []byte(msg))
				if err != nil {
					t.Fatal(err)
				}
				return frame
			}
			var before [][]byte
			s, o := NewSealer(f.cfg(a)), newOpener(t, f, b)
			var lastSeq uint64
			for i := range 3 {
				frame := seal(s, "before")
				got, err := o.Open(frame, topic)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				lastSeq = got.Seq
				before = append(before, frame)
			}

			f.clk.advance(jump)
			a.reopen(t)
			b.reopen(t)
			s, o = NewSealer(f.cfg(a)), newOpener(t, f, b)
			for i, frame := range before {
				if _, err := o.Open(frame, topic); !errors.Is(err, ErrReplay) {
					t.Fatalf("old frame %d after the jump and restart: %v, want ErrReplay", i, err)
				}
			}
			for i := range 3 {
				frame := seal(s, "after")
				got, err := o.Open(frame, topic)
				if err != nil {
					t.Fatalf("new frame %d: %v", i, err)
				}
				if got.Seq <= lastSeq {
					t.Fatalf("sequence %d after %d: reused across the jump", got.Seq, lastSeq)
				}
				lastSeq = got.Seq
				if _, err := o.Open(frame, topic); !errors.Is(err, ErrReplay) {
					t.Fatalf("new frame %d twice: %v, want ErrReplay", i, err)
				}
			}
		})
	}
}

// A forward jump past the policy's expiry stops new handshakes (fail
// closed, identity.ErrPolicyStale) and EnforcePolicy closes open sessions;
// nothing comes back when the clock returns, because closed sessions hold
// no keys.
func TestClockForwardPastPolicyExpiryFailsClosed(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sa, l.sb, "ok")
	l.f.clk.t = time.Unix(l.f.policy.Expiry, 0)
	if _, err := l.ma.Initiate(l.b.id, dataTopic); !errors.Is(err, identity.ErrPolicyStale) {
		t.Fatalf("handshake under an expired policy: %v, want identity.ErrPolicyStale", err)
	}
	init, _ := func() ([]byte, error) {
		l.f.clk.t = t0
		defer func() { l.f.clk.t = time.Unix(l.f.policy.Expiry, 0) }()
		return l.ma.Initiate(l.b.id, dataTopic)
	}()
	if _, s, err := l.mb.HandleHandshake(init); !errors.Is(err, identity.ErrPolicyStale) || s != nil {
		t.Fatalf("Init under an expired policy: %v, want identity.ErrPolicyStale", err)
	}
	l.ma.EnforcePolicy()
	if _, err := l.sa.Protect([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("session after EnforcePolicy under an expired policy: %v, want ErrClosed", err)
	}
	l.f.clk.t = t0
	if _, err := l.sa.Protect([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed session after the clock went back: %v, want ErrClosed", err)
	}
}

// A token bucket never hands out more than its burst after a jump: a
// backward jump refills nothing, a forward jump of any size refills at most
// to the burst. (Going back and then forward again refills as if the time
// had passed: the bucket cannot tell, and the burst still caps it.)
func TestTokenBucketUnderClockJumps(t *testing.T) {
	c := &clock{t0}
	tb := NewTokenBucket(identity.RateLimit{Rate: 1, Burst: 3}, c.now)
	drain := func() int {
		n := 0
		for tb.Allow("plc-1") {
			n++
			if n > 1000 {
				t.Fatal("bucket never empties")
			}
		}
		return n
	}
	if n := drain(); n != 3 {
		t.Fatalf("fresh bucket gave %d, want the burst 3", n)
	}
	for _, tc := range []struct {
		name string
		jump time.Duration
		want int
	}{
		{"back 1 h", -time.Hour, 0},
		{"forward to where it was", time.Hour, 3},
		{"forward 2 s", 2 * time.Second, 2},
		{"forward 10 days", 10 * 24 * time.Hour, 3},
		{"back 10 days", -10 * 24 * time.Hour, 0},
	} {
		c.advance(tc.jump)
		if n := drain(); n != tc.want {
			t.Fatalf("%s: %d tokens, want %d", tc.name, n, tc.want)
		}
	}
}
