package oscore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
)

func TestParseOption(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    OptionValue
		wantErr bool
	}{
		{"empty", nil, OptionValue{}, false},
		{"C.4 piv+empty kid", []byte{0x09, 0x14}, OptionValue{PartialIV: []byte{0x14}, KID: []byte{}}, false},
		{"C.5 piv+kid", []byte{0x09, 0x14, 0x00}, OptionValue{PartialIV: []byte{0x14}, KID: []byte{0x00}}, false},
		{"C.6 kid context", []byte{0x19, 0x14, 0x08, 0x37, 0xcb, 0xf3, 0x21, 0x00, 0x17, 0xa2, 0xd3},
			OptionValue{PartialIV: []byte{0x14}, KIDContext: []byte{0x37, 0xcb, 0xf3, 0x21, 0x00, 0x17, 0xa2, 0xd3}, KID: []byte{}}, false},
		{"C.8 response piv", []byte{0x01, 0x00}, OptionValue{PartialIV: []byte{0x00}}, false},
		{"all-zero flags not empty", []byte{0x00}, OptionValue{}, true},
		{"reserved bit 7", []byte{0x89, 0x14}, OptionValue{}, true},
		{"group bit 5", []byte{0x29, 0x14}, OptionValue{}, true},
		{"oversized PIV n=6", []byte{0x0e, 1, 2, 3, 4, 5, 6}, OptionValue{}, true},
		{"reserved n=7", []byte{0x07, 1, 2, 3, 4, 5, 6, 7}, OptionValue{}, true},
		{"truncated PIV", []byte{0x03, 0x01}, OptionValue{}, true},
		{"non-minimal PIV", []byte{0x02, 0x00, 0x14}, OptionValue{}, true},
		{"truncated kid context length", []byte{0x11, 0x14}, OptionValue{}, true},
		{"truncated kid context", []byte{0x11, 0x14, 0x05, 0x01}, OptionValue{}, true},
		{"trailing bytes without k", []byte{0x01, 0x14, 0xff}, OptionValue{}, true},
		{"oversized value", bytes.Repeat([]byte{0x08}, maxOptionLen+1), OptionValue{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOption(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if !errors.Is(err, ErrMalformedOption) {
					t.Fatalf("error %v is not ErrMalformedOption", err)
				}
				return
			}
			if !bytes.Equal(got.PartialIV, tc.want.PartialIV) || !bytes.Equal(got.KID, tc.want.KID) ||
				!bytes.Equal(got.KIDContext, tc.want.KIDContext) || (got.KID == nil) != (tc.want.KID == nil) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			enc, err := got.Encode()
			if err != nil || !bytes.Equal(enc, tc.in) && len(tc.in) != 0 {
				t.Fatalf("re-encode = %x (%v), want %x", enc, err, tc.in)
			}
		})
	}
}

func newPair(t *testing.T, window int) (client, server *Context) {
	t.Helper()
	cp, sp := pairParams(true)
	sp.ReplayWindow = window
	return mustContext(t, cp), mustContext(t, sp)
}

func getHello() message.Message {
	return message.Message{Token: []byte{1}, Code: codes.GET, Options: message.Options{{ID: message.URIPath, Value: []byte("hello")}}}
}

