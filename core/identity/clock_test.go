package identity

import (
	"errors"
	"testing"
	"time"
)

// Clock faults for the trust layer. Validity periods and the policy's
// lifetime are judged against the caller's clock, so a clock that is wrong
// in either direction must make them fail closed (not yet valid, expired,
// stale); sequence numbers (policy, revocation) and epochs are judged
// against what was installed before, so no clock jump can roll them back.

const clockTopic = "pqc/keys/sensor-1"

// A device certificate is refused outside its validity period in both
// directions, through the chain check and through announcements, and a
// refused announcement records nothing.
func TestClockOutsideCertificateValidityFailsClosed(t *testing.T) {
	f := newFleet(t)
	issued := t0.Add(time.Hour)
	chain, keys := f.device(t, f.inter, "sensor-1", 0, 24*time.Hour, issued)
	enc, _ := EncodeChain(chain)
	leaf := chain[0]
	for _, tc := range []struct {
		name string
		now  time.Time
		want error
	}{
		{"clock 1 s before issuance", time.Unix(leaf.NotBefore, 0).Add(-time.Second), ErrNotYetValid},
		{"clock a year back", issued.Add(-365 * 24 * time.Hour), ErrNotYetValid},
		{"at issuance", issued, nil},
		{"1 s before expiry", time.Unix(leaf.Expiry, 0).Add(-time.Second), nil},
		{"at expiry", time.Unix(leaf.Expiry, 0), ErrExpired},
		{"clock 10 years ahead", issued.Add(10 * 365 * 24 * time.Hour), ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrust(t, f)
			if _, err := tr.VerifyDevice(enc, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("VerifyDevice: %v, want %v", err, tc.want)
			}
			ann, err := NewAnnouncement("sensor-1", clockTopic, keys.Sig, enc, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			// The policy of newTrust is fresh from t0 for 7 days; past
			// that the stale policy refuses first, which is also closed.
			_, err = tr.AcceptAnnouncement(ann, clockTopic, tc.now)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("announcement inside validity: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("announcement accepted outside validity")
			}
			if _, known := tr.Peer("sensor-1"); known {
				t.Fatal("a refused announcement recorded the peer")
			}
		})
	}
}

// A clock past the policy's expiry fails closed for everything that needs
// a fresh policy; once a newer policy is in, setting the clock back to a
// time when the old one was fresh does not let it be reinstalled.
func TestClockJumpPolicyStaleAndNoRollback(t *testing.T) {
	f := newFleet(t)
	tr := newTrust(t, f) // policy 1, fresh from t0 for 7 days
	p1 := tr.Policy().Raw
	expired := time.Unix(tr.Policy().Expiry, 0)
	chain, keys := f.device(t, f.inter, "sensor-1", 0, 30*24*time.Hour, t0)
	enc, _ := EncodeChain(chain)
	ann, _ := NewAnnouncement("sensor-1", clockTopic, keys.Sig, enc, expired)

	for name, err := range map[string]error{
		"CheckHighRisk":      tr.CheckHighRisk(expired),
		"AcceptAnnouncement": second(tr.AcceptAnnouncement(ann, clockTopic, expired)),
		"AddPeer":            second(tr.AddPeer(enc, expired)),
		"ApplyPolicy (same)": second(tr.ApplyPolicy(p1, expired)),
	} {
		if !errors.Is(err, ErrPolicyStale) {
			t.Errorf("%s at the policy's expiry: %v, want ErrPolicyStale", name, err)
		}
	}

	p2, _ := SignPolicy(f.root, testPolicy(2, expired))
	if _, err := tr.ApplyPolicy(p2, expired); err != nil {
		t.Fatal(err)
	}
	for _, back := range []time.Duration{time.Second, time.Hour, 7 * 24 * time.Hour} {
		if _, err := tr.ApplyPolicy(p1, expired.Add(-back)); !errors.Is(err, ErrRollback) {
			t.Errorf("policy 1 with the clock %v back: %v, want ErrRollback", back, err)
		}
	}
	if tr.Policy().Sequence != 2 {
		t.Fatalf("installed policy %d, want 2", tr.Policy().Sequence)
	}
}

