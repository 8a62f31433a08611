package oscore

// Interoperability with an independent OSCORE implementation, aiocoap, run as
// real processes (tests/interop/oscore). The Python environment comes from
// tests/interop/oscore/setup.sh (build/venv-oscore) or PQC_OSCORE_PYTHON.
// Without it the tests skip, unless PQC_REQUIRE_INTEROP is set: then they fail.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/message/pool"
	"github.com/plgd-dev/go-coap/v3/mux"
	coapnet "github.com/plgd-dev/go-coap/v3/net"
	"github.com/plgd-dev/go-coap/v3/options"
	"github.com/plgd-dev/go-coap/v3/udp"
)

const interopDir = "../../../tests/interop/oscore"

// interopPython returns a Python interpreter that can import aiocoap's OSCORE support.
func interopPython(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("PQC_OSCORE_PYTHON"), filepath.Join("../../../build/venv-oscore/bin/python")}
	var tried []string
	for _, py := range candidates {
		if py == "" {
			continue
		}
		abs, _ := filepath.Abs(py)
		out, err := exec.Command(abs, "-c", "import aiocoap.oscore, aiocoap.oscore_sitewrapper").CombinedOutput()
		if err == nil {
			return abs
		}
		tried = append(tried, fmt.Sprintf("%s: %v %s", abs, err, bytes.TrimSpace(out)))
	}
	msg := "aiocoap interop environment missing (run tests/interop/oscore/setup.sh or set PQC_OSCORE_PYTHON); tried: " + strings.Join(tried, "; ")
	if os.Getenv("PQC_REQUIRE_INTEROP") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// writeAiocoapContext writes an aiocoap FilesystemSecurityContext directory.
func writeAiocoapContext(t *testing.T, dir string, sender, recipient []byte) string {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o700))
	settings := map[string]any{
		"sender-id_hex": hex.EncodeToString(sender), "recipient-id_hex": hex.EncodeToString(recipient),
		"secret_hex": hex.EncodeToString(testSecret), "salt_hex": hex.EncodeToString(testSalt),
	}
	b, _ := json.Marshal(settings)
	must(t, os.WriteFile(filepath.Join(dir, "settings.json"), b, 0o600))
	return dir
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// aiocoapServer is a running aiocoap OSCORE server process.
type aiocoapServer struct {
	cmd  *exec.Cmd
	addr string
}

func startAiocoapServer(t *testing.T, py, ctxDir string, port int) *aiocoapServer {
	t.Helper()
	cmd := exec.Command(py, filepath.Join(interopDir, "aiocoap_server.py"), "127.0.0.1", fmt.Sprint(port), ctxDir)
	cmd.Stderr = &prefixWriter{t: t, prefix: "aiocoap server: "}
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	s := &aiocoapServer{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	t.Cleanup(s.kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		t.Fatalf("aiocoap server did not start: %q %v", line, err)
	}
	return s
}

// kill ends the server abruptly (SIGKILL), as a power cut would.
func (s *aiocoapServer) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		_ = s.cmd.Wait()
	}
}