func TestUnprotectRequestRejects(t *testing.T) {
	client, _ := newPair(t, 0)
	valid, _, err := client.ProtectRequest(getHello())
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(m *message.Message)) message.Message {
		m := valid
		m.Payload = append([]byte{}, valid.Payload...)
		m.Options = append(message.Options{}, valid.Options...)
		f(&m)
		return m
	}
	setOption := func(v []byte) func(m *message.Message) {
		return func(m *message.Message) {
			m.Options = m.Options.Remove(OptionNumber)
			m.Options = sortOptions(append(m.Options, message.Option{ID: OptionNumber, Value: v}))
		}
	}
	wrongKeys := mustContext(t, Params{MasterSecret: bytes.Repeat([]byte{9}, 16), SenderID: clientID, RecipientID: serverID})
	wrongKeyReq, _, _ := wrongKeys.ProtectRequest(getHello())

	tests := []struct {
		name string
		msg  message.Message
		want error
	}{
		{"tampered ciphertext", mutate(func(m *message.Message) { m.Payload[0] ^= 0x80 }), ErrDecrypt},
		{"tampered tag", mutate(func(m *message.Message) { m.Payload[len(m.Payload)-1] ^= 1 }), ErrDecrypt},
		{"truncated ciphertext", mutate(func(m *message.Message) { m.Payload = m.Payload[:5] }), ErrDecrypt},
		{"empty payload", mutate(func(m *message.Message) { m.Payload = nil }), ErrDecrypt},
		// The PIV is part of the AAD and the nonce: changing it breaks the tag.
		{"changed partial IV", mutate(setOption([]byte{0x09, 0x07, 0x01})), ErrDecrypt},
		{"wrong kid", mutate(setOption([]byte{0x09, 0x00, 0x07})), ErrContextNotFound},
		{"wrong kid context", mutate(setOption([]byte{0x19, 0x00, 0x01, 0xAA, 0x01})), ErrContextNotFound},
		{"no kid", mutate(setOption([]byte{0x01, 0x00})), ErrMalformedOption},
		{"no partial IV", mutate(setOption([]byte{0x08, 0x01})), ErrMalformedOption},
		{"malformed option", mutate(setOption([]byte{0x0e, 0x01})), ErrMalformedOption},
		{"no OSCORE option", mutate(func(m *message.Message) { m.Options = m.Options.Remove(OptionNumber) }), ErrNotProtected},
		{"two OSCORE options", mutate(func(m *message.Message) {
			m.Options = sortOptions(append(m.Options, message.Option{ID: OptionNumber, Value: []byte{0x09, 0x00, 0x01}}))
		}), ErrDuplicateOption},
		{"wrong master secret", wrongKeyReq, ErrDecrypt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, server := newPair(t, 0)
			if _, _, err := server.UnprotectRequest(tc.msg); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			// Authenticate before mutating: a rejected message leaves the window untouched.
			if _, _, err := server.UnprotectRequest(valid); err != nil {
				t.Fatalf("valid request after rejection: %v", err)
			}
		})
	}
}

// TestOuterOptionsAreNotTrusted: a Class E option moved outside by an attacker
// is ignored (the inner copy rules); a changed outer code does not change the
// inner request.
func TestOuterOptionsAreNotTrusted(t *testing.T) {
	client, server := newPair(t, 0)
	prot, _, err := client.ProtectRequest(getHello())
	if err != nil {
		t.Fatal(err)
	}
	if prot.Options.HasOption(message.URIPath) {
		t.Fatal("Uri-Path (Class E) left outside")
	}
	prot.Options = sortOptions(append(prot.Options, message.Option{ID: message.URIPath, Value: []byte("admin")}))
	prot.Code = codes.DELETE
	inner, _, err := server.UnprotectRequest(prot)
	if err != nil {
		t.Fatal(err)
	}
	path, _ := inner.Options.Path()
	if inner.Code != codes.GET || path != "/hello" {
		t.Fatalf("inner request %v %s, want GET /hello", inner.Code, path)
	}
}

