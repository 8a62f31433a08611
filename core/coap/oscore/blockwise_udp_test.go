package oscore

import (
	"bytes"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/pkg/runner/periodic"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	udpserver "github.com/plgd-dev/go-coap/v3/udp/server"
)

// datagramLimit is the per-datagram limit of core/coap's OSCORE mode; both
// ends of these tests run go-coap with it (larger datagrams are dropped on
// receipt) and with go-coap's own block-wise transfer off, as core/coap does.
const datagramLimit = 1152

// pattern is a body of n bytes that depends on seed, so that an answer
// computed twice, or blocks of two answers mixed, show up as a wrong body.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed*31 + i/251)
	}
	return b
}

// blockServer is a go-coap UDP server behind Handler that counts how often
// each resource's handler ran.
type blockServer struct {
	addr string

	mu   sync.Mutex
	runs map[string]int
	obs  *obsTarget
}

func (s *blockServer) ran(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[key]
}

func (s *blockServer) count(req *mux.Message) int {
	path, _ := req.Path()
	s.mu.Lock()
	defer s.mu.Unlock()
	key := req.Code().String() + " " + path
	s.runs[key]++
	return s.runs[key]
}

// The transmission options make retransmissions quick (lossy tests) and the
// retransmission timer fine-grained; nothing asserts on time.

func serverTransmission(done <-chan struct{}, ack time.Duration) []udpserver.Option {
	return []udpserver.Option{options.WithTransmission(1, ack, 8), options.WithPeriodicRunner(periodic.New(done, ack/5)),
		options.WithMTU(datagramLimit), options.WithBlockwise(false, blockwise.SZX1024, time.Minute)}
}

func clientTransmission(done <-chan struct{}, ack time.Duration) []udp.Option {
	return []udp.Option{options.WithTransmission(1, ack, 8), options.WithPeriodicRunner(periodic.New(done, ack/5)),
		options.WithMTU(datagramLimit), options.WithBlockwise(false, blockwise.SZX1024, time.Minute)}
}

func startBlockServer(t testing.TB, resolve Resolver, ack time.Duration, opts ...HandlerOption) *blockServer {
	t.Helper()
	s := &blockServer{runs: map[string]int{}}
	r := mux.NewRouter()
	must(t, r.Handle("/big", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		n := s.count(req)
		_ = w.SetResponse(codes.Content, message.AppOctets, bytes.NewReader(pattern(n, 5000)))
	})))
	must(t, r.Handle("/echo", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		s.count(req)
		body, _ := req.ReadBody()
		_ = w.SetResponse(codes.Changed, message.AppOctets, bytes.NewReader(body))
	})))
	must(t, r.Handle("/counter", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		// Not idempotent: every run changes the state the answer reports.
		n := s.count(req)
		_ = w.SetResponse(codes.Changed, message.AppOctets, bytes.NewReader(pattern(1000+n, 4500)))
	})))
	must(t, r.Handle("/small", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		s.count(req)
		_ = w.SetResponse(codes.Content, message.TextPlain, bytes.NewReader([]byte("small")))
	})))
	must(t, r.Handle("/obs", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		s.count(req)
		if v, err := req.Observe(); err == nil && v == 0 {
			s.mu.Lock()
			s.obs = &obsTarget{conn: w.Conn(), token: append(message.Token(nil), req.Token()...)}
			s.mu.Unlock()
			_ = w.SetResponse(codes.Content, message.AppOctets, bytes.NewReader(pattern(0, 3000)),
				message.Option{ID: message.Observe, Value: []byte{}})
			return
		}
		_ = w.SetResponse(codes.Content, message.TextPlain, nil)
	})))
	l, err := coapnet.NewListenUDP("udp", "127.0.0.1:0")
	must(t, err)
	done := make(chan struct{})
	srv := udp.NewServer(append(serverTransmission(done, ack), options.WithMux(Handler(resolve, r, opts...)))...)
	served := make(chan struct{})
	go func() { _ = srv.Serve(l); close(served) }()
	s.addr = l.LocalAddr().String()
	t.Cleanup(func() { srv.Stop(); <-served; _ = l.Close(); close(done) })
	return s
}

