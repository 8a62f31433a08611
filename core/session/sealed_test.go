package session

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

const topic = "plant/line3/plc-1/telemetry"

func sealFor(t testing.TB, f *fleet, from, to *device) (*Sealer, Recipient) {
	t.Helper()
	rcpt, err := RecipientOf(TrustPeers{from.trust}, to.id, "", f.clk.now())
	if err != nil {
		t.Fatal(err)
	}
	return NewSealer(f.cfg(from)), rcpt
}

func newOpener(t testing.TB, f *fleet, d *device) *Opener {
	t.Helper()
	o, err := NewOpener(f.cfg(d))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestSealedRoundTrip(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	s, rcpt := sealFor(t, f, a, b)
	o := newOpener(t, f, b)
	for i, msg := range [][]byte{nil, []byte("22.5 C"), bytes.Repeat([]byte{7}, MaxSealedPlaintext)} {
		frame, err := s.Seal(rcpt, topic, msg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := o.Open(frame, topic)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !bytes.Equal(got.Plaintext, msg) || got.Sender != a.id || got.Seq != uint64(i+1) {
			t.Fatalf("message %d: got %+v", i, got)
		}
	}
}

// sealedFields locates the fields of a frame to tamper with each one.
func sealedFields(t *testing.T, frame []byte) map[string]int {
	h, aeadCT, signedLen, sig, err := parseSealed(frame)
	if err != nil {
		t.Fatal(err)
	}
	ctStart := signedLen - len(aeadCT) - 2 - len(h.kemCT)
	return map[string]int{
		"version":          0,
		"type":             1,
		"sender key id":    3 + len(h.sender),
		"sequence":         3 + len(h.sender) + 16 + 1 + len(h.recipient) + 16 + 6,
		"KEM ciphertext":   ctStart + 10,
		"AEAD ciphertext":  signedLen - len(aeadCT) + 1,
		"AEAD tag":         signedLen - 3,
		"signature":        len(frame) - len(sig)/2,
		"signature length": signedLen,
	}
}

func TestSealedRejects(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	c := f.device(t, "rtu-9") // unknown to b
	introduce(t, c, b)
	s, rcpt := sealFor(t, f, a, b)
	o := newOpener(t, f, b)
	frame, err := s.Seal(rcpt, topic, []byte("open valve 3"))
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name    string
		frame   []byte
		context string
		want    error
	}
	var cases []tc
	for field, off := range sealedFields(t, frame) {
		bad := bytes.Clone(frame)
		bad[off] ^= 0x01
		want := ErrAuth
		switch field {
		case "version", "type", "signature length":
			want = ErrMalformed
		case "sender key id":
			want = identity.ErrLowerEpoch // not the sender's certified key set
		}
		cases = append(cases, tc{"tampered " + field, bad, topic, want})
	}
	toC, _ := RecipientOf(TrustPeers{a.trust}, b.id, "", f.clk.now())
	_ = toC
	fromC, rcptC := sealFor(t, f, c, b)
	unknown, _ := fromC.Seal(rcptC, topic, []byte("x"))
	cToItself, _ := fromC.Seal(Recipient{DeviceID: c.id, KeyID: c.keys.KeyID(), KEM: c.keys.KEMs[0].Public}, topic, []byte("x"))
	cases = append(cases,
		tc{"re-routed to another context", frame, topic + "/other", ErrAuth},
		tc{"addressed to another device", cToItself, topic, ErrWrongRecipient},
		tc{"unknown sender", unknown, topic, ErrUnknownPeer},
		tc{"truncated", frame[:len(frame)-1], topic, ErrMalformed},
		tc{"truncated to the header", frame[:40], topic, ErrMalformed},
		tc{"empty", nil, topic, ErrMalformed},
		tc{"trailing bytes", append(bytes.Clone(frame), 0), topic, ErrMalformed},
		tc{"oversized", make([]byte, MaxSealedSize+1), topic, ErrMalformed},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := o.Open(c.frame, c.context); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// None of the rejects above consumed the sequence number.
	if _, err := o.Open(frame, topic); err != nil {
		t.Fatalf("genuine frame after rejects: %v", err)
	}
	if _, err := o.Open(frame, topic); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed frame: %v", err)
	}
}

func TestSealedRevokedSenderRefused(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	s, rcpt := sealFor(t, f, a, b)
	o := newOpener(t, f, b)
	frame, _ := s.Seal(rcpt, topic, []byte("x"))
	f.revoke(t, 1, a, b.trust)
	if _, err := o.Open(frame, topic); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("got %v, want ErrRevoked", err)
	}
}

