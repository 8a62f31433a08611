package coap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// Regression tests for defects found through the C API: each failed
// before its fix.

var allModes = []Mode{ModePlain, ModeSigned, ModeSession, ModeOSCORE}

// TestObserveOutlivesRegistrationContext: notifications keep arriving
// after the context given to Observe ended (the C API bounds Observe with
// a timeout and cancels it on return). Signed-mode notifications with the
// default ML-DSA-65 keys are block-wise, and fetching their later blocks
// used that context, so every one was lost.
func TestObserveOutlivesRegistrationContext(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	const notifications = 5
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			srv, addr, _ := startServer(t, srvDev.cfg(mode))
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			got := make(chan *Response, notifications)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			obs, first, err := cl.Observe(ctx, "/sensors/temp", func(r *Response) { got <- r })
			cancel()
			if err != nil || first.Code != codes.Content {
				t.Fatalf("observe: %v %v", first, err)
			}
			for i := range notifications {
				if n := srv.Notify("/sensors/temp"); n != 1 {
					t.Fatalf("notification %d reached %d observers", i, n)
				}
				select {
				case r := <-got:
					if string(r.Payload) != "20" || (mode != ModePlain && r.Sender != "plc-1") {
						t.Fatalf("notification %d: %q from %q", i, r.Payload, r.Sender)
					}
				case <-ctxT(t).Done():
					t.Fatalf("notification %d never arrived", i)
				}
			}
			if err := obs.Cancel(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestObserveRefusedFirstAnswer: a first answer to Observe that is not
// 2.05 comes back as a verified Response with its code (go-coap turned it
// into the error string "unexpected return code(NotFound)"), and the
// Observation it comes with cancels without error.
func TestObserveRefusedFirstAnswer(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	acl := &ACL{Identities: map[string][]Rule{"scada-1": {{Path: "/sensors"}, {Path: "/nothing"}}}}
	cases := []struct {
		path string
		want codes.Code
	}{
		{"/nothing/here", codes.NotFound},
		{"/whoami", codes.Forbidden},
		{"/sensors/temp", codes.Content},
	}
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := srvDev.cfg(mode)
			cfg.ACL = acl
			if mode == ModePlain {
				cfg.ACL = nil // no identity without DTLS: only 4.04 applies
			}
			srv, addr, _ := startServer(t, cfg)
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			for _, tc := range cases {
				want := tc.want
				if mode == ModePlain && want == codes.Forbidden {
					want = codes.Content
				}
				obs, first, err := cl.Observe(ctxT(t), tc.path, func(*Response) {})
				if err != nil {
					t.Fatalf("%s: %v", tc.path, err)
				}
				if first.Code != want || (mode != ModePlain && first.Sender != "plc-1") {
					t.Fatalf("%s: %v from %q, want %v from plc-1", tc.path, first.Code, first.Sender, want)
				}
				if err := obs.Cancel(ctxT(t)); err != nil {
					t.Fatalf("%s: cancel: %v", tc.path, err)
				}
				if n := srv.Observers(tc.path); n != 0 {
					t.Fatalf("%s: %d observers left", tc.path, n)
				}
			}
		})
	}
}

// captureOutput points os.Stdout and os.Stderr at pipes while fn runs and
// returns what was written to them. fn must not log through t.
func captureOutput(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		out <- b
	}()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	func() {
		defer func() { os.Stdout, os.Stderr = stdout, stderr }()
		fn()
	}()
	w.Close()
	b := <-out
	r.Close()
	return string(b)
}

// errorLog collects what Config.Errors receives.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errs)
}

