package identity

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/store"
)

func testStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Create(filepath.Join(t.TempDir(), "device.store"), store.RawKey(bytes.Repeat([]byte{0x42}, 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// The whole life of a device: factory identity, join, install, announce,
// rotate with an overlap, destroy the old keys.
func TestDeviceLifecycle(t *testing.T) {
	f := newFleet(t)
	tr := newTrust(t, f)
	st := testStore(t)
	dev, err := InitDevice(st, "pump-7", "Ed25519", DefaultSignature, DefaultKEMs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitDevice(st, "pump-7", "Ed25519", DefaultSignature, DefaultKEMs); err == nil {
		t.Fatal("a second InitDevice on the same store succeeded")
	}
	if _, _, err := dev.Keys(); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("keys before join: %v", err)
	}
	enroller := &Enroller{
		CA: f.root, Anchors: f.anchors, Replay: &MemoryReplayGuard{}, Window: time.Minute, Validity: 30 * 24 * time.Hour,
		Allowed: []AllowedDevice{{DeviceID: "pump-7", FactoryKey: dev.FactoryKey()}},
	}
	req, err := dev.JoinRequest(nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	chain0, err := enroller.Enroll(req, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Install(chain0, tr, time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Install(chain0, tr, time.Hour, t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("installing twice: %v", err)
	}

	// Reopen from the store: the identity survives.
	dev, err = OpenDevice(st)
	if err != nil {
		t.Fatal(err)
	}
	keys0, _, err := dev.Keys()
	if err != nil {
		t.Fatal(err)
	}
	ann, _ := dev.Announcement("pqc/keys/pump-7", t0)
	if _, err := tr.AcceptAnnouncement(ann, "pqc/keys/pump-7", t0); err != nil {
		t.Fatal(err)
	}

	due, _ := dev.RotationDue(7*24*time.Hour, t0.Add(time.Hour))
	if due {
		t.Fatal("rotation due after an hour with a 7-day interval")
	}
	at := t0.Add(8 * 24 * time.Hour)
	if due, _ = dev.RotationDue(7*24*time.Hour, at); !due {
		t.Fatal("rotation not due after 8 days")
	}
	renew, err := dev.RenewalRequest(at)
	if err != nil {
		t.Fatal(err)
	}
	chain1, err := enroller.Renew(renew, at)
	if err != nil {
		t.Fatal(err)
	}
	// A chain for other keys is refused and leaves the store as it was.
	otherChain, _ := f.device(t, f.root, "pump-7", 5, time.Hour, at)
	otherEnc, _ := EncodeChain(otherChain)
	if _, err := dev.Install(otherEnc, tr, time.Hour, at); !errors.Is(err, ErrContextMismatch) {
		t.Fatalf("foreign keys installed: %v", err)
	}
	leaf, err := dev.Install(chain1, tr, time.Hour, at)
	if err != nil || leaf.Epoch != 1 {
		t.Fatalf("install epoch 1: %v", err)
	}
	prev, err := dev.PreviousKeys(at.Add(time.Minute))
	if err != nil || !bytes.Equal(prev.KeyID(), keys0.KeyID()) {
		t.Fatalf("previous keys inside the overlap: %v", err)
	}
	if pruned, _ := dev.Prune(at.Add(time.Minute)); pruned {
		t.Fatal("pruned inside the overlap")
	}
	if pruned, err := dev.Prune(at.Add(2 * time.Hour)); !pruned || err != nil {
		t.Fatalf("prune after the overlap: %v %v", pruned, err)
	}
	if _, err := dev.PreviousKeys(at); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("old keys still there after prune: %v", err)
	}
	// The peer side sees the new epoch replace the old.
	ann1, _ := dev.Announcement("pqc/keys/pump-7", at)
	tr2, _ := NewTrust(f.root.Cert.Raw)
	pol, _ := SignPolicy(f.root, testPolicy(1, at))
	if _, err := tr2.ApplyPolicy(pol, at); err != nil {
		t.Fatal(err)
	}
	if _, err := tr2.AcceptAnnouncement(ann1, "pqc/keys/pump-7", at); err != nil {
		t.Fatal(err)
	}
	if _, err := tr2.AcceptAnnouncement(ann, "pqc/keys/pump-7", at); !errors.Is(err, ErrLowerEpoch) {
		t.Fatalf("old epoch after new: %v", err)
	}
}

func TestTrustPersistence(t *testing.T) {
	f := newFleet(t)
	tr := newTrust(t, f)
	tr.ApplyRevocation(mustRevocation(t, f.root, 3, [][]byte{bytes.Repeat([]byte{1}, keyIDSize)}))
	st := testStore(t)
	if err := SaveTrust(st, tr); err != nil {
		t.Fatal(err)
	}
	back, err := LoadTrust(st)
	if err != nil {
		t.Fatal(err)
	}
	if back.Policy().Sequence != 1 || back.Revocation().Sequence != 3 || len(back.Anchors()) != 1 {
		t.Fatal("trust state not restored")
	}
	old, _ := SignPolicy(f.root, testPolicy(0, t0))
	if _, err := back.ApplyPolicy(old, t0); !errors.Is(err, ErrRollback) {
		t.Fatalf("rollback after reload: %v", err)
	}
}

// The keystore file never holds a secret key in the clear.
func TestKeystoreHoldsNoPlaintextSecret(t *testing.T) {
	f := newFleet(t)
	tr := newTrust(t, f)
	path := filepath.Join(t.TempDir(), "d.store")
	st, err := store.Create(path, store.RawKey(bytes.Repeat([]byte{7}, 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := InitDevice(st, "rtu-1", "Ed25519", "Ed25519", DefaultKEMs)
	enroller := &Enroller{CA: f.root, Anchors: f.anchors, Replay: &MemoryReplayGuard{}, Window: time.Minute, Validity: time.Hour,
		Allowed: []AllowedDevice{{DeviceID: "rtu-1", FactoryKey: dev.FactoryKey()}}}
	req, _ := dev.JoinRequest(nil, t0)
	chain, _ := enroller.Enroll(req, t0)
	if _, err := dev.Install(chain, tr, time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	keys, _, _ := dev.Keys()
	secrets := [][]byte{keys.Sig.Secret()[:32], keys.KEMs[0].Secret()}
	st.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(raw, s[:16]) {
			t.Fatal("secret key bytes found in the keystore file")
		}
	}
}

// Rotation on a schedule: nothing happens before the interval, then one
// call renews and installs the next epoch, and a later call past the
// overlap destroys the old keys.
func TestScheduledRotation(t *testing.T) {
	f := newFleet(t)
	st := testStore(t)
	dev, _ := InitDevice(st, "rtu-9", "Ed25519", DefaultSignature, DefaultKEMs)
	enroller := &Enroller{CA: f.root, Anchors: f.anchors, Replay: &MemoryReplayGuard{}, Window: time.Minute, Validity: 90 * 24 * time.Hour,
		Allowed: []AllowedDevice{{DeviceID: "rtu-9", FactoryKey: dev.FactoryKey()}}}
	req, _ := dev.JoinRequest(nil, t0)
	chain, _ := enroller.Enroll(req, t0)
	tr, _ := NewTrust(f.root.Cert.Raw)
	if _, err := dev.Install(chain, tr, time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	calls := 0
	rot := Rotation{Interval: 24 * time.Hour, Overlap: time.Hour, Renew: func(_ context.Context, r []byte) ([]byte, error) {
		calls++
		return enroller.Renew(r, t0.Add(25*time.Hour))
	}}
	if rotated, err := dev.Rotate(context.Background(), tr, rot, t0.Add(time.Hour)); rotated || err != nil || calls != 0 {
		t.Fatalf("before the interval: rotated=%v err=%v calls=%d", rotated, err, calls)
	}
	at := t0.Add(25 * time.Hour)
	if rotated, err := dev.Rotate(context.Background(), tr, rot, at); !rotated || err != nil {
		t.Fatalf("after the interval: rotated=%v err=%v", rotated, err)
	}
	if cert, _, _ := dev.Certificate(); cert.Epoch != 1 {
		t.Fatalf("epoch %d after rotation", cert.Epoch)
	}
	if _, err := dev.PreviousKeys(at.Add(time.Minute)); err != nil {
		t.Fatalf("previous keys inside the overlap: %v", err)
	}
	if _, err := dev.Rotate(context.Background(), tr, rot, at.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.PreviousKeys(at.Add(2 * time.Hour)); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("old keys survived the overlap: %v", err)
	}
	failing := rot
	failing.Renew = func(context.Context, []byte) ([]byte, error) { return nil, errors.New("CA unreachable") }
	if rotated, err := dev.Rotate(context.Background(), tr, failing, at.Add(48*time.Hour)); rotated || err == nil {
		t.Fatal("a failed renewal reported success")
	}
	if cert, _, _ := dev.Certificate(); cert.Epoch != 1 {
		t.Fatal("a failed renewal changed the installed keys")
	}
}
