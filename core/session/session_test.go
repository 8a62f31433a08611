package session

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

const dataTopic = "plant/line3/plc-1/cmd"

type link struct {
	f      *fleet
	a, b   *device
	ma, mb *Manager
	sa, sb *Session // a initiated
}

func newLink(t testing.TB, tweak func(*Config)) *link {
	t.Helper()
	f := newFleet(t)
	a, b := f.pair(t)
	l := &link{f: f, a: a, b: b}
	ca, cb := f.cfg(a), f.cfg(b)
	if tweak != nil {
		tweak(&ca)
		tweak(&cb)
	}
	l.ma, l.mb = NewManager(ca), NewManager(cb)
	l.sa, l.sb = l.handshake(t)
	return l
}

func (l *link) handshake(t testing.TB) (*Session, *Session) {
	t.Helper()
	init, err := l.ma.Initiate(l.b.id, dataTopic)
	if err != nil {
		t.Fatal(err)
	}
	resp, sb, err := l.mb.HandleHandshake(init)
	if err != nil {
		t.Fatal(err)
	}
	reply, sa, err := l.ma.HandleHandshake(resp)
	if err != nil || reply != nil {
		t.Fatal(err, reply)
	}
	return sa, sb
}

// send protects on from and unprotects on to, failing the test otherwise.
func send(t testing.TB, from, to *Session, msg string) []byte {
	t.Helper()
	frame, err := from.Protect([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	got, err := to.Unprotect(frame)
	if err != nil {
		t.Fatalf("%q: %v", msg, err)
	}
	if string(got) != msg {
		t.Fatalf("got %q, want %q", got, msg)
	}
	return frame
}

func TestHandshakeRoundTripBothDirections(t *testing.T) {
	l := newLink(t, nil)
	if l.sa.ID() != l.sb.ID() || l.sa.Peer() != l.b.id || l.sb.Peer() != l.a.id || l.sb.Context() != dataTopic {
		t.Fatal("session identities do not match")
	}
	for i := range 6 { // several changes of direction: DH steps each way
		send(t, l.sa, l.sb, "a to b")
		send(t, l.sb, l.sa, "b to a")
		if i == 0 {
			send(t, l.sb, l.sa, "b again, same chain")
		}
	}
	if l.sa.rk != l.sb.rk || l.sa.dhsPub == [32]byte{} {
		t.Fatal("root keys diverged")
	}
}

func TestResponderCanSendFirst(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sb, l.sa, "server push before any request")
	send(t, l.sa, l.sb, "reply")
	send(t, l.sb, l.sa, "and back")
}

func TestHandshakeTampered(t *testing.T) {
	l := newLink(t, nil)
	init, _ := l.ma.Initiate(l.b.id, dataTopic)
	msg, _ := parseInit(init)
	cases := []struct {
		name string
		off  int
		want error
	}{
		{"Init version", 0, ErrMalformed},
		{"Init session id", 4, ErrAuth},
		{"Init context", msg.signedLen - 2 - len(msg.ek) - 32 - 16 - len(msg.context) + 1, ErrAuth},
		{"Init counter", msg.signedLen - 2 - len(msg.ek) - 32 - 16 + 3, ErrAuth},
		{"Init X25519 key", msg.signedLen - 2 - len(msg.ek) - 5, ErrAuth},
		{"Init KEM key", msg.signedLen - 100, ErrAuth},
		{"Init signature", len(init) - 10, ErrAuth},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(init)
			bad[c.off] ^= 0x04
			if _, s, err := l.mb.HandleHandshake(bad); !errors.Is(err, c.want) || s != nil {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	resp, _, err := l.mb.HandleHandshake(init)
	if err != nil {
		t.Fatalf("genuine Init after tampered ones: %v", err)
	}
	r, _ := parseResponse(resp)
	for _, c := range []struct {
		name string
		off  int
		want error
	}{
		{"Response X25519 key", 2 + 1 + 16 + 3, ErrAuth},
		{"Response KEM ciphertext", r.thLen - 7, ErrAuth},
		{"Response confirmation", r.thLen + 2, ErrAuth},
		{"Response signature", len(resp) - 9, ErrAuth},
		{"Response session id", 5, ErrUnknownSession},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(resp)
			bad[c.off] ^= 0x04
			if _, s, err := l.ma.HandleHandshake(bad); !errors.Is(err, c.want) || s != nil {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, s, err := l.ma.HandleHandshake(resp); err != nil || s == nil {
		t.Fatalf("genuine Response after forged ones: %v", err)
	}
}

func TestHandshakeReplayRefused(t *testing.T) {
	l := newLink(t, nil)
	old, _ := l.ma.Initiate(l.b.id, dataTopic)
	newer, _ := l.ma.Initiate(l.b.id, dataTopic)
	if _, _, err := l.mb.HandleHandshake(newer); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.mb.HandleHandshake(old); !errors.Is(err, ErrReplay) {
		t.Fatalf("older Init: %v, want ErrReplay", err)
	}
	// The counter is durable: a restarted responder refuses it too.
	mb2 := NewManager(l.f.cfg(l.b))
	if _, _, err := mb2.HandleHandshake(newer); !errors.Is(err, ErrReplay) {
		t.Fatalf("Init replayed to a restarted responder: %v, want ErrReplay", err)
	}
}

func TestRetransmittedInitGetsIdenticalResponse(t *testing.T) {
	l := newLink(t, nil)
	init, _ := l.ma.Initiate(l.b.id, dataTopic)
	r1, s1, err := l.mb.HandleHandshake(init)
	if err != nil {
		t.Fatal(err)
	}
	r2, s2, err := l.mb.HandleHandshake(init)
	if err != nil || !bytes.Equal(r1, r2) || s1 != s2 {
		t.Fatalf("retransmission: err %v, same response %v, same session %v", err, bytes.Equal(r1, r2), s1 == s2)
	}
	sa, _, _ := func() (*Session, []byte, error) { _, s, err := l.ma.HandleHandshake(r1); return s, nil, err }()
	if sa == nil {
		t.Fatal("initiator did not accept the response")
	}
	// The identical Response again changes nothing.
	if reply, s, err := l.ma.HandleHandshake(r2); reply != nil || s != nil || err != nil {
		t.Fatalf("retransmitted Response: %v %v %v", reply, s, err)
	}
	send(t, sa, s1, "works")
}

func TestPendingHandshakeExpires(t *testing.T) {
	l := newLink(t, nil)
	init, _ := l.ma.Initiate(l.b.id, dataTopic)
	resp, _, err := l.mb.HandleHandshake(init)
	if err != nil {
		t.Fatal(err)
	}
	l.f.clk.advance(31 * time.Second)
	if _, _, err := l.ma.HandleHandshake(resp); !errors.Is(err, ErrExpired) {
		t.Fatalf("late Response: %v, want ErrExpired", err)
	}
	if _, _, err := l.ma.HandleHandshake(resp); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("late Response again: %v", err)
	}
}

func TestSuiteDowngradeRefused(t *testing.T) {
	l := newLink(t, nil)
	t.Run("policy forbids the suite", func(t *testing.T) {
		if _, err := l.ma.InitiateSuite(l.b.id, dataTopic, SuiteMLKEM1024); !errors.Is(err, ErrPolicy) {
			t.Fatalf("initiator: %v, want ErrPolicy", err)
		}
		// A peer with a laxer policy offers ML-KEM-1024: the responder refuses.
		lax := l.f.policy
		lax.AllowedKEMs = append(lax.AllowedKEMs, "ML-KEM-1024")
		cfg := l.f.cfg(l.a)
		cfg.Trust = l.f.trust(t, lax)
		introduce(t, &device{trust: cfg.Trust}, l.b)
		init, err := NewManager(cfg).InitiateSuite(l.b.id, dataTopic, SuiteMLKEM1024)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.mb.HandleHandshake(init); !errors.Is(err, ErrPolicy) {
			t.Fatalf("responder: %v, want ErrPolicy", err)
		}
	})
	t.Run("suite byte altered in transit", func(t *testing.T) {
		init, _ := l.ma.Initiate(l.b.id, dataTopic)
		msg, _ := parseInit(init)
		// Rewrite the Init as suite 0x02 with a key of that suite's size:
		// it parses, so only the signature can catch it.
		msg.suite = SuiteMLKEM1024
		kem, _ := SuiteMLKEM1024.kem()
		msg.ek = make([]byte, kem.PublicKeySize())
		rand.Read(msg.ek)
		body, _ := msg.encodeBody()
		w := writer{b: body}
		w.bytes16(msg.sig)
		lax := l.f.policy
		lax.AllowedKEMs = append(lax.AllowedKEMs, "ML-KEM-1024")
		cfg := l.f.cfg(l.b)
		cfg.Trust = l.f.trust(t, lax)
		introduce(t, &device{trust: cfg.Trust}, l.a)
		if _, _, err := NewManager(cfg).HandleHandshake(w.b); !errors.Is(err, ErrAuth) {
			t.Fatalf("altered suite: %v, want ErrAuth", err)
		}
	})
}

func TestDataFrameTampered(t *testing.T) {
	l := newLink(t, nil)
	frame, _ := l.sa.Protect([]byte("set point 42"))
	for _, c := range []struct {
		name string
		off  int
		want error
	}{
		{"version", 0, ErrMalformed},
		{"type", 1, ErrMalformed},
		{"session id", 5, ErrUnknownSession},
		{"ratchet key", 20, ErrAuth},
		{"previous chain length", 53, ErrAuth},
		{"message number", 57, ErrAuth},
		{"flags", 58, ErrMalformed},
		{"ciphertext", 60, ErrAuth},
		{"tag", len(frame) - 1, ErrAuth},
	} {
		t.Run(c.name, func(t *testing.T) {
			bad := bytes.Clone(frame)
			bad[c.off] ^= 0x80
			if _, err := l.sb.Unprotect(bad); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := l.sb.Unprotect(frame[:len(frame)-1]); !errors.Is(err, ErrAuth) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := l.sb.Unprotect(frame[:40]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated header: %v", err)
	}
	if _, _, err := l.mb.Unprotect(frame, dataTopic+"/elsewhere"); !errors.Is(err, ErrAuth) {
		t.Fatalf("re-routed to another context: %v", err)
	}
	if _, pt, err := l.mb.Unprotect(frame, dataTopic); err != nil || string(pt) != "set point 42" {
		t.Fatalf("genuine frame after tampered ones: %v", err)
	}
	if _, err := l.sb.Unprotect(frame); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed: %v", err)
	}
}

func TestReorderWithinWindowAcceptedBeyondRejected(t *testing.T) {
	l := newLink(t, nil)
	frames := make([][]byte, 10)
	for i := range frames {
		frames[i], _ = l.sa.Protect([]byte{byte(i)})
	}
	for i := len(frames) - 1; i >= 0; i-- {
		if pt, err := l.sb.Unprotect(frames[i]); err != nil || pt[0] != byte(i) {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	for i := range frames {
		if _, err := l.sb.Unprotect(frames[i]); !errors.Is(err, ErrReplay) {
			t.Fatalf("frame %d again: %v", i, err)
		}
	}
	// A frame more than MaxJump ahead is refused (deriving up to it would
	// cost too much before the tag is checked); the chain is unharmed.
	far := make([][]byte, l.mb.cfg.MaxJump+2)
	for i := range far {
		far[i], _ = l.sa.Protect([]byte("x"))
	}
	if _, err := l.sb.Unprotect(far[len(far)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("frame beyond MaxJump: %v", err)
	}
	if _, err := l.sb.Unprotect(far[0]); err != nil {
		t.Fatalf("in-order frame after the refused one: %v", err)
	}
	// Within MaxJump a long loss is survived; only the newest MaxSkip
	// skipped keys are kept, so frames older than that are gone.
	if _, err := l.sb.Unprotect(far[len(far)-2]); err != nil {
		t.Fatalf("frame after %d lost ones: %v", len(far)-3, err)
	}
	if _, err := l.sb.Unprotect(far[1]); !errors.Is(err, ErrReplay) {
		t.Fatalf("frame behind the kept keys: %v", err)
	}
	if _, err := l.sb.Unprotect(far[len(far)-3]); err != nil {
		t.Fatalf("late frame within the kept keys: %v", err)
	}
}

// snapshot captures what Unprotect may change, to compare.
type snapshot struct {
	rk, ckr, dhr, dhs [32]byte
	nr                uint32
	skipped, dks      int
	peerEK            bool
}

func snap(s *Session) snapshot {
	return snapshot{s.rk, s.ckr, s.dhr, s.dhsPriv, s.nr, len(s.skipped), len(s.dks), s.peerEK != nil}
}

func TestForgedFramesDoNotDesynchronize(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sa, l.sb, "before")
	send(t, l.sb, l.sa, "reply") // b's state now has a ratchet to step
	genuine, _ := l.sa.Protect([]byte("x"))
	before := snap(l.sb)
	for i := range 1000 {
		forged := make([]byte, len(genuine)+i%50)
		rand.Read(forged)
		copy(forged, genuine[:2+SessionIDSize]) // valid version, type, session id
		forged[58] &= knownFlags &^ flagEK &^ flagCT
		if i%2 == 0 {
			copy(forged[18:50], genuine[18:50]) // the current ratchet key too
		}
		if _, err := l.sb.Unprotect(forged); err == nil {
			t.Fatalf("forgery %d accepted", i)
		}
	}
	if snap(l.sb) != before {
		t.Fatal("forged frames changed the session state")
	}
	if pt, err := l.sb.Unprotect(genuine); err != nil || string(pt) != "x" {
		t.Fatalf("legit traffic after forgeries: %v", err)
	}
	send(t, l.sb, l.sa, "still in sync")
}

func TestSkippedKeysEvictedOldestFirst(t *testing.T) {
	l := newLink(t, func(c *Config) { c.MaxSkip = 8 })
	frames := make([][]byte, 14)
	for i := range frames {
		frames[i], _ = l.sa.Protect([]byte{byte(i)})
	}
	mustOpen := func(i int) {
		t.Helper()
		if _, err := l.sb.Unprotect(frames[i]); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	mustOpen(8)  // keeps keys 0-7
	mustOpen(12) // keeps 9-11 too: 11 keys, the three oldest (0-2) go
	for i := range 3 {
		if _, err := l.sb.Unprotect(frames[i]); !errors.Is(err, ErrReplay) {
			t.Fatalf("evicted frame %d: %v", i, err)
		}
	}
	for _, i := range []int{3, 4, 5, 6, 7, 9, 10, 11, 13} {
		mustOpen(i)
	}
}

// cloneState copies a session's secrets, as an attacker who read memory.
func cloneState(s *Session) *Session {
	c := &Session{m: s.m, id: s.id, suite: s.suite, peer: s.peer, context: s.context,
		rk: s.rk, dhsPriv: s.dhsPriv, dhsPub: s.dhsPub, dhr: s.dhr, cks: s.cks, ckr: s.ckr,
		ns: s.ns, nr: s.nr, pn: s.pn, answered: s.answered}
	c.skipped = append([]skippedKey(nil), s.skipped...)
	c.oldDHr = append([][32]byte(nil), s.oldDHr...)
	for _, k := range s.dks {
		c.dks = append(c.dks, kemPair{bytes.Clone(k.ek), bytes.Clone(k.dk)})
	}
	return c
}

func TestCompromisedStateDoesNotRevealEarlierMessages(t *testing.T) {
	l := newLink(t, nil)
	early := send(t, l.sa, l.sb, "early secret")
	send(t, l.sb, l.sa, "ack")
	send(t, l.sa, l.sb, "after a DH step")
	stolen := cloneState(l.sb)
	if _, err := stolen.Unprotect(early); !errors.Is(err, ErrReplay) {
		t.Fatalf("stolen state on an earlier frame: %v, want ErrReplay", err)
	}
	for _, k := range stolen.skipped {
		if _, err := open(&k.mk, early[dataHeaderSize:], append(bytes.Clone(early[:dataHeaderSize]), dataTopic...)); err == nil {
			t.Fatal("a kept key opens an earlier frame")
		}
	}
}

func TestPostQuantumStepHealsCompromise(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sa, l.sb, "m1")
	send(t, l.sb, l.sa, "m2")
	send(t, l.sa, l.sb, "m3") // a steps
	send(t, l.sb, l.sa, "m4") // b steps
	// The attacker copies a's whole state now, before any PQ step.
	stolen := cloneState(l.sa)
	l.sa.pqCount = 1 << 40 // policy says a PQ step is due
	m5, _ := l.sa.Protect([]byte("m5"))
	if m5[58]&flagEK == 0 || m5[58]&flagPleaseRatchet == 0 || len(l.sa.dks) != 1 {
		t.Fatal("due side did not advertise a KEM key and ask for a reply")
	}
	if _, err := l.sb.Unprotect(m5); err != nil || !l.sb.NeedsReply() {
		t.Fatalf("m5: %v", err)
	}
	m6, _ := l.sb.Protect([]byte("m6"))
	if m6[58]&flagCT == 0 {
		t.Fatal("peer's new chain carries no KEM ciphertext")
	}
	if _, err := l.sa.Unprotect(m6); err != nil {
		t.Fatal(err)
	}
	if len(l.sa.dks) != 0 || l.sa.pqCount != 0 {
		t.Fatal("PQ step not completed: decapsulation key kept")
	}
	// The attacker also knows every X25519 secret: a's new ratchet key
	// (used for m5) is handed over. It follows the classical ratchet ...
	stolen.dhsPriv = l.sa.dhsPriv
	stolen.rk, _ = kdfRK(&stolen.rk, mustDH(t, l.sa.dhsPriv[:], stolen.dhr[:]), nil)
	// ... but cannot derive the step m6 made: without the KEM secret,
	// the classical-only derivation is wrong, and it holds no KEM key.
	d := &dataFrame{}
	stolen.parse(m6, d)
	aad := append(bytes.Clone(d.header), dataTopic...)
	_, ckr := kdfRK(&stolen.rk, mustDH(t, stolen.dhsPriv[:], d.pub[:]), nil)
	if _, err := stolen.trialChain(d, aad, &candidate{}, ckr, 0, d.pub); !errors.Is(err, ErrAuth) {
		t.Fatalf("classical-only derivation opened the post-step frame: %v", err)
	}
	if _, err := stolen.Unprotect(m6); err == nil {
		t.Fatal("stolen pre-step state opened the post-step frame")
	}
	send(t, l.sa, l.sb, "healed")
	send(t, l.sb, l.sa, "healed too")
}

func mustDH(t *testing.T, priv, pub []byte) []byte {
	t.Helper()
	dh, err := x25519(priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	return dh
}

func TestPostQuantumStepsRunFromPolicy(t *testing.T) {
	l := newLink(t, nil) // policy: a PQ step every 50 messages
	for i := range 400 {
		send(t, l.sa, l.sb, "ping")
		if i%3 == 0 || l.sb.NeedsReply() {
			send(t, l.sb, l.sa, "pong")
		}
	}
	if steps := l.sa.PQSteps(); steps < 3 || l.sb.PQSteps() != steps {
		t.Fatalf("%d PQ steps in 400 messages with RekeyMessages=50", steps)
	}
}

func TestChainCapsForceRatchet(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sa, l.sb, "first")
	l.sa.ns, l.sb.nr = l.ma.cfg.SoftCap, l.ma.cfg.SoftCap
	l.sb.ckr = l.sa.cks
	frame := send(t, l.sa, l.sb, "soft cap reached")
	if frame[58]&flagPleaseRatchet == 0 || !l.sb.NeedsReply() {
		t.Fatal("soft cap did not ask for a ratchet")
	}
	l.sa.ns = l.ma.cfg.HardCap - 1
	l.sa.cks = [32]byte{} // any chain key: only the counter matters here
	l.sb.ckr, l.sb.nr = l.sa.cks, l.sa.ns
	send(t, l.sa, l.sb, "last on this chain")
	if _, err := l.sa.Protect([]byte("one too many")); !errors.Is(err, ErrRekeyRequired) {
		t.Fatalf("past the hard cap: %v, want ErrRekeyRequired", err)
	}
	send(t, l.sb, l.sa, "reply lets a ratchet")
	send(t, l.sa, l.sb, "new chain")
	if l.sa.ns != 1 {
		t.Fatalf("new chain at %d", l.sa.ns)
	}
}

func TestMessageKeysUniqueOverAMillionMessages(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 50_000
	}
	var ck [32]byte
	rand.Read(ck[:])
	// The AEAD key is the message key and the nonce is constant, so a
	// (key, nonce) pair repeats exactly when a message key does.
	seen := make(map[[32]byte]struct{}, n)
	for i := range n {
		mk, next := kdfCK(&ck)
		if _, dup := seen[mk]; dup {
			t.Fatalf("message key repeated at message %d", i)
		}
		seen[mk] = struct{}{}
		ck = next
	}
}

func TestRevocationClosesSessions(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sa, l.sb, "ok")
	l.f.revoke(t, 1, l.b, l.a.trust)
	if _, err := l.sa.Protect([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after revocation: %v, want ErrClosed", err)
	}
	if _, err := l.ma.Initiate(l.b.id, dataTopic); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("new handshake to a revoked peer: %v", err)
	}
}

func TestPolicyDisallowingSuiteClosesSessions(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sa, l.sb, "ok")
	p := l.f.policy
	p.Sequence, p.AllowedKEMs = 2, []string{"X25519-ML-KEM-768", "ML-KEM-1024"}
	raw, _ := identity.SignPolicy(l.f.root, p)
	if _, err := l.a.trust.ApplyPolicy(raw, l.f.clk.now()); err != nil {
		t.Fatal(err)
	}
	l.ma.EnforcePolicy()
	if _, err := l.sa.Protect([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after policy change: %v", err)
	}
	if _, err := l.sb.Protect([]byte("x")); err != nil { // b's policy unchanged
		t.Fatal(err)
	}
}

func TestRestartResumesWithoutReplay(t *testing.T) {
	resume := func(c *Config) { c.Resume = true }
	l := newLink(t, resume)
	send(t, l.sa, l.sb, "1")
	send(t, l.sb, l.sa, "2")
	old := send(t, l.sa, l.sb, "3")
	inflight := send(t, l.sa, l.sb, "4")
	// Crash of b: reopen its store, new manager, resume. (A clean
	// shutdown, Manager.Close, keeps the snapshots the same way.)
	l.mb.Close()
	l.b.reopen(t)
	cfg := l.f.cfg(l.b)
	cfg.Resume = true
	mb := NewManager(cfg)
	restored, err := mb.Resume()
	if err != nil || len(restored) != 1 {
		t.Fatalf("resume: %v (%d sessions)", err, len(restored))
	}
	sb := restored[0]
	for _, f := range [][]byte{old, inflight} {
		if _, _, err := mb.Unprotect(f, dataTopic); !errors.Is(err, ErrReplay) {
			t.Fatalf("replay after restart: %v, want ErrReplay", err)
		}
	}
	// Frames of the chain b was receiving before the crash are within the
	// reservation and refused; b asks a to start a new chain.
	lost, _ := l.sa.Protect([]byte("5"))
	if _, _, err := mb.Unprotect(lost, dataTopic); !errors.Is(err, ErrReplay) {
		t.Fatalf("frame in the reserved range: %v", err)
	}
	if f := send(t, sb, l.sa, "6"); f[58]&flagPleaseRatchet == 0 {
		t.Fatal("restored session does not ask for a new chain")
	}
	send(t, l.sa, sb, "7")
	send(t, sb, l.sa, "8")
}

func TestRestartForcesHandshakeWithoutResume(t *testing.T) {
	l := newLink(t, nil)
	f := send(t, l.sa, l.sb, "1")
	mb := NewManager(l.f.cfg(l.b))
	if restored, err := mb.Resume(); err != nil || len(restored) != 0 {
		t.Fatalf("resume without Resume: %v %d", err, len(restored))
	}
	if _, _, err := mb.Unprotect(f, dataTopic); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("old session after restart: %v", err)
	}
	l.mb = mb
	sa, sb := l.handshake(t)
	send(t, sa, sb, "new session")
}

func TestBatches(t *testing.T) {
	l := newLink(t, nil)
	msgs := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	frames, err := l.sa.ProtectBatch(msgs)
	if err != nil {
		t.Fatal(err)
	}
	frames[0], frames[2] = frames[2], frames[0]
	pts, errs := l.sb.UnprotectBatch(append(frames, frames[1]))
	for i, want := range []string{"c", "b", "a"} {
		if errs[i] != nil || string(pts[i]) != want {
			t.Fatalf("batch %d: %v", i, errs[i])
		}
	}
	if !errors.Is(errs[3], ErrReplay) {
		t.Fatalf("replay in batch: %v", errs[3])
	}
}

func TestSessionSnapshotRoundTrip(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sa, l.sb, "1")
	raw, err := l.sb.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{m: l.mb}
	if err := s.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	if s.rk != l.sb.rk || s.peer != l.sb.peer || s.nr != l.sb.nr+reserve {
		t.Fatal("snapshot does not restore the state")
	}
	for i := range raw {
		if err := (&Session{}).UnmarshalBinary(raw[:i]); err == nil {
			t.Fatalf("truncated snapshot of %d bytes accepted", i)
		}
	}
}

// The KEM ciphertext rides in every frame of the answering chain, so the
// PQ step completes even when that chain's first frames are lost or
// overtaken; the late frames then open with the kept keys.
func TestPQStepSurvivesLossOfChainsFirstFrame(t *testing.T) {
	l := newLink(t, nil)
	send(t, l.sa, l.sb, "m1")
	send(t, l.sb, l.sa, "m2")
	l.sa.pqCount = 1 << 40
	send(t, l.sa, l.sb, "advertise")
	first, _ := l.sb.Protect([]byte("first, lost for now"))
	second, _ := l.sb.Protect([]byte("second"))
	if first[58]&flagCT == 0 || second[58]&flagCT == 0 {
		t.Fatal("not every frame of the chain carries the ciphertext")
	}
	if pt, err := l.sa.Unprotect(second); err != nil || string(pt) != "second" {
		t.Fatalf("second frame first: %v", err)
	}
	if l.sa.PQSteps() != 1 || len(l.sa.dks) != 0 {
		t.Fatal("PQ step did not complete on the chain's second frame")
	}
	if pt, err := l.sa.Unprotect(first); err != nil || string(pt) != "first, lost for now" {
		t.Fatalf("overtaken first frame: %v", err)
	}
	send(t, l.sa, l.sb, "after")
}

func TestUnknownSuiteRefused(t *testing.T) {
	l := newLink(t, nil)
	init, _ := l.ma.Initiate(l.b.id, dataTopic)
	bad := bytes.Clone(init)
	bad[2] = 0x7f
	if _, _, err := l.mb.HandleHandshake(bad); !errors.Is(err, ErrPolicy) {
		t.Fatalf("unknown suite: %v, want ErrPolicy", err)
	}
}

func TestInitOutsideClockSkewRefused(t *testing.T) {
	l := newLink(t, nil)
	init, _ := l.ma.Initiate(l.b.id, dataTopic)
	l.f.clk.advance(MaxClockSkew + time.Minute)
	if _, _, err := l.mb.HandleHandshake(init); !errors.Is(err, ErrExpired) {
		t.Fatalf("stale Init: %v, want ErrExpired", err)
	}
}

// Rule 2: when the state cannot be persisted, the session fails closed
// instead of running ahead of its durable snapshot.
func TestUnpersistableStateClosesSession(t *testing.T) {
	l := newLink(t, func(c *Config) { c.Resume = true })
	send(t, l.sa, l.sb, "ok")
	l.a.st.Close()
	var err error
	for i := 0; i < 2*reserve && err == nil; i++ {
		_, err = l.sa.Protect([]byte("x"))
	}
	if !errors.Is(err, ErrPersist) {
		t.Fatalf("protect past the reservation with a dead store: %v, want ErrPersist", err)
	}
	if _, err := l.sa.Protect([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after the failed save: %v, want ErrClosed", err)
	}
}

// More lost frames on the peer's previous chain than can be derived: the
// DH step still happens and traffic goes on; only those frames are lost.
func TestHugeLossOnPreviousChainDoesNotBlockTheStep(t *testing.T) {
	l := newLink(t, func(c *Config) { c.MaxSkip, c.MaxJump = 8, 16 })
	send(t, l.sa, l.sb, "m1")
	send(t, l.sb, l.sa, "m2")
	send(t, l.sa, l.sb, "a steps") // b now has to step at its next send
	send(t, l.sb, l.sa, "b steps")
	for range 40 { // b's whole chain lost but for the first frame
		l.sb.Protect([]byte("lost"))
	}
	send(t, l.sa, l.sb, "a steps again")
	send(t, l.sb, l.sa, "new chain with pn=41 reaches a")
	send(t, l.sa, l.sb, "and back")
}

// Every suite runs a full session, handshake and post-quantum ratchet steps
// included, once the policy lists its KEM: X25519 with ML-KEM-768,
// ML-KEM-1024 or SABER.
func TestEverySuiteRunsWhenPolicyAllowsIt(t *testing.T) {
	for _, suite := range []Suite{SuiteMLKEM768, SuiteMLKEM1024, SuiteSaber} {
		t.Run(suite.KEMName(), func(t *testing.T) {
			l := newLink(t, nil)
			claims := l.f.policy
			claims.Sequence++
			claims.AllowedKEMs = append(claims.AllowedKEMs, "ML-KEM-1024", "Saber")
			claims.RekeyMessages = 2
			l.f.applyPolicy(t, claims, l.a.trust, l.b.trust)
			init, err := l.ma.InitiateSuite(l.b.id, dataTopic, suite)
			if err != nil {
				t.Fatal(err)
			}
			resp, sb, err := l.mb.HandleHandshake(init)
			if err != nil {
				t.Fatal(err)
			}
			_, sa, err := l.ma.HandleHandshake(resp)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 12; i++ {
				send(t, sa, sb, "reading")
				send(t, sb, sa, "ack")
			}
			if sa.PQSteps() == 0 || sa.PQSteps() != sb.PQSteps() {
				t.Fatalf("post-quantum steps: %d and %d", sa.PQSteps(), sb.PQSteps())
			}
		})
	}
}
