package mqtt

import (
	"testing"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// BenchmarkSessionCodecProtectUnprotect64B is the codec's own CPU cost per
// 64-byte message in session mode, without a broker.
func BenchmarkSessionCodecProtectUnprotect64B(b *testing.B) {
	f := newTestFleet(b)
	mq, err := StartEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer mq.Close()
	perm := []identity.TopicPermission{{Filter: "bench/#", Publish: true, Subscribe: true}}
	pub := newRNode(b, f, mq.URL(), "cb-pub", perm, ModeSessions, nil)
	sub := newRNode(b, f, mq.URL(), "cb-sub", perm, ModeSessions, nil)
	pub.knows(b, "cb-sub")
	sub.knows(b, "cb-pub")
	var got inbox
	sub.client.Subscribe("bench/x", got.add)
	if err := pub.client.Publish(ctxT(b, 10e9), "bench/x", []byte("warm")); err != nil {
		b.Fatal(err)
	}
	waitUntil(b, 10e9, "warm-up", func() bool { return got.len() == 1 })
	payload := make([]byte, 64)
	b.ResetTimer()
	for range b.N {
		fr, err := pub.codec.Protect("bench/x", payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := sub.codec.Unprotect("bench/x", fr); err != nil {
			b.Fatal(err)
		}
	}
}