func TestReplayWindow(t *testing.T) {
	client, server := newPair(t, 32)
	var msgs []message.Message
	for i := 0; i < 40; i++ {
		m, _, err := client.ProtectRequest(getHello())
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	steps := []struct {
		name string
		seq  int
		ok   bool
	}{
		{"first", 5, true},
		{"replay", 5, false},
		{"reordered within window", 3, true},
		{"reordered replay", 3, false},
		{"jump ahead", 39, true},
		{"within window after jump", 10, true},
		{"outside window (too old)", 7, false},
		{"replay of highest", 39, false},
		{"gap filled", 38, true},
	}
	for _, st := range steps {
		_, _, err := server.UnprotectRequest(msgs[st.seq])
		if st.ok && err != nil {
			t.Fatalf("%s (seq %d): %v", st.name, st.seq, err)
		}
		if !st.ok && !errors.Is(err, ErrReplay) {
			t.Fatalf("%s (seq %d): err = %v, want ErrReplay", st.name, st.seq, err)
		}
	}
}

func TestEchoRecovery(t *testing.T) {
	cp, sp := pairParams(false)
	client, server := mustContext(t, cp), mustContext(t, sp)
	req, cex, _ := client.ProtectRequest(getHello())
	inner, ex, err := server.UnprotectRequest(req)
	if !errors.Is(err, ErrEchoRequired) {
		t.Fatalf("first request after reboot: %v, want ErrEchoRequired", err)
	}
	challenge, err := server.ProtectEchoChallenge(inner, ex)
	if err != nil {
		t.Fatal(err)
	}
	ov, _ := oscoreOption(challenge.Options)
	if ov.PartialIV == nil {
		t.Fatal("Echo challenge reuses the unverified request's nonce")
	}
	resp, err := client.UnprotectResponse(challenge, cex)
	if err != nil {
		t.Fatal(err)
	}
	echo, err := resp.Options.GetBytes(message.Echo)
	if resp.Code != codes.Unauthorized || err != nil {
		t.Fatalf("challenge %v, echo %v", resp.Code, err)
	}
	// A retry with a wrong Echo is challenged again; the right one is accepted once.
	wrong := getHello()
	wrong.Options = append(wrong.Options, message.Option{ID: message.Echo, Value: []byte("forged!!")})
	wreq, _, _ := client.ProtectRequest(wrong)
	if _, _, err := server.UnprotectRequest(wreq); !errors.Is(err, ErrEchoRequired) {
		t.Fatalf("forged Echo: %v", err)
	}
	retry := getHello()
	retry.Options = sortOptions(append(retry.Options, message.Option{ID: message.Echo, Value: echo}))
	rreq, _, _ := client.ProtectRequest(retry)
	if _, _, err := server.UnprotectRequest(rreq); err != nil {
		t.Fatalf("retry with Echo: %v", err)
	}
	// Older requests (sent before the retry) are now replays.
	if _, _, err := server.UnprotectRequest(req); !errors.Is(err, ErrReplay) {
		t.Fatalf("pre-reboot request after recovery: %v, want ErrReplay", err)
	}
	if _, _, err := server.UnprotectRequest(rreq); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed retry: %v, want ErrReplay", err)
	}
}

func TestUnprotectResponseRejects(t *testing.T) {
	client, server := newPair(t, 0)
	req, cex, _ := client.ProtectRequest(getHello())
	_, sex, err := server.UnprotectRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	resp := message.Message{Code: codes.Content, Payload: []byte("Hello")}
	prot, err := server.ProtectResponse(resp, sex, false)
	if err != nil {
		t.Fatal(err)
	}
	// A response bound to another request does not verify.
	_, otherEx, _ := client.ProtectRequest(getHello())
	if _, err := client.UnprotectResponse(prot, otherEx); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("response to other request: %v", err)
	}
	tampered := prot
	tampered.Payload = flip(prot.Payload, 2)
	if _, err := client.UnprotectResponse(tampered, cex); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered response: %v", err)
	}
	if _, err := client.UnprotectResponse(prot, cex); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UnprotectResponse(prot, cex); !errors.Is(err, ErrUnexpectedPIVless) {
		t.Fatalf("replayed response: %v", err)
	}
}

func TestNotificationOrdering(t *testing.T) {
	client, server := newPair(t, 0)
	reg := getHello()
	reg.Options = sortOptions(append(reg.Options, message.Option{ID: message.Observe, Value: []byte{}}))
	req, cex, _ := client.ProtectRequest(reg)
	if req.Code != codes.FETCH {
		t.Fatalf("outer code of Observe request %v, want FETCH", req.Code)
	}
	_, sex, err := server.UnprotectRequest(req)
	if err != nil || !sex.Observe() {
		t.Fatalf("registration: %v observe=%v", err, sex.Observe())
	}
	var notes []message.Message
	for i := 0; i < 3; i++ {
		n := message.Message{Code: codes.Content, Payload: []byte{byte('a' + i)},
			Options: message.Options{{ID: message.Observe, Value: []byte{byte(i + 2)}}}}
		p, err := server.ProtectResponse(n, sex, false)
		if err != nil {
			t.Fatal(err)
		}
		if p.Code != codes.Content {
			t.Fatalf("outer code of notification %v, want 2.05", p.Code)
		}
		notes = append(notes, p)
	}
	for _, st := range []struct {
		i  int
		ok bool
	}{{0, true}, {2, true}, {1, false}, {2, false}} {
		_, err := client.UnprotectResponse(notes[st.i], cex)
		if st.ok != (err == nil) {
			t.Fatalf("notification %d: err %v, want ok=%v", st.i, err, st.ok)
		}
	}
}

