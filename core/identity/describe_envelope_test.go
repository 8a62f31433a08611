package identity

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// inspect's view of a signed envelope: KindOf names it, Describe decodes its
// claims and, given anchors, checks the chain and the signature offline.
func TestDescribeSignedEnvelope(t *testing.T) {
	f := newFleet(t)
	chain, keys := f.device(t, f.inter, "sensor-1", 0, 24*time.Hour, t0)
	enc, _ := EncodeChain(chain)
	env, err := SignEnvelope("sensor-1", "plant/a", keys.Sig, enc, []byte("71.5"), t0)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := KindOf(env); err != nil || k != KindSigned {
		t.Fatalf("KindOf: %q %v", k, err)
	}
	tampered := bytes.Clone(env)
	tampered[bytes.Index(tampered, []byte("71.5"))] ^= 1
	foreign := newFleet(t)
	for _, tc := range []struct {
		name    string
		data    []byte
		anchors []*Certificate
		want    error
	}{
		{"decoded without anchors", env, nil, nil},
		{"verified with the fleet's anchor", env, f.anchors, nil},
		{"tampered content", tampered, f.anchors, ErrBadSignature},
		{"another fleet's anchor", env, foreign.anchors, ErrUnknownIssuer},
	} {
		claims, err := Describe(tc.data, KindSigned, tc.anchors, t0.Add(time.Hour))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if c, ok := claims.(*EnvelopeClaims); !ok || c.DeviceID != "sensor-1" || c.Context != "plant/a" {
			t.Errorf("%s: claims %+v", tc.name, claims)
		}
	}
}
