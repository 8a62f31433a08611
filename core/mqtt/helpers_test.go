package mqtt

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// node is one device on the bus: identity, trust, test codec and client.
type node struct {
	dev    *identity.Device
	trust  *identity.Trust
	codec  *testCodec
	client *Client
}

var generous = Budgets{
	Peer:    identity.RateLimit{Rate: 100000, Burst: 100000},
	Global:  identity.RateLimit{Rate: 100000, Burst: 100000},
	Unknown: identity.RateLimit{Rate: 100000, Burst: 100000},
	Control: identity.RateLimit{Rate: 100000, Burst: 100000},
}

func newNode(t testing.TB, f *testFleet, broker, id string, withPolicy bool, mod func(*Options)) *node {
	t.Helper()
	dev, tr := f.device(t, id, withPolicy)
	n := &node{dev: dev, trust: tr, codec: newTestCodec(t, dev, tr)}
	opts := Options{Broker: broker, Codec: n.codec, Device: dev, Trust: tr, Budgets: generous,
		ConnectTimeout: 5 * time.Second, MaxReconnectInterval: time.Second}
	if mod != nil {
		mod(&opts)
	}
	c, err := NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	n.client = c
	t.Cleanup(func() { c.Close() })
	return n
}

func (n *node) connect(t testing.TB) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// knows waits until n's Trust accepted the announcement of id.
func (n *node) knows(t testing.TB, id string) {
	t.Helper()
	waitUntil(t, 10*time.Second, "announcement of "+id+" accepted by "+n.dev.ID(), func() bool {
		_, ok := n.trust.Peer(id)
		return ok
	})
}

func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// inbox collects delivered messages for assertions.
type inbox struct {
	mu   sync.Mutex
	msgs []Message
}

func (b *inbox) add(m Message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	b.mu.Unlock()
}

func (b *inbox) all() []Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Message(nil), b.msgs...)
}

func (b *inbox) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
