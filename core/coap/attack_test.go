package coap

import (
	"bytes"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/net/blockwise"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
	udpClient "github.com/plgd-dev/go-coap/v3/udp/client"
)

// captured is a protected request as it went on the wire, for an attacker
// (a plain go-coap client on the same network) to replay or alter.
type captured struct {
	code  codes.Code
	path  string
	query []string
	token []byte
	cf    int
	body  []byte
	extra []message.Option
}

// capture protects a request with the victim client without sending it.
func capture(t *testing.T, cl *Client, method codes.Code, path string, cf int, payload []byte) captured {
	t.Helper()
	if cl.cfg.Mode == ModeOSCORE {
		return captureOSCORE(t, cl, method, path, cf, payload)
	}
	req, err := cl.newRequest(ctxT(t), method, path, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.conn.ReleaseMessage(req)
	if _, err := cl.protect(ctxT(t), req, cf, payload); err != nil {
		t.Fatal(err)
	}
	c := captured{code: req.Code(), token: append([]byte(nil), req.Token()...), cf: NoContentFormat}
	c.path, _ = req.Path()
	c.query, _ = req.Queries()
	if v, err := req.ContentFormat(); err == nil {
		c.cf = int(v)
	}
	if c.body, err = readBody(req.Body(), 1<<20); err != nil {
		t.Fatal(err)
	}
	return c
}

// send delivers c as a fresh CoAP message (new message id) and returns the
// response code.
func (c captured) send(t *testing.T, raw *udpClient.Conn) codes.Code {
	t.Helper()
	req, err := raw.NewGetRequest(ctxT(t), c.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.ReleaseMessage(req)
	req.SetCode(c.code)
	req.SetToken(c.token)
	for _, q := range c.query {
		req.AddQuery(q)
	}
	if c.cf != NoContentFormat {
		req.SetContentFormat(message.MediaType(c.cf))
	}
	for _, o := range c.extra {
		req.AddOptionBytes(o.ID, o.Value)
	}
	resp, err := sendBlocks(ctxT(t), raw, req, c.body)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.ReleaseMessage(resp)
	return resp.Code()
}

func rawDial(t *testing.T, addr string) *udpClient.Conn {
	t.Helper()
	// The attacker splits large bodies as our clients do (blocks.go).
	raw, err := udp.Dial(addr, options.WithBlockwise(false, blockwise.SZX1024, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// TestAttacks: in each protected mode, an attacker who captured a
// protected request replays, alters, re-targets or truncates it; the
// server refuses every variant and the handler never runs for one.
func TestAttacks(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	// Every mode refuses a variant before it records anything: signed
	// mode verifies the signature over the binding first, session mode
	// binds the frame's AEAD to the outer message (Session.ProtectBound),
	// so the original still goes through once afterwards.
	type variant struct {
		name  string
		alter func(c captured) captured
	}
	flip := func(i int) func(c captured) captured {
		return func(c captured) captured {
			c.body = bytes.Clone(c.body)
			c.body[(len(c.body)+i)%len(c.body)] ^= 0x01
			return c
		}
	}
	variants := []variant{
		{"tampered first byte", flip(0)},
		{"tampered middle byte", flip(57)},
		{"tampered last byte", flip(-1)},
		{"truncated", func(c captured) captured { c.body = c.body[:len(c.body)-1]; return c }},
		{"truncated to half", func(c captured) captured { c.body = c.body[:len(c.body)/2]; return c }},
		{"empty", func(c captured) captured { c.body = nil; return c }},
		{"other path", func(c captured) captured { c.path = "/echo"; return c }},
		{"other query", func(c captured) captured { c.query = []string{"unit=F"}; return c }},
		{"query removed", func(c captured) captured { c.query = nil; return c }},
		{"other outer method", func(c captured) captured { c.code = codes.PUT; return c }},
		{"other token", func(c captured) captured { c.token = []byte{1, 2, 3, 4}; return c }},
		{"option added", func(c captured) captured {
			c.extra = []message.Option{{ID: message.URIHost, Value: []byte("elsewhere")}}
			return c
		}},
		{"content format changed", func(c captured) captured { c.cf = 0; return c }},
	}
	for _, mode := range []Mode{ModeSigned, ModeSession} {
		t.Run(mode.String(), func(t *testing.T) {
			_, addr, calls := startServer(t, srvDev.cfg(mode))
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			raw := rawDial(t, addr)
			if _, err := cl.Get(ctxT(t), "/whoami"); err != nil { // session mode: handshake first
				t.Fatal(err)
			}
			accepted := 0
			for _, v := range variants {
				c := capture(t, cl, codes.PUT, "/sensors/temp?unit=C", 0, []byte("99"))
				if code := v.alter(c).send(t, raw); success(code) {
					t.Errorf("%s: accepted with %v", v.name, code)
				}
				// The original still goes through once: a refused
				// forgery leaves no trace in the receiver's state...
				accepted++
				if code := c.send(t, raw); code != codes.Changed {
					t.Errorf("%s: original then got %v, want %v", v.name, code, codes.Changed)
				}
				// ...and a replay of it (new message id) is refused.
				if code := c.send(t, raw); success(code) {
					t.Errorf("%s: replay accepted with %v", v.name, code)
				}
			}
			if got, want := calls.get("PUT /sensors/temp"), accepted; got != want {
				t.Fatalf("handler ran %d times, want %d (one per original)", got, want)
			}
		})
	}
}

// TestReordered: requests delivered out of order are each accepted once,
// in every protected mode; in signed mode one older than the replay
// window is refused.
func TestReordered(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	for _, mode := range protectedModes {
		t.Run(mode.String(), func(t *testing.T) {
			_, addr, calls := startServer(t, srvDev.cfg(mode))
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			raw := rawDial(t, addr)
			if _, err := cl.Get(ctxT(t), "/whoami"); err != nil {
				t.Fatal(err)
			}
			var caps []captured
			for range 5 {
				caps = append(caps, capture(t, cl, codes.POST, "/echo", 0, []byte("x")))
			}
			for _, i := range []int{4, 2, 0, 3, 1} {
				if code := caps[i].send(t, raw); code != outerOK(mode, codes.Content) {
					t.Fatalf("request %d out of order: %v", i, code)
				}
			}
			for i := range caps {
				if code := caps[i].send(t, raw); success(code) {
					t.Fatalf("request %d accepted twice", i)
				}
			}
			if mode == ModeSigned {
				old := capture(t, cl, codes.POST, "/echo", 0, []byte("old"))
				for range 130 {
					if _, err := cl.Post(ctxT(t), "/echo", 0, []byte("y")); err != nil {
						t.Fatal(err)
					}
				}
				if code := old.send(t, raw); code != codes.Unauthorized {
					t.Fatalf("request older than the window: %v", code)
				}
			}
			if got := calls.get("POST /echo"); got < 5 {
				t.Fatalf("handler ran %d times", got)
			}
		})
	}
}

// TestForgedResponses: a client refuses responses that were not made by
// the expected server for its request.
func TestForgedResponses(t *testing.T) {
	f := newTestFleet(t)
	cliDev, other := f.enrol(t, "scada-1", nil, nil), f.enrol(t, "plc-2", nil, nil)
	for _, mode := range protectedModes {
		t.Run(mode.String(), func(t *testing.T) {
			// plc-2 answers at the address where the client expects plc-1.
			_, addr, _ := startServer(t, other.cfg(mode))
			ccfg := cliDev.cfg(mode)
			ccfg.Peer = "plc-1"
			cl := dial(t, addr, ccfg)
			if _, err := cl.Get(ctxT(t), "/whoami"); err == nil {
				t.Fatal("response from another device accepted")
			}
		})
	}
	// An unprotected server answering 2.05 with junk.
	srv, err := NewServer(Config{Mode: ModePlain})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/whoami", func(*Request) Response {
		return Response{Code: codes.Content, ContentFormat: cfCOSESign1, Payload: []byte{0x84, 0x40}}
	})
	a, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ccfg := cliDev.cfg(ModeSigned)
	cl := dial(t, a.String(), ccfg)
	if _, err := cl.Get(ctxT(t), "/whoami"); err == nil {
		t.Fatal("unsigned response accepted")
	}
}

func success(c codes.Code) bool { return c>>5 == 2 }

// outerOK is the outer code of a successful answer: OSCORE hides the real
// code inside and answers 2.04 outside (RFC 8613 §4.2).
func outerOK(mode Mode, c codes.Code) codes.Code {
	if mode == ModeOSCORE {
		return codes.Changed
	}
	return c
}

// captureOSCORE protects a request with the victim client's OSCORE context
// without sending it: the outer message an attacker would see.
func captureOSCORE(t *testing.T, cl *Client, method codes.Code, path string, cf int, payload []byte) captured {
	t.Helper()
	o, err := cl.oscore(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	req, err := cl.plainRequest(ctxT(t), method, path, cf, payload)
	if err != nil {
		t.Fatal(err)
	}
	body, err := readBody(req.Body(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	plain := message.Message{Token: req.Token(), Code: req.Code(), Options: req.Options(), Payload: body, Type: message.Confirmable}
	prot, _, err := o.oc.Context().ProtectRequest(plain)
	if err != nil {
		t.Fatal(err)
	}
	c := captured{code: prot.Code, token: prot.Token, cf: NoContentFormat, body: prot.Payload, path: "/"}
	for _, opt := range prot.Options {
		c.extra = append(c.extra, message.Option{ID: opt.ID, Value: bytes.Clone(opt.Value)})
	}
	return c
}

// TestAttacksOSCORE: the OSCORE mode refuses altered and replayed requests;
// the path, method and payload travel encrypted, so re-targeting is
// altering the ciphertext.
func TestAttacksOSCORE(t *testing.T) {
	f := newTestFleet(t)
	srvDev, cliDev := f.enrol(t, "plc-1", nil, nil), f.enrol(t, "scada-1", nil, nil)
	_, addr, calls := startServer(t, srvDev.cfg(ModeOSCORE))
	ccfg := cliDev.cfg(ModeOSCORE)
	ccfg.Peer = "plc-1"
	cl := dial(t, addr, ccfg)
	raw := rawDial(t, addr)
	if _, err := cl.Get(ctxT(t), "/whoami"); err != nil {
		t.Fatal(err)
	}
	flipOpt := func(last bool) func(c captured) captured {
		return func(c captured) captured {
			c.extra = append([]message.Option(nil), c.extra...)
			for i, o := range c.extra {
				if o.ID == 9 {
					v := bytes.Clone(o.Value)
					if last {
						v[len(v)-1] ^= 1
					} else {
						v[1] ^= 1 // first Partial IV byte
					}
					c.extra[i].Value = v
				}
			}
			return c
		}
	}
	variants := []struct {
		name  string
		alter func(c captured) captured
	}{
		{"tampered first byte", func(c captured) captured { c.body = bytes.Clone(c.body); c.body[0] ^= 1; return c }},
		{"tampered last byte", func(c captured) captured { c.body = bytes.Clone(c.body); c.body[len(c.body)-1] ^= 1; return c }},
		{"truncated", func(c captured) captured { c.body = c.body[:len(c.body)-1]; return c }},
		{"empty", func(c captured) captured { c.body = nil; return c }},
		{"partial IV changed", flipOpt(false)},
		{"kid changed", flipOpt(true)},
	}
	accepted := 0
	for _, v := range variants {
		c := captureOSCORE(t, cl, codes.PUT, "/sensors/temp?unit=C", 0, []byte("99"))
		if code := v.alter(c).send(t, raw); success(code) {
			t.Errorf("%s: accepted with %v", v.name, code)
		}
		if code := c.send(t, raw); code != codes.Changed {
			t.Errorf("%s: original then got %v", v.name, code)
		} else {
			accepted++
		}
		if code := c.send(t, raw); success(code) {
			t.Errorf("%s: replay accepted with %v", v.name, code)
		}
	}
	if got := calls.get("PUT /sensors/temp"); got != accepted || accepted != len(variants) {
		t.Fatalf("handler ran %d times, %d originals accepted of %d", got, accepted, len(variants))
	}
}