// notify sends a notification with body to the registered observer.
func (s *blockServer) notify(t *testing.T, typ message.Type, seq uint32, body []byte) {
	t.Helper()
	s.mu.Lock()
	o := s.obs
	s.mu.Unlock()
	if o == nil {
		t.Fatal("no observer registered")
	}
	m := o.conn.AcquireMessage(context.Background())
	defer o.conn.ReleaseMessage(m)
	m.SetCode(codes.Content)
	m.SetToken(o.token)
	m.SetObserve(seq)
	m.SetType(typ)
	m.SetContentFormat(message.AppOctets)
	m.SetBody(bytes.NewReader(body))
	must(t, o.conn.WriteMessage(m))
}

func dialLimited(t testing.TB, addr string, ack time.Duration) *udpclient.Conn {
	t.Helper()
	done := make(chan struct{})
	cc, err := udp.Dial(addr, clientTransmission(done, ack)...)
	must(t, err)
	t.Cleanup(func() { _ = cc.Close(); <-cc.Done(); close(done) })
	return cc
}

// TestBlockwiseThroughRelay: large requests and responses go through as
// inner blocks, every datagram within the limit, each handler run exactly
// once per request, over a clean path and over one that drops and reorders
// datagrams.
func TestBlockwiseThroughRelay(t *testing.T) {
	big := pattern(7, 4500)
	type request struct {
		method  codes.Code
		path    string
		body    []byte
		code    codes.Code
		want    []byte
		handler string
	}
	requests := []request{
		{codes.GET, "/big", nil, codes.Content, pattern(1, 5000), "GET /big"},
		{codes.POST, "/echo", big, codes.Changed, big, "POST /echo"}, // Block1 then Block2
		{codes.POST, "/counter", []byte("x"), codes.Changed, pattern(1001, 4500), "POST /counter"},
		{codes.POST, "/counter", []byte("y"), codes.Changed, pattern(1002, 4500), "POST /counter"},
		{codes.GET, "/small", nil, codes.Content, []byte("small"), "GET /small"},
	}
	for _, net := range []struct {
		name  string
		plan  relayPlan
		ack   time.Duration
		lossy bool
	}{{"clean", noLoss, time.Second, false}, {"lossy and reordering", lossy, 30 * time.Millisecond, true}} {
		t.Run(net.name, func(t *testing.T) {
			cp, sp := pairParams(true)
			srv := startBlockServer(t, resolverFor(mustContext(t, sp)), net.ack)
			relay := startRecordingRelay(t, srv.addr, net.plan)
			cl := NewClient(dialLimited(t, relay.addr(), net.ack), mustContext(t, cp))
			ctx := testCtx(t)
			runs := map[string]int{}
			for i, rq := range requests {
				req := pool.NewMessage(ctx)
				req.SetCode(rq.method)
				must(t, req.SetPath(rq.path))
				if rq.body != nil {
					req.SetContentFormat(message.AppOctets)
					req.SetBody(bytes.NewReader(rq.body))
				}
				resp, err := cl.Do(ctx, req)
				if err != nil {
					t.Fatalf("request %d %v %s: %v", i, rq.method, rq.path, err)
				}
				body, _ := resp.ReadBody()
				if resp.Code() != rq.code || !bytes.Equal(body, rq.want) {
					t.Fatalf("request %d %v %s: %v, %d bytes (want %v, %d bytes)", i, rq.method, rq.path, resp.Code(), len(body), rq.code, len(rq.want))
				}
				if resp.Options().HasOption(message.Block2) || resp.Options().HasOption(message.Block1) {
					t.Fatalf("request %d: Block options leak to the application", i)
				}
				runs[rq.handler]++
				if got := srv.ran(rq.handler); got != runs[rq.handler] {
					t.Fatalf("request %d: handler %s ran %d times for %d requests", i, rq.handler, got, runs[rq.handler])
				}
			}
			up, down, reqs, dropped := relay.stats()
			if up > datagramLimit || down > datagramLimit {
				t.Fatalf("largest datagram %d up, %d down; limit %d", up, down, datagramLimit)
			}
			// 5000 bytes in 512-byte blocks are 10 exchanges; fewer requests
			// in total would mean something went whole.
			// Exchanges: GET /big 10 blocks; POST /echo 9 Block1 + 8 more
			// Block2; each POST /counter 1 + 8 Block2; GET /small 1.
			// Retransmissions reuse their message ID and are not counted.
			if want := 10 + 17 + 2*9 + 1; reqs != want {
				t.Fatalf("%d requests, want %d block exchanges", reqs, want)
			}
			if net.lossy && dropped == 0 {
				t.Fatal("the lossy relay dropped nothing")
			}
			t.Logf("%d requests, largest datagram %d up / %d down, %d dropped", reqs, up, down, dropped)
		})
	}
}