// TestNoOutputOnStandardStreams: transport failures (a refused
// connection, junk datagrams, a DTLS handshake with the wrong key) reach
// Config.Errors and nothing is written to standard output or error, with
// Errors set and without, whatever PION_LOG_* variables the host has set.
func TestNoOutputOnStandardStreams(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	quick := func(c Config) Config {
		c.AckTimeout, c.MaxRetransmit, c.Timeout = 20*time.Millisecond, 1, 2*time.Second
		return c
	}
	scenarios := []struct {
		name string
		run  func(t *testing.T, errs func(error))
	}{
		{"refused connection", func(t *testing.T, errs func(error)) {
			pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
			addr := pc.LocalAddr().String()
			pc.Close() // nobody listens there any more: ICMP port unreachable
			cfg := quick(cliDev.cfg(ModeSigned))
			cfg.Peer, cfg.Errors = "plc-1", errs
			cl, err := Dial(addr, cfg)
			if err != nil {
				return
			}
			defer cl.Close()
			for range 3 {
				_, _ = cl.Get(context.Background(), "/sensors/temp")
			}
		}},
		{"junk datagrams", func(t *testing.T, errs func(error)) {
			cfg := srvDev.cfg(ModeSession)
			cfg.Errors = errs
			srv, err := NewServer(cfg)
			if err != nil {
				return
			}
			defer srv.Close()
			a, err := srv.Listen("127.0.0.1:0")
			if err != nil {
				return
			}
			c, err := net.Dial("udp", a.String())
			if err != nil {
				return
			}
			defer c.Close()
			for _, d := range [][]byte{{0x40}, {0x44, 0x01, 0, 1, 1}, bytes.Repeat([]byte{0xff}, 2000), {0x80, 1, 2, 3}} {
				_, _ = c.Write(d)
			}
			// A valid request after the junk: once it is answered, the
			// server has processed everything sent before it.
			ccfg := cliDev.cfg(ModeSession)
			ccfg.Peer, ccfg.Errors = "plc-1", errs
			cl, err := Dial(a.String(), ccfg)
			if err == nil {
				_, _ = cl.Get(context.Background(), "/nothing")
				cl.Close()
			}
		}},
		{"dtls wrong key", func(t *testing.T, errs func(error)) {
			// pion/dtls's default logger writes to standard error, at the
			// levels these variables ask for: a host may have them set.
			t.Setenv("PION_LOG_TRACE", "all")
			cfg := srvDev.cfg(ModePlain)
			cfg.Errors = errs
			cfg.DTLS = &DTLS{PSKLookup: func(string) ([]byte, error) { return bytes.Repeat([]byte{1}, 16), nil }}
			srv, err := NewServer(cfg)
			if err != nil {
				return
			}
			defer srv.Close()
			a, err := srv.Listen("127.0.0.1:0")
			if err != nil {
				return
			}
			ccfg := quick(cliDev.cfg(ModePlain))
			ccfg.Errors = errs
			ccfg.DTLS = &DTLS{PSKIdentity: "hmi-1", PSK: bytes.Repeat([]byte{2}, 16)}
			if cl, err := Dial(a.String(), ccfg); err == nil {
				_, _ = cl.Get(context.Background(), "/whoami")
				cl.Close()
			}
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var log errorLog
			out := captureOutput(t, func() { sc.run(t, log.add) })
			if out != "" {
				t.Fatalf("written to standard output or error:\n%s", out)
			}
			if log.len() == 0 {
				t.Fatal("Config.Errors got nothing")
			}
			out = captureOutput(t, func() { sc.run(t, nil) })
			if out != "" {
				t.Fatalf("written to standard output or error without Errors:\n%s", out)
			}
		})
	}
}

