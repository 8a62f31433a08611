package identity

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"
)

func testPolicy(seq uint64, at time.Time) PolicyClaims {
	return PolicyClaims{
		IssuedAt: at.Unix(), Expiry: at.Add(7 * 24 * time.Hour).Unix(), Sequence: seq,
		AllowedKEMs: []string{"ML-KEM-768", "X25519-ML-KEM-768"}, AllowedSigs: []string{"ML-DSA-65", "ML-DSA-44", "Ed25519"},
		PeerBudget: RateLimit{Rate: 10, Burst: 20}, GlobalBudget: RateLimit{Rate: 1000, Burst: 2000},
		RekeyMessages: 1000, RekeySeconds: 600, OverlapSeconds: 3600,
	}
}

func newTrust(t testing.TB, f *fleet) *Trust {
	t.Helper()
	tr, err := NewTrust(f.root.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := SignPolicy(f.root, testPolicy(1, t0))
	if _, err := tr.ApplyPolicy(p, t0); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestEnrolment(t *testing.T) {
	f := newFleet(t)
	factory, _ := NewSigningKey("Ed25519")
	otherFactory, _ := NewSigningKey("Ed25519")
	keys, _ := NewOperationalKeys(DefaultSignature, DefaultKEMs)
	enroller := &Enroller{
		CA: f.inter, Chain: nil, Anchors: f.anchors,
		Allowed:  []AllowedDevice{{DeviceID: "sensor-1", FactoryKey: factory.Public, Roles: []string{"sensor"}}},
		Replay:   &MemoryReplayGuard{},
		Window:   5 * time.Minute,
		Validity: 30 * 24 * time.Hour,
	}
	req, err := NewJoinRequest("sensor-1", factory, keys, nil, t0)
	if err != nil {
		t.Fatal(err)
	}
	chainBytes, err := enroller.Enroll(req, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	tr := newTrust(t, f)
	leaf, err := tr.VerifyDevice(chainBytes, t0.Add(time.Minute))
	if err != nil {
		t.Fatalf("issued chain does not verify: %v", err)
	}
	if leaf.Subject != "sensor-1" || leaf.Epoch != 0 || !bytes.Equal(leaf.KeyID, keys.KeyID()) || leaf.Roles[0] != "sensor" {
		t.Fatalf("issued certificate: %+v", leaf.Claims)
	}

	// Negative cases, each with its own error.
	wrongID, _ := NewJoinRequest("sensor-2", factory, keys, nil, t0)
	unknown, _ := NewJoinRequest("sensor-1", otherFactory, keys, nil, t0)
	stale, _ := NewJoinRequest("sensor-1", factory, keys, nil, t0.Add(-time.Hour))
	// Proof of possession by a key other than the one requested.
	otherKeys, _ := NewOperationalKeys(DefaultSignature, DefaultKEMs)
	forgedPoP := func() []byte {
		mixed := &OperationalKeys{Sig: &SigningKey{Public: keys.Sig.Public, secret: otherKeys.Sig.secret}, KEMs: keys.KEMs}
		r, err := NewJoinRequest("sensor-1", factory, mixed, nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}()
	tampered := bytes.Clone(req)
	tampered[len(tampered)-3] ^= 1
	for _, tc := range []struct {
		name string
		req  []byte
		want error
	}{
		{"replayed join request", req, ErrReplay},
		{"device id not the allow-listed one", wrongID, ErrNotAllowed},
		{"factory key not on the allow-list", unknown, ErrNotAllowed},
		{"timestamp outside the window", stale, ErrStaleRequest},
		{"proof of possession by another key", forgedPoP, ErrBadSignature},
		{"tampered outer signature", tampered, ErrBadSignature},
		{"certificate presented as request", f.root.Cert.Raw, ErrWrongKind},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := enroller.Enroll(tc.req, t0.Add(time.Second)); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("renewal gives the next epoch", func(t *testing.T) {
		next, _ := NewOperationalKeys(DefaultSignature, DefaultKEMs)
		renew, err := NewRenewalRequest("sensor-1", keys.Sig, chainBytes, next, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		newChain, err := enroller.Renew(renew, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := tr.VerifyDevice(newChain, t0.Add(time.Hour))
		if err != nil || leaf.Epoch != 1 || !bytes.Equal(leaf.KeyID, next.KeyID()) {
			t.Fatalf("renewed: %v %+v", err, leaf)
		}
		if _, err := enroller.Renew(renew, t0.Add(time.Hour)); !errors.Is(err, ErrReplay) {
			t.Fatalf("replayed renewal: %v", err)
		}
		// Signed by a key that is not the certificate's.
		bad, _ := NewRenewalRequest("sensor-1", otherKeys.Sig, chainBytes, next, t0.Add(time.Hour))
		if _, err := enroller.Renew(bad, t0.Add(time.Hour)); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("renewal by a foreign key: %v", err)
		}
		enroller.IsRevoked = func(id []byte) bool { return bytes.Equal(id, keys.KeyID()) }
		revoked, _ := NewRenewalRequest("sensor-1", keys.Sig, chainBytes, next, t0.Add(time.Hour))
		if _, err := enroller.Renew(revoked, t0.Add(time.Hour)); !errors.Is(err, ErrRevoked) {
			t.Fatalf("renewal by a revoked key: %v", err)
		}
	})
}

func TestPolicyIsMonotonicAndFailsClosed(t *testing.T) {
	f := newFleet(t)
	tr, _ := NewTrust(f.root.Cert.Raw)
	if err := tr.CheckHighRisk(t0); !errors.Is(err, ErrPolicyMissing) {
		t.Fatalf("no policy: %v", err)
	}
	p1, _ := SignPolicy(f.root, testPolicy(1, t0))
	p2, _ := SignPolicy(f.root, testPolicy(2, t0))
	p2b, _ := SignPolicy(f.root, testPolicy(2, t0.Add(time.Second))) // same number, other content
	foreign, _ := SignPolicy(f.inter, testPolicy(3, t0))             // not an anchor
	if _, err := tr.ApplyPolicy(p2, t0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		now  time.Time
		want error
	}{
		{"same policy again", p2, t0, nil},
		{"rolled-back policy", p1, t0, ErrRollback},
		{"same sequence, other content", p2b, t0, ErrRollback},
		{"signed by a non-anchor", foreign, t0, ErrUnknownIssuer},
		{"expired policy", p2, t0.Add(8 * 24 * time.Hour), ErrPolicyStale},
		{"revocation list as policy", mustRevocation(t, f.root, 1, nil), t0, ErrWrongKind},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tr.ApplyPolicy(tc.data, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if tr.Policy().Sequence != 2 {
		t.Fatalf("installed policy %d after rejected ones, want 2", tr.Policy().Sequence)
	}
	if err := tr.CheckHighRisk(t0.Add(8 * 24 * time.Hour)); !errors.Is(err, ErrPolicyStale) {
		t.Fatalf("stale policy must fail closed: %v", err)
	}
	strict := testPolicy(3, t0)
	strict.MinRevocationSeq = 5
	p3, _ := SignPolicy(f.root, strict)
	tr.ApplyPolicy(p3, t0)
	if err := tr.CheckHighRisk(t0); !errors.Is(err, ErrRevocationStale) {
		t.Fatalf("missing revocation list: %v", err)
	}
	tr.ApplyRevocation(mustRevocation(t, f.root, 5, nil))
	if err := tr.CheckHighRisk(t0); err != nil {
		t.Fatalf("with revocation list 5: %v", err)
	}
}

func mustRevocation(t testing.TB, ca *CA, seq uint64, ids [][]byte) []byte {
	t.Helper()
	r, err := SignRevocation(ca, seq, t0.Unix(), ids)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRevocationIsCumulativeAndObservable(t *testing.T) {
	f := newFleet(t)
	tr := newTrust(t, f)
	chain, keys := f.device(t, f.root, "sensor-1", 0, 24*time.Hour, t0)
	enc, _ := EncodeChain(chain)
	ann, _ := NewAnnouncement("sensor-1", "pqc/keys/sensor-1", keys.Sig, enc, t0)
	if _, err := tr.AcceptAnnouncement(ann, "pqc/keys/sensor-1", t0); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []RevocationEvent
	cancel := tr.OnRevocation(func(e RevocationEvent) { mu.Lock(); events = append(events, e); mu.Unlock() })
	defer cancel()

	other := bytes.Repeat([]byte{7}, keyIDSize)
	if _, err := tr.ApplyRevocation(mustRevocation(t, f.root, 1, [][]byte{other})); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ApplyRevocation(mustRevocation(t, f.root, 2, [][]byte{keys.KeyID(), other})); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || len(events[1].KeyIDs) != 1 || len(events[1].DeviceIDs) != 1 || events[1].DeviceIDs[0] != "sensor-1" {
		t.Fatalf("events: %+v", events)
	}
	if !tr.IsRevoked(keys.KeyID()) || !tr.IsRevoked(other) {
		t.Fatal("cumulative list lost an entry")
	}
	if err := tr.PeerKeyValid("sensor-1", keys.KeyID(), t0); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked peer key: %v", err)
	}
	if _, err := tr.VerifyDevice(enc, t0); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked chain: %v", err)
	}
	if _, err := tr.ApplyRevocation(mustRevocation(t, f.root, 1, [][]byte{other})); !errors.Is(err, ErrRollback) {
		t.Fatalf("older list: %v", err)
	}
	unsorted := RevocationClaims{Issuer: "plant-root", Sequence: 9, KeyIDs: [][]byte{other, keys.KeyID()}}
	if bytes.Compare(other, keys.KeyID()) < 0 {
		unsorted.KeyIDs = [][]byte{keys.KeyID(), other}
	}
	payload, _ := marshal(unsorted)
	raw, _ := f.root.Key.sign(KindRevocation, payload, nil)
	if _, err := tr.ApplyRevocation(raw); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unsorted list: %v", err)
	}
}

func TestAnnouncements(t *testing.T) {
	f := newFleet(t)
	tr := newTrust(t, f)
	const topic = "pqc/keys/sensor-1"
	day := 24 * time.Hour
	announce := func(epoch uint64) ([]byte, *OperationalKeys) {
		chain, keys := f.device(t, f.inter, "sensor-1", epoch, 30*day, t0)
		enc, _ := EncodeChain(chain)
		a, err := NewAnnouncement("sensor-1", topic, keys.Sig, enc, t0)
		if err != nil {
			t.Fatal(err)
		}
		return a, keys
	}
	epoch0, keys0 := announce(0)
	epoch1, keys1 := announce(1)
	epoch1other, _ := announce(1)

	if _, err := tr.AcceptAnnouncement(epoch0, topic, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.AcceptAnnouncement(epoch0, "pqc/keys/sensor-2", t0); !errors.Is(err, ErrContextMismatch) {
		t.Fatalf("re-routed announcement: %v", err)
	}
	if _, err := tr.AcceptAnnouncement(epoch1, topic, t0); err != nil {
		t.Fatal(err)
	}
	if err := tr.PeerKeyValid("sensor-1", keys0.KeyID(), t0.Add(time.Minute)); err != nil {
		t.Fatalf("previous epoch inside the overlap: %v", err)
	}
	if err := tr.PeerKeyValid("sensor-1", keys0.KeyID(), t0.Add(2*time.Hour)); !errors.Is(err, ErrLowerEpoch) {
		t.Fatalf("previous epoch after the overlap: %v", err)
	}
	if err := tr.PeerKeyValid("sensor-1", keys1.KeyID(), t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"lower epoch", epoch0, ErrLowerEpoch},
		{"same epoch, other keys", epoch1other, ErrEpochConflict},
		{"same announcement again", epoch1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tr.AcceptAnnouncement(tc.data, topic, t0); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("announcement signed by a key other than the certificate's", func(t *testing.T) {
		chain, _ := f.device(t, f.inter, "sensor-9", 0, day, t0)
		enc, _ := EncodeChain(chain)
		a, _ := NewAnnouncement("sensor-9", "pqc/keys/sensor-9", keys1.Sig, enc, t0)
		if _, err := tr.AcceptAnnouncement(a, "pqc/keys/sensor-9", t0); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("device id differs from the certificate", func(t *testing.T) {
		chain, keys := f.device(t, f.inter, "sensor-8", 0, day, t0)
		enc, _ := EncodeChain(chain)
		a, _ := NewAnnouncement("sensor-7", "t", keys.Sig, enc, t0)
		if _, err := tr.AcceptAnnouncement(a, "t", t0); !errors.Is(err, ErrContextMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("TOFU refused unless enabled", func(t *testing.T) {
		keys, _ := NewOperationalKeys("Ed25519", DefaultKEMs)
		a, _ := NewTOFUAnnouncement("lab-device", "lab", keys.Sig, keys.KEMPublicKeys(), t0)
		if _, err := tr.AcceptAnnouncement(a, "lab", t0); !errors.Is(err, ErrNoCertificate) {
			t.Fatalf("TOFU off: %v", err)
		}
		tr.AllowTOFU = true
		defer func() { tr.AllowTOFU = false }()
		got, err := tr.AcceptAnnouncement(a, "lab", t0)
		if err != nil || got.Cert != nil || !bytes.Equal(got.KeyID, keys.KeyID()) {
			t.Fatalf("TOFU on: %v", err)
		}
	})
	t.Run("stale policy refuses new trust material", func(t *testing.T) {
		if _, err := tr.AcceptAnnouncement(epoch1, topic, t0.Add(8*day)); !errors.Is(err, ErrPolicyStale) {
			t.Fatalf("got %v", err)
		}
	})
}

// A peer added from its chain alone is recorded like an announced one,
// under the same epoch rules.
func TestAddPeerFromChain(t *testing.T) {
	f := newFleet(t)
	tr := newTrust(t, f)
	chain0, keys0 := f.device(t, f.inter, "sensor-5", 0, 30*24*time.Hour, t0)
	enc0, _ := EncodeChain(chain0)
	a, err := tr.AddPeer(enc0, t0)
	if err != nil {
		t.Fatal(err)
	}
	if a.DeviceID != "sensor-5" || tr.PeerKeyValid("sensor-5", keys0.KeyID(), t0) != nil {
		t.Fatalf("peer not recorded: %+v", a)
	}
	other, _ := f.device(t, f.inter, "sensor-5", 0, 30*24*time.Hour, t0)
	encOther, _ := EncodeChain(other)
	if _, err := tr.AddPeer(encOther, t0); !errors.Is(err, ErrEpochConflict) {
		t.Fatalf("same epoch, other keys: %v", err)
	}
	enc0[len(enc0)-3] ^= 1
	if _, err := tr.AddPeer(enc0, t0); err == nil {
		t.Fatal("a tampered chain was accepted")
	}
}
