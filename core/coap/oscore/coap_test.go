package oscore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpclient "github.com/plgd-dev/go-coap/v3/udp/client"
	"github.com/plgd-dev/go-coap/v3/udp/coder"
)

var (
	testSecret = []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}
	testSalt   = []byte{0x9e, 0x7c, 0xa9, 0x22, 0x23, 0x78, 0x63, 0x40}
	clientID   = []byte{0x01}
	serverID   = []byte{}
)

func pairParams(fresh bool) (client, server Params) {
	client = Params{MasterSecret: testSecret, MasterSalt: testSalt, SenderID: clientID, RecipientID: serverID}
	server = Params{MasterSecret: testSecret, MasterSalt: testSalt, SenderID: serverID, RecipientID: clientID, FreshReplayWindow: fresh}
	return
}

func mustContext(t testing.TB, p Params) *Context {
	t.Helper()
	c, err := NewContext(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testServer runs a real go-coap UDP server with an OSCORE-protected router.
type testServer struct {
	addr string
	stop func()

	mu        sync.Mutex
	observers map[string]mux.Conn // token -> conn, for notifications
}

func startServer(t *testing.T, resolve Resolver) *testServer {
	t.Helper()
	ts := &testServer{observers: map[string]mux.Conn{}}
	r := mux.NewRouter()
	big := bytes.Repeat([]byte("0123456789abcdef"), 150) // 2400 bytes: forces Block2
	must(t, r.Handle("/hello", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		_ = w.SetResponse(codes.Content, message.TextPlain, bytes.NewReader([]byte("Hello World!")))
	})))
	must(t, r.Handle("/big", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		_ = w.SetResponse(codes.Content, message.AppOctets, bytes.NewReader(big))
	})))
	must(t, r.Handle("/echo", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		body, _ := req.ReadBody()
		_ = w.SetResponse(codes.Changed, message.AppOctets, bytes.NewReader(body))
	})))
	must(t, r.Handle("/obs", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		obs, err := req.Observe()
		ts.mu.Lock()
		switch {
		case err == nil && obs == 0:
			ts.observers[string(req.Token())] = w.Conn()
			ts.mu.Unlock()
			_ = w.SetResponse(codes.Content, message.TextPlain, bytes.NewReader([]byte("n0")), message.Option{ID: message.Observe, Value: []byte{}})
			return
		case err == nil && obs == 1:
			delete(ts.observers, string(req.Token()))
		}
		ts.mu.Unlock()
		_ = w.SetResponse(codes.Content, message.TextPlain, bytes.NewReader([]byte("bye")))
	})))
	l, err := coapnet.NewListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := udp.NewServer(options.WithMux(Handler(resolve, r)))
	done := make(chan struct{})
	go func() { _ = s.Serve(l); close(done) }()
	ts.addr = l.LocalAddr().String()
	ts.stop = func() { s.Stop(); <-done; _ = l.Close() }
	t.Cleanup(ts.stop)
	return ts
}

// notify sends one notification with payload to every registered observer.
func (ts *testServer) notify(t *testing.T, seq uint32, payload string) int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for tok, cc := range ts.observers {
		m := cc.AcquireMessage(context.Background())
		m.SetCode(codes.Content)
		m.SetToken(message.Token(tok))
		m.SetObserve(seq)
		m.SetContentFormat(message.TextPlain)
		m.SetBody(bytes.NewReader([]byte(payload)))
		if err := cc.WriteMessage(m); err != nil {
			t.Errorf("notify: %v", err)
		}
		cc.ReleaseMessage(m)
	}
	return len(ts.observers)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func resolverFor(sc *Context) Resolver {
	return func(kid, kidContext []byte) (*Context, error) {
		if !bytes.Equal(kid, sc.recipientID) || (kidContext != nil && !bytes.Equal(kidContext, sc.idContext)) {
			return nil, ErrContextNotFound
		}
		return sc, nil
	}
}

