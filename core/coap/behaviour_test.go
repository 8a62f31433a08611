package coap

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// TestServerRestart: a server restarted on the same keystore keeps
// refusing requests it accepted before (durable replay floor), while its
// clients carry on (session mode re-handshakes, signed mode skips past
// the floor).
func TestServerRestart(t *testing.T) {
	for _, mode := range protectedModes {
		t.Run(mode.String(), func(t *testing.T) {
			f := newTestFleet(t)
			srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
			srv, addr, _ := startServer(t, srvDev.cfg(mode))
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			if _, err := cl.Post(ctxT(t), "/echo", 0, []byte("before")); err != nil {
				t.Fatal(err)
			}
			old := capture(t, cl, codes.POST, "/echo", 0, []byte("captured"))
			raw := rawDial(t, addr)
			if code := old.send(t, raw); code != outerOK(mode, codes.Content) {
				t.Fatalf("captured request: %v", code)
			}
			srv.Close()
			srvDev.reopen(t)
			cfg := srvDev.cfg(mode)
			srv2, err := NewServer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var ran atomic.Int32
			srv2.Handle("/echo", func(r *Request) Response {
				ran.Add(1)
				return Response{Code: codes.Content, ContentFormat: r.ContentFormat, Payload: r.Payload}
			})
			if _, err := srv2.Listen(addr); err != nil {
				t.Fatal(err)
			}
			defer srv2.Close()
			if code := old.send(t, raw); success(code) {
				t.Fatalf("request from before the restart accepted again: %v", code)
			}
			resp, err := cl.Post(ctxT(t), "/echo", 0, []byte("after"))
			if err != nil || string(resp.Payload) != "after" {
				t.Fatalf("after restart: %v %v", resp, err)
			}
			if ran.Load() != 1 {
				t.Fatalf("handler ran %d times after restart", ran.Load())
			}
		})
	}
}

// TestAccessControl: rules from configuration, certificate roles and
// certificate path grants; refusals are 4.03, protected like any answer.
func TestAccessControl(t *testing.T) {
	f := newTestFleet(t)
	srvDev := f.enrol(t, "plc-1", nil, nil)
	operator := f.enrol(t, "hmi-1", []string{"operator"}, nil)
	reader := f.enrol(t, "logger-1", nil, []identity.TopicPermission{{Filter: "/sensors", Subscribe: true}})
	stranger := f.enrol(t, "laptop-9", nil, nil)
	acl := &ACL{
		Identities:        map[string][]Rule{"*": {{Path: "/whoami", Methods: []codes.Code{codes.GET}}}},
		Roles:             map[string][]Rule{"operator": {{Path: "/sensors", Methods: []codes.Code{codes.GET, codes.PUT}}}},
		CertificateGrants: true,
	}
	cases := []struct {
		who    *testDevice
		method codes.Code
		path   string
		want   codes.Code
	}{
		{operator, codes.PUT, "/sensors/temp", codes.Changed},
		{operator, codes.GET, "/sensors/temp", codes.Content},
		{operator, codes.POST, "/echo", codes.Forbidden},
		{reader, codes.GET, "/sensors/temp", codes.Content},
		{reader, codes.PUT, "/sensors/temp", codes.Forbidden},
		{stranger, codes.GET, "/sensors/temp", codes.Forbidden},
		{stranger, codes.GET, "/whoami", codes.Content},
		{stranger, codes.POST, "/whoami", codes.Forbidden},
		{stranger, codes.GET, "/sensorsX", codes.Forbidden},
	}
	for _, mode := range protectedModes {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := srvDev.cfg(mode)
			cfg.ACL = acl
			_, addr, calls := startServer(t, cfg)
			clients := map[string]*Client{}
			for _, tc := range cases {
				cl, ok := clients[tc.who.id]
				if !ok {
					ccfg := tc.who.cfg(mode)
					ccfg.Peer = "plc-1"
					cl = dial(t, addr, ccfg)
					clients[tc.who.id] = cl
				}
				resp, err := cl.Do(ctxT(t), tc.method, tc.path, 0, []byte("1"))
				if err != nil {
					t.Fatalf("%s %v %s: %v", tc.who.id, tc.method, tc.path, err)
				}
				if resp.Code != tc.want || resp.Sender != "plc-1" {
					t.Errorf("%s %v %s: %v from %q, want %v", tc.who.id, tc.method, tc.path, resp.Code, resp.Sender, tc.want)
				}
			}
			if calls.get("POST /echo") != 0 || calls.get("PUT /sensors/temp") != 1 {
				t.Fatalf("a refused request reached its handler: %v", calls.n)
			}
		})
	}
}