// Revocation does not depend on time at all: a revoked key stays revoked
// with the clock before the list was issued, and an older list cannot
// replace a newer one at any clock.
func TestClockJumpDoesNotUndoRevocation(t *testing.T) {
	f := newFleet(t)
	tr := newTrust(t, f)
	chain, keys := f.device(t, f.inter, "sensor-1", 0, 30*24*time.Hour, t0)
	enc, _ := EncodeChain(chain)
	ann, _ := NewAnnouncement("sensor-1", clockTopic, keys.Sig, enc, t0)
	if _, err := tr.AcceptAnnouncement(ann, clockTopic, t0); err != nil {
		t.Fatal(err)
	}
	rl1 := mustRevocation(t, f.root, 1, nil)
	rl2, err := SignRevocation(f.root, 2, t0.Add(time.Hour).Unix(), [][]byte{keys.KeyID()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ApplyRevocation(rl2); err != nil {
		t.Fatal(err)
	}
	for _, now := range []time.Time{t0.Add(-24 * time.Hour), t0, t0.Add(time.Hour), t0.Add(6 * 24 * time.Hour)} {
		t.Run(now.Sub(t0).String(), func(t *testing.T) {
			if err := tr.PeerKeyValid("sensor-1", keys.KeyID(), now); !errors.Is(err, ErrRevoked) {
				t.Fatalf("PeerKeyValid: %v, want ErrRevoked", err)
			}
			if _, err := tr.VerifyDevice(enc, now); !errors.Is(err, ErrRevoked) && !errors.Is(err, ErrNotYetValid) {
				t.Fatalf("VerifyDevice: %v, want ErrRevoked (or ErrNotYetValid before issuance)", err)
			}
			if _, err := tr.AcceptAnnouncement(ann, clockTopic, now); err == nil {
				t.Fatal("announcement of a revoked key accepted")
			}
			if _, err := tr.ApplyRevocation(rl1); !errors.Is(err, ErrRollback) {
				t.Fatalf("older revocation list: %v, want ErrRollback", err)
			}
		})
	}
}

// A join request is refused outside the enroller's window in both
// directions, and a request already accepted is refused again while the
// replay guard still holds it, whichever way the clock moved inside the
// window.
func TestClockJumpJoinRequestWindow(t *testing.T) {
	f := newFleet(t)
	factory, _ := NewSigningKey("Ed25519")
	keys, _ := NewOperationalKeys(DefaultSignature, DefaultKEMs)
	newEnroller := func() *Enroller {
		return &Enroller{CA: f.inter, Anchors: f.anchors,
			Allowed: []AllowedDevice{{DeviceID: "sensor-1", FactoryKey: factory.Public}},
			Replay:  &MemoryReplayGuard{}, Window: 5 * time.Minute, Validity: 24 * time.Hour}
	}
	req, err := NewJoinRequest("sensor-1", factory, keys, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		at   time.Duration
		want error
	}{
		{"CA clock 6 min behind", -6 * time.Minute, ErrStaleRequest},
		{"CA clock 6 min ahead", 6 * time.Minute, ErrStaleRequest},
		{"CA clock a day ahead", 24 * time.Hour, ErrStaleRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := newEnroller().Enroll(req, t0.Add(tc.at)); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	e := newEnroller()
	if _, err := e.Enroll(req, t0.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{-4 * time.Minute, 0, 4*time.Minute + 59*time.Second} {
		if _, err := e.Enroll(req, t0.Add(at)); !errors.Is(err, ErrReplay) {
			t.Errorf("request again with the CA clock at %v: %v, want ErrReplay", at, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }
