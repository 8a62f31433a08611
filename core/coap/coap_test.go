package coap

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message/codes"
)

// protectedModes are the modes that authenticate the sender.
var protectedModes = []Mode{ModeSigned, ModeSession, ModeOSCORE}

// TestRoundTrip: each mode carries GET/POST/PUT/DELETE with queries, a
// content format and a payload large enough for block-wise transfer, and
// the handler sees the authenticated sender.
func TestRoundTrip(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	big := bytes.Repeat([]byte("0123456789abcdef"), 600) // 9.6 KB: several blocks each way
	for _, mode := range []Mode{ModePlain, ModeSigned, ModeSession, ModeOSCORE} {
		t.Run(mode.String(), func(t *testing.T) {
			_, addr, calls := startServer(t, srvDev.cfg(mode))
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			wantSender := "scada-1"
			if mode == ModePlain {
				wantSender = ""
			}
			cases := []struct {
				name    string
				method  codes.Code
				path    string
				cf      int
				payload []byte
				code    codes.Code
				want    []byte
			}{
				{"get", codes.GET, "/sensors/temp", NoContentFormat, nil, codes.Content, []byte("20")},
				{"put", codes.PUT, "/sensors/temp", 0, []byte("42"), codes.Changed, nil},
				{"get after put", codes.GET, "/sensors/temp?unit=C", NoContentFormat, nil, codes.Content, []byte("42")},
				{"post echo", codes.POST, "/echo", 50, []byte(`{"v":1}`), codes.Content, []byte(`{"v":1}`)},
				{"block-wise echo", codes.POST, "/echo", 42, big, codes.Content, big},
				{"whoami", codes.GET, "/whoami", NoContentFormat, nil, codes.Content, []byte(wantSender)},
				{"not found", codes.GET, "/nope", NoContentFormat, nil, codes.NotFound, nil},
				{"delete", codes.DELETE, "/echo", NoContentFormat, nil, codes.Content, nil},
			}
			for _, tc := range cases {
				resp, err := cl.Do(ctxT(t), tc.method, tc.path, tc.cf, tc.payload)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if resp.Code != tc.code || !bytes.Equal(resp.Payload, tc.want) {
					t.Fatalf("%s: got %v %q, want %v %q", tc.name, resp.Code, trim(resp.Payload), tc.code, trim(tc.want))
				}
				if mode != ModePlain && resp.Sender != "plc-1" {
					t.Fatalf("%s: response sender %q", tc.name, resp.Sender)
				}
				if tc.name == "post echo" && resp.ContentFormat != 50 {
					t.Fatalf("content format %d", resp.ContentFormat)
				}
			}
			if got := calls.get("POST /echo"); got != 2 {
				t.Fatalf("POST /echo ran %d times, want 2", got)
			}
		})
	}
}

func trim(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

// TestConcurrentClients: many clients, each in its own session or with its
// own sequence, all served, every request run exactly once.
func TestConcurrentClients(t *testing.T) {
	f := newTestFleet(t)
	srvDev := f.enrol(t, "plc-1", nil, nil)
	const clients, each = 6, 10
	var devs []*testDevice
	for i := range clients {
		devs = append(devs, f.enrol(t, fmt.Sprintf("hmi-%d", i), nil, nil))
	}
	for _, mode := range protectedModes {
		t.Run(mode.String(), func(t *testing.T) {
			srv, addr, calls := startServer(t, srvDev.cfg(mode))
			var wg sync.WaitGroup
			errs := make(chan error, clients*each)
			for _, d := range devs {
				cfg := d.cfg(mode)
				cfg.Peer = "plc-1"
				cl := dial(t, addr, cfg)
				wg.Add(1)
				go func() {
					defer wg.Done()
					var inner sync.WaitGroup
					for j := range each {
						inner.Add(1)
						go func() {
							defer inner.Done()
							msg := fmt.Appendf(nil, "%s-%d", d.id, j)
							resp, err := cl.Post(ctxT(t), "/echo", 0, msg)
							if err == nil && !bytes.Equal(resp.Payload, msg) {
								err = fmt.Errorf("echo %q", resp.Payload)
							}
							if err != nil {
								errs <- fmt.Errorf("%s: %w", d.id, err)
							}
						}()
					}
					inner.Wait()
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if got := calls.get("POST /echo"); got != clients*each {
				t.Fatalf("handler ran %d times, want %d", got, clients*each)
			}
			if mode == ModeSession && srv.Sessions() != clients {
				t.Fatalf("%d sessions, want %d", srv.Sessions(), clients)
			}
		})
	}
}

// TestServeOwnSocket: Serve runs on a socket the caller bound and returns
// once the server is closed; a closed server refuses to start again.
func TestServeOwnSocket(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Config{Mode: ModePlain})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/ping", func(*Request) Response { return Response{Code: codes.Content, ContentFormat: NoContentFormat} })
	done := make(chan error, 1)
	go func() { done <- srv.Serve(pc) }()
	cl := dial(t, pc.LocalAddr().String(), Config{Mode: ModePlain})
	resp, err := cl.Get(ctxT(t), "/ping")
	if err != nil || resp.Code != codes.Content {
		t.Fatalf("%v %v", resp, err)
	}
	srv.Close()
	select {
	case <-done:
	case <-ctxT(t).Done():
		t.Fatal("Serve did not return after Close")
	}
	if _, err := srv.Listen("127.0.0.1:0"); !errors.Is(err, ErrClosed) {
		t.Fatalf("listen after close: %v", err)
	}
}

// TestConfigRefused: incomplete configurations fail before any socket.
func TestConfigRefused(t *testing.T) {
	f := newTestFleet(t)
	d := f.enrol(t, "plc-1", nil, nil)
	cases := []struct {
		name   string
		cfg    Config
		client bool
	}{
		{"no mode", Config{}, false},
		{"signed without device", Config{Mode: ModeSigned, Trust: d.trust, Store: d.st}, false},
		{"session without trust", Config{Mode: ModeSession, Device: d.dev, Store: d.st}, false},
		{"no store", Config{Mode: ModeSigned, Device: d.dev, Trust: d.trust}, false},
		{"client without peer", Config{Mode: ModeSession, Device: d.dev, Trust: d.trust, Store: d.st}, true},
		{"dtls without credentials", Config{Mode: ModePlain, DTLS: &DTLS{}}, true},
	}
	for _, tc := range cases {
		var err error
		if tc.client {
			_, err = Dial("127.0.0.1:9", tc.cfg)
		} else {
			_, err = NewServer(tc.cfg)
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", tc.name, err)
		}
	}
}
