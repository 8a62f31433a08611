package mqtt

import (
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// BenchmarkMemoryPerIdleClient reports the heap one connected, idle client
// holds, three ways:
//
//   - broker-side: a bare MQTT CONNECT on a TCP socket, so only the
//     embedded broker's per-connection state grows;
//   - plain-paho: a paho client with no protection, plus its broker side;
//   - session-codec: this package's Client with the production SessionCodec
//     (session mode), connected, subscribed to the control plane and
//     announced, plus its broker side.
//
// The broker runs in this process, so the two client rows include the
// broker's share; subtract broker-side for the client alone. Each client
// gets its own embedded broker, started before the baseline: on a shared
// broker every client would also keep every other client's announcement,
// and the figure would grow with the fleet instead of describing one
// client. Device identities and keystores are made before the baseline too
// (a device holds them whether or not it speaks MQTT).
//
//	go test -run '^$' -bench MemoryPerIdleClient -benchtime 50x ./core/mqtt
func BenchmarkMemoryPerIdleClient(b *testing.B) {
	b.Run("broker-side", func(b *testing.B) {
		measureIdle(b, func(b *testing.B, _ int, url string) { rawConnect(b, url) })
	})
	b.Run("plain-paho", func(b *testing.B) {
		measureIdle(b, func(b *testing.B, i int, url string) {
			plainClient(b, url, fmt.Sprintf("idle-plain-%d", i))
		})
	})
	f := newTestFleet(b)
	// queues 0 keeps the defaults (InboundQueue 256, RecvQueue 1024, both
	// allocated up front); 16 is what a small device might choose.
	for _, tc := range []struct {
		name   string
		queues int
	}{{"session-codec", 0}, {"session-codec-queues-16", 16}} {
		b.Run(tc.name, func(b *testing.B) {
			devs := make([]idleDevice, b.N)
			for i := range devs {
				id := fmt.Sprintf("idle-%s-%d-%d", tc.name, b.N, i)
				dev, tr, st, _ := f.enrolWithTopics(b, id, both)
				b.Cleanup(func() { st.Close() })
				devs[i] = idleDevice{dev, tr}
			}
			measureIdle(b, func(b *testing.B, i int, url string) { devs[i].connect(b, url, tc.queues) })
		})
	}
}

type idleDevice struct {
	dev   *identity.Device
	trust *identity.Trust
}

// connect starts the production client over the device's identity, with
// the codec in volatile mode (its keystore writes are bbolt pages, outside
// the Go heap, and add nothing an idle client holds).
func (d idleDevice) connect(b *testing.B, url string, queues int) {
	codec, err := NewSessionCodec(SessionCodecOptions{Device: d.dev, Trust: d.trust, Volatile: true, Mode: ModeSessions})
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewClient(Options{Broker: url, Codec: codec, Device: d.dev, Trust: d.trust,
		ConnectTimeout: 5 * time.Second, MaxReconnectInterval: time.Second,
		InboundQueue: queues, RecvQueue: queues})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); codec.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		b.Fatal(err)
	}
}

// measureIdle starts b.N brokers, takes the live heap, connects one client
// to each with connect, and reports the growth per client.
func measureIdle(b *testing.B, connect func(b *testing.B, i int, url string)) {
	urls := make([]string, b.N)
	for i := range urls {
		br, err := StartEmbeddedBroker("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { br.Close() })
		urls[i] = br.URL()
	}
	g0 := runtime.NumGoroutine()
	heap0, stack0 := liveMemory()
	b.ResetTimer()
	for i := range b.N {
		connect(b, i, urls[i])
	}
	b.StopTimer()
	heap1, stack1 := liveMemory()
	heap := float64(heap1-heap0) / float64(b.N)
	stacks := float64(stack1-stack0) / float64(b.N)
	// b.N=1 is Go's probe run, where one collection's noise can outweigh a
	// client; with dozens of clients the growth must show.
	if b.N >= 16 && heap <= 0 {
		b.Fatalf("heap did not grow with %d connected clients (%d -> %d bytes)", b.N, heap0, heap1)
	}
	b.ReportMetric(heap+stacks, "B/client")
	b.ReportMetric(heap, "heap-B/client")
	b.ReportMetric(float64(runtime.NumGoroutine()-g0)/float64(b.N), "goroutines/client")
}

// rawConnect opens a TCP connection and performs an MQTT 3.1.1 CONNECT by
// hand, so no client library state is on this side; the connection is
// closed when the benchmark ends.
func rawConnect(b *testing.B, url string) {
	conn, err := net.Dial("tcp", url[len("tcp://"):])
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	id := fmt.Sprintf("raw-%d", time.Now().UnixNano())
	// Variable header: protocol name "MQTT", level 4, flags clean session,
	// keep-alive 60 s; payload: the client identifier.
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, byte(len(id))}, id...)
	pkt := append([]byte{0x10, byte(len(body))}, body...)
	if _, err := conn.Write(pkt); err != nil {
		b.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		b.Fatalf("CONNACK: %v", err)
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		b.Fatalf("CONNACK % x: connection refused", ack)
	}
}

// liveMemory is the heap still reachable after two full collections, and
// the goroutine stacks in use: an idle client is mostly goroutines parked on
// sockets and channels, and their stacks are not heap.
func liveMemory() (heap, stacks int64) {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc), int64(m.StackInuse)
}