func TestSealedRateLimitedBeforeSignature(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	s, rcpt := sealFor(t, f, a, b)
	cfg := f.cfg(b)
	cfg.Budget = NewTokenBucket(identity.RateLimit{Rate: 0.001, Burst: 1}, f.clk.now)
	o, _ := NewOpener(cfg)
	f1, _ := s.Seal(rcpt, topic, []byte("1"))
	f2, _ := s.Seal(rcpt, topic, []byte("2"))
	if _, err := o.Open(f1, topic); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Open(f2, topic); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("got %v, want ErrRateLimited", err)
	}
}

func TestSealedReorderedWithinWindowAcceptedOnce(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	s, rcpt := sealFor(t, f, a, b)
	s.seq, s.cfg.Volatile = nil, true // in-memory sequence: faster, same window logic
	o := newOpener(t, f, b)
	frames := make([][]byte, WindowSize+1)
	for i := range frames {
		frames[i], _ = s.Seal(rcpt, topic, []byte{byte(i)})
	}
	// Newest first: all inside the window except the oldest, which falls out.
	for i := len(frames) - 1; i >= 2; i-- {
		if _, err := o.Open(frames[i], topic); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	if _, err := o.Open(frames[1], topic); err != nil {
		t.Fatalf("frame at the window's edge: %v", err)
	}
	if _, err := o.Open(frames[0], topic); !errors.Is(err, ErrReplay) {
		t.Fatalf("frame below the window: %v", err)
	}
	if _, err := o.Open(frames[5], topic); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay inside the window: %v", err)
	}
}

func TestSequenceAllocatorSurvivesReopenWithoutReuse(t *testing.T) {
	f := newFleet(t)
	a := f.device(t, "plc-1")
	issued := map[uint64]bool{}
	var top uint64
	for round := range 3 {
		alloc := NewSequenceAllocator(a.st, "test/seq", 16)
		for range 5 + round*20 {
			n, err := alloc.Next()
			if err != nil {
				t.Fatal(err)
			}
			if issued[n] || n <= top && round > 0 && n < top {
				t.Fatalf("round %d: sequence %d reused or went back (top %d)", round, n, top)
			}
			issued[n], top = true, max(top, n)
		}
		a.reopen(t) // simulated crash: the rest of the block is lost
	}
	alloc := NewSequenceAllocator(a.st, "test/seq", 16)
	n, _ := alloc.Next()
	if n <= top {
		t.Fatalf("after reopen got %d, want > %d", n, top)
	}
}

func TestSealedReplayRefusedAfterCrash(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	s, rcpt := sealFor(t, f, a, b)
	frames := make([][]byte, 3)
	for i := range frames {
		frames[i], _ = s.Seal(rcpt, topic, []byte{byte(i)})
	}
	o := newOpener(t, f, b)
	if _, err := o.Open(frames[1], topic); err != nil {
		t.Fatal(err)
	}
	// Crash: no Close, so no exact windows saved; the durable mark rules.
	b.reopen(t)
	o = newOpener(t, f, b)
	for i, fr := range frames {
		if _, err := o.Open(fr, topic); !errors.Is(err, ErrReplay) {
			t.Fatalf("frame %d after crash: %v, want ErrReplay", i, err)
		}
	}
	// The sender restarted too: it continues in a new block, accepted.
	a.reopen(t)
	s, _ = sealFor(t, f, a, b)
	fresh, _ := s.Seal(rcpt, topic, []byte("after restart"))
	if _, err := o.Open(fresh, topic); err != nil {
		t.Fatalf("fresh frame after both restarted: %v", err)
	}
}

func TestSealedCleanShutdownKeepsExactWindow(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	s, rcpt := sealFor(t, f, a, b)
	f1, _ := s.Seal(rcpt, topic, []byte("1"))
	f2, _ := s.Seal(rcpt, topic, []byte("2"))
	o := newOpener(t, f, b)
	if _, err := o.Open(f2, topic); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = newOpener(t, f, b)
	if _, err := o.Open(f2, topic); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay after clean restart: %v", err)
	}
	if _, err := o.Open(f1, topic); err != nil {
		t.Fatalf("late frame within the restored window: %v", err)
	}
}

