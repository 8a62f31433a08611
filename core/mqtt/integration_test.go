package mqtt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt/brokertest"
)

// plainClient is an ordinary paho client with no protection: the
// attacker's (or the spy's) view of the broker.
func plainClient(t testing.TB, url, id string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("plain client connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func plainPublish(t testing.TB, c paho.Client, topic string, qos byte, retained bool, payload []byte) {
	t.Helper()
	tok := c.Publish(topic, qos, retained, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("plain publish %s: %v", topic, tok.Error())
	}
}

func TestIntegrationMosquitto_PublishSubscribeEndToEnd(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	a := newNode(t, f, mq.URL(), "sensor-a", true, nil).connect(t)
	r := newNode(t, f, mq.URL(), "scada-1", true, nil).connect(t)
	r.knows(t, "sensor-a")
	a.knows(t, "scada-1")

	var got inbox
	if err := r.client.Subscribe("plant/line3/temp", got.add); err != nil {
		t.Fatal(err)
	}
	if err := a.client.Subscribe("plant/line3/cmd", nil); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/line3/temp", []byte("t="+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 10*time.Second, "20 messages", func() bool { return got.len() == 20 })
	for i, m := range got.all() {
		if m.Sender != "sensor-a" || m.Topic != "plant/line3/temp" || string(m.Payload) != "t="+strconv.Itoa(i) {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	// The other direction, through the polling twin.
	if err := r.client.Publish(ctxT(t, 5*time.Second), "plant/line3/cmd", []byte("stop")); err != nil {
		t.Fatal(err)
	}
	m, err := a.client.Recv(ctxT(t, 5*time.Second))
	if err != nil || m.Sender != "scada-1" || string(m.Payload) != "stop" {
		t.Fatalf("recv: %+v %v", m, err)
	}
	if s := a.client.Stats(); s.Published != 20 {
		t.Fatalf("publisher stats %+v", s)
	}
	if s := r.client.Stats(); s.Delivered != 20 || s.DroppedUnprotect != 0 {
		t.Fatalf("receiver stats %+v", s)
	}
}

func TestIntegrationMosquitto_TamperedReplayedReroutedForgedFramesRejected(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	a := newNode(t, f, mq.URL(), "sensor-a", true, nil).connect(t)
	r := newNode(t, f, mq.URL(), "scada-1", true, nil).connect(t)
	r.knows(t, "sensor-a")
	var got inbox
	if err := r.client.Subscribe("plant/a/cmd", got.add); err != nil {
		t.Fatal(err)
	}
	// The spy records frames as the broker (or anyone on it) sees them.
	spy := plainClient(t, mq.URL(), "spy")
	var spyMu sync.Mutex
	captured := map[string][]byte{}
	spy.Subscribe("plant/#", 1, func(_ paho.Client, m paho.Message) {
		spyMu.Lock()
		captured[m.Topic()] = bytes.Clone(m.Payload())
		spyMu.Unlock()
	}).Wait()
	capturedOn := func(topic string) []byte {
		waitUntil(t, 5*time.Second, "spy capture on "+topic, func() bool {
			spyMu.Lock()
			defer spyMu.Unlock()
			return captured[topic] != nil
		})
		spyMu.Lock()
		defer spyMu.Unlock()
		return captured[topic]
	}
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/a/cmd", []byte("open valve 3")); err != nil {
		t.Fatal(err)
	}
	// A frame meant for a topic the receiver does not read, never seen by it.
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/hidden/cmd", []byte("close valve 9")); err != nil {
		t.Fatal(err)
	}
	genuine, hidden := capturedOn("plant/a/cmd"), capturedOn("plant/hidden/cmd")
	waitUntil(t, 5*time.Second, "genuine delivery", func() bool { return got.len() == 1 })

	fr, err := parseTC(genuine)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(genuine)
	tampered[len(fr.body)-1] ^= 0x01 // last payload byte: "open valve 2"

	// Forgery: a freshly generated key signs a frame that claims to be
	// sensor-a, with sensor-a's key id and an unused sequence number.
	attacker, err := identity.NewOperationalKeys("ML-DSA-65", nil)
	if err != nil {
		t.Fatal(err)
	}
	forged := []byte{testCodecVersion, byte(len("sensor-a"))}
	forged = append(forged, "sensor-a"...)
	forged = binary.BigEndian.AppendUint64(forged, 1000)
	forged = append(forged, a.codec.keyID...)
	forged = binary.BigEndian.AppendUint32(forged, 12)
	forged = append(forged, "open valve 7"...)
	sig, _ := a.codec.sig.Sign(attacker.Sig.Secret(), tcSigned("plant/a/cmd", forged))
	forged = append(forged, sig...)
	// And a sender nobody announced.
	unknown := bytes.Clone(genuine)
	copy(unknown[2:2+len("sensor-a")], "sensor-z")

	inj := plainClient(t, mq.URL(), "injector")
	for i, c := range []struct {
		name  string
		frame []byte
	}{
		{"tampered", tampered},
		{"replayed", genuine},
		{"re-routed from plant/hidden/cmd", hidden},
		{"forged signature", forged},
		{"unannounced sender", unknown},
		{"truncated", genuine[:40]},
		{"garbage", []byte("not a frame")},
	} {
		plainPublish(t, inj, "plant/a/cmd", 1, false, c.frame)
		waitUntil(t, 5*time.Second, c.name+" counted as dropped", func() bool {
			return r.client.Stats().DroppedUnprotect == uint64(i+1)
		})
	}
	// A genuine frame after all that still gets through, and nothing else did.
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/a/cmd", []byte("close valve 3")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "second genuine delivery", func() bool { return got.len() == 2 })
	time.Sleep(100 * time.Millisecond)
	msgs := got.all()
	if len(msgs) != 2 || string(msgs[0].Payload) != "open valve 3" || string(msgs[1].Payload) != "close valve 3" {
		t.Fatalf("delivered %+v", msgs)
	}
	if s := r.client.Stats(); s.DroppedUnprotect != 7 || s.Delivered != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestIntegrationMosquitto_RetainedAndWildcards(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	a := newNode(t, f, mq.URL(), "sensor-a", true, nil).connect(t)
	for topic, v := range map[string]string{"plant/line1/temp": "20", "plant/line2/temp": "30", "plant/line1/pressure": "4"} {
		if err := a.client.PublishRetained(ctxT(t, 5*time.Second), topic, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/line9/temp", []byte("not retained")); err != nil {
		t.Fatal(err)
	}
	// Two receivers connecting later, one per filter, one with a handler
	// and one polling.
	r1 := newNode(t, f, mq.URL(), "scada-1", true, nil).connect(t)
	r2 := newNode(t, f, mq.URL(), "scada-2", true, nil).connect(t)
	r1.knows(t, "sensor-a")
	r2.knows(t, "sensor-a")
	var temps inbox
	if err := r1.client.Subscribe("plant/+/temp", temps.add); err != nil {
		t.Fatal(err)
	}
	if err := r2.client.Subscribe("plant/line1/#", nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "two retained temps", func() bool { return temps.len() == 2 })
	line1 := map[string]string{}
	for range 2 {
		m, err := r2.client.Recv(ctxT(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if !m.Retained || m.Sender != "sensor-a" {
			t.Fatalf("%+v", m)
		}
		line1[m.Topic] = string(m.Payload)
	}
	if line1["plant/line1/temp"] != "20" || line1["plant/line1/pressure"] != "4" {
		t.Fatalf("line1 retained: %v", line1)
	}
	// Live messages: + is one level, # any depth (including the parent).
	for _, topic := range []string{"plant/line3/temp", "plant/line3/x/temp", "plant/line1", "plant/line1/a/b/c", "other/line1/temp"} {
		if err := a.client.Publish(ctxT(t, 5*time.Second), topic, []byte("live "+topic)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 5*time.Second, "live temp", func() bool { return temps.len() == 3 })
	var live []string
	for range 2 {
		m, err := r2.client.Recv(ctxT(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if m.Retained {
			t.Fatalf("live message flagged retained: %+v", m)
		}
		live = append(live, m.Topic)
	}
	time.Sleep(200 * time.Millisecond)
	tm := temps.all()
	got := map[string]bool{}
	for _, m := range tm {
		got[m.Topic+"="+string(m.Payload)] = m.Retained
	}
	want := map[string]bool{"plant/line1/temp=20": true, "plant/line2/temp=30": true, "plant/line3/temp=live plant/line3/temp": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("plant/+/temp got %v want %v", got, want)
	}
	if strings.Join(live, ",") != "plant/line1,plant/line1/a/b/c" {
		t.Fatalf("plant/line1/# live: %v", live)
	}
	if _, err := r2.client.Recv(ctxT(t, 200*time.Millisecond)); err == nil {
		t.Fatal("extra message on plant/line1/#")
	}
}

// Definition tested: let Acked be the sequence numbers whose Publish
// returned nil. Across a SIGKILL and restart of the broker mid-stream,
// every member of Acked is delivered to the subscriber, none is delivered
// twice (the codec's replay window drops the broker's redeliveries), and
// nothing is delivered that was not published. Publishes that returned an
// error may or may not arrive. This holds for a broker that persists
// before acknowledging; Mosquitto with autosave_on_changes 1 saves right
// after each change, which leaves a window of microseconds per message.
func TestIntegrationMosquitto_BrokerKillRestartLosesNoAcknowledgedMessage(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	pub := newNode(t, f, mq.URL(), "sensor-a", true, nil).connect(t)
	sub := newNode(t, f, mq.URL(), "historian", true, nil).connect(t)
	sub.knows(t, "sensor-a")

	var mu sync.Mutex
	count := map[int]int{}
	if err := sub.client.Subscribe("plant/stream", func(m Message) {
		n, err := strconv.Atoi(string(m.Payload))
		if err != nil || m.Sender != "sensor-a" {
			t.Errorf("unexpected message %+v", m)
			return
		}
		mu.Lock()
		count[n]++
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	const total = 400
	acked := make([]bool, total)
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		waitUntil(t, 30*time.Second, "a third of the stream", func() bool { return pub.client.Stats().Published >= total/3 })
		mq.Kill()
		time.Sleep(500 * time.Millisecond) // both clients notice and start reconnecting
		mq.Restart()
	}()
	for i := range total {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := pub.client.Publish(ctx, "plant/stream", []byte(strconv.Itoa(i)))
		cancel()
		acked[i] = err == nil
		if err != nil {
			t.Logf("publish %d: %v", i, err)
		}
	}
	<-killed
	nacked := 0
	for _, ok := range acked {
		if ok {
			nacked++
		}
	}
	missing := func() []int {
		mu.Lock()
		defer mu.Unlock()
		var m []int
		for i, ok := range acked {
			if ok && count[i] == 0 {
				m = append(m, i)
			}
		}
		return m
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let late duplicates show up if any
	if m := missing(); len(m) > 0 {
		t.Fatalf("%d acknowledged messages lost: %v\nbroker log:\n%s", len(m), m, mq.Log())
	}
	mu.Lock()
	defer mu.Unlock()
	for n, c := range count {
		if c != 1 {
			t.Errorf("message %d delivered %d times", n, c)
		}
		if n < 0 || n >= total {
			t.Errorf("message %d was never published", n)
		}
	}
	ps, ss := pub.client.Stats(), sub.client.Stats()
	if ps.Reconnects == 0 || ss.Reconnects == 0 {
		t.Fatalf("the broker kill was not noticed: pub %+v sub %+v", ps, ss)
	}
	t.Logf("acked %d/%d, delivered %d distinct, redeliveries dropped by the replay window: %d, reconnects pub %d sub %d",
		nacked, total, len(count), ss.DroppedUnprotect, ps.Reconnects, ss.Reconnects)
}

func TestIntegrationMosquitto_FloodOfGarbageKeepsMemoryBoundedAndTrafficFlowing(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	a := newNode(t, f, mq.URL(), "sensor-a", true, nil).connect(t)
	// The victim runs the default budgets: the point is that they contain
	// the flood while a verified sender keeps its own.
	r := newNode(t, f, mq.URL(), "scada-1", true, func(o *Options) { o.Budgets = Budgets{MaxPeers: 512} }).connect(t)
	r.knows(t, "sensor-a")
	var got inbox
	if err := r.client.Subscribe("plant/#", got.add); err != nil {
		t.Fatal(err)
	}
	// One genuine message first: sensor-a is now a verified sender.
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/a/temp", []byte("warm-up")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "warm-up", func() bool { return got.len() == 1 })

	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()

	const garbage = 10000
	attacker := plainClient(t, mq.URL(), "attacker")
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for i := range garbage {
			var topic string
			var payload []byte
			switch i % 10 {
			case 0: // oversize
				topic, payload = "plant/x/big", make([]byte, DefaultMaxPayload+1+i%100)
			case 1: // bad device id in a control topic
				topic, payload = "pqc/v1/keys/bad id!", []byte("x")
			case 2: // announcement garbage under random identities
				topic, payload = fmt.Sprintf("pqc/v1/keys/dev-%d", i), buf[:100+i%900]
			case 3: // policy garbage
				topic, payload = "pqc/v1/policy", buf[:50+i%500]
			case 4, 5: // well-formed headers, random claimed senders, bad signatures
				id := fmt.Sprintf("bot-%d", i)
				p := []byte{testCodecVersion, byte(len(id))}
				p = append(p, id...)
				p = append(p, buf[:40+3309]...)
				topic, payload = "plant/a/temp", p
			default: // random bytes
				rand.Read(buf[:64+i%1000])
				topic, payload = fmt.Sprintf("plant/g/%d", i%50), bytes.Clone(buf[:64+i%1000])
			}
			attacker.Publish(topic, 0, false, payload)
		}
		attacker.Publish("plant/end", 1, false, []byte("end")).Wait()
	}()
	// Genuine traffic during the flood.
	const legit = 50
	for i := range legit {
		if err := a.client.Publish(ctxT(t, 10*time.Second), "plant/a/temp", []byte("legit "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	<-done
	waitUntil(t, 20*time.Second, "all legit messages", func() bool { return got.len() == legit+1 })
	for i, m := range got.all() {
		if m.Sender != "sensor-a" {
			t.Fatalf("message %d from %q delivered: %+v", i, m.Sender, m)
		}
	}
	// Let the queue drain, then measure what the flood left behind.
	accounted := func() uint64 {
		s := r.client.Stats()
		return s.DroppedOversize + s.DroppedBadTopic + s.DroppedRateLimited + s.DroppedUnprotect + s.DroppedAnnouncement + s.DroppedPolicy
	}
	waitUntil(t, 20*time.Second, "garbage accounted", func() bool { return accounted() >= garbage*9/10 })
	after := heap()
	s := r.client.Stats()
	t.Logf("heap before %d KiB, after %d KiB; stats %+v", before>>10, after>>10, s)
	const bound = 16 << 20
	if after > before && after-before > bound {
		t.Fatalf("heap grew by %d KiB (bound %d KiB)", (after-before)>>10, bound>>10)
	}
	if s.DroppedRateLimited == 0 || s.DroppedOversize == 0 || s.DroppedBadTopic == 0 {
		t.Fatalf("some garbage class was not caught by the cheap checks: %+v", s)
	}
	r.client.lim.mu.Lock() // frames may still be arriving
	n := r.client.lim.peers.len()
	r.client.lim.mu.Unlock()
	if n > 512 {
		t.Fatalf("%d per-peer buckets, bound 512", n)
	}
	if s.AcceptedPolicies != 0 || s.AcceptedAnnouncements > 3 {
		t.Fatalf("garbage accepted as control objects: %+v", s)
	}
}

func TestIntegrationMosquitto_RevokedPeerCutOff(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	cpTrust := f.trust(t)
	cp, err := NewControlPlane(ControlPlaneOptions{Broker: mq.URL(), Trust: cpTrust})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if err := cp.Connect(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	a := newNode(t, f, mq.URL(), "sensor-a", true, nil).connect(t)
	b := newNode(t, f, mq.URL(), "sensor-b", true, nil).connect(t)
	r := newNode(t, f, mq.URL(), "scada-1", true, nil).connect(t)
	r.knows(t, "sensor-a")
	r.knows(t, "sensor-b")
	var got inbox
	if err := r.client.Subscribe("plant/+/temp", got.add); err != nil {
		t.Fatal(err)
	}
	pubBoth := func(tag string) {
		for _, n := range []*node{a, b} {
			if err := n.client.Publish(ctxT(t, 5*time.Second), "plant/"+n.dev.ID()+"/temp", []byte(tag)); err != nil {
				t.Fatal(err)
			}
		}
	}
	pubBoth("before")
	waitUntil(t, 5*time.Second, "both before revocation", func() bool { return got.len() == 2 })

	rev1, _ := identity.SignRevocation(f.root, 1, time.Now().Unix(), nil)
	if err := cp.PublishRevocation(ctxT(t, 5*time.Second), rev1); err != nil {
		t.Fatal(err)
	}
	rev2, _ := identity.SignRevocation(f.root, 2, time.Now().Unix(), [][]byte{a.codec.keyID})
	if err := cp.PublishRevocation(ctxT(t, 5*time.Second), rev2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "revocation applied", func() bool { return r.trust.IsRevoked(a.codec.keyID) })
	pubBoth("after")
	waitUntil(t, 5*time.Second, "sensor-b after revocation", func() bool { return got.len() == 3 })
	waitUntil(t, 5*time.Second, "sensor-a's frame dropped", func() bool { return r.client.Stats().DroppedUnprotect == 1 })
	for _, m := range got.all()[2:] {
		if m.Sender != "sensor-a" {
			continue
		}
		t.Fatalf("revoked sender delivered: %+v", m)
	}
	// The control plane will not publish a rollback; an attacker
	// republishing the old list directly is dropped and counted.
	if err := cp.PublishRevocation(ctxT(t, 5*time.Second), rev1); err == nil {
		t.Fatal("control plane published a rolled-back list")
	}
	plainPublish(t, plainClient(t, mq.URL(), "attacker"), TopicRevocation, 1, true, rev1)
	waitUntil(t, 5*time.Second, "rollback counted", func() bool { return r.client.Stats().DroppedRevocation == 1 })
	if !r.trust.IsRevoked(a.codec.keyID) {
		t.Fatal("rollback un-revoked sensor-a")
	}
	// A device connecting later gets the retained list before anything else.
	late := newNode(t, f, mq.URL(), "scada-2", true, nil)
	// The attacker's retained rollback replaced the retained list on the
	// broker; the control plane's sync answer restores it for devices.
	late.connect(t)
	if err := late.client.RequestSync(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "late device learns the revocation", func() bool { return late.trust.IsRevoked(a.codec.keyID) })
	if cp.Stats().SyncAnswered == 0 {
		t.Fatalf("control plane stats %+v", cp.Stats())
	}
}

func TestIntegrationMosquitto_StalePolicyFailsClosed(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	a := newNode(t, f, mq.URL(), "sensor-a", true, nil).connect(t)
	// The receiver's clock is 8 days ahead: its installed policy (7 days)
	// has expired.
	future := func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	r := newNode(t, f, mq.URL(), "scada-1", true, func(o *Options) { o.Now = future }).connect(t)
	if err := r.trust.CheckHighRisk(future()); err == nil {
		t.Fatal("test setup: policy should be stale")
	}
	var got inbox
	if err := r.client.Subscribe("plant/#", got.add); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "announcement refused", func() bool { return r.client.Stats().DroppedAnnouncement >= 1 })
	if _, ok := r.trust.Peer("sensor-a"); ok {
		t.Fatal("announcement accepted under a stale policy")
	}
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/a/temp", []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "frame from an unaccepted peer dropped", func() bool { return r.client.Stats().DroppedUnprotect == 1 })

	inj := plainClient(t, mq.URL(), "operator-or-attacker")
	// An expired policy (by the receiver's clock) and a rollback are both
	// dropped and counted.
	stale := f.policy(t, 5, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	plainPublish(t, inj, TopicPolicy, 1, false, stale)
	waitUntil(t, 5*time.Second, "stale policy dropped", func() bool { return r.client.Stats().DroppedPolicy == 1 })
	// A fresh one (seq 2) unblocks; the client asks the broker for the
	// retained announcements again and accepts them now.
	fresh := f.policy(t, 2, time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour))
	plainPublish(t, inj, TopicPolicy, 1, true, fresh)
	r.knows(t, "sensor-a")
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/a/temp", []byte("2")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "delivery under a fresh policy", func() bool { return got.len() == 1 })
	rollback := f.policy(t, 1, time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour))
	plainPublish(t, inj, TopicPolicy, 1, false, rollback)
	waitUntil(t, 5*time.Second, "rolled-back policy dropped", func() bool { return r.client.Stats().DroppedPolicy == 2 })
	if p := r.trust.Policy(); p.Sequence != 2 {
		t.Fatalf("policy %d installed", p.Sequence)
	}
	if s := r.client.Stats(); s.AcceptedPolicies != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// ssl:// with a TLSConfig: the broker's certificate is verified, and a
// client trusting another CA cannot connect.
func TestIntegrationMosquitto_TLSListener(t *testing.T) {
	mq := brokertest.StartConfig(t, brokertest.Config{TLS: true})
	f := newTestFleet(t)
	withTLS := func(o *Options) { o.TLSConfig = mq.TLSConfig() }
	a := newNode(t, f, mq.URL(), "sensor-a", true, withTLS).connect(t)
	r := newNode(t, f, mq.URL(), "scada-1", true, withTLS).connect(t)
	r.knows(t, "sensor-a")
	if err := r.client.Subscribe("plant/tls", nil); err != nil {
		t.Fatal(err)
	}
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/tls", []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	if m, err := r.client.Recv(ctxT(t, 5*time.Second)); err != nil || string(m.Payload) != "over tls" {
		t.Fatalf("%+v %v", m, err)
	}
	other := brokertest.StartConfig(t, brokertest.Config{TLS: true}) // another CA
	x := newNode(t, f, mq.URL(), "sensor-x", true, func(o *Options) { o.TLSConfig = other.TLSConfig() })
	if err := x.client.Connect(ctxT(t, 5*time.Second)); err == nil {
		t.Fatal("connected to a broker whose certificate the client does not trust")
	}
}

// A broker without persistence forgets sessions and retained messages
// when killed. The clients reconnect with back-off, subscribe again and
// announce again, and traffic resumes without any action by the caller.
func TestIntegrationMosquitto_ResubscribesAfterBrokerLostItsState(t *testing.T) {
	mq := brokertest.StartConfig(t, brokertest.Config{Volatile: true})
	f := newTestFleet(t)
	a := newNode(t, f, mq.URL(), "sensor-a", true, nil).connect(t)
	r := newNode(t, f, mq.URL(), "scada-1", true, nil).connect(t)
	r.knows(t, "sensor-a")
	var got inbox
	if err := r.client.Subscribe("plant/+/temp", got.add); err != nil {
		t.Fatal(err)
	}
	if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/a/temp", []byte("before")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "before", func() bool { return got.len() == 1 })
	mq.Kill()
	mq.Restart()
	waitUntil(t, 15*time.Second, "both reconnected", func() bool {
		return a.client.Stats().Reconnects >= 1 && r.client.Stats().Reconnects >= 1 && a.client.Connected() && r.client.Connected()
	})
	// The subscription exists only because the client made it again; a
	// publish may race with it, so send until one arrives.
	waitUntil(t, 10*time.Second, "delivery after the broker lost its state", func() bool {
		if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/a/temp", []byte("after")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		return got.len() >= 2
	})
	// The announcement is retained again on the fresh broker.
	late := newNode(t, f, mq.URL(), "scada-2", true, nil).connect(t)
	late.knows(t, "sensor-a")
}

// A device that connects with no policy (nothing retained on the broker
// either) asks on pqc/v1/sync/<id> by itself and gets policy and
// revocation list from the control plane, on its own reply topics only.
func TestIntegrationMosquitto_DeviceWithoutPolicySyncsFromControlPlane(t *testing.T) {
	mq := brokertest.Start(t)
	f := newTestFleet(t)
	cpTrust := f.trust(t)
	if _, err := cpTrust.ApplyPolicy(f.freshPolicy(t, 3), time.Now()); err != nil {
		t.Fatal(err)
	}
	rev, _ := identity.SignRevocation(f.root, 1, time.Now().Unix(), nil)
	if _, err := cpTrust.ApplyRevocation(rev); err != nil {
		t.Fatal(err)
	}
	cp, err := NewControlPlane(ControlPlaneOptions{Broker: mq.URL(), Trust: cpTrust})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	if err := cp.Connect(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	other := newNode(t, f, mq.URL(), "bystander", true, nil).connect(t)
	d := newNode(t, f, mq.URL(), "new-device", false, nil).connect(t)
	waitUntil(t, 10*time.Second, "policy and list via sync", func() bool {
		return d.trust.CheckHighRisk(time.Now()) == nil && d.trust.Revocation() != nil
	})
	if p := d.trust.Policy(); p.Sequence != 3 {
		t.Fatalf("policy %d", p.Sequence)
	}
	if s := cp.Stats(); s.SyncAnswered != 1 {
		t.Fatalf("control plane %+v", s)
	}
	time.Sleep(100 * time.Millisecond)
	if s := other.client.Stats(); s.AcceptedPolicies != 0 || s.DroppedSync != 0 {
		t.Fatalf("bystander saw another device's sync reply: %+v", s)
	}
}
