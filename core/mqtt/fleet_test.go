package mqtt

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// testFleet is a root CA and what tests need to enrol devices under it.
type testFleet struct {
	root *identity.CA
	now  time.Time
}

func newTestFleet(t testing.TB) *testFleet {
	t.Helper()
	now := time.Now()
	root, err := identity.NewRootCA("plant-root", "ML-DSA-44", now.Add(-time.Hour), 10*365*24*time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	return &testFleet{root: root, now: now}
}

// policyClaims is a fresh policy with budgets generous enough that tests
// measure behaviour, not rate limits, unless they set their own.
func (f *testFleet) policy(t testing.TB, seq uint64, issued, expiry time.Time) []byte {
	t.Helper()
	p, err := identity.SignPolicy(f.root, identity.PolicyClaims{
		IssuedAt: issued.Unix(), Expiry: expiry.Unix(), Sequence: seq,
		AllowedKEMs: []string{"ML-KEM-768", "X25519-ML-KEM-768"}, AllowedSigs: []string{"ML-DSA-65", "ML-DSA-44", "Ed25519"},
		PeerBudget: identity.RateLimit{Rate: 100000, Burst: 100000}, GlobalBudget: identity.RateLimit{Rate: 100000, Burst: 100000},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *testFleet) freshPolicy(t testing.TB, seq uint64) []byte {
	return f.policy(t, seq, f.now.Add(-time.Minute), f.now.Add(7*24*time.Hour))
}

func (f *testFleet) trust(t testing.TB) *identity.Trust {
	t.Helper()
	tr, err := identity.NewTrust(f.root.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// device enrols a device with a real keystore, join request and chain, as
// the CLI would, and returns it with a Trust that holds a fresh policy
// unless withPolicy is false.
func (f *testFleet) device(t testing.TB, id string, withPolicy bool) (*identity.Device, *identity.Trust) {
	t.Helper()
	st, err := store.Create(filepath.Join(t.TempDir(), id+".store"), store.RawKey(bytes.Repeat([]byte{7}, 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dev, err := identity.InitDevice(st, id, "Ed25519", identity.DefaultSignature, identity.DefaultKEMs)
	if err != nil {
		t.Fatal(err)
	}
	enr := &identity.Enroller{CA: f.root, Anchors: []*identity.Certificate{f.root.Cert}, Replay: &identity.MemoryReplayGuard{},
		Window: time.Minute, Validity: 30 * 24 * time.Hour,
		Allowed: []identity.AllowedDevice{{DeviceID: id, FactoryKey: dev.FactoryKey()}}}
	req, err := dev.JoinRequest(nil, f.now)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := enr.Enroll(req, f.now)
	if err != nil {
		t.Fatal(err)
	}
	tr := f.trust(t)
	if _, err := dev.Install(chain, tr, time.Hour, f.now); err != nil {
		t.Fatal(err)
	}
	if withPolicy {
		if _, err := tr.ApplyPolicy(f.freshPolicy(t, 1), f.now); err != nil {
			t.Fatal(err)
		}
	}
	return dev, tr
}