// TestBlockFromAnotherTransferRefused: a Block2 continuation or a Block1
// block belongs to one transfer, identified by security context, method,
// target and Request-Tag. Blocks of any other transfer, and continuations
// of an expired one, get a protected 4.08 and do not disturb the transfer.
func TestBlockFromAnotherTransferRefused(t *testing.T) {
	cpA, spA := pairParams(true)
	idB := []byte{0x02}
	cpB := Params{MasterSecret: testSecret, MasterSalt: testSalt, SenderID: idB, RecipientID: serverID}
	spB := Params{MasterSecret: testSecret, MasterSalt: testSalt, SenderID: serverID, RecipientID: idB, FreshReplayWindow: true}
	serverA, serverB := mustContext(t, spA), mustContext(t, spB)
	resolve := func(kid, _ []byte) (*Context, error) {
		switch {
		case bytes.Equal(kid, clientID):
			return serverA, nil
		case bytes.Equal(kid, idB):
			return serverB, nil
		}
		return nil, ErrContextNotFound
	}
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	srv := startBlockServer(t, resolve, time.Second, withClock(func() time.Time { return time.Unix(0, now.Load()) }))
	clientA, clientB := mustContext(t, cpA), mustContext(t, cpB)
	raddr, _ := net.ResolveUDPAddr("udp", srv.addr)
	conn, err := net.DialUDP("udp", nil, raddr)
	must(t, err)
	defer conn.Close()

	tag1, tag2 := []byte("tag-one"), []byte("tag-two")
	bigBody := pattern(1, 5000) // what the first run of GET /big answers
	part := bytes.Repeat([]byte{0xB1}, 512)
	type step struct {
		name     string
		sender   *Context
		method   codes.Code
		path     string
		tag      []byte
		opt      message.Option // a Block1 or Block2 option
		payload  []byte
		advance  time.Duration // clock step before sending
		wantCode codes.Code
		wantBody []byte
		etag     string // name under which to record the answer's ETag, or
		sameAs   string // the recorded ETag the answer must carry
	}
	b2 := func(num uint32) message.Option { return block{num: num, szx: 5}.option(message.Block2) }
	b1 := func(num uint32, more bool) message.Option {
		return block{num: num, more: more, szx: 5}.option(message.Block1)
	}
	steps := []step{
		{"start GET /big", clientA, codes.GET, "big", tag1, b2(0), nil, 0, codes.Content, bigBody[:512], "first", ""},
		{"other Request-Tag", clientA, codes.GET, "big", tag2, b2(1), nil, 0, codes.RequestEntityIncomplete, nil, "", ""},
		{"no Request-Tag", clientA, codes.GET, "big", nil, b2(1), nil, 0, codes.RequestEntityIncomplete, nil, "", ""},
		{"other context", clientB, codes.GET, "big", tag1, b2(1), nil, 0, codes.RequestEntityIncomplete, nil, "", ""},
		{"other method", clientA, codes.FETCH, "big", tag1, b2(1), nil, 0, codes.RequestEntityIncomplete, nil, "", ""},
		{"other path", clientA, codes.GET, "small", tag1, b2(1), nil, 0, codes.RequestEntityIncomplete, nil, "", ""},
		{"the transfer continues", clientA, codes.GET, "big", tag1, b2(1), nil, 0, codes.Content, bigBody[512:1024], "", "first"},
		{"blocks out of order are served by offset", clientA, codes.GET, "big", tag1, b2(5), nil, 0, codes.Content, bigBody[2560:3072], "", "first"},
		// A new request for the same target replaces the stored answer; the
		// changed ETag lets a client still fetching the old one notice.
		{"new request for the same target", clientA, codes.GET, "big", tag1, b2(0), nil, 0, codes.Content, pattern(2, 5000)[:512], "second", ""},
		{"continuation now serves the new answer", clientA, codes.GET, "big", tag1, b2(2), nil, 0, codes.Content, pattern(2, 5000)[1024:1536], "", "second"},
		{"larger blocks asked: the server's size at the asked offset", clientA, codes.GET, "big", tag1,
			block{num: 2, szx: 6}.option(message.Block2), nil, 0, codes.Content, pattern(2, 5000)[2048:2560], "", "second"},
		{"expired transfer", clientA, codes.GET, "big", tag1, b2(3), nil, responseCacheTTL, codes.RequestEntityIncomplete, nil, "", ""},
		{"Block1 start", clientA, codes.POST, "echo", tag1, b1(0, true), part, 0, codes.Continue, nil, "", ""},
		{"Block1 with other Request-Tag", clientA, codes.POST, "echo", tag2, b1(1, false), []byte("x"), 0, codes.RequestEntityIncomplete, nil, "", ""},
		{"Block1 from other context", clientB, codes.POST, "echo", tag1, b1(1, false), []byte("x"), 0, codes.RequestEntityIncomplete, nil, "", ""},
		{"Block1 completes", clientA, codes.POST, "echo", tag1, b1(1, false), []byte("end"), 0, codes.Changed, append(append([]byte{}, part...), "end"...), "", ""},
	}
	mid := uint16(500)
	etags := map[string][]byte{}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			now.Add(int64(st.advance))
			mid++
			req := message.Message{Token: []byte{byte(mid), 1}, Type: message.Confirmable, MessageID: int32(mid), Code: st.method,
				Options: message.Options{{ID: message.URIPath, Value: []byte(st.path)}, st.opt}, Payload: st.payload}
			if st.tag != nil {
				req.Options = append(req.Options, message.Option{ID: message.RequestTag, Value: st.tag})
			}
			req.Options = sortOptions(req.Options)
			prot, ex, err := st.sender.ProtectRequest(req)
			must(t, err)
			resp, err := st.sender.UnprotectResponse(rawExchange(t, conn, prot), ex)
			must(t, err)
			if resp.Code != st.wantCode || (st.wantBody != nil && !bytes.Equal(resp.Payload, st.wantBody)) {
				t.Fatalf("answered %v with %d bytes, want %v with %d", resp.Code, len(resp.Payload), st.wantCode, len(st.wantBody))
			}
			etag, _ := resp.Options.GetBytes(message.ETag)
			if st.etag != "" {
				for name, other := range etags {
					if bytes.Equal(other, etag) {
						t.Fatalf("answer has the ETag of %q", name)
					}
				}
				etags[st.etag] = etag
			}
			if st.sameAs != "" && !bytes.Equal(etag, etags[st.sameAs]) {
				t.Fatalf("ETag %x, want %q's %x", etag, st.sameAs, etags[st.sameAs])
			}
		})
	}
	if n := srv.ran("GET /big"); n != 2 {
		t.Fatalf("GET /big handler ran %d times for 2 requests", n)
	}
	if n := srv.ran("POST /echo"); n != 1 {
		t.Fatalf("POST /echo handler ran %d times, want 1", n)
	}
}