// TestObserve: notifications reach the observer protected and in order;
// after Cancel they stop.
func TestObserve(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	for _, mode := range []Mode{ModePlain, ModeSigned, ModeSession, ModeOSCORE} {
		t.Run(mode.String(), func(t *testing.T) {
			srv, addr, _ := startServer(t, srvDev.cfg(mode))
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			got := make(chan *Response, 16)
			obs, first, err := cl.Observe(ctxT(t), "/sensors/temp", func(r *Response) { got <- r })
			if err != nil {
				t.Fatal(err)
			}
			if string(first.Payload) != "20" {
				t.Fatalf("first response %q", first.Payload)
			}
			for _, v := range []string{"21", "22", "23"} {
				if _, err := cl.Put(ctxT(t), "/sensors/temp", 0, []byte(v)); err != nil {
					t.Fatal(err)
				}
				if n := srv.Notify("/sensors/temp"); n != 1 {
					t.Fatalf("notified %d observers", n)
				}
				select {
				case r := <-got:
					if string(r.Payload) != v || (mode != ModePlain && r.Sender != "plc-1") {
						t.Fatalf("notification %q from %q, want %q", r.Payload, r.Sender, v)
					}
				case <-ctxT(t).Done():
					t.Fatal("no notification")
				}
			}
			if err := obs.Cancel(ctxT(t)); err != nil && !errors.Is(err, ErrRejected) {
				t.Logf("cancel: %v", err)
			}
			if n := srv.Observers("/sensors/temp"); n != 0 {
				t.Fatalf("%d observers after cancel", n)
			}
		})
	}
}

// lossyRelay forwards datagrams between one client and a server, dropping
// about drop of them and holding about reorder of them back, to deliver
// after the next datagram in the same direction (or after holdFor when
// none comes: a held datagram is late, not lost).
type lossyRelay struct {
	conn    *net.UDPConn
	server  *net.UDPAddr
	drop    float64
	reorder float64
	mu      sync.Mutex
	client  *net.UDPAddr
	held    map[bool][]byte
	rng     *rand.Rand
	dropped atomic.Int64
}

func startRelay(t *testing.T, server string, drop, reorder float64) *lossyRelay {
	t.Helper()
	sa, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	// A second socket talks to the server so replies can be told apart.
	up, err := net.DialUDP("udp", nil, sa)
	if err != nil {
		t.Fatal(err)
	}
	r := &lossyRelay{conn: c, server: sa, drop: drop, reorder: reorder, held: map[bool][]byte{}, rng: rand.New(rand.NewPCG(1, 2))}
	go r.pump(c, func(b []byte, from *net.UDPAddr) {
		r.mu.Lock()
		r.client = from
		r.mu.Unlock()
		r.forward(true, b, func(p []byte) { _, _ = up.Write(p) })
	})
	go r.pump(up, func(b []byte, _ *net.UDPAddr) {
		r.mu.Lock()
		to := r.client
		r.mu.Unlock()
		r.forward(false, b, func(p []byte) { _, _ = c.WriteToUDP(p, to) })
	})
	t.Cleanup(func() { c.Close(); up.Close() })
	return r
}

const holdFor = 30 * time.Millisecond

func (r *lossyRelay) addr() string { return r.conn.LocalAddr().String() }

