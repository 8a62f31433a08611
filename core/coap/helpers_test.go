package coap

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plgd-dev/go-coap/v3/message/codes"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// testFleet is a root CA and enrolled devices that know each other.
type testFleet struct {
	root *identity.CA
	now  time.Time
	devs map[string]*testDevice
}

type testDevice struct {
	id    string
	dev   *identity.Device
	trust *identity.Trust
	st    *store.Store
	path  string
	chain []byte
}

func newTestFleet(t testing.TB) *testFleet {
	t.Helper()
	now := time.Now()
	root, err := identity.NewRootCA("plant-root", "ML-DSA-44", now.Add(-time.Hour), 10*365*24*time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	return &testFleet{root: root, now: now, devs: map[string]*testDevice{}}
}

// enrol makes a device with a real keystore and join, with certificate
// roles and path grants, and introduces it to every device enrolled before.
func (f *testFleet) enrol(t testing.TB, id string, roles []string, grants []identity.TopicPermission) *testDevice {
	t.Helper()
	d := &testDevice{id: id, path: filepath.Join(t.TempDir(), id+".store")}
	var err error
	if d.st, err = store.Create(d.path, store.RawKey(bytes.Repeat([]byte{7}, 32)), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.st.Close() })
	if d.dev, err = identity.InitDevice(d.st, id, "Ed25519", identity.DefaultSignature, identity.DefaultKEMs); err != nil {
		t.Fatal(err)
	}
	enr := &identity.Enroller{CA: f.root, Anchors: []*identity.Certificate{f.root.Cert}, Replay: &identity.MemoryReplayGuard{},
		Window: time.Minute, Validity: 30 * 24 * time.Hour,
		Allowed: []identity.AllowedDevice{{DeviceID: id, FactoryKey: d.dev.FactoryKey(), Roles: roles, Topics: grants}}}
	req, err := d.dev.JoinRequest(nil, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if d.chain, err = enr.Enroll(req, f.now); err != nil {
		t.Fatal(err)
	}
	if d.trust, err = identity.NewTrust(f.root.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := d.dev.Install(d.chain, d.trust, time.Hour, f.now); err != nil {
		t.Fatal(err)
	}
	if _, err := d.trust.ApplyPolicy(f.policy(t), f.now); err != nil {
		t.Fatal(err)
	}
	for _, o := range f.devs {
		f.introduce(t, d, o)
		f.introduce(t, o, d)
	}
	f.devs[id] = d
	return d
}

func (f *testFleet) policy(t testing.TB) []byte {
	t.Helper()
	p, err := identity.SignPolicy(f.root, identity.PolicyClaims{
		IssuedAt: f.now.Add(-time.Minute).Unix(), Expiry: f.now.Add(7 * 24 * time.Hour).Unix(), Sequence: 1,
		AllowedKEMs: []string{"ML-KEM-768", "X25519-ML-KEM-768"}, AllowedSigs: []string{"ML-DSA-65", "ML-DSA-44", "Ed25519"},
		PeerBudget: identity.RateLimit{Rate: 100000, Burst: 100000}, GlobalBudget: identity.RateLimit{Rate: 100000, Burst: 100000},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// introduce makes b known to a.
func (f *testFleet) introduce(t testing.TB, a, b *testDevice) {
	t.Helper()
	if _, err := a.trust.AddPeer(b.chain, f.now); err != nil {
		t.Fatal(err)
	}
}

func (d *testDevice) cfg(mode Mode) Config {
	return Config{Mode: mode, Device: d.dev, Trust: d.trust, Store: d.st, AckTimeout: 300 * time.Millisecond, MaxRetransmit: 6}
}

// reopen closes and reopens the keystore, as a process restart does.
func (d *testDevice) reopen(t testing.TB) {
	t.Helper()
	if err := d.st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(d.path, store.RawKey(bytes.Repeat([]byte{7}, 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.st = st
	dev, err := identity.OpenDevice(st)
	if err != nil {
		t.Fatal(err)
	}
	d.dev = dev
	t.Cleanup(func() { st.Close() })
}

// calls counts handler invocations per path, to prove nothing ran twice.
type calls struct {
	mu sync.Mutex
	n  map[string]int
	// senders records who each call came from.
	senders []string
}

func (c *calls) inc(r *Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[r.Method.String()+" "+r.Path]++
	c.senders = append(c.senders, r.Sender)
}

func (c *calls) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func (c *calls) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.n {
		n += v
	}
	return n
}

// startServer serves the test resources on a loopback port.
func startServer(t testing.TB, cfg Config) (*Server, string, *calls) {
	t.Helper()
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &calls{}
	var temp atomic.Int64
	temp.Store(20)
	srv.Handle("/echo", func(r *Request) Response {
		c.inc(r)
		return Response{Code: codes.Content, ContentFormat: r.ContentFormat, Payload: r.Payload}
	})
	srv.Handle("/sensors/temp", func(r *Request) Response {
		c.inc(r)
		if r.Method == codes.PUT {
			var v int64
			fmt.Sscan(string(r.Payload), &v)
			temp.Store(v)
			return Response{Code: codes.Changed, ContentFormat: NoContentFormat}
		}
		return Response{Code: codes.Content, ContentFormat: 0, Payload: fmt.Appendf(nil, "%d", temp.Load())}
	})
	srv.Handle("/whoami", func(r *Request) Response {
		c.inc(r)
		return Response{Code: codes.Content, ContentFormat: 0, Payload: []byte(r.Sender)}
	})
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, addr.String(), c
}

func dial(t testing.TB, addr string, cfg Config) *Client {
	t.Helper()
	cl, err := Dial(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
