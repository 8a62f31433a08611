package coap

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// BenchmarkCoAP: one confirmable GET answered with a 64-byte payload, per
// op, over loopback UDP, in each mode; p50/p99 latency reported in µs.
func BenchmarkCoAP(b *testing.B) {
	f := newTestFleet(b)
	srvDev, cliDev := f.enrol(b, "plc-1", nil, nil), f.enrol(b, "scada-1", nil, nil)
	payload := bytes.Repeat([]byte{0xa5}, 64)
	for _, mode := range []Mode{ModePlain, ModeSigned, ModeSession, ModeOSCORE} {
		b.Run(mode.String(), func(b *testing.B) {
			srv, err := NewServer(srvDev.cfg(mode))
			if err != nil {
				b.Fatal(err)
			}
			srv.Handle("/data", func(*Request) Response {
				return Response{Code: codes.Content, ContentFormat: 42, Payload: payload}
			})
			addr, err := srv.Listen("127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(b, addr.String(), ccfg)
			ctx := ctxT(b)
			if _, err := cl.Get(ctx, "/data"); err != nil { // handshake outside the loop
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				resp, err := cl.Get(ctx, "/data")
				lat = append(lat, time.Since(t0))
				if err != nil || len(resp.Payload) != 64 {
					b.Fatal(resp, err)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkConcurrentGets: per op, 8 goroutines each send one GET on one
// shared Client to a handler that sleeps 50 ms. Run one after another the
// op takes 8 x 50 ms; handled concurrently, about 50 ms. nstart-1 keeps
// RFC 7252's NSTART (concurrent requests of one Client queue at the
// client); nstart-8 lets all 8 be outstanding.
func BenchmarkConcurrentGets(b *testing.B) {
	f := newTestFleet(b)
	srvDev, cliDev := f.enrol(b, "plc-1", nil, nil), f.enrol(b, "scada-1", nil, nil)
	const n = 8
	for _, nstart := range []uint32{1, n} {
		for _, mode := range []Mode{ModePlain, ModeSession} {
			b.Run(fmt.Sprintf("%v/nstart-%d", mode, nstart), func(b *testing.B) {
				srv, addr, _ := startServer(b, srvDev.cfg(mode))
				srv.Handle("/slow", func(*Request) Response {
					time.Sleep(50 * time.Millisecond)
					return Response{Code: codes.Content}
				})
				ccfg := cliDev.cfg(mode)
				ccfg.Peer, ccfg.NStart = "plc-1", nstart
				cl := dial(b, addr, ccfg)
				ctx := ctxT(b)
				if _, err := cl.Get(ctx, "/sensors/temp"); err != nil { // handshake outside the loop
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					var wg sync.WaitGroup
					for range n {
						wg.Go(func() {
							if _, err := cl.Get(ctx, "/slow"); err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
				}
				b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/8-gets")
			})
		}
	}
}
