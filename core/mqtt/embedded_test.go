package mqtt

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Runs without Mosquitto: the in-process broker carries a signed,
// verified exchange, including announcement discovery over the control
// plane and the Recv polling twin.
func TestEmbeddedBroker_PublishSubscribeEndToEnd(t *testing.T) {
	b, err := StartEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := newTestFleet(t)
	a := newNode(t, f, b.URL(), "sensor-a", true, nil).connect(t)
	r := newNode(t, f, b.URL(), "scada-1", true, nil).connect(t)
	r.knows(t, "sensor-a")
	if err := r.client.Subscribe("plant/+/temp", nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"21.5", "21.7"} {
		if err := a.client.Publish(ctxT(t, 5*time.Second), "plant/line3/temp", []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"21.5", "21.7"} {
		m, err := r.client.Recv(ctxT(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if m.Sender != "sensor-a" || string(m.Payload) != want || m.Topic != "plant/line3/temp" {
			t.Fatalf("got %+v", m)
		}
	}
	if s := r.client.Stats(); s.Delivered != 2 || s.AcceptedAnnouncements == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// With the broker gone the client queues up to QueueSize publishes and
// refuses the next one at once instead of growing without bound.
func TestEmbeddedBroker_QueueFullWhileDisconnected(t *testing.T) {
	b, err := StartEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := newTestFleet(t)
	a := newNode(t, f, b.URL(), "sensor-a", true, func(o *Options) { o.QueueSize = 2 }).connect(t)
	b.Close()
	waitUntil(t, 5*time.Second, "connection loss noticed", func() bool { return !a.client.Connected() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- a.client.Publish(ctx, "plant/x", []byte("queued")) }()
	}
	waitUntil(t, 5*time.Second, "two publishes queued", func() bool { return len(a.client.sem) == 2 })
	if err := a.client.Publish(context.Background(), "plant/x", []byte("one too many")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third publish: %v", err)
	}
	if a.client.Stats().QueueFull != 1 {
		t.Fatal("QueueFull not counted")
	}
	cancel()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatalf("queued publish after cancel: %v", err)
		}
	}
}

func TestPublishRefusesReservedOversizeAndUnconnected(t *testing.T) {
	f := newTestFleet(t)
	a := newNode(t, f, "tcp://127.0.0.1:1", "sensor-a", true, nil)
	ctx := context.Background()
	if err := a.client.Publish(ctx, "pqc/v1/policy", []byte("x")); !errors.Is(err, ErrReservedTopic) {
		t.Fatalf("reserved: %v", err)
	}
	if err := a.client.Subscribe("pqc/v1/#", nil); !errors.Is(err, ErrReservedTopic) {
		t.Fatalf("reserved filter: %v", err)
	}
	if err := a.client.Publish(ctx, "plant/+", []byte("x")); !errors.Is(err, ErrBadTopic) {
		t.Fatalf("wildcard topic: %v", err)
	}
	if err := a.client.Publish(ctx, "plant/x", make([]byte, DefaultMaxPayload+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversize: %v", err)
	}
	if err := a.client.Publish(ctx, "plant/x", []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("before connect: %v", err)
	}
	if _, err := NewClient(Options{Broker: "ssl://127.0.0.1:8883", ClientID: "x"}); err == nil {
		t.Fatal("ssl:// without a TLS config accepted")
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := a.client.Connect(cctx); err == nil {
		t.Fatal("connected to a closed port")
	}
}

// A valid device signing an announcement for another device's topic
// cannot take over that device's slot: the client refuses it and counts it.
func TestEmbeddedBroker_AnnouncementOnAnotherDevicesTopicRefused(t *testing.T) {
	b, err := StartEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := newTestFleet(t)
	r := newNode(t, f, b.URL(), "scada-1", true, nil).connect(t)
	devA, _ := f.device(t, "sensor-a", true)
	squat, err := devA.Announcement(KeysTopic("sensor-b"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inj := plainClient(t, b.URL(), "injector")
	plainPublish(t, inj, KeysTopic("sensor-b"), 1, false, squat)
	// And a well-signed announcement moved to another topic fails its
	// topic binding.
	own, _ := devA.Announcement(KeysTopic("sensor-a"), time.Now())
	plainPublish(t, inj, KeysTopic("sensor-c"), 1, false, own)
	waitUntil(t, 5*time.Second, "both refused", func() bool { return r.client.Stats().DroppedAnnouncement == 2 })
	for _, id := range []string{"sensor-b", "sensor-c"} {
		if _, ok := r.trust.Peer(id); ok {
			t.Fatalf("%s now has keys", id)
		}
	}
}
