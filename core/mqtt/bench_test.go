package mqtt

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/mqtt/brokertest"
)

var benchRun atomic.Int64

// BenchmarkIntegrationMosquitto_EndToEnd64B sends 64-byte payloads from one
// client to another through a local Mosquitto at QoS 1, with 8 publishing
// goroutines, three ways in the same run: plain paho (no protection), this
// client with a pass-through codec (the transport's own cost), this client
// with the signing test codec (ML-DSA-65 per message), and the production
// SessionCodec in session mode (AEAD frames of a ratcheted session) and in
// sealed mode (one signature and one KEM encapsulation per message). Latency is from the
// Publish call to the subscriber's handler.
// The broker runs without persistence so its disk does not set the pace.
//
//	go test -run '^$' -bench EndToEnd64B -benchtime 3000x ./core/mqtt/
func BenchmarkIntegrationMosquitto_EndToEnd64B(b *testing.B) {
	mq := brokertest.StartConfig(b, brokertest.Config{Volatile: true})
	f := newTestFleet(b)
	b.Run("plain-paho", func(b *testing.B) { benchE2E(b, mq, f, "plain") })
	b.Run("passthrough-codec", func(b *testing.B) { benchE2E(b, mq, f, "pass") })
	b.Run("test-codec-ML-DSA-65", func(b *testing.B) { benchE2E(b, mq, f, "test") })
	b.Run("session-codec", func(b *testing.B) { benchE2E(b, mq, f, "session") })
	b.Run("sealed-codec", func(b *testing.B) { benchE2E(b, mq, f, "sealed") })
}

const benchConcurrency = 8

func benchE2E(b *testing.B, mq *brokertest.Mosquitto, f *testFleet, mode string) {
	run := benchRun.Add(1)
	topic := fmt.Sprintf("bench/%d", run)
	n := b.N
	sent := make([]atomic.Int64, n)
	lat := make([]int64, n)
	var received atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	onRecv := func(p []byte) {
		if len(p) < 8 {
			return
		}
		i := binary.BigEndian.Uint64(p)
		if i >= uint64(n) {
			return
		}
		lat[i] = time.Now().UnixNano() - sent[i].Load()
		if received.Add(1) == int64(n) {
			once.Do(func() { close(done) })
		}
	}
	var publish func(payload []byte) error
	switch mode {
	case "plain":
		sub := plainClient(b, mq.URL(), fmt.Sprintf("bench-sub-%d", run))
		if tok := sub.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { onRecv(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			b.Fatal(tok.Error())
		}
		pub := plainClient(b, mq.URL(), fmt.Sprintf("bench-pub-%d", run))
		publish = func(p []byte) error {
			tok := pub.Publish(topic, 1, false, p)
			tok.Wait()
			return tok.Error()
		}
	case "session", "sealed":
		// The production codec over real keystores: pairwise session
		// (handshake before the timer starts) or one multi-recipient
		// sealed frame per message (ML-DSA-65 signature, X-Wing
		// encapsulation).
		codecMode := ModeSessions
		if mode == "sealed" {
			codecMode = ModeSealed
		}
		perm := []identity.TopicPermission{{Filter: "bench/#", Publish: true, Subscribe: true}}
		// Earlier runs' devices are still announced (retained) and may
		// read bench/#: address only this run's subscriber.
		subID := fmt.Sprintf("bench-sub-%d", run)
		only := func(co *SessionCodecOptions, _ *Options) {
			co.Recipients = func(string) []string { return []string{subID} }
		}
		pub := newRNode(b, f, mq.URL(), fmt.Sprintf("bench-pub-%d", run), perm, codecMode, only)
		sub := newRNode(b, f, mq.URL(), subID, perm, codecMode, nil)
		pub.knows(b, sub.id)
		sub.knows(b, pub.id)
		if err := sub.client.Subscribe(topic, func(m Message) { onRecv(m.Payload) }); err != nil {
			b.Fatal(err)
		}
		// Warm-up outside the measurement: the handshake in session mode.
		if err := pub.client.Publish(context.Background(), topic, make([]byte, 4)); err != nil {
			b.Fatal(err)
		}
		publish = func(p []byte) error { return pub.client.Publish(context.Background(), topic, p) }
	default:
		var pubOpts, subOpts func(*Options)
		if mode == "pass" {
			pubOpts = func(o *Options) {
				o.Codec = passCodec{"bench-pub"}
				o.Trust, o.Device = nil, nil
				o.ClientID = fmt.Sprintf("bench-pub-%d", run)
			}
			subOpts = func(o *Options) {
				o.Codec = passCodec{"bench-pub"}
				o.Trust, o.Device = nil, nil
				o.ClientID = fmt.Sprintf("bench-sub-%d", run)
			}
		}
		pubNode := newNode(b, f, mq.URL(), fmt.Sprintf("bench-pub-%d", run), true, pubOpts).connect(b)
		subNode := newNode(b, f, mq.URL(), fmt.Sprintf("bench-sub-%d", run), true, subOpts).connect(b)
		if mode == "test" {
			subNode.knows(b, pubNode.dev.ID())
		}
		if err := subNode.client.Subscribe(topic, func(m Message) { onRecv(m.Payload) }); err != nil {
			b.Fatal(err)
		}
		publish = func(p []byte) error { return pubNode.client.Publish(context.Background(), topic, p) }
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := processCPU(b)
	start := time.Now()
	for range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, 64)
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				binary.BigEndian.PutUint64(payload, uint64(i))
				sent[i].Store(time.Now().UnixNano())
				if err := publish(payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatalf("%s: %d of %d delivered", mode, received.Load(), n)
	}
	elapsed := time.Since(start)
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(lat[n/2])/1e3, "p50-µs")
	b.ReportMetric(float64(lat[min(n-1, n*99/100)])/1e3, "p99-µs")
	// CPU time of this process (publisher and subscriber clients, not the
	// broker) per message: unlike msgs/s it hardly moves when other work
	// shares the machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/msg")
}

// processCPU is the user and system CPU time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