func dial(t *testing.T, addr string) *udpclient.Conn {
	t.Helper()
	cc, err := udp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientServerOverUDP(t *testing.T) {
	cp, sp := pairParams(true)
	ts := startServer(t, resolverFor(mustContext(t, sp)))
	cl := NewClient(dial(t, ts.addr), mustContext(t, cp))
	ctx := testCtx(t)
	largeReq := bytes.Repeat([]byte{0xA5}, 3000)

	tests := []struct {
		name     string
		do       func() (*pool.Message, error)
		wantCode codes.Code
		wantBody []byte
	}{
		{"GET", func() (*pool.Message, error) { return cl.Get(ctx, "/hello") }, codes.Content, []byte("Hello World!")},
		{"POST small", func() (*pool.Message, error) {
			return cl.Post(ctx, "/echo", message.AppOctets, bytes.NewReader([]byte("ping")))
		}, codes.Changed, []byte("ping")},
		{"GET 2400-byte response: inner Block2, sliced by the server", func() (*pool.Message, error) { return cl.Get(ctx, "/big") }, codes.Content, bytes.Repeat([]byte("0123456789abcdef"), 150)},
		{"POST block-wise request >1024", func() (*pool.Message, error) {
			return cl.Post(ctx, "/echo", message.AppOctets, bytes.NewReader(largeReq))
		}, codes.Changed, largeReq},
		{"POST 1024 bytes: one OSCORE message each way (not split)", func() (*pool.Message, error) {
			return cl.Post(ctx, "/echo", message.AppOctets, bytes.NewReader(largeReq[:1024]))
		}, codes.Changed, largeReq[:1024]},
		{"inner Block2: client asks for 64-byte blocks, server slices, client reassembles", func() (*pool.Message, error) {
			return cl.Get(ctx, "/big", block{num: 0, szx: 2}.option(message.Block2))
		}, codes.Content, bytes.Repeat([]byte("0123456789abcdef"), 150)},
		{"inner Block2: a later block with no transfer started is 4.08 (continuations never run the handler)", func() (*pool.Message, error) {
			return cl.Get(ctx, "/big", block{num: 2, szx: 2}.option(message.Block2))
		}, codes.RequestEntityIncomplete, nil},
		{"unknown path is a protected 4.04", func() (*pool.Message, error) { return cl.Get(ctx, "/nope") }, codes.NotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.do()
			if err != nil {
				t.Fatal(err)
			}
			body, _ := resp.ReadBody()
			if resp.Code() != tc.wantCode || (tc.wantBody != nil && !bytes.Equal(body, tc.wantBody)) {
				t.Fatalf("got %v %d bytes, want %v %d bytes", resp.Code(), len(body), tc.wantCode, len(tc.wantBody))
			}
		})
	}
}

func TestClientWrongContextRejected(t *testing.T) {
	cp, sp := pairParams(true)
	ts := startServer(t, resolverFor(mustContext(t, sp)))
	ctx := testCtx(t)
	tests := []struct {
		name     string
		params   Params
		wantCode codes.Code
	}{
		{"wrong master secret", Params{MasterSecret: bytes.Repeat([]byte{7}, 16), MasterSalt: testSalt, SenderID: clientID, RecipientID: serverID}, codes.BadRequest},
		{"unknown kid", Params{MasterSecret: testSecret, MasterSalt: testSalt, SenderID: []byte{0x42}, RecipientID: serverID}, codes.Unauthorized},
		{"wrong id context", Params{MasterSecret: testSecret, MasterSalt: testSalt, IDContext: []byte{1, 2}, SenderID: clientID, RecipientID: serverID}, codes.Unauthorized},
		{"correct context", cp, codes.Content},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := NewClient(dial(t, ts.addr), mustContext(t, tc.params))
			resp, err := cl.Get(ctx, "/hello")
			var se *ServerError
			switch {
			case errors.As(err, &se):
				if se.Code != tc.wantCode {
					t.Fatalf("server error %v (%s), want %v", se.Code, se.Diagnostic, tc.wantCode)
				}
			case err != nil:
				t.Fatal(err)
			case resp.Code() != tc.wantCode:
				t.Fatalf("code %v, want %v", resp.Code(), tc.wantCode)
			}
		})
	}
}

// rawExchange sends one datagram and returns the decoded reply.
func rawExchange(t *testing.T, conn *net.UDPConn, m message.Message) message.Message {
	t.Helper()
	n, _ := coder.DefaultCoder.Size(m)
	buf := make([]byte, n)
	if _, err := coder.DefaultCoder.Encode(m, buf); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(buf); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	rb := make([]byte, 2048)
	rn, err := conn.Read(rb)
	if err != nil {
		t.Fatal(err)
	}
	return decodeCoAP(t, rb[:rn])
}

