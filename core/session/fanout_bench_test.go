package session

import (
	"fmt"
	"testing"
)

// BenchmarkFanout64 is what one 64-byte message on a topic read by N
// subscribers costs its sender in each mode the MQTT codec offers, and
// what it puts on the wire:
//
//   - sealed-each: a single-recipient sealed frame per subscriber (N
//     publishes, N signatures, N encapsulations);
//   - multi-sealed: one multi-recipient sealed frame (type 0x11: one
//     signature, N encapsulations of one content key);
//   - sessions: one bundle of N pairwise session frames (N chain steps and
//     AES-GCM encryptions, no public-key operation).
//
// up-B/msg is what the sender publishes; down-B/msg what the broker sends
// the N subscribers together (every subscriber of the topic gets every
// publish, including the frames meant for the others). The stores are
// volatile so the figures are the cryptography and framing alone.
//
//	go test -run '^$' -bench Fanout64 -benchmem ./core/session/
func BenchmarkFanout64(b *testing.B) {
	for _, n := range []int{1, 4, 16} {
		fo := newFanout(b, n)
		msg := make([]byte, 64)
		b.Run(fmt.Sprintf("sealed-each/N=%d", n), func(b *testing.B) {
			var up int
			for b.Loop() {
				up = 0
				for _, r := range fo.rcpts {
					fr, err := fo.sealer.Seal(r, topic, msg)
					if err != nil {
						b.Fatal(err)
					}
					up += len(fr)
				}
			}
			fanoutMetrics(b, up, up*n)
		})
		b.Run(fmt.Sprintf("multi-sealed/N=%d", n), func(b *testing.B) {
			var up int
			for b.Loop() {
				fr, err := fo.sealer.SealMulti(fo.rcpts, topic, msg)
				if err != nil {
					b.Fatal(err)
				}
				up = len(fr)
			}
			fanoutMetrics(b, up, up*n)
		})
		b.Run(fmt.Sprintf("sessions/N=%d", n), func(b *testing.B) {
			var up int
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				fr, err := AppendBundleHeader(buf[:0], fo.sender.id, n)
				for _, s := range fo.sessions {
					if err != nil {
						break
					}
					fr, err = AppendBundleEntry(fr, s, msg)
				}
				if err != nil {
					b.Fatal(err)
				}
				up = len(fr)
			}
			fanoutMetrics(b, up, up*n)
		})
	}
}

func fanoutMetrics(b *testing.B, up, down int) {
	b.ReportMetric(float64(up), "up-B/msg")
	b.ReportMetric(float64(down), "down-B/msg")
}

// fanout is a sender and n subscribers that know it, with a sealed
// recipient and an established session for each.
type fanout struct {
	sender   *device
	sealer   *Sealer
	rcpts    []Recipient
	sessions []*Session
}

func newFanout(b *testing.B, n int) *fanout {
	b.Helper()
	f := newFleet(b)
	// The data path alone: no post-quantum step falls due mid-benchmark.
	f.policy.RekeyMessages, f.policy.RekeySeconds = 0, 0
	fo := &fanout{sender: f.device(b, "plc-1")}
	volatile := func(d *device) Config {
		c := f.cfg(d)
		c.Store, c.Volatile, c.Budget, c.HardCap, c.SoftCap = nil, true, nil, 1<<31, 1<<30
		return c
	}
	fo.sealer = NewSealer(volatile(fo.sender))
	ms := NewManager(volatile(fo.sender))
	b.Cleanup(ms.Close)
	for i := range n {
		r := f.device(b, fmt.Sprintf("scada-%d", i))
		introduce(b, fo.sender, r)
		introduce(b, r, fo.sender)
		rcpt, err := RecipientOf(TrustPeers{fo.sender.trust}, r.id, "", f.clk.now())
		if err != nil {
			b.Fatal(err)
		}
		fo.rcpts = append(fo.rcpts, rcpt)
		mr := NewManager(volatile(r))
		b.Cleanup(mr.Close)
		init, err := ms.Initiate(r.id, topic)
		if err != nil {
			b.Fatal(err)
		}
		resp, _, err := mr.HandleHandshake(init)
		if err != nil {
			b.Fatal(err)
		}
		_, s, err := ms.HandleHandshake(resp)
		if err != nil {
			b.Fatal(err)
		}
		fo.sessions = append(fo.sessions, s)
	}
	return fo
}