// TestCloseDrainsInFlight: a request whose handler is running when Close
// is called still gets its answer; one arriving during the drain gets
// 5.03 without reaching its handler; a handler that never returns holds
// Close up for DrainTimeout only.
func TestCloseDrainsInFlight(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			cfg := srvDev.cfg(mode)
			cfg.DrainTimeout = time.Minute
			srv, addr, _ := startServer(t, cfg)
			entered, release := make(chan struct{}), make(chan struct{})
			var late atomic.Int32
			srv.Handle("/slow", func(r *Request) Response {
				close(entered)
				<-release
				return Response{Code: codes.Content, ContentFormat: 0, Payload: []byte("done")}
			})
			srv.Handle("/late", func(r *Request) Response {
				late.Add(1)
				return Response{Code: codes.Content}
			})
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl, cl2 := dial(t, addr, ccfg), dial(t, addr, ccfg)
			if _, err := cl2.Get(ctxT(t), "/sensors/temp"); err != nil { // handshake before the drain
				t.Fatal(err)
			}
			type result struct {
				r   *Response
				err error
			}
			answer := make(chan result, 1)
			go func() {
				r, err := cl.Get(ctxT(t), "/slow")
				answer <- result{r, err}
			}()
			<-entered
			closed := make(chan struct{})
			go func() { srv.Close(); close(closed) }()
			for !srv.draining() {
				time.Sleep(time.Millisecond) // Close has not begun yet
			}
			r, err := cl2.Get(ctxT(t), "/late")
			code, ok := Code(err)
			if mode == ModePlain && err == nil {
				code, ok = r.Code, true // plain mode has no unprotected errors
			}
			if !ok || code != codes.ServiceUnavailable || late.Load() != 0 {
				t.Fatalf("request during the drain: %v %v (handler ran %d times)", r, err, late.Load())
			}
			select {
			case <-closed:
				t.Fatal("Close returned with a handler in flight")
			default:
			}
			close(release)
			got := <-answer
			if got.err != nil || string(got.r.Payload) != "done" {
				t.Fatalf("answer of the drained request: %v %v", got.r, got.err)
			}
			<-closed
		})
	}
	t.Run("bounded", func(t *testing.T) {
		cfg := srvDev.cfg(ModePlain)
		cfg.DrainTimeout = 50 * time.Millisecond
		srv, addr, _ := startServer(t, cfg)
		stuck, entered := make(chan struct{}), make(chan struct{})
		defer close(stuck)
		srv.Handle("/stuck", func(*Request) Response { close(entered); <-stuck; return Response{} })
		ccfg := cliDev.cfg(ModePlain)
		ccfg.Timeout = 2 * time.Second
		cl := dial(t, addr, ccfg)
		go func() { _, _ = cl.Get(context.Background(), "/stuck") }()
		<-entered
		srv.Close() // returns although the handler never does
	})
}

// draining reports whether Close has started.
func (s *Server) draining() bool {
	s.flight.mu.Lock()
	defer s.flight.mu.Unlock()
	return s.flight.closing
}

// TestConcurrentRequestsOneClient: concurrent requests on one Client (with
// NStart raised from RFC 7252's 1) run their handlers at the same time.
// go-coap's server handled one endpoint's requests one after another, and
// its client let one request per connection be outstanding, so 8 GETs to
// a 50 ms handler took 400 ms. The handler here waits until all 8 are
// inside it: serialised, none would return before its 10 s bound.
func TestConcurrentRequestsOneClient(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	const n = 8
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			srv, addr, _ := startServer(t, srvDev.cfg(mode))
			var inside, most atomic.Int32
			all := make(chan struct{})
			var once sync.Once
			srv.Handle("/barrier", func(*Request) Response {
				now := inside.Add(1)
				defer inside.Add(-1)
				for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
				}
				if now == n {
					once.Do(func() { close(all) })
				}
				select {
				case <-all:
					return Response{Code: codes.Content, ContentFormat: 0, Payload: []byte("ok")}
				case <-time.After(10 * time.Second):
					return Response{Code: codes.ServiceUnavailable}
				}
			})
			ccfg := cliDev.cfg(mode)
			ccfg.Peer, ccfg.NStart = "plc-1", n
			cl := dial(t, addr, ccfg)
			if _, err := cl.Get(ctxT(t), "/sensors/temp"); err != nil { // handshake first
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := cl.Get(ctxT(t), "/barrier")
					if err == nil && r.Code != codes.Content {
						err = errors.New(r.Code.String())
					}
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("request: %v (at most %d handlers ran at once)", err, most.Load())
				}
			}
			if most.Load() != n {
				t.Fatalf("at most %d of %d handlers ran at once", most.Load(), n)
			}
		})
	}
}

// Observing a path with a query works in every mode (OSCORE mode sent
// "/sensors/temp?unit=C" as one path segment and got 4.04).
func TestObserveWithQuery(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	for _, mode := range []Mode{ModePlain, ModeSigned, ModeSession, ModeOSCORE} {
		t.Run(mode.String(), func(t *testing.T) {
			_, addr, _ := startServer(t, srvDev.cfg(mode))
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			obs, first, err := cl.Observe(ctxT(t), "/sensors/temp?unit=C", func(*Response) {})
			if err != nil {
				t.Fatal(err)
			}
			defer obs.Cancel(ctxT(t))
			if first.Code != codes.Content || string(first.Payload) != "20" {
				t.Fatalf("first answer %v %q, want 2.05 \"20\"", first.Code, first.Payload)
			}
		})
	}
}