type prefixWriter struct {
	t      *testing.T
	prefix string
	done   atomic.Bool
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(w.prefix + strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// TestInteropGoClientAiocoapServer: our client against aiocoap's server: GET,
// POST, block-wise, Observe, replay rejection by aiocoap, and an abrupt
// server reboot answered with Echo.
func TestInteropGoClientAiocoapServer(t *testing.T) {
	py := interopPython(t)
	dir := t.TempDir()
	ctxDir := writeAiocoapContext(t, filepath.Join(dir, "server"), serverID, clientID)
	port := freeUDPPort(t)
	srv := startAiocoapServer(t, py, ctxDir, port)
	cp, _ := pairParams(false)
	seqPath := filepath.Join(dir, "client.seq")
	store, err := NewFileSeqStore(seqPath)
	must(t, err)
	cp.Sequence = store
	sc := mustContext(t, cp)
	relay := startRecordingRelay(t, srv.addr, noLoss)
	cl := NewClient(dialLimited(t, relay.addr(), time.Second), sc)
	ctx := testCtx(t)

	t.Run("GET", func(t *testing.T) {
		resp, err := cl.Get(ctx, "/hello")
		must(t, err)
		if b, _ := resp.ReadBody(); resp.Code() != codes.Content || string(b) != "Hello World!" {
			t.Fatalf("got %v %q", resp.Code(), b)
		}
	})
	t.Run("POST", func(t *testing.T) {
		resp, err := cl.Post(ctx, "/echo", message.AppOctets, bytes.NewReader([]byte("from go")))
		must(t, err)
		if b, _ := resp.ReadBody(); resp.Code() != codes.Changed || string(b) != "from go" {
			t.Fatalf("got %v %q", resp.Code(), b)
		}
	})
	t.Run("block-wise both ways", func(t *testing.T) {
		_, _, before, _ := relay.stats()
		resp, err := cl.Get(ctx, "/big")
		must(t, err)
		if b, _ := resp.ReadBody(); !bytes.Equal(b, bytes.Repeat([]byte("0123456789abcdef"), 150)) {
			t.Fatalf("big GET: %v, %d bytes", resp.Code(), len(b))
		}
		_, _, afterGet, _ := relay.stats()
		large := bytes.Repeat([]byte{0x5A}, 2500)
		resp, err = cl.Post(ctx, "/echo", message.AppOctets, bytes.NewReader(large))
		must(t, err)
		if b, _ := resp.ReadBody(); !bytes.Equal(b, large) {
			t.Fatalf("big POST: %v, %d bytes", resp.Code(), len(b))
		}
		// aiocoap's server answers 2400 bytes in inner Block2 blocks (at
		// most 1024 bytes, so at least 3 exchanges); every datagram of
		// both transfers is within core/coap's limit.
		up, down, _, _ := relay.stats()
		if afterGet-before < 3 || up > datagramLimit || down > datagramLimit {
			t.Fatalf("GET took %d exchanges; largest datagram %d up, %d down (limit %d)", afterGet-before, up, down, datagramLimit)
		}
	})
	t.Run("Observe", func(t *testing.T) {
		got := make(chan string, 16)
		obs, err := cl.Observe(ctx, "/obs", func(m *pool.Message) {
			b, _ := m.ReadBody()
			got <- string(b)
		})
		must(t, err)
		first := <-got
		for i := 0; i < 3; i++ {
			resp, err := cl.Post(ctx, "/obs-trigger", message.TextPlain, nil)
			must(t, err)
			want, _ := resp.ReadBody()
			select {
			case s := <-got:
				if s != string(want) {
					t.Fatalf("notification %q, want %q (first %q)", s, want, first)
				}
			case <-ctx.Done():
				t.Fatal("no notification")
			}
		}
		_ = obs.Cancel(ctx)
	})
	t.Run("replay rejected by aiocoap", func(t *testing.T) {
		raddr, _ := net.ResolveUDPAddr("udp", srv.addr)
		conn, err := net.DialUDP("udp", nil, raddr)
		must(t, err)
		defer conn.Close()
		req := message.Message{Token: []byte{9, 9}, Type: message.Confirmable, MessageID: 7000, Code: codes.GET,
			Options: message.Options{{ID: message.URIPath, Value: []byte("hello")}}}
		prot, ex, err := sc.ProtectRequest(req)
		must(t, err)
		if _, err := sc.UnprotectResponse(rawExchange(t, conn, prot), ex); err != nil {
			t.Fatalf("first copy: %v", err)
		}
		prot.MessageID = 7001
		second := rawExchange(t, conn, prot)
		if second.Code != codes.Unauthorized || second.Options.HasOption(OptionNumber) {
			t.Fatalf("replayed copy answered %v %q", second.Code, second.Payload)
		}
	})
	t.Run("server reboot, Echo recovery", func(t *testing.T) {
		srv.kill()
		srv = startAiocoapServer(t, py, ctxDir, port)
		before := cl.EchoRetries()
		resp, err := cl.Get(ctx, "/hello")
		must(t, err)
		if b, _ := resp.ReadBody(); string(b) != "Hello World!" {
			t.Fatalf("after reboot: %v %q", resp.Code(), b)
		}
		if cl.EchoRetries() != before+1 {
			t.Fatalf("expected exactly one Echo retry, got %d", cl.EchoRetries()-before)
		}
	})
}

// aiocoapClient is a running aiocoap client process driven over stdin/stdout.
type aiocoapClient struct {
	in  io.WriteCloser
	out *bufio.Reader
	cmd *exec.Cmd
}

func startAiocoapClient(t *testing.T, py, base, ctxDir string) *aiocoapClient {
	t.Helper()
	cmd := exec.Command(py, filepath.Join(interopDir, "aiocoap_client.py"), base, ctxDir)
	pw := &prefixWriter{t: t, prefix: "aiocoap client: "}
	cmd.Stderr = pw
	in, err := cmd.StdinPipe()
	must(t, err)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	c := &aiocoapClient{in: in, out: bufio.NewReader(out), cmd: cmd}
	t.Cleanup(func() {
		_, _ = io.WriteString(in, `{"op":"quit"}`+"\n")
		_ = in.Close()
		_ = cmd.Wait()
		pw.done.Store(true)
	})
	return c
}

type clientResult struct {
	OK            bool     `json:"ok"`
	Error         string   `json:"error"`
	Code          string   `json:"code"`
	PayloadHex    string   `json:"payload_hex"`
	Notifications []string `json:"notifications_hex"`
	Answers       []struct {
		Code       string `json:"code"`
		Protected  bool   `json:"protected"`
		PayloadHex string `json:"payload_hex"`
	} `json:"answers"`
}

func (c *aiocoapClient) run(t *testing.T, cmd map[string]any) clientResult {
	t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	line, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("aiocoap client: %v", err)
	}
	var r clientResult
	must(t, json.Unmarshal([]byte(line), &r))
	if !r.OK {
		t.Fatalf("aiocoap client %v: %s", cmd["op"], r.Error)
	}
	return r
}

func hexString(t *testing.T, h string) string {
	b, err := hex.DecodeString(h)
	must(t, err)
	return string(b)
}

// goServer runs our Handler on a fixed UDP address so that it can be
// restarted ("rebooted") on the same port.
type goServer struct {
	stop func()
	runs *sync.Map // "METHOD path" -> *atomic.Int32
}

// ran returns how often the handler of key ("POST /echo") ran.
func (g *goServer) ran(key string) int32 {
	v, ok := g.runs.Load(key)
	if !ok {
		return 0
	}
	return v.(*atomic.Int32).Load()
}

func startGoServer(t *testing.T, addr string, resolve Resolver) *goServer {
	t.Helper()
	runs := &sync.Map{}
	r := mux.NewRouter()
	r.Use(func(next mux.Handler) mux.Handler {
		return mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
			path, _ := req.Path()
			v, _ := runs.LoadOrStore(req.Code().String()+" "+path, new(atomic.Int32))
			v.(*atomic.Int32).Add(1)
			next.ServeCOAP(w, req)
		})
	})
	must(t, r.Handle("/hello", mux.HandlerFunc(func(w mux.ResponseWriter, _ *mux.Message) {
		_ = w.SetResponse(codes.Content, message.TextPlain, bytes.NewReader([]byte("Hello World!")))
	})))
	must(t, r.Handle("/echo", mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		b, _ := req.ReadBody()
		_ = w.SetResponse(codes.Changed, message.AppOctets, bytes.NewReader(b))
	})))
	must(t, r.Handle("/big", mux.HandlerFunc(func(w mux.ResponseWriter, _ *mux.Message) {
		_ = w.SetResponse(codes.Content, message.AppOctets, bytes.NewReader(bytes.Repeat([]byte("0123456789abcdef"), 150)))
	})))
	observable(t, r, "/obs", func(n int32) []byte { return []byte(fmt.Sprintf("n%d", n)) })
	// Notifications of 2000 bytes: each goes out as its first inner block,
	// the client fetches the rest (RFC 7959 §2.6).
	observable(t, r, "/obs-big", func(n int32) []byte { return pattern(int(n), 2000) })
	l, err := coapnet.NewListenUDP("udp4", addr)
	must(t, err)
	s := udp.NewServer(options.WithMux(Handler(resolve, r)))
	done := make(chan struct{})
	go func() { _ = s.Serve(l); close(done) }()
	gs := &goServer{runs: runs}
	var once atomic.Bool
	gs.stop = func() {
		if once.CompareAndSwap(false, true) {
			s.Stop()
			<-done
			_ = l.Close()
		}
	}
	t.Cleanup(gs.stop)
	return gs
}

