package mqtt

import (
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// FuzzInboundPublish drives the client's inbound path exactly as paho
// would: a raw publish (topic + payload) into Client.onMessage (syntax,
// size, budget), then the worker's dispatch (handleData through the real
// SessionCodec, or handleControl into Trust and the session manager). No
// broker is involved: the decision about one publish needs none, and a
// broker would only add scheduling to every execution.
//
// Invariants: every publish ends in exactly one Stats counter; nothing is
// delivered unless a genuine peer protected exactly that payload for that
// topic; and after any input, fresh genuine frames of both kinds (session
// bundle and multi-recipient sealed) are still delivered — a refused frame
// moved no ratchet, replay window or trust state.

// rawPublish is the inbound publish as paho hands it to the client.
type rawPublish struct {
	topic   string
	payload []byte
}

func (m rawPublish) Duplicate() bool   { return false }
func (m rawPublish) Qos() byte         { return 1 }
func (m rawPublish) Retained() bool    { return false }
func (m rawPublish) Topic() string     { return m.topic }
func (m rawPublish) MessageID() uint16 { return 1 }
func (m rawPublish) Payload() []byte   { return m.payload }
func (m rawPublish) Ack()              {}

var _ paho.Message = rawPublish{}

// inboundRig is a receiver client (never connected) and a sender's two
// codecs: one with an established session to the receiver, one sealing.
type inboundRig struct {
	rx             *Client
	sessTx, sealTx *SessionCodec
	genuine        map[string]string // topic+"\x00"+frame -> plaintext
}

func newInboundRig(t testing.TB) *inboundRig {
	f := newTestFleet(t)
	aDev, aTrust, aSt, _ := f.enrolWithTopics(t, "plc-1", pubPlant)
	bDev, bTrust, bSt, _ := f.enrolWithTopics(t, "scada-1", subPlant)
	t.Cleanup(func() { aSt.Close(); bSt.Close() })
	annA, err := aDev.Announcement(KeysTopic("plc-1"), f.now)
	if err != nil {
		t.Fatal(err)
	}
	annB, err := bDev.Announcement(KeysTopic("scada-1"), f.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bTrust.AcceptAnnouncement(annA, KeysTopic("plc-1"), f.now); err != nil {
		t.Fatal(err)
	}
	if _, err := aTrust.AcceptAnnouncement(annB, KeysTopic("scada-1"), f.now); err != nil {
		t.Fatal(err)
	}
	mk := func(opts SessionCodecOptions) *SessionCodec {
		opts.Volatile, opts.KeepRatchetInterval = true, 24*time.Hour
		c, err := NewSessionCodec(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	r := &inboundRig{genuine: map[string]string{}}
	r.sessTx = mk(SessionCodecOptions{Device: aDev, Trust: aTrust, Mode: ModeSessions})
	r.sealTx = mk(SessionCodecOptions{Device: aDev, Trust: aTrust, Mode: ModeSealed})
	rxCodec := mk(SessionCodecOptions{Device: bDev, Trust: bTrust})
	// What the client does when it accepts an announcement from the broker.
	r.sessTx.peerAnnounced("scada-1")
	r.sealTx.peerAnnounced("scada-1")
	rxCodec.peerAnnounced("plc-1")
	// The handshake runs codec to codec: the receiver's client is never
	// connected, so its Response is handed over here instead of published.
	init, err := r.sessTx.mgr.Initiate("scada-1", sessionContext)
	if err != nil {
		t.Fatal(err)
	}
	resp, _, err := rxCodec.mgr.HandleHandshake(init)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sessTx.handleHandshake(resp); err != nil {
		t.Fatal(err)
	}
	r.rx, err = NewClient(Options{Broker: "tcp://127.0.0.1:1", Device: bDev, Trust: bTrust, Codec: rxCodec, Budgets: generous})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.rx.Close() })
	if err := r.rx.Subscribe("plant/#", nil); err != nil {
		t.Fatal(err)
	}
	return r
}

// protect makes a genuine frame and remembers it.
func (r *inboundRig) protect(t testing.TB, c *SessionCodec, topic, payload string) []byte {
	frame, err := c.Protect(topic, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	r.genuine[topic+"\x00"+string(frame)] = payload
	return frame
}

// deliver runs one publish through the inbound path and returns what was
// delivered, if anything.
func (r *inboundRig) deliver(t testing.TB, topic string, payload []byte) (*Message, error) {
	before := countAll(r.rx.Stats())
	r.rx.onMessage(nil, rawPublish{topic, payload})
	select {
	case f := <-r.rx.inbound:
		if f.kind == ctlNone {
			r.rx.handleData(f)
		} else {
			r.rx.handleControl(f)
		}
	default: // refused by the cheap checks
	}
	if got := countAll(r.rx.Stats()) - before; got != 1 {
		return nil, fmt.Errorf("publish counted %d times: %+v", got, r.rx.Stats())
	}
	select {
	case m := <-r.rx.recv:
		return &m, nil
	default:
		return nil, nil
	}
}

func countAll(s Stats) uint64 {
	return s.DroppedOversize + s.DroppedBadTopic + s.DroppedRateLimited + s.DroppedUnprotect +
		s.DroppedAnnouncement + s.DroppedPolicy + s.DroppedRevocation + s.DroppedSync +
		s.DroppedNoHandler + s.DroppedNotForMe + s.DroppedHandshake + s.DroppedKeepRatchet +
		s.Delivered + s.AcceptedAnnouncements + s.AcceptedPolicies + s.AcceptedRevocations +
		s.AcceptedHandshakes + s.AcceptedKeepRatchet
}

func FuzzInboundPublish(f *testing.F) {
	r := newInboundRig(f)
	const topic = "plant/line-3/temp"
	f.Add(topic, r.protect(f, r.sessTx, topic, "bundle seed"))
	f.Add(topic, r.protect(f, r.sealTx, topic, "sealed seed"))
	f.Add("plant/other", r.protect(f, r.sealTx, topic, "re-routed"))
	init, _ := r.sessTx.mgr.Initiate("scada-1", sessionContext)
	f.Add(HandshakeTopic("scada-1"), init)
	f.Add(RatchetTopic("scada-1"), []byte{1, 0x12})
	f.Add(TopicPolicy, []byte{0xd2, 0x84})
	f.Add(TopicRevocation, []byte{})
	f.Add(KeysTopic("plc-1"), []byte{0xd2})
	f.Add("plant/+/temp", []byte("wildcard in a topic name"))
	f.Add(SyncTopic("scada-1")+"/policy", []byte{})
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		m, err := r.deliver(t, topic, payload)
		if err != nil {
			t.Fatal(err)
		}
		if m != nil {
			want, ok := r.genuine[topic+"\x00"+string(payload)]
			if !ok || string(m.Payload) != want || m.Sender != "plc-1" {
				t.Fatalf("delivered a publish nobody protected: %q on %q from %q", m.Payload, topic, m.Sender)
			}
		}
		r.checkStillDelivers(t)
	})
}

// checkStillDelivers sends one fresh genuine frame of each kind.
func (r *inboundRig) checkStillDelivers(t *testing.T) {
	const topic = "plant/line-3/probe"
	for _, c := range []*SessionCodec{r.sessTx, r.sealTx} {
		frame := r.protect(t, c, topic, "probe")
		m, err := r.deliver(t, topic, frame)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil || string(m.Payload) != "probe" {
			t.Fatalf("genuine frame after a fuzzed one not delivered: %+v %+v", m, r.rx.Stats())
		}
		delete(r.genuine, topic+"\x00"+string(frame)) // a replay must not count as genuine
	}
}
