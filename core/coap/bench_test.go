package coap

import (
	"bytes"
	"slices"
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