func TestWindowsMarshalRoundTrip(t *testing.T) {
	ws := NewWindows()
	for _, n := range []uint64{1, 5, 200, 130} {
		ws.Accept("plc-1", n)
	}
	ws.SetFloor("rtu-2", 99)
	raw, err := ws.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got := NewWindows()
	if err := got.UnmarshalBinary(raw); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   string
		seq  uint64
		want error
	}{{"plc-1", 200, ErrReplay}, {"plc-1", 130, ErrReplay}, {"plc-1", 131, nil}, {"plc-1", 5, ErrReplay}, {"rtu-2", 99, ErrReplay}, {"rtu-2", 100, nil}} {
		if err := got.Check(c.id, c.seq); !errors.Is(err, c.want) {
			t.Errorf("%s %d: %v, want %v", c.id, c.seq, err, c.want)
		}
	}
	if err := got.UnmarshalBinary(append(raw, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
	// Two windows for one sender: the second could lower its high-water mark.
	one := NewWindows()
	one.Accept("plc-1", 200)
	single, _ := one.MarshalBinary()
	entry := single[5:]
	doubled := append(append([]byte{single[0], 0, 0, 0, 2}, entry...), entry...)
	if err := got.UnmarshalBinary(doubled); !errors.Is(err, ErrMalformed) {
		t.Fatalf("duplicate sender: %v", err)
	}
}

func TestMissingStoreRefusedUnlessVolatile(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	cfg := f.cfg(a)
	cfg.Store = nil
	rcpt, _ := RecipientOf(TrustPeers{a.trust}, b.id, "", f.clk.now())
	if _, err := NewSealer(cfg).Seal(rcpt, topic, nil); !errors.Is(err, ErrPersist) {
		t.Fatalf("seal without a store: %v", err)
	}
	if _, err := NewOpener(cfg); !errors.Is(err, ErrPersist) {
		t.Fatalf("opener without a store: %v", err)
	}
	if _, err := NewManager(cfg).Initiate(b.id, dataTopic); !errors.Is(err, ErrPersist) {
		t.Fatalf("handshake without a store: %v", err)
	}
}

func TestTokenBucketBoundedAndRefills(t *testing.T) {
	clk := &clock{t0}
	tb := NewTokenBucket(identity.RateLimit{Rate: 1, Burst: 2}, clk.now)
	tb.MaxPeers = 2
	if !tb.Allow("a") || !tb.Allow("a") || tb.Allow("a") {
		t.Fatal("burst of 2 not enforced")
	}
	if !tb.Allow("b") {
		t.Fatal("second peer refused")
	}
	if tb.Allow("c") {
		t.Fatal("third peer admitted while both buckets are in use")
	}
	clk.advance(3 * time.Second) // both refill: idle buckets make room
	if !tb.Allow("c") || !tb.Allow("a") {
		t.Fatal("refill or room not made")
	}
}

// The signature is checked first, so the tamper cases above stop there.
// Here the sender itself re-signs altered frames: the KEM and AEAD layers
// refuse them on their own.
func TestSealedLayersRefuseResignedTampering(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	s, rcpt := sealFor(t, f, a, b)
	o := newOpener(t, f, b)
	frame, _ := s.Seal(rcpt, topic, []byte("x"))
	fields := sealedFields(t, frame)
	for _, name := range []string{"KEM ciphertext", "AEAD ciphertext", "AEAD tag"} {
		t.Run(name, func(t *testing.T) {
			_, _, signedLen, _, _ := parseSealed(frame)
			bad := bytes.Clone(frame[:signedLen])
			bad[fields[name]] ^= 0x01
			sig, err := a.local.Current.sign(sigInput(labelSealedSig, bad, topic))
			if err != nil {
				t.Fatal(err)
			}
			w := writer{b: bad}
			w.bytes16(sig)
			if _, err := o.Open(w.b, topic); !errors.Is(err, ErrAuth) {
				t.Fatalf("got %v, want ErrAuth", err)
			}
		})
	}
	if _, err := o.Open(frame, topic); err != nil {
		t.Fatalf("genuine frame after re-signed forgeries: %v", err)
	}
}
