package mqtt

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestSoakEmbeddedBroker moves messages from a sensor to a SCADA node
// through the embedded broker with the real session codec and keystores,
// and every few hundred messages ends the sensor's session so the next
// publish runs a new handshake over MQTT. It samples the heap, goroutines,
// open file descriptors and the codec's per-peer tables and fails if any
// grows past its bound after warm-up, or if any message is lost, dropped
// or delivered twice.
//
// PQC_SOAK=5m sets the run time (5 s by default; skipped with -short).
func TestSoakEmbeddedBroker(t *testing.T) {
	d := soakDuration(t)
	b, err := StartEmbeddedBroker("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := newTestFleet(t)
	tx := newRNode(t, f, b.URL(), "plc-1", pubPlant, ModeSessions, nil)
	rx := newRNode(t, f, b.URL(), "scada-1", subPlant, ModeSessions, nil)
	tx.knows(t, "scada-1")
	rx.knows(t, "plc-1")
	if err := rx.client.Subscribe("plant/#", nil); err != nil {
		t.Fatal(err)
	}
	const topic, perSession, burst = "plant/line-3/flow", 400, 50
	start := time.Now()
	warmUp := max(d/5, time.Second)
	warm, end := start.Add(warmUp), start.Add(d)
	every := max((d-warmUp)/20, 200*time.Millisecond)
	var base, peak *mqttSample
	var sessions, messages int
	next := warm
	for time.Now().Before(end) {
		for i := 0; i < perSession; i += burst {
			for j := range burst {
				publishOnce(t, tx, topic, fmt.Sprintf("%d/%d", messages+j, sessions))
			}
			for j := range burst {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				m, err := rx.client.Recv(ctx)
				cancel()
				if want := fmt.Sprintf("%d/%d", messages+j, sessions); err != nil || string(m.Payload) != want {
					t.Fatalf("message %s: got %q, %v", want, m.Payload, err)
				}
			}
			messages += burst
		}
		// End the session at both ends; the next publish makes a new one
		// over MQTT. Both ends, because the protocol has no close message:
		// a session ended by its initiator alone stays with the responder,
		// snapshot included, even after a new handshake replaced it (an
		// open issue, not what this soak measures; the responder's
		// keystore records below would grow by one per cycle).
		if s, ok := tx.codec.Session("scada-1"); ok {
			if peer, ok := rx.codec.mgr.Session(s.ID()); ok {
				peer.Close()
			}
			s.Close()
		}
		sessions++
		if now := time.Now(); !now.Before(next) {
			next = now.Add(every)
			cur := sampleMQTT(t, tx.codec, rx.codec)
			if base == nil {
				base, peak = &cur, &mqttSample{}
				*peak = cur
				continue
			}
			checkMQTTSample(t, base, peak, cur)
		}
	}
	if st := rx.client.Stats(); st.Delivered != uint64(messages) || st.DroppedUnprotect+st.DroppedRateLimited+st.DroppedOversize != 0 {
		t.Fatalf("receiver stats after %d messages: %+v", messages, st)
	}
	el := time.Since(start)
	if base != nil {
		t.Logf("soak %s: %d messages (%.0f/s) over %d sessions (handshakes %d); heap in use %d KiB at warm-up, peak %d KiB; goroutines %d (peak %d); fds %d (peak %d)",
			el.Round(time.Second), messages, float64(messages)/el.Seconds(), sessions, tx.codec.Stats().HandshakesDone,
			base.heap>>10, peak.heap>>10, base.goroutines, peak.goroutines, base.fds, peak.fds)
	}
}

// publishOnce publishes; a publish that finds the session just closed
// fails once (the codec then forgets it) and the retry makes a new one.
func publishOnce(t *testing.T, n *rnode, topic, payload string) {
	for attempt := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := n.client.Publish(ctx, topic, []byte(payload))
		cancel()
		if err == nil {
			return
		}
		if attempt == 1 {
			t.Fatalf("publish %s: %v", payload, err)
		}
	}
}

type mqttSample struct {
	heap           uint64
	goroutines     int
	fds            int
	tables         int
	handshakesLive int
}

func sampleMQTT(t *testing.T, codecs ...*SessionCodec) mqttSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("soak: cannot count file descriptors: %v", err)
	}
	s := mqttSample{heap: ms.HeapInuse, goroutines: runtime.NumGoroutine(), fds: len(ents)}
	for _, c := range codecs {
		c.mu.Lock()
		s.tables += len(c.sessions) + len(c.known) + len(c.lastKR)
		s.handshakesLive += len(c.hs)
		c.mu.Unlock()
		// One snapshot per live session (Resume): what the manager holds.
		names, err := c.opts.Store.List("session/state/")
		if err != nil {
			t.Fatal(err)
		}
		s.tables += len(names)
	}
	return s
}

// checkMQTTSample bounds growth: the heap by a quarter of its warm-up size
// plus 2 MiB (paho's and the broker's buffers breathe), goroutines by a few
// (paho's and the broker's per-connection workers come and go), the rest
// not at all.
func checkMQTTSample(t *testing.T, base, peak *mqttSample, cur mqttSample) {
	peak.heap = max(peak.heap, cur.heap)
	peak.goroutines = max(peak.goroutines, cur.goroutines)
	peak.fds = max(peak.fds, cur.fds)
	if limit := base.heap + base.heap/4 + 2<<20; cur.heap > limit {
		t.Fatalf("heap in use grew from %d to %d bytes (bound %d)", base.heap, cur.heap, limit)
	}
	if cur.goroutines > base.goroutines+4 {
		t.Fatalf("goroutines grew from %d to %d", base.goroutines, cur.goroutines)
	}
	if cur.fds > base.fds {
		t.Fatalf("open file descriptors grew from %d to %d", base.fds, cur.fds)
	}
	if cur.tables > base.tables || cur.handshakesLive > 0 {
		t.Fatalf("codec tables grew from %d to %d (%d handshakes still open)", base.tables, cur.tables, cur.handshakesLive)
	}
}

func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("PQC_SOAK")
	if v == "" {
		if testing.Short() {
			t.Skip("soak: set PQC_SOAK=duration, or run without -short for the 5 s version")
		}
		return 5 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("PQC_SOAK=%q: want a duration such as 5m", v)
	}
	return d
}