func (r *lossyRelay) pump(c *net.UDPConn, fn func([]byte, *net.UDPAddr)) {
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			return
		}
		fn(append([]byte(nil), buf[:n]...), from)
	}
}

// forward drops, holds back (reorders) or sends a datagram.
func (r *lossyRelay) forward(up bool, b []byte, send func([]byte)) {
	r.mu.Lock()
	x := r.rng.Float64()
	var out [][]byte
	switch {
	case x < r.drop:
		r.dropped.Add(1)
	case x < r.drop+r.reorder && r.held[up] == nil:
		r.held[up] = b // goes out after the next datagram
		time.AfterFunc(holdFor, func() {
			r.mu.Lock()
			h := r.held[up]
			if h != nil && &h[0] == &b[0] {
				r.held[up] = nil
			} else {
				h = nil
			}
			r.mu.Unlock()
			if h != nil {
				send(h)
			}
		})
	default:
		out = append(out, b)
		if h := r.held[up]; h != nil {
			out = append(out, h)
			r.held[up] = nil
		}
	}
	r.mu.Unlock()
	for _, p := range out {
		send(p)
	}
}

// TestLossyReorderingNetwork: through a relay that drops ~20% and reorders
// datagrams, every request eventually succeeds through CoAP retransmission,
// including the block-wise handshake and signed mode's block-wise
// requests and responses, and no handler runs twice.
func TestLossyReorderingNetwork(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	for _, mode := range []Mode{ModePlain, ModeSigned, ModeSession, ModeOSCORE} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := srvDev.cfg(mode)
			// 20% loss each way: a round trip succeeds with p = 0.64, and 11
			// tries fail together with p < 2e-5 per block exchange.
			cfg.AckTimeout, cfg.MaxRetransmit = 50*time.Millisecond, 10
			_, addr, calls := startServer(t, cfg)
			relay := startRelay(t, addr, 0.2, 0.15)
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			ccfg.AckTimeout, ccfg.MaxRetransmit, ccfg.Timeout = 50*time.Millisecond, 10, 120*time.Second
			cl := dial(t, relay.addr(), ccfg)
			const n = 20
			for i := range n {
				msg := []byte{byte(i)}
				var resp *Response
				var err error
				resp, err = cl.Post(ctxT(t), "/echo", 0, msg)
				if err != nil || !bytes.Equal(resp.Payload, msg) {
					t.Fatalf("request %d: %v %v", i, resp, err)
				}
			}
			if got := calls.get("POST /echo"); got != n {
				t.Fatalf("handler ran %d times for %d requests", got, n)
			}
			if relay.dropped.Load() == 0 {
				t.Fatal("relay dropped nothing")
			}
			t.Logf("%d datagrams dropped", relay.dropped.Load())
		})
	}
}

// TestSessionTableBounds: the server keeps at most MaxSessions sessions
// (least recently used dropped) and drops idle ones; clients whose session
// was dropped handshake again by themselves.
func TestSessionTableBounds(t *testing.T) {
	f := newTestFleet(t)
	srvDev := f.enrol(t, "plc-1", nil, nil)
	var devs []*testDevice
	for _, id := range []string{"hmi-1", "hmi-2", "hmi-3"} {
		devs = append(devs, f.enrol(t, id, nil, nil))
	}
	for _, mode := range []Mode{ModeSession, ModeOSCORE} {
		t.Run(mode.String(), func(t *testing.T) {
			var now atomic.Int64
			now.Store(f.now.UnixNano())
			clock := func() time.Time { return time.Unix(0, now.Load()) }
			cfg := srvDev.cfg(mode)
			cfg.MaxSessions, cfg.SessionIdle, cfg.Now = 2, time.Minute, clock
			srv, addr, calls := startServer(t, cfg)
			var cls []*Client
			for _, d := range devs {
				c := d.cfg(mode)
				c.Peer = "plc-1"
				cls = append(cls, dial(t, addr, c))
			}
			ask := func(i int) {
				t.Helper()
				resp, err := cls[i].Get(ctxT(t), "/whoami")
				if err != nil || string(resp.Payload) != devs[i].id {
					t.Fatalf("client %d: %v %v", i, resp, err)
				}
			}
			ask(0)
			ask(1)
			ask(2) // evicts hmi-1's session, the least recently used
			if n := srv.Sessions(); n != 2 {
				t.Fatalf("%d sessions, want 2", n)
			}
			ask(0) // re-handshakes (evicting hmi-2's)
			if n := srv.Sessions(); n != 2 {
				t.Fatalf("%d sessions, want 2", n)
			}
			now.Add(int64(2 * time.Minute))
			ask(2) // its session expired meanwhile: re-handshake
			if n := srv.Sessions(); n != 1 {
				t.Fatalf("%d sessions after expiry, want 1", n)
			}
			if got := calls.get("GET /whoami"); got != 5 {
				t.Fatalf("handler ran %d times, want 5", got)
			}
		})
	}
}

