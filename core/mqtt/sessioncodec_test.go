package mqtt

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt/brokertest"
	"github.com/pqc-iiot/pqc-iiot/core/session"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// rnode is a device running the real codec.
type rnode struct {
	id     string
	dev    *identity.Device
	trust  *identity.Trust
	st     *store.Store
	path   string
	codec  *SessionCodec
	client *Client
	clock  *atomic.Int64 // offset added to the codec's clock, in seconds
}

var (
	pubPlant = []identity.TopicPermission{{Filter: "plant/#", Publish: true}}
	subPlant = []identity.TopicPermission{{Filter: "plant/#", Subscribe: true}}
	both     = []identity.TopicPermission{{Filter: "plant/#", Publish: true, Subscribe: true}}
)

// enrolWithTopics is testFleet.device with topic permissions in the
// certificate (claim -7), returning the keystore too.
func (f *testFleet) enrolWithTopics(t testing.TB, id string, topics []identity.TopicPermission) (*identity.Device, *identity.Trust, *store.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), id+".store")
	st, err := store.Create(path, store.RawKey(bytes.Repeat([]byte{7}, 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := identity.InitDevice(st, id, "Ed25519", identity.DefaultSignature, identity.DefaultKEMs)
	if err != nil {
		t.Fatal(err)
	}
	enr := &identity.Enroller{CA: f.root, Anchors: []*identity.Certificate{f.root.Cert}, Replay: &identity.MemoryReplayGuard{},
		Window: time.Minute, Validity: 30 * 24 * time.Hour,
		Allowed: []identity.AllowedDevice{{DeviceID: id, FactoryKey: dev.FactoryKey(), Topics: topics}}}
	req, err := dev.JoinRequest(nil, f.now)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := enr.Enroll(req, f.now)
	if err != nil {
		t.Fatal(err)
	}
	tr := f.trust(t)
	if _, err := dev.Install(chain, tr, time.Hour, f.now); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ApplyPolicy(f.freshPolicy(t, 1), f.now); err != nil {
		t.Fatal(err)
	}
	return dev, tr, st, path
}

func newRNode(t testing.TB, f *testFleet, broker, id string, topics []identity.TopicPermission, mode CodecMode, mod func(*SessionCodecOptions, *Options)) *rnode {
	t.Helper()
	n := &rnode{id: id, clock: &atomic.Int64{}}
	n.dev, n.trust, n.st, n.path = f.enrolWithTopics(t, id, topics)
	t.Cleanup(func() { n.st.Close() })
	n.start(t, broker, mode, mod)
	return n
}

// start makes the codec and client over the node's store (again, after
// stop: a restart).
func (n *rnode) start(t testing.TB, broker string, mode CodecMode, mod func(*SessionCodecOptions, *Options)) {
	t.Helper()
	now := func() time.Time { return time.Now().Add(time.Duration(n.clock.Load()) * time.Second) }
	co := SessionCodecOptions{Device: n.dev, Trust: n.trust, Store: n.st, Mode: mode, Now: now, HandshakeWait: 10 * time.Second}
	opts := Options{Broker: broker, Device: n.dev, Trust: n.trust, Budgets: generous,
		ConnectTimeout: 5 * time.Second, MaxReconnectInterval: time.Second}
	if mod != nil {
		mod(&co, &opts)
	}
	codec, err := NewSessionCodec(co)
	if err != nil {
		t.Fatal(err)
	}
	opts.Codec = codec
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	n.codec, n.client = codec, c
	t.Cleanup(func() { c.Close(); codec.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
}

func (n *rnode) stop() {
	n.client.Close()
	n.codec.Close()
}

func (n *rnode) knows(t testing.TB, ids ...string) {
	t.Helper()
	for _, id := range ids {
		waitUntil(t, 10*time.Second, "announcement of "+id+" accepted by "+n.id, func() bool {
			_, ok := n.trust.Peer(id)
			return ok
		})
	}
}

// spy records the last frame seen on each topic, as anyone on the broker can.
type spy struct {
	mu  sync.Mutex
	got map[string][]byte
}

func newSpy(t testing.TB, url, filter string) *spy {
	s := &spy{got: map[string][]byte{}}
	plainClient(t, url, fmt.Sprintf("spy-%d", time.Now().UnixNano())).Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		s.got[m.Topic()] = bytes.Clone(m.Payload())
		s.mu.Unlock()
	}).Wait()
	return s
}

func (s *spy) take(t testing.TB, topic string) []byte {
	t.Helper()
	var b []byte
	waitUntil(t, 5*time.Second, "spy capture on "+topic, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		b = s.got[topic]
		delete(s.got, topic)
		return b != nil
	})
	return b
}

func TestIntegrationMosquitto_SessionCodecSealedFanOut(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	sensor := newRNode(t, f, mq.URL(), "sensor-1", pubPlant, ModeSealed, nil)
	scada := newRNode(t, f, mq.URL(), "scada-1", subPlant, ModeSealed, nil)
	hmi := newRNode(t, f, mq.URL(), "hmi-1", subPlant, ModeSealed, nil)
	// The historian may read only other/#: it receives plant frames from
	// the broker under plant/# but is not among their recipients.
	hist := newRNode(t, f, mq.URL(), "historian", []identity.TopicPermission{{Filter: "other/#", Subscribe: true}}, ModeSealed, nil)
	sensor.knows(t, "scada-1", "hmi-1", "historian")
	for _, n := range []*rnode{scada, hmi, hist} {
		n.knows(t, "sensor-1")
	}
	var a, b, h inbox
	scada.client.Subscribe("plant/#", a.add)
	hmi.client.Subscribe("plant/#", b.add)
	hist.client.Subscribe("plant/#", h.add)
	for i := range 5 {
		if err := sensor.client.Publish(ctxT(t, 5*time.Second), "plant/line3/sensor-1/temp", []byte(fmt.Sprintf("2%d.5", i))); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, "both recipients get 5", func() bool { return a.len() == 5 && b.len() == 5 })
	waitUntil(t, 5*time.Second, "historian drops 5 as not for it", func() bool { return hist.client.Stats().DroppedNotForMe == 5 })
	for _, m := range append(a.all(), b.all()...) {
		if m.Sender != "sensor-1" || m.Topic != "plant/line3/sensor-1/temp" {
			t.Fatalf("message %+v", m)
		}
	}
	if h.len() != 0 || hist.client.Stats().DroppedUnprotect != 0 {
		t.Fatalf("historian: %d delivered, %+v", h.len(), hist.client.Stats())
	}
	if s := sensor.codec.Stats(); s.SealedSent != 5 || s.SessionSent != 0 || s.HandshakesStarted != 0 {
		t.Fatalf("sensor codec %+v", s)
	}
	// scada may not publish on plant/#: its certificate grants subscribe only.
	// The sensor may not read: the receiver refuses a frame whose sender has
	// no publish grant, and the publisher finds no recipient where nobody
	// may read.
	if err := scada.client.Publish(ctxT(t, 5*time.Second), "elsewhere/x", []byte("x")); !errors.Is(err, ErrNoRecipients) {
		t.Fatalf("publish without recipients: %v", err)
	}
}

func rekeyPolicy(t testing.TB, f *testFleet, seq uint64, require bool) []byte {
	p, err := identity.SignPolicy(f.root, identity.PolicyClaims{
		IssuedAt: f.now.Add(-time.Minute).Unix(), Expiry: f.now.Add(7 * 24 * time.Hour).Unix(), Sequence: seq,
		AllowedKEMs: []string{"ML-KEM-768", "X25519-ML-KEM-768"}, AllowedSigs: []string{"ML-DSA-65", "ML-DSA-44", "Ed25519"},
		PeerBudget: identity.RateLimit{Rate: 100000, Burst: 100000}, GlobalBudget: identity.RateLimit{Rate: 100000, Burst: 100000},
		RekeyMessages: 20, RequireSessions: require,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIntegrationMosquitto_SessionCodecSessionsEndToEnd(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	sensor := newRNode(t, f, mq.URL(), "sensor-1", pubPlant, ModeAuto, nil)
	scada := newRNode(t, f, mq.URL(), "scada-1", subPlant, ModeAuto, nil)
	hmi := newRNode(t, f, mq.URL(), "hmi-1", subPlant, ModeAuto, nil)
	// The policy requires sessions and asks for a post-quantum ratchet
	// step every 20 messages: one-way telemetry only keeps turning if the
	// receivers answer with keep-ratchet frames.
	pol := rekeyPolicy(t, f, 2, true)
	for _, n := range []*rnode{sensor, scada, hmi} {
		if _, err := n.trust.ApplyPolicy(pol, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sensor.knows(t, "scada-1", "hmi-1")
	scada.knows(t, "sensor-1")
	hmi.knows(t, "sensor-1")
	var a, b inbox
	scada.client.Subscribe("plant/#", a.add)
	hmi.client.Subscribe("plant/#", b.add)
	n := 200
	for i := range n {
		if err := sensor.client.Publish(ctxT(t, 15*time.Second), "plant/line3/sensor-1/temp", []byte(fmt.Sprintf("reading %d", i))); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			time.Sleep(20 * time.Millisecond) // let keep-ratchet frames come back
		}
	}
	waitUntil(t, 15*time.Second, "all readings delivered", func() bool { return a.len() == n && b.len() == n })
	for i, m := range a.all() {
		if m.Sender != "sensor-1" || string(m.Payload) != fmt.Sprintf("reading %d", i) {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	cs := sensor.codec.Stats()
	if cs.SealedSent != 0 || cs.SessionSent != uint64(n) || cs.HandshakesDone != 2 {
		t.Fatalf("sensor codec %+v", cs)
	}
	if s := scada.client.Stats(); s.DroppedUnprotect != 0 || s.DroppedNotForMe != 0 || s.AcceptedHandshakes == 0 {
		t.Fatalf("scada stats %+v", s)
	}
	// Keep-ratchet frames are rate-limited (one per peer per 250 ms): keep
	// the telemetry going until both sessions completed a post-quantum step.
	pqDone := func() bool {
		for _, peer := range []string{"scada-1", "hmi-1"} {
			if s, ok := sensor.codec.Session(peer); !ok || s.PQSteps() == 0 {
				return false
			}
		}
		return true
	}
	extra := 0
	for deadline := time.Now().Add(10 * time.Second); !pqDone(); extra++ {
		if time.Now().After(deadline) {
			t.Fatalf("no post-quantum ratchet step: sensor %+v, scada %+v", sensor.codec.Stats(), scada.codec.Stats())
		}
		if err := sensor.client.Publish(ctxT(t, 15*time.Second), "plant/line3/sensor-1/temp", []byte("more")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if scada.codec.Stats().KeepRatchetSent == 0 || sensor.client.Stats().AcceptedKeepRatchet == 0 {
		t.Fatalf("keep-ratchet: scada %+v sensor %+v", scada.codec.Stats(), sensor.client.Stats())
	}
	waitUntil(t, 10*time.Second, "extra readings delivered", func() bool { return a.len() == n+extra && b.len() == n+extra })
	n += extra
	// Sessions are required: a sealed frame is refused by the receiver.
	sealer := session.NewSealer(session.Config{Local: sensor.codec.local, Volatile: true})
	r, _ := session.RecipientOf(session.TrustPeers{Trust: sensor.trust}, "scada-1", "", time.Now())
	sealed, _ := sealer.SealMulti([]session.Recipient{r}, "plant/line3/sensor-1/temp", []byte("sealed"))
	plainPublish(t, plainClient(t, mq.URL(), "inj"), "plant/line3/sensor-1/temp", 1, false, sealed)
	waitUntil(t, 5*time.Second, "sealed frame refused", func() bool { return scada.client.Stats().DroppedUnprotect == 1 })

	// A restarted sensor resumes its sessions from its keystore: no new
	// handshake, and the receivers accept its frames.
	sensor.stop()
	sensor.start(t, mq.URL(), ModeAuto, nil)
	sensor.knows(t, "scada-1", "hmi-1")
	if err := sensor.client.Publish(ctxT(t, 15*time.Second), "plant/line3/sensor-1/temp", []byte("after restart")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "delivery after restart", func() bool { return a.len() == n+1 && b.len() == n+1 })
	if s := sensor.codec.Stats(); s.SessionsResumed != 2 || s.HandshakesStarted != 0 {
		t.Fatalf("restarted sensor %+v", s)
	}
}

// attackFrames injects tampered, replayed, re-routed and forged frames
// into a live exchange and checks that each is dropped and counted.
func TestIntegrationMosquitto_SessionCodecRejectsTamperedReplayedReroutedForged(t *testing.T) {
	for _, mode := range []CodecMode{ModeSealed, ModeSessions} {
		t.Run(map[CodecMode]string{ModeSealed: "sealed", ModeSessions: "sessions"}[mode], func(t *testing.T) {
			mq := brokertest.Start(t)
			f := newTestFleet(t)
			a := newRNode(t, f, mq.URL(), "sensor-a", pubPlant, mode, nil)
			m := newRNode(t, f, mq.URL(), "sensor-m", pubPlant, mode, nil) // a valid device turned bad
			r := newRNode(t, f, mq.URL(), "scada-1", subPlant, mode, nil)
			a.knows(t, "scada-1")
			m.knows(t, "scada-1")
			r.knows(t, "sensor-a", "sensor-m")
			var got inbox
			r.client.Subscribe("plant/a/cmd", got.add)
			sp := newSpy(t, mq.URL(), "plant/#")
			if err := a.client.Publish(ctxT(t, 15*time.Second), "plant/a/cmd", []byte("open valve 3")); err != nil {
				t.Fatal(err)
			}
			genuine := sp.take(t, "plant/a/cmd")
			if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/hidden/cmd", []byte("close valve 9")); err != nil {
				t.Fatal(err)
			}
			hidden := sp.take(t, "plant/hidden/cmd")
			if err := m.client.Publish(ctxT(t, 15*time.Second), "plant/m/x", []byte("evil")); err != nil {
				t.Fatal(err)
			}
			mallory := sp.take(t, "plant/m/x")
			waitUntil(t, 5*time.Second, "genuine delivery", func() bool { return got.len() == 1 })

			tampered := bytes.Clone(genuine)
			tampered[len(tampered)-20] ^= 1
			// Mallory's own valid frame, relabelled as sensor-a's (same
			// length ids): signature or session belong to Mallory.
			relabelled := bytes.Replace(bytes.Clone(mallory), []byte("sensor-m"), []byte("sensor-a"), 1)
			// A's frame with the signature or session frame body replaced.
			forged := bytes.Clone(genuine)
			rand.Read(forged[len(forged)-40 : len(forged)-8])
			before := r.client.Stats().DroppedUnprotect
			inj := plainClient(t, mq.URL(), "injector")
			for i, c := range []struct {
				name  string
				frame []byte
			}{
				{"tampered", tampered},
				{"replayed", genuine},
				{"re-routed from plant/hidden/cmd", hidden},
				{"relabelled sender", relabelled},
				{"forged", forged},
				{"truncated", genuine[:60]},
				{"garbage", []byte("not a frame")},
			} {
				plainPublish(t, inj, "plant/a/cmd", 1, false, c.frame)
				waitUntil(t, 5*time.Second, c.name+" counted as dropped", func() bool {
					return r.client.Stats().DroppedUnprotect == before+uint64(i+1)
				})
			}
			if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/a/cmd", []byte("close valve 3")); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, 5*time.Second, "second genuine delivery", func() bool { return got.len() == 2 })
			msgs := got.all()
			if string(msgs[0].Payload) != "open valve 3" || string(msgs[1].Payload) != "close valve 3" || msgs[1].Sender != "sensor-a" {
				t.Fatalf("delivered %+v", msgs)
			}
		})
	}
}

func TestIntegrationMosquitto_SessionCodecRevokedPeerCutOff(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	cpTrust := f.trust(t)
	cp, err := NewControlPlane(ControlPlaneOptions{Broker: mq.URL(), Trust: cpTrust})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	if err := cp.Connect(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	a := newRNode(t, f, mq.URL(), "sensor-a", both, ModeSessions, nil)
	b := newRNode(t, f, mq.URL(), "sensor-b", pubPlant, ModeSessions, nil)
	r := newRNode(t, f, mq.URL(), "scada-1", both, ModeSessions, nil)
	a.knows(t, "scada-1")
	b.knows(t, "scada-1")
	r.knows(t, "sensor-a", "sensor-b")
	var got inbox
	r.client.Subscribe("plant/+/v", got.add)
	for _, n := range []*rnode{a, b} {
		if err := n.client.Publish(ctxT(t, 15*time.Second), "plant/"+n.id+"/v", []byte("before")); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, "both before revocation", func() bool { return got.len() == 2 })
	if _, ok := r.codec.Session("sensor-a"); !ok {
		t.Fatal("no session with sensor-a")
	}
	keys, _, _ := a.dev.Keys()
	rev, _ := identity.SignRevocation(f.root, 1, time.Now().Unix(), [][]byte{keys.KeyID()})
	if err := cp.PublishRevocation(ctxT(t, 5*time.Second), rev); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "revocation applied", func() bool { return r.trust.IsRevoked(keys.KeyID()) })
	// Listeners run right after the list is installed.
	waitUntil(t, 5*time.Second, "session with the revoked peer closed", func() bool {
		_, ok := r.codec.Session("sensor-a")
		return !ok
	})
	// sensor-a's own side still holds its session; its frames are refused.
	before := r.client.Stats().DroppedUnprotect
	_ = a.client.Publish(ctxT(t, 5*time.Second), "plant/sensor-a/v", []byte("after"))
	if err := b.client.Publish(ctxT(t, 5*time.Second), "plant/sensor-b/v", []byte("after")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "sensor-b after revocation", func() bool { return got.len() == 3 })
	waitUntil(t, 5*time.Second, "sensor-a's frame refused", func() bool { return r.client.Stats().DroppedUnprotect == before+1 })
	for _, m := range got.all()[2:] {
		if m.Sender != "sensor-b" {
			t.Fatalf("revoked sender delivered: %+v", m)
		}
	}
	// And nothing is sent to sensor-a any more: it was the only reader.
	if err := r.client.Publish(ctxT(t, 5*time.Second), "plant/sensor-a/set", []byte("x")); !errors.Is(err, ErrNoRecipients) {
		t.Fatalf("publish to a revoked peer: %v", err)
	}
}

func TestIntegrationMosquitto_SessionCodecStalePolicyFailsClosed(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	a := newRNode(t, f, mq.URL(), "sensor-a", pubPlant, ModeAuto, nil)
	r := newRNode(t, f, mq.URL(), "scada-1", subPlant, ModeAuto, nil)
	a.knows(t, "scada-1")
	r.knows(t, "sensor-a")
	var got inbox
	r.client.Subscribe("plant/#", got.add)
	if err := a.client.Publish(ctxT(t, 10*time.Second), "plant/a", []byte("fresh")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "delivery under a fresh policy", func() bool { return got.len() == 1 })
	// The receiver's clock passes the policy's expiry: it refuses frames.
	r.clock.Store(8 * 24 * 3600)
	if err := a.client.Publish(ctxT(t, 10*time.Second), "plant/a", []byte("while stale")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "refused under a stale policy", func() bool { return r.client.Stats().DroppedUnprotect == 1 })
	// The sender's too: it refuses to protect.
	a.clock.Store(8 * 24 * 3600)
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/a", []byte("x")); !errors.Is(err, session.ErrPolicy) {
		t.Fatalf("protect under a stale policy: %v", err)
	}
	if got.len() != 1 {
		t.Fatalf("delivered %d", got.len())
	}
}

func TestIntegrationMosquitto_SessionCodecFloodOfGarbage(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	a := newRNode(t, f, mq.URL(), "sensor-a", pubPlant, ModeSessions, nil)
	r := newRNode(t, f, mq.URL(), "scada-1", subPlant, ModeSessions, func(_ *SessionCodecOptions, o *Options) {
		o.Budgets = Budgets{MaxPeers: 512}
	})
	a.knows(t, "scada-1")
	r.knows(t, "sensor-a")
	var got inbox
	r.client.Subscribe("plant/#", got.add)
	if err := a.client.Publish(ctxT(t, 15*time.Second), "plant/a", []byte("warm-up")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "warm-up", func() bool { return got.len() == 1 })
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	h0 := heap()
	attacker := plainClient(t, mq.URL(), "attacker")
	const garbage, legit = 10000, 50
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 600)
		for i := range garbage {
			rand.Read(buf)
			var frame []byte
			topic := "plant/a"
			switch i % 5 {
			case 0: // multi-recipient sealed frame from a random sender
				frame = append([]byte{session.Version, 0x11, 10}, fmt.Sprintf("rnd-%06d", i)...)
				frame = append(frame, buf...)
			case 1: // bundle claiming sensor-a with a random session
				frame = append([]byte{session.Version, 0x12, 8}, "sensor-a"...)
				frame = append(append(frame, 1, 0x02, 0x00), buf[:512]...)
			case 2: // handshake Init from a random initiator
				topic = HandshakeTopic("scada-1")
				frame = append([]byte{session.Version, 0x20, 0x01}, buf[:16]...)
				frame = append(append(frame, 10), fmt.Sprintf("rnd-%06d", i)...)
				frame = append(frame, buf...)
			case 3: // keep-ratchet junk
				topic = RatchetTopic("scada-1")
				frame = buf
			default: // random bytes
				frame = buf
			}
			attacker.Publish(topic, 0, false, bytes.Clone(frame))
		}
	}()
	for i := range legit {
		if err := a.client.Publish(ctxT(t, 15*time.Second), "plant/a", []byte(fmt.Sprintf("legit %d", i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	<-done
	waitUntil(t, 30*time.Second, "all legit messages", func() bool { return got.len() == legit+1 })
	s := r.client.Stats()
	accounted := func() uint64 {
		s = r.client.Stats()
		return s.DroppedRateLimited + s.DroppedUnprotect + s.DroppedNotForMe + s.DroppedHandshake + s.DroppedKeepRatchet + s.DroppedBadTopic + s.DroppedOversize
	}
	waitUntil(t, 30*time.Second, "garbage accounted", func() bool { return accounted() >= garbage*9/10 })
	growth := int64(heap()) - int64(h0)
	t.Logf("flood: %+v; heap growth %.2f MiB", s, float64(growth)/(1<<20))
	if growth > 16<<20 {
		t.Fatalf("heap grew by %d bytes", growth)
	}
}

func TestIntegrationMosquitto_SessionCodecAutoModeSealsThenUsesSessions(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	sensor := newRNode(t, f, mq.URL(), "sensor-1", pubPlant, ModeAuto, nil)
	scada := newRNode(t, f, mq.URL(), "scada-1", subPlant, ModeAuto, nil)
	sensor.knows(t, "scada-1")
	scada.knows(t, "sensor-1")
	var got inbox
	scada.client.Subscribe("plant/#", got.add)
	// The first frame does not wait for the handshake: it is sealed.
	if err := sensor.client.Publish(ctxT(t, 5*time.Second), "plant/t", []byte("first")); err != nil {
		t.Fatal(err)
	}
	if s := sensor.codec.Stats(); s.SealedSent != 1 || s.HandshakesStarted != 1 {
		t.Fatalf("first frame: %+v", s)
	}
	waitUntil(t, 10*time.Second, "session established", func() bool { return sensor.codec.Stats().HandshakesDone == 1 })
	for i := range 5 {
		if err := sensor.client.Publish(ctxT(t, 5*time.Second), "plant/t", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 5*time.Second, "all delivered", func() bool { return got.len() == 6 })
	if s := sensor.codec.Stats(); s.SealedSent != 1 || s.SessionSent != 5 {
		t.Fatalf("after the handshake: %+v", s)
	}
	for _, m := range got.all() {
		if m.Sender != "sensor-1" {
			t.Fatalf("%+v", m)
		}
	}
}
