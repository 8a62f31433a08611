package identity

import (
	"bytes"
	"testing"
	"time"
)

// FuzzVerifyEnvelope: no input panics the verifier, and whatever it
// accepts is exactly what the device signed, for the context it signed.
func FuzzVerifyEnvelope(f *testing.F) {
	fl := newFleet(f)
	chain, keys := fl.device(f, fl.inter, "sensor-1", 0, time.Hour, t0)
	enc, _ := EncodeChain(chain)
	good, _ := SignEnvelope("sensor-1", "plant/a", keys.Sig, enc, []byte("t=71.5"), t0)
	empty, _ := SignEnvelope("sensor-1", "", keys.Sig, enc, nil, t0)
	ann, _ := NewAnnouncement("sensor-1", "plant/a", keys.Sig, enc, t0)
	for _, seed := range [][]byte{good, empty, ann, good[:len(good)/2], {}, {0xd2, 0x84}} {
		f.Add(seed, "plant/a")
	}
	tr, err := NewTrust(fl.root.Cert.Raw)
	if err != nil {
		f.Fatal(err)
	}
	p, _ := SignPolicy(fl.root, testPolicy(1, t0))
	if _, err := tr.ApplyPolicy(p, t0); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, context string) {
		got, err := tr.VerifyEnvelope(data, context, t0)
		if err != nil {
			return
		}
		if got.DeviceID != "sensor-1" || got.Context != context {
			t.Fatalf("accepted %q for %q", got.DeviceID, got.Context)
		}
		if context == "plant/a" && !bytes.Equal(got.Content, []byte("t=71.5")) {
			t.Fatalf("accepted content %q", got.Content)
		}
	})
}