// TestRevokedPeer: once the server applies a revocation list naming the
// client's key, the client's requests are refused in every mode: signed
// requests fail verification, sessions and the OSCORE contexts keyed from
// them end, and a new handshake is refused.
func TestRevokedPeer(t *testing.T) {
	for _, mode := range protectedModes {
		t.Run(mode.String(), func(t *testing.T) {
			f := newTestFleet(t)
			srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
			_, addr, calls := startServer(t, srvDev.cfg(mode))
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			if _, err := cl.Get(ctxT(t), "/whoami"); err != nil {
				t.Fatal(err)
			}
			keys, _, err := cliDev.dev.Keys()
			if err != nil {
				t.Fatal(err)
			}
			rl, err := identity.SignRevocation(f.root, 1, f.now.Unix(), [][]byte{keys.KeyID()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srvDev.trust.ApplyRevocation(rl); err != nil {
				t.Fatal(err)
			}
			resp, err := cl.Get(ctxT(t), "/whoami")
			if err == nil {
				t.Fatalf("revoked client answered %v %q", resp.Code, resp.Payload)
			}
			if code, ok := Code(err); !ok || code != codes.Unauthorized {
				t.Fatalf("revoked client: %v, want a 4.01 refusal", err)
			}
			if got := calls.get("GET /whoami"); got != 1 {
				t.Fatalf("handler ran %d times", got)
			}
		})
	}
}

// TestSignedBudget: in signed mode a signer over its policy budget is
// refused (5.03) before its signature is verified; its handler does not run.
func TestSignedBudget(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	p, err := identity.SignPolicy(f.root, identity.PolicyClaims{
		IssuedAt: f.now.Add(-time.Minute).Unix(), Expiry: f.now.Add(time.Hour).Unix(), Sequence: 2,
		AllowedKEMs: []string{"X25519-ML-KEM-768"}, AllowedSigs: []string{"ML-DSA-65", "ML-DSA-44"},
		PeerBudget: identity.RateLimit{Rate: 0.001, Burst: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srvDev.trust.ApplyPolicy(p, f.now); err != nil {
		t.Fatal(err)
	}
	_, addr, calls := startServer(t, srvDev.cfg(ModeSigned))
	ccfg := cliDev.cfg(ModeSigned)
	ccfg.Peer = "plc-1"
	cl := dial(t, addr, ccfg)
	for i := range 3 {
		if _, err := cl.Get(ctxT(t), "/whoami"); err != nil {
			t.Fatalf("request %d within budget: %v", i, err)
		}
	}
	_, err = cl.Get(ctxT(t), "/whoami")
	if code, ok := Code(err); !ok || code != codes.ServiceUnavailable {
		t.Fatalf("over budget: %v, want 5.03", err)
	}
	if got := calls.get("GET /whoami"); got != 3 {
		t.Fatalf("handler ran %d times, want 3", got)
	}
}