func TestProtectRefuses(t *testing.T) {
	client, _ := newPair(t, 0)
	proxy := getHello()
	proxy.Options = append(proxy.Options, message.Option{ID: message.ProxyURI, Value: []byte("coap://x/y")})
	if _, _, err := client.ProtectRequest(proxy); !errors.Is(err, ErrProxyURI) {
		t.Fatalf("Proxy-Uri: %v", err)
	}
	if _, _, err := client.ProtectRequest(message.Message{Code: codes.Content}); !errors.Is(err, ErrNotRequest) {
		t.Fatalf("response code as request: %v", err)
	}
}

func TestSequenceStores(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seq.json")
	store, err := NewFileSeqStore(path)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := pairParams(true)
	cp.Sequence, cp.SeqBlock = store, 10
	c := mustContext(t, cp)
	for i := 0; i < 3; i++ {
		if _, _, err := c.ProtectRequest(getHello()); err != nil {
			t.Fatal(err)
		}
	}
	// "Reboot": a new context on the same file resumes after the reserved block.
	store2, err := NewFileSeqStore(path)
	if err != nil {
		t.Fatal(err)
	}
	cp.Sequence = store2
	c2 := mustContext(t, cp)
	m, _, err := c2.ProtectRequest(getHello())
	if err != nil {
		t.Fatal(err)
	}
	ov, _ := oscoreOption(m.Options)
	if got := decodeUint(ov.PartialIV); got != 10 {
		t.Fatalf("after reboot sequence number %d, want 10 (first of the next block)", got)
	}
	// A corrupt file and a failing store fail closed.
	if err := os.WriteFile(path, []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFileSeqStore(path); !errors.Is(err, ErrSeqPersist) {
		t.Fatalf("corrupt store: %v", err)
	}
	failing := NewMemorySeqStore(0)
	failing.Fail = true
	cp.Sequence = failing
	c3 := mustContext(t, cp)
	if _, _, err := c3.ProtectRequest(getHello()); !errors.Is(err, ErrSeqPersist) {
		t.Fatalf("failing store: %v", err)
	}
	exhausted := NewMemorySeqStore(maxSeq + 1)
	cp.Sequence = exhausted
	c4 := mustContext(t, cp)
	if _, _, err := c4.ProtectRequest(getHello()); !errors.Is(err, ErrSeqExhausted) {
		t.Fatalf("exhausted: %v", err)
	}
}

func TestNewContextValidation(t *testing.T) {
	base := Params{MasterSecret: testSecret, SenderID: []byte{1}, RecipientID: []byte{2}}
	tests := []struct {
		name string
		mod  func(p *Params)
		ok   bool
	}{
		{"valid CCM", func(p *Params) {}, true},
		{"valid A128GCM", func(p *Params) { p.AEAD = AlgA128GCM }, true},
		{"valid A256GCM", func(p *Params) { p.AEAD = AlgA256GCM }, true},
		{"unknown alg", func(p *Params) { p.AEAD = 99 }, false},
		{"empty secret", func(p *Params) { p.MasterSecret = nil }, false},
		{"equal IDs", func(p *Params) { p.RecipientID = []byte{1} }, false},
		{"ID too long for CCM", func(p *Params) { p.SenderID = make([]byte, 8) }, false},
		{"window too large", func(p *Params) { p.ReplayWindow = 65 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			tc.mod(&p)
			if _, err := NewContext(p); (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestGCMRoundTrip: the optional algorithms protect and unprotect end to end.
func TestGCMRoundTrip(t *testing.T) {
	for _, alg := range []int{AlgA128GCM, AlgA256GCM} {
		cp, sp := pairParams(true)
		cp.AEAD, sp.AEAD = alg, alg
		client, server := mustContext(t, cp), mustContext(t, sp)
		req, cex, err := client.ProtectRequest(getHello())
		if err != nil {
			t.Fatal(err)
		}
		_, sex, err := server.UnprotectRequest(req)
		if err != nil {
			t.Fatalf("alg %d: %v", alg, err)
		}
		resp, _ := server.ProtectResponse(message.Message{Code: codes.Content, Payload: []byte("x")}, sex, false)
		if got, err := client.UnprotectResponse(resp, cex); err != nil || string(got.Payload) != "x" {
			t.Fatalf("alg %d response: %v", alg, err)
		}
	}
}