// observable registers an observable resource at path whose state is a
// counter, shown as body(counter), and path+"-trigger", whose POST
// increments the counter and notifies the observer.
func observable(t *testing.T, r *mux.Router, path string, body func(int32) []byte) {
	var count atomic.Int32
	var observer atomic.Pointer[obsTarget]
	must(t, r.Handle(path, mux.HandlerFunc(func(w mux.ResponseWriter, req *mux.Message) {
		if v, err := req.Observe(); err == nil && v == 0 {
			observer.Store(&obsTarget{conn: w.Conn(), token: append(message.Token(nil), req.Token()...)})
			_ = w.SetResponse(codes.Content, message.AppOctets, bytes.NewReader(body(count.Load())),
				message.Option{ID: message.Observe, Value: []byte{}})
			return
		}
		observer.Store(nil)
		_ = w.SetResponse(codes.Content, message.AppOctets, bytes.NewReader(body(count.Load())))
	})))
	must(t, r.Handle(path+"-trigger", mux.HandlerFunc(func(w mux.ResponseWriter, _ *mux.Message) {
		n := count.Add(1)
		if o := observer.Load(); o != nil {
			m := o.conn.AcquireMessage(context.Background())
			m.SetCode(codes.Content)
			m.SetToken(o.token)
			m.SetObserve(uint32(n + 1))
			m.SetType(message.NonConfirmable)
			m.SetContentFormat(message.AppOctets)
			m.SetBody(bytes.NewReader(body(n)))
			if err := o.conn.WriteMessage(m); err != nil {
				t.Errorf("notify: %v", err)
			}
			o.conn.ReleaseMessage(m)
		}
		_ = w.SetResponse(codes.Changed, message.AppOctets, bytes.NewReader(body(n)))
	})))
}