// TestBlock1SizeNegotiation: a server that wants 128-byte blocks answers
// the client's first 512-byte block with 2.31 and Block1 size 128; the
// client continues at the same offset in 128-byte blocks (RFC 7959 §2.5),
// and the answer comes in 128-byte blocks too.
func TestBlock1SizeNegotiation(t *testing.T) {
	cp, sp := pairParams(true)
	srv := startBlockServer(t, resolverFor(mustContext(t, sp)), time.Second, WithBlockSize(128))
	relay := startRecordingRelay(t, srv.addr, noLoss)
	cl := NewClient(dialLimited(t, relay.addr(), time.Second), mustContext(t, cp))
	body := pattern(3, 3000)
	resp, err := cl.Post(testCtx(t), "/echo", message.AppOctets, bytes.NewReader(body))
	must(t, err)
	if got, _ := resp.ReadBody(); resp.Code() != codes.Changed || !bytes.Equal(got, body) {
		t.Fatalf("%v, %d bytes back", resp.Code(), len(got))
	}
	if n := srv.ran("POST /echo"); n != 1 {
		t.Fatalf("handler ran %d times", n)
	}
	// Block1: one 512-byte block, then (3000-512)/128 rounded up = 20 blocks
	// of 128; Block2: 3000/128 rounded up = 24 blocks, the first one in the
	// answer to the last Block1 block.
	_, down, reqs, _ := relay.stats()
	if want := 1 + 20 + 23; reqs != want {
		t.Fatalf("%d exchanges, want %d", reqs, want)
	}
	if down > 128+64 {
		t.Fatalf("largest answer %d bytes for 128-byte blocks", down)
	}
}

