package identity

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestSignedEnvelopes: an envelope verifies against the fleet's anchor,
// policy and revocation state, naming the device its chain certifies; every
// way of getting it wrong is refused with its own error.
func TestSignedEnvelopes(t *testing.T) {
	f := newFleet(t)
	const ctx = "plant/line-1/boiler-3"
	day := 24 * time.Hour
	content := []byte(`{"temperature":71.5}`)

	chain, keys := f.device(t, f.inter, "sensor-1", 0, 2*day, t0)
	enc, _ := EncodeChain(chain)
	sign := func(id, context string, key *SigningKey, chain, content []byte, at time.Time) []byte {
		t.Helper()
		e, err := SignEnvelope(id, context, key, chain, content, at)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	good := sign("sensor-1", ctx, keys.Sig, enc, content, t0)

	otherChain, otherKeys := f.device(t, f.inter, "sensor-2", 0, 30*day, t0)
	otherEnc, _ := EncodeChain(otherChain)
	foreign := newFleet(t)
	foreignChain, foreignKeys := foreign.device(t, foreign.root, "sensor-1", 0, 30*day, t0)
	foreignEnc, _ := EncodeChain(foreignChain)
	announcement, _ := NewAnnouncement("sensor-1", ctx, keys.Sig, enc, t0)

	tampered := bytes.Clone(good)
	// The content sits inside the signed payload; flip a byte of it.
	tampered[bytes.Index(tampered, content)+3] ^= 1
	badSig := bytes.Clone(good)
	badSig[len(badSig)-5] ^= 1

	revokedTrust := newTrust(t, f)
	if _, err := revokedTrust.ApplyRevocation(mustRevocation(t, f.root, 1, [][]byte{keys.KeyID()})); err != nil {
		t.Fatal(err)
	}
	noPolicy, _ := NewTrust(f.root.Cert.Raw)

	for _, tc := range []struct {
		name    string
		env     []byte
		context string
		trust   *Trust
		at      time.Time
		want    error
	}{
		{"valid", good, ctx, nil, t0.Add(time.Hour), nil},
		{"other context", good, "plant/line-2/boiler-3", nil, t0, ErrContextMismatch},
		{"tampered content", tampered, ctx, nil, t0, ErrBadSignature},
		{"tampered signature", badSig, ctx, nil, t0, ErrBadSignature},
		{"truncated", good[:len(good)/2], ctx, nil, t0, ErrMalformed},
		{"empty", nil, ctx, nil, t0, ErrMalformed},
		{"oversized", make([]byte, maxEnvelopeSize+1), ctx, nil, t0, ErrTooLarge},
		{"signed by a key the chain does not certify", sign("sensor-1", ctx, otherKeys.Sig, enc, content, t0), ctx, nil, t0, ErrBadSignature},
		{"claims another device than its chain", sign("sensor-1", ctx, otherKeys.Sig, otherEnc, content, t0), ctx, nil, t0, ErrContextMismatch},
		{"chain of another fleet", sign("sensor-1", ctx, foreignKeys.Sig, foreignEnc, content, t0), ctx, nil, t0, ErrUnknownIssuer},
		{"revoked key", good, ctx, revokedTrust, t0, ErrRevoked},
		{"expired certificate", good, ctx, nil, t0.Add(3 * day), ErrExpired},
		{"no policy installed", good, ctx, noPolicy, t0, ErrPolicyMissing},
		{"signed in the future", sign("sensor-1", ctx, keys.Sig, enc, content, t0.Add(time.Hour)), ctx, nil, t0, ErrNotYetValid},
		{"an announcement is not an envelope", announcement, ctx, nil, t0, ErrWrongKind},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := tc.trust
			if tr == nil {
				tr = newTrust(t, f)
			}
			got, err := tr.VerifyEnvelope(tc.env, tc.context, tc.at)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("got %v, want %v", err, tc.want)
				}
				if got != nil {
					t.Fatal("a refused envelope returned content")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DeviceID != "sensor-1" || got.Context != ctx || !bytes.Equal(got.Content, content) || !got.SignedAt.Equal(t0) {
				t.Fatalf("verified %+v", got)
			}
		})
	}
}

func TestSignEnvelopeRefusesBadInputs(t *testing.T) {
	f := newFleet(t)
	chain, keys := f.device(t, f.inter, "sensor-1", 0, 24*time.Hour, t0)
	enc, _ := EncodeChain(chain)
	long := string(make([]byte, MaxEnvelopeContext+1))
	for _, tc := range []struct {
		name    string
		id, ctx string
		chain   []byte
		content []byte
		want    error
	}{
		{"content at the limit", "sensor-1", "c", enc, make([]byte, MaxEnvelopeContent), nil},
		{"content over the limit", "sensor-1", "c", enc, make([]byte, MaxEnvelopeContent+1), ErrTooLarge},
		{"context over the limit", "sensor-1", long, enc, nil, ErrTooLarge},
		{"bad device id", "no spaces allowed", "c", enc, nil, ErrMalformed},
		{"no chain", "sensor-1", "c", nil, nil, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := SignEnvelope(tc.id, tc.ctx, keys.Sig, tc.chain, tc.content, t0)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (e != nil) {
				t.Fatalf("got %d bytes, %v; want %v", len(e), err, tc.want)
			}
			if tc.want == nil {
				if _, err := newTrust(t, f).VerifyEnvelope(e, tc.ctx, t0); err != nil {
					t.Fatalf("envelope at the limits does not verify: %v", err)
				}
			}
		})
	}
}