func TestServerRejectsReplayOverUDP(t *testing.T) {
	cp, sp := pairParams(true)
	ts := startServer(t, resolverFor(mustContext(t, sp)))
	client := mustContext(t, cp)
	raddr, _ := net.ResolveUDPAddr("udp", ts.addr)
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := message.Message{Token: []byte{1, 2, 3, 4}, Type: message.Confirmable, MessageID: 100, Code: codes.GET,
		Options: message.Options{{ID: message.URIPath, Value: []byte("hello")}}}
	prot, ex, err := client.ProtectRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	first := rawExchange(t, conn, prot)
	inner, err := client.UnprotectResponse(first, ex)
	if err != nil || string(inner.Payload) != "Hello World!" {
		t.Fatalf("first delivery: %v %q", err, inner.Payload)
	}
	// Same protected bytes under a new message ID: the transport's duplicate
	// detection does not catch it, OSCORE's replay window must.
	prot.MessageID = 101
	second := rawExchange(t, conn, prot)
	if second.Code != codes.Unauthorized || second.Options.HasOption(OptionNumber) || string(second.Payload) != "Replay detected" {
		t.Fatalf("replay answered %v %q (protected=%v)", second.Code, second.Payload, second.Options.HasOption(OptionNumber))
	}
	// A tampered ciphertext is a 4.00, a malformed option a 4.02; both unprotected.
	fresh, _, _ := client.ProtectRequest(req)
	fresh.MessageID = 102
	fresh.Payload[0] ^= 1
	if got := rawExchange(t, conn, fresh); got.Code != codes.BadRequest || string(got.Payload) != "Decryption failed" {
		t.Fatalf("tampered answered %v %q", got.Code, got.Payload)
	}
	bad := prot
	bad.MessageID = 103
	bad.Options = message.Options{{ID: OptionNumber, Value: []byte{0x0e}}, {ID: message.URIPath, Value: []byte("hello")}}
	if got := rawExchange(t, conn, bad); got.Code != codes.BadOption {
		t.Fatalf("malformed option answered %v %q", got.Code, got.Payload)
	}
	plain := req
	plain.MessageID = 104
	if got := rawExchange(t, conn, plain); got.Code != codes.Unauthorized {
		t.Fatalf("unprotected request answered %v %q", got.Code, got.Payload)
	}
}

// TestServerRebootEchoOverUDP: a server restarted without its replay window
// (FreshReplayWindow false) challenges the first request with Echo; the client
// retries transparently, and from then on replays are rejected again.
func TestServerRebootEchoOverUDP(t *testing.T) {
	cp, sp := pairParams(false)
	server := mustContext(t, sp)
	ts := startServer(t, resolverFor(server))
	client := mustContext(t, cp)
	cl := NewClient(dial(t, ts.addr), client)
	ctx := testCtx(t)
	resp, err := cl.Get(ctx, "/hello")
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := resp.ReadBody(); string(body) != "Hello World!" {
		t.Fatalf("after Echo: %v %q", resp.Code(), body)
	}
	if initialized, _ := server.replay.check(0); !initialized {
		t.Fatal("replay window not rebuilt after Echo")
	}
	// The challenged request (sequence number 0) must now count as a replay.
	if _, ok := server.replay.check(0); ok {
		t.Fatal("sequence number of the Echo-challenged request still acceptable")
	}
	// A second request goes through without a challenge.
	if _, err := cl.Get(ctx, "/hello"); err != nil {
		t.Fatal(err)
	}
}

func TestObserveOverUDP(t *testing.T) {
	cp, sp := pairParams(true)
	ts := startServer(t, resolverFor(mustContext(t, sp)))
	cl := NewClient(dial(t, ts.addr), mustContext(t, cp))
	ctx := testCtx(t)
	got := make(chan string, 16)
	obs, err := cl.Observe(ctx, "/obs", func(m *pool.Message) {
		b, _ := m.ReadBody()
		got <- string(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"n0", "n1", "n2", "n3"}
	if s := <-got; s != want[0] {
		t.Fatalf("first notification %q", s)
	}
	for i := 1; i < len(want); i++ {
		if n := ts.notify(t, uint32(i+1), want[i]); n != 1 {
			t.Fatalf("%d observers registered", n)
		}
		select {
		case s := <-got:
			if s != want[i] {
				t.Fatalf("notification %d = %q, want %q", i, s, want[i])
			}
		case <-ctx.Done():
			t.Fatal("notification not delivered")
		}
	}
	if err := obs.Cancel(ctx); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	if n := ts.notify(t, 9, "late"); n != 0 {
		t.Fatalf("server still has %d observers after cancel", n)
	}
}

// TestObserveAfterRebootOverUDP: a registration sent to a server that lost its
// replay window is challenged with Echo and transparently repeated.
func TestObserveAfterRebootOverUDP(t *testing.T) {
	cp, sp := pairParams(false)
	ts := startServer(t, resolverFor(mustContext(t, sp)))
	cl := NewClient(dial(t, ts.addr), mustContext(t, cp))
	ctx := testCtx(t)
	got := make(chan string, 16)
	obs, err := cl.Observe(ctx, "/obs", func(m *pool.Message) {
		b, _ := m.ReadBody()
		got <- fmt.Sprintf("%v %s", m.Code(), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "Content n0" {
		t.Fatalf("first notification %q (the Echo challenge must not be delivered)", s)
	}
	if cl.EchoRetries() != 1 {
		t.Fatalf("Echo retries %d, want 1", cl.EchoRetries())
	}
	ts.notify(t, 2, "n1")
	if s := <-got; s != "Content n1" {
		t.Fatalf("notification %q", s)
	}
	if err := obs.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
}