// TestObserveBlockwiseNotifications: registration answer and notifications
// longer than a block arrive as their first block; the client fetches the
// rest (RFC 7959 §2.6) and delivers whole bodies in order. The continuations
// come from the server's stored notification: the handler runs only for the
// registration.
func TestObserveBlockwiseNotifications(t *testing.T) {
	for _, typ := range []message.Type{message.NonConfirmable, message.Confirmable} {
		t.Run(typ.String(), func(t *testing.T) { observeBlockwise(t, typ) })
	}
}

func observeBlockwise(t *testing.T, typ message.Type) {
	cp, sp := pairParams(true)
	srv := startBlockServer(t, resolverFor(mustContext(t, sp)), time.Second)
	relay := startRecordingRelay(t, srv.addr, noLoss)
	cl := NewClient(dialLimited(t, relay.addr(), time.Second), mustContext(t, cp))
	ctx := testCtx(t)
	got := make(chan []byte, 8)
	obs, err := cl.Observe(ctx, "/obs", func(m *pool.Message) {
		b, _ := m.ReadBody()
		got <- b
	})
	must(t, err)
	want := [][]byte{pattern(0, 3000), pattern(11, 2900), pattern(12, 4000), []byte("short again")}
	for i, w := range want {
		if i > 0 {
			srv.notify(t, typ, uint32(i+1), w)
		}
		select {
		case b := <-got:
			if !bytes.Equal(b, w) {
				t.Fatalf("notification %d: %d bytes, not the %d sent", i, len(b), len(w))
			}
		case <-ctx.Done():
			t.Fatalf("notification %d not delivered", i)
		}
	}
	if n := srv.ran("GET /obs"); n != 1 {
		t.Fatalf("handler ran %d times for one registration", n)
	}
	if up, down, _, _ := relay.stats(); up > datagramLimit || down > datagramLimit {
		t.Fatalf("largest datagram %d up, %d down", up, down)
	}
	must(t, obs.Cancel(ctx))
}
