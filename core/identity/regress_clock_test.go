package identity

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// A join request the replay guard forgot (the CA clock ran ahead past the
// request's window and pruned it) is still refused when the clock comes
// back, by the in-memory and the keystore-backed guard alike.
func TestJoinRequestNotAcceptedTwiceAcrossClockJumps(t *testing.T) {
	f := newFleet(t)
	factory, _ := NewSigningKey("Ed25519")
	st, err := store.Create(filepath.Join(t.TempDir(), "ca.db"), store.RawKey(make([]byte, 32)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, g := range []struct {
		name  string
		guard ReplayGuard
	}{{"memory", &MemoryReplayGuard{}}, {"keystore", storeReplayGuard{st: st}}} {
		t.Run(g.name, func(t *testing.T) {
			e := &Enroller{CA: f.inter, Anchors: f.anchors,
				Allowed: []AllowedDevice{{DeviceID: "sensor-1", FactoryKey: factory.Public}},
				Replay:  g.guard, Window: 5 * time.Minute, Validity: 24 * time.Hour}
			join := func(at time.Time) []byte {
				keys, _ := NewOperationalKeys(DefaultSignature, DefaultKEMs)
				req, err := NewJoinRequest("sensor-1", factory, keys, nil, at)
				if err != nil {
					t.Fatal(err)
				}
				return req
			}
			first := join(t0)
			if _, err := e.Enroll(first, t0); err != nil {
				t.Fatal(err)
			}
			// The clock jumps 6 minutes ahead; another request prunes the first.
			if _, err := e.Enroll(join(t0.Add(6*time.Minute)), t0.Add(6*time.Minute)); err != nil {
				t.Fatal(err)
			}
			// Back to t0: the first request must not be accepted again.
			if _, err := e.Enroll(first, t0); !errors.Is(err, ErrReplay) {
				t.Fatalf("forgotten request replayed after the clock went back: %v, want ErrReplay", err)
			}
			// A new request made at the corrected time is still accepted.
			if _, err := e.Enroll(join(t0.Add(time.Minute)), t0.Add(time.Minute)); err != nil {
				t.Fatalf("fresh request after the jump: %v", err)
			}
		})
	}
}

// A previous epoch's key whose rotation overlap ended stays refused when
// the clock is set back; a peer's certificate is checked for expiry at
// every use, not only when its announcement was accepted.
func TestPeerKeyValidityAcrossClockJumps(t *testing.T) {
	f := newFleet(t)
	tr := newTrust(t, f)
	const topic = "pqc/keys/sensor-1"
	announce := func(epoch uint64, validity time.Duration) ([]byte, *OperationalKeys) {
		chain, keys := f.device(t, f.inter, "sensor-1", epoch, validity, t0)
		enc, _ := EncodeChain(chain)
		a, err := NewAnnouncement("sensor-1", topic, keys.Sig, enc, t0)
		if err != nil {
			t.Fatal(err)
		}
		return a, keys
	}
	a0, keys0 := announce(0, 30*24*time.Hour)
	a1, keys1 := announce(1, 3*time.Hour)
	for _, a := range [][]byte{a0, a1} {
		if _, err := tr.AcceptAnnouncement(a, topic, t0); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		key  []byte
		at   time.Duration
		want error
	}{
		{"previous key inside the overlap", keys0.KeyID(), time.Minute, nil},
		{"previous key after the overlap", keys0.KeyID(), 2 * time.Hour, ErrLowerEpoch},
		{"previous key with the clock set back", keys0.KeyID(), time.Minute, ErrLowerEpoch},
		{"current key, certificate valid", keys1.KeyID(), 2 * time.Hour, nil},
		{"current key, certificate expired", keys1.KeyID(), 4 * time.Hour, ErrExpired},
	} {
		if err := tr.PeerKeyValid("sensor-1", tc.key, t0.Add(tc.at)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
