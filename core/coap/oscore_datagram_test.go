package coap

import (
	"bytes"
	"net"
	"sync"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// sizeRelay forwards UDP datagrams between one client and a server and
// records the largest one each way.
type sizeRelay struct {
	conn    *net.UDPConn
	mu      sync.Mutex
	client  *net.UDPAddr
	largest [2]int
	count   [2]int
}

func startSizeRelay(t *testing.T, server string) *sizeRelay {
	t.Helper()
	sa, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	up, err := net.DialUDP("udp", nil, sa)
	if err != nil {
		t.Fatal(err)
	}
	r := &sizeRelay{conn: c}
	var wg sync.WaitGroup
	wg.Add(2)
	pump := func(from *net.UDPConn, dir int, send func([]byte)) {
		defer wg.Done()
		buf := make([]byte, 65536) // far above the limit: oversize is recorded, not truncated
		for {
			n, addr, err := from.ReadFromUDP(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			if dir == 0 {
				r.client = addr
			}
			r.largest[dir] = max(r.largest[dir], n)
			r.count[dir]++
			r.mu.Unlock()
			send(buf[:n])
		}
	}
	go pump(c, 0, func(p []byte) { _, _ = up.Write(p) })
	go pump(up, 1, func(p []byte) {
		r.mu.Lock()
		to := r.client
		r.mu.Unlock()
		_, _ = c.WriteToUDP(p, to)
	})
	t.Cleanup(func() { _ = c.Close(); _ = up.Close(); wg.Wait() })
	return r
}

// TestOSCOREDatagramLimit: in OSCORE mode a request and a response of more
// than 4 KiB travel as inner blocks (package oscore), every datagram within
// oscoreMTU, handshake included, and each handler runs once per request.
func TestOSCOREDatagramLimit(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	srv, addr, calls := startServer(t, srvDev.cfg(ModeOSCORE))
	blob := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuv"), 200) // 6400 bytes
	srv.Handle("/blob", func(r *Request) Response {
		calls.inc(r)
		return Response{Code: codes.Content, ContentFormat: 42, Payload: blob}
	})
	relay := startSizeRelay(t, addr)
	ccfg := cliDev.cfg(ModeOSCORE)
	ccfg.Peer = "plc-1"
	cl := dial(t, relay.conn.LocalAddr().String(), ccfg)
	large := bytes.Repeat([]byte{0xC3}, 5000)
	tests := []struct {
		name   string
		do     func() (*Response, error)
		want   []byte
		called string
	}{
		{"POST 5000 bytes, echoed: Block1 then Block2", func() (*Response, error) { return cl.Post(ctxT(t), "/echo", 42, large) }, large, "POST /echo"},
		{"GET 6400 bytes: Block2", func() (*Response, error) { return cl.Get(ctxT(t), "/blob") }, blob, "GET /blob"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.get(tc.called)
			resp, err := tc.do()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(resp.Payload, tc.want) {
				t.Fatalf("%v with %d bytes, want %d", resp.Code, len(resp.Payload), len(tc.want))
			}
			if got := calls.get(tc.called) - before; got != 1 {
				t.Fatalf("handler ran %d times for one request", got)
			}
		})
	}
	relay.mu.Lock()
	defer relay.mu.Unlock()
	if relay.largest[0] > oscoreMTU || relay.largest[1] > oscoreMTU {
		t.Fatalf("largest datagram %d up, %d down; limit %d", relay.largest[0], relay.largest[1], oscoreMTU)
	}
	t.Logf("%d datagrams up (largest %d), %d down (largest %d)", relay.count[0], relay.largest[0], relay.count[1], relay.largest[1])
}
