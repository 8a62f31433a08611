package session

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const annTopic = "fleet/announce"

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// device is one test peer: its keys, its view of the fleet and a store.
type device struct {
	id    string
	keys  *identity.OperationalKeys
	chain []byte
	local *Local
	trust *identity.Trust
	st    *store.Store
	path  string
}

type fleet struct {
	root   *identity.CA
	clk    *clock
	policy identity.PolicyClaims
}

func testPolicy() identity.PolicyClaims {
	return identity.PolicyClaims{
		IssuedAt: t0.Add(-time.Hour).Unix(), Expiry: t0.Add(30 * 24 * time.Hour).Unix(), Sequence: 1,
		AllowedKEMs: []string{"X25519-ML-KEM-768", "ML-KEM-768"}, AllowedSigs: []string{"ML-DSA-65"},
		PeerBudget: identity.RateLimit{Rate: 1e6, Burst: 1e6}, RekeyMessages: 50, RekeySeconds: 600,
	}
}

func newFleet(t testing.TB) *fleet {
	t.Helper()
	root, err := identity.NewRootCA("plant-root", "ML-DSA-65", t0.Add(-time.Hour), 10*365*24*time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	return &fleet{root: root, clk: &clock{t0}, policy: testPolicy()}
}

func (f *fleet) device(t testing.TB, id string) *device {
	t.Helper()
	keys, err := identity.NewOperationalKeys(identity.DefaultSignature, []string{"X25519-ML-KEM-768"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := f.root.Issue(identity.CertTemplate{Subject: id, SigKey: keys.Sig.Public, KEMKeys: keys.KEMPublicKeys(), Validity: 365 * 24 * time.Hour}, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := identity.EncodeChain(identity.Chain{cert})
	if err != nil {
		t.Fatal(err)
	}
	d := &device{id: id, keys: keys, chain: chain,
		local: &Local{ID: id, Current: &EpochKeys{KeyID: keys.KeyID(), Sig: keys.Sig, KEMs: keys.KEMs}}}
	d.trust = f.trust(t, f.policy)
	d.path = filepath.Join(t.TempDir(), id+".store")
	if d.st, err = store.Create(d.path, store.RawKey(bytes.Repeat([]byte{0x42}, 32)), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.st.Close() })
	return d
}

func (f *fleet) trust(t testing.TB, claims identity.PolicyClaims) *identity.Trust {
	t.Helper()
	tr, err := identity.NewTrust(f.root.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := identity.SignPolicy(f.root, claims)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ApplyPolicy(p, f.clk.now()); err != nil {
		t.Fatal(err)
	}
	return tr
}

// introduce makes b known to a (a accepts b's announcement).
func introduce(t testing.TB, a, b *device) {
	t.Helper()
	ann, err := identity.NewAnnouncement(b.id, annTopic, b.keys.Sig, b.chain, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.trust.AcceptAnnouncement(ann, annTopic, t0); err != nil {
		t.Fatal(err)
	}
}

func (f *fleet) pair(t testing.TB) (*device, *device) {
	a, b := f.device(t, "plc-1"), f.device(t, "scada-1")
	introduce(t, a, b)
	introduce(t, b, a)
	return a, b
}

func (f *fleet) cfg(d *device) Config {
	return Config{Local: d.local, Trust: d.trust, Store: d.st, Now: f.clk.now}
}

func (d *device) reopen(t testing.TB) {
	t.Helper()
	if err := d.st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(d.path, store.RawKey(bytes.Repeat([]byte{0x42}, 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	d.st = st
	t.Cleanup(func() { st.Close() })
}

func (f *fleet) revoke(t testing.TB, seq uint64, d *device, trusts ...*identity.Trust) {
	t.Helper()
	rl, err := identity.SignRevocation(f.root, seq, t0.Unix(), [][]byte{d.keys.KeyID()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trusts {
		if _, err := tr.ApplyRevocation(rl); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fleet) applyPolicy(t testing.TB, claims identity.PolicyClaims, trusts ...*identity.Trust) {
	t.Helper()
	raw, err := identity.SignPolicy(f.root, claims)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trusts {
		if _, err := tr.ApplyPolicy(raw, f.clk.now()); err != nil {
			t.Fatal(err)
		}
	}
}