type obsTarget struct {
	conn  mux.Conn
	token message.Token
}

// TestInteropAiocoapClientGoServer: aiocoap's client against our Handler:
// GET, POST, block-wise, Observe, replay rejection of aiocoap-protected bytes,
// and our server rebooting without its replay window (Echo).
func TestInteropAiocoapClientGoServer(t *testing.T) {
	py := interopPython(t)
	dir := t.TempDir()
	port := freeUDPPort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	replayID := []byte{0x02}
	_, sp := pairParams(true)
	server := mustContext(t, sp)
	replayParams := Params{MasterSecret: testSecret, MasterSalt: testSalt, SenderID: serverID, RecipientID: replayID, FreshReplayWindow: true}
	replayServer := mustContext(t, replayParams)
	var current atomic.Pointer[Context]
	current.Store(server)
	resolve := func(kid, kidContext []byte) (*Context, error) {
		switch {
		case kidContext != nil:
			return nil, ErrContextNotFound
		case bytes.Equal(kid, clientID):
			return current.Load(), nil
		case bytes.Equal(kid, replayID):
			return replayServer, nil
		}
		return nil, ErrContextNotFound
	}
	gs := startGoServer(t, addr, resolve)
	relay := startRecordingRelay(t, addr, noLoss)
	cl := startAiocoapClient(t, py, "coap://"+relay.addr(), writeAiocoapContext(t, filepath.Join(dir, "client"), clientID, serverID))

	t.Run("GET", func(t *testing.T) {
		r := cl.run(t, map[string]any{"op": "get", "path": "/hello"})
		if !strings.HasPrefix(r.Code, "2.05") || hexString(t, r.PayloadHex) != "Hello World!" {
			t.Fatalf("got %s %q", r.Code, hexString(t, r.PayloadHex))
		}
	})
	t.Run("POST", func(t *testing.T) {
		r := cl.run(t, map[string]any{"op": "post", "path": "/echo", "payload_hex": hex.EncodeToString([]byte("from aiocoap"))})
		if !strings.HasPrefix(r.Code, "2.04") || hexString(t, r.PayloadHex) != "from aiocoap" {
			t.Fatalf("got %s %q", r.Code, hexString(t, r.PayloadHex))
		}
	})
	t.Run("block-wise both ways", func(t *testing.T) {
		r := cl.run(t, map[string]any{"op": "get", "path": "/big"})
		if hexString(t, r.PayloadHex) != strings.Repeat("0123456789abcdef", 150) {
			t.Fatalf("big GET: %s, %d bytes", r.Code, len(r.PayloadHex)/2)
		}
		_, _, afterGet, _ := relay.stats()
		large := bytes.Repeat([]byte{0x3C}, 2500)
		r = cl.run(t, map[string]any{"op": "post", "path": "/echo", "payload_hex": hex.EncodeToString(large)})
		if hexString(t, r.PayloadHex) != string(large) {
			t.Fatalf("big POST: %s, %d bytes", r.Code, len(r.PayloadHex)/2)
		}
		// Our server sends the 2400 and 2500-byte answers as 5 inner Block2
		// blocks of 512 bytes each, served from its cache: each handler ran
		// once, and no datagram exceeds core/coap's limit.
		if gs.ran("GET /big") != 1 || gs.ran("POST /echo") != 2 {
			t.Fatalf("handlers ran GET /big %d, POST /echo %d times; want 1 and 2", gs.ran("GET /big"), gs.ran("POST /echo"))
		}
		up, down, total, _ := relay.stats()
		if afterGet < 1+5 || total-afterGet < 5 || up > datagramLimit || down > datagramLimit {
			t.Fatalf("exchanges %d then %d; largest datagram %d up, %d down", afterGet, total-afterGet, up, down)
		}
	})
	t.Run("Observe", func(t *testing.T) {
		r := cl.run(t, map[string]any{"op": "observe", "path": "/obs", "trigger": "/obs-trigger", "count": 3})
		var got []string
		for _, h := range r.Notifications {
			got = append(got, hexString(t, h))
		}
		if strings.Join(got, ",") != "n0,n1,n2,n3" {
			t.Fatalf("notifications %v", got)
		}
	})
	t.Run("Observe, block-wise notifications", func(t *testing.T) {
		r := cl.run(t, map[string]any{"op": "observe", "path": "/obs-big", "trigger": "/obs-big-trigger", "count": 3})
		if len(r.Notifications) != 4 {
			t.Fatalf("%d notifications, want 4", len(r.Notifications))
		}
		for i, h := range r.Notifications {
			if got := hexString(t, h); got != string(pattern(i, 2000)) {
				t.Fatalf("notification %d: %d bytes, not the 2000 sent", i, len(got))
			}
		}
		if n := gs.ran("GET /obs-big"); n != 1 {
			t.Fatalf("/obs-big handler ran %d times for one registration", n)
		}
	})
	t.Run("replay of aiocoap-protected bytes", func(t *testing.T) {
		r := cl.run(t, map[string]any{"op": "replay", "path": "/hello", "host": "127.0.0.1", "port": port,
			"context_dir": writeAiocoapContext(t, filepath.Join(dir, "replay"), replayID, serverID)})
		if len(r.Answers) != 2 {
			t.Fatalf("answers %+v", r.Answers)
		}
		if a := r.Answers[0]; !a.Protected || !strings.HasPrefix(a.Code, "2.04") {
			t.Fatalf("first copy answered %+v", a)
		}
		if a := r.Answers[1]; a.Protected || !strings.HasPrefix(a.Code, "4.01") || hexString(t, a.PayloadHex) != "Replay detected" {
			t.Fatalf("replayed copy answered %+v", a)
		}
	})
	t.Run("Go server reboot, Echo recovery", func(t *testing.T) {
		gs.stop()
		_, sp := pairParams(false) // the reboot lost the replay window
		rebooted := mustContext(t, sp)
		current.Store(rebooted)
		gs = startGoServer(t, addr, resolve)
		r := cl.run(t, map[string]any{"op": "get", "path": "/hello"})
		if !strings.HasPrefix(r.Code, "2.05") || hexString(t, r.PayloadHex) != "Hello World!" {
			t.Fatalf("after reboot: %s %q", r.Code, hexString(t, r.PayloadHex))
		}
		if initialized, _ := rebooted.replay.check(0); !initialized {
			t.Fatal("replay window was not rebuilt through Echo")
		}
	})
}
