package session

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

func TestMultiSealedRoundTripAndNotForMe(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	c := f.device(t, "hmi-2")
	introduce(t, a, c)
	introduce(t, c, a)
	d := f.device(t, "historian")
	introduce(t, d, a)
	var rcpts []Recipient
	for _, id := range []string{b.id, c.id} {
		r, err := RecipientOf(TrustPeers{a.trust}, id, "", f.clk.now())
		if err != nil {
			t.Fatal(err)
		}
		rcpts = append(rcpts, r)
	}
	s := NewSealer(f.cfg(a))
	frame, err := s.SealMulti(rcpts, topic, []byte("21.7 C"))
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := MultiSealedSender(frame); !ok || id != a.id {
		t.Fatalf("hint %q %v", id, ok)
	}
	for _, rx := range []*device{b, c} {
		o := newOpener(t, f, rx)
		got, err := o.OpenMulti(frame, topic)
		if err != nil || got.Sender != a.id || string(got.Plaintext) != "21.7 C" {
			t.Fatalf("%s: %v %+v", rx.id, err, got)
		}
		if _, err := o.OpenMulti(frame, topic); !errors.Is(err, ErrReplay) {
			t.Fatalf("%s replay: %v", rx.id, err)
		}
	}
	if _, err := newOpener(t, f, d).OpenMulti(frame, topic); !errors.Is(err, ErrWrongRecipient) {
		t.Fatalf("not for me: %v", err)
	}
}

func TestMultiSealedRejects(t *testing.T) {
	f := newFleet(t)
	a, b := f.pair(t)
	m := f.device(t, "mallory")
	introduce(t, b, m)
	introduce(t, m, b)
	r, _ := RecipientOf(TrustPeers{a.trust}, b.id, "", f.clk.now())
	frame, err := NewSealer(f.cfg(a)).SealMulti([]Recipient{r}, topic, []byte("open valve 3"))
	if err != nil {
		t.Fatal(err)
	}
	h, ct, signedLen, sig, err := parseMulti(frame)
	if err != nil {
		t.Fatal(err)
	}
	o := newOpener(t, f, b)
	flip := func(off int) []byte { x := bytes.Clone(frame); x[off] ^= 1; return x }
	entry := 3 + len(h.sender) + KeyIDSize + 8 + 1
	cases := []struct {
		name    string
		frame   []byte
		context string
		want    error
	}{
		{"version", flip(0), topic, ErrMalformed},
		{"type", flip(1), topic, ErrMalformed},
		{"sequence", flip(3 + len(h.sender) + KeyIDSize + 6), topic, ErrAuth},
		{"recipient key id", flip(entry + 1 + len(b.id) + 3), topic, ErrWrongRecipient},
		{"KEM ciphertext", flip(entry + 1 + len(b.id) + KeyIDSize + 1 + 2 + 5), topic, ErrAuth},
		{"wrapped key", flip(signedLen - 2 - len(ct) - 3 - 2), topic, ErrAuth},
		{"payload ciphertext", flip(signedLen - 3), topic, ErrAuth},
		{"signature", flip(len(frame) - len(sig)/2), topic, ErrAuth},
		{"recipient count", flip(entry - 1), topic, ErrMalformed},
		{"re-routed", frame, topic + "/x", ErrAuth},
		{"truncated", frame[:len(frame)-1], topic, ErrMalformed},
		{"trailing", append(bytes.Clone(frame), 0), topic, ErrMalformed},
		{"empty", nil, topic, ErrMalformed},
		{"oversized", make([]byte, MaxSealedSize+1), topic, ErrMalformed},
	}
	// Mallory, a valid device, signs a frame claiming a's identity and key id.
	rm, _ := RecipientOf(TrustPeers{m.trust}, b.id, "", f.clk.now())
	mcfg := f.cfg(m)
	mcfg.Local = &Local{ID: a.id, Current: &EpochKeys{KeyID: a.keys.KeyID(), Sig: m.keys.Sig, KEMs: m.keys.KEMs}}
	forged, err := NewSealer(mcfg).SealMulti([]Recipient{rm}, topic, []byte("evil"))
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name    string
		frame   []byte
		context string
		want    error
	}{"forged signature", forged, topic, ErrAuth})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := o.OpenMulti(c.frame, c.context); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := o.OpenMulti(frame, topic); err != nil {
		t.Fatalf("genuine after rejects (authenticate before mutating): %v", err)
	}
	f.revoke(t, 1, a, b.trust)
	frame2, _ := NewSealer(f.cfg(a)).SealMulti([]Recipient{r}, topic, []byte("x"))
	if _, err := o.OpenMulti(frame2, topic); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("revoked sender: %v", err)
	}
}

func FuzzOpenMulti(f *testing.F) {
	f.Add([]byte{Version, typeMultiSealed, 1, 'a'})
	fl := newFleet(f)
	_, b := fl.pair(f)
	o, _ := NewOpener(Config{Local: b.local, Trust: b.trust, Volatile: true, Now: fl.clk.now})
	f.Fuzz(func(t *testing.T, frame []byte) {
		if _, err := o.OpenMulti(frame, topic); err == nil {
			t.Fatal("accepted a fuzzed frame")
		}
	})
}
