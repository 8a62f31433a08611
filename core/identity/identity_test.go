package identity

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// fleet is a CA hierarchy with devices, built once per test that needs it.
type fleet struct {
	root, inter *CA
	anchors     []*Certificate
}

func newFleet(t testing.TB) *fleet {
	t.Helper()
	root, err := NewRootCA("plant-root", "ML-DSA-65", t0, 10*365*24*time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("line-3-ca", "ML-DSA-44", t0, 5*365*24*time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &fleet{root: root, inter: inter, anchors: []*Certificate{root.Cert}}
}

func (f *fleet) device(t testing.TB, ca *CA, id string, epoch uint64, validity time.Duration, at time.Time) (Chain, *OperationalKeys) {
	t.Helper()
	keys, err := NewOperationalKeys(DefaultSignature, DefaultKEMs)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(CertTemplate{Subject: id, Epoch: epoch, SigKey: keys.Sig.Public, KEMKeys: keys.KEMPublicKeys(), Validity: validity}, at)
	if err != nil {
		t.Fatal(err)
	}
	chain := Chain{cert}
	if ca != f.root {
		chain = append(chain, ca.Cert)
	}
	return chain, keys
}

func TestVerifyChain(t *testing.T) {
	f := newFleet(t)
	day := 24 * time.Hour
	direct, _ := f.device(t, f.root, "sensor-1", 0, 30*day, t0)
	viaInter, _ := f.device(t, f.inter, "sensor-2", 0, 30*day, t0)
	foreign, _ := NewRootCA("plant-root", "ML-DSA-65", t0, 365*day, 1) // same name, other key
	foreignChain, _ := f.device(t, foreign, "sensor-3", 0, 30*day, t0)
	future, _ := f.device(t, f.root, "sensor-4", 0, 30*day, t0.Add(2*day))
	devChain, devKeys := f.device(t, f.root, "sensor-5", 0, 30*day, t0)
	// A device acting as a CA: its certificate signs another.
	rogue := &CA{Cert: devChain[0], Key: devKeys.Sig}
	rogueLeaf, err := signCertificate(rogue.Key, mustClaims(t, devChain[0].Subject, "sensor-6", devKeys))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		chain Chain
		now   time.Time
		opts  func(*VerifyOptions)
		want  error
	}{
		{"root to device", direct, t0.Add(day), nil, nil},
		{"root to intermediate to device", viaInter, t0.Add(day), nil, nil},
		{"chain carrying the anchor itself", append(append(Chain{}, viaInter...), f.root.Cert), t0.Add(day), nil, nil},
		{"foreign CA with the same name", foreignChain, t0.Add(day), nil, ErrUnknownIssuer},
		{"expired", direct, t0.Add(31 * day), nil, ErrExpired},
		{"not yet valid", future, t0.Add(day), nil, ErrNotYetValid},
		{"revoked leaf", direct, t0.Add(day), func(o *VerifyOptions) {
			o.IsRevoked = func(id []byte) bool { return bytes.Equal(id, direct[0].KeyID) }
		}, ErrRevoked},
		{"revoked intermediate", viaInter, t0.Add(day), func(o *VerifyOptions) {
			o.IsRevoked = func(id []byte) bool { return bytes.Equal(id, f.inter.Cert.KeyID) }
		}, ErrRevoked},
		{"issuer is not a CA", Chain{rogueLeaf, devChain[0]}, t0.Add(day), nil, ErrNotCA},
		{"algorithm not allowed", viaInter, t0.Add(day), func(o *VerifyOptions) {
			o.AllowSignature = func(alg string) bool { return alg == "ML-DSA-65" }
		}, ErrAlgorithmNotAllowed},
		{"anchor is not a device", Chain{f.root.Cert}, t0.Add(day), nil, ErrMalformed},
		{"intermediate missing", Chain{viaInter[0]}, t0.Add(day), nil, ErrUnknownIssuer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := VerifyOptions{Now: tc.now}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			_, err := VerifyChain(tc.chain, f.anchors, opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func mustClaims(t testing.TB, issuer, subject string, keys *OperationalKeys) *Claims {
	t.Helper()
	c, err := newClaims(issuer, CertTemplate{Subject: subject, SigKey: keys.Sig.Public, KEMKeys: keys.KEMPublicKeys(), Validity: 24 * time.Hour}, t0, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPathLengthIsEnforced(t *testing.T) {
	root, _ := NewRootCA("r", "Ed25519", t0, 365*24*time.Hour, 0)
	if _, err := root.NewIntermediate("i", "Ed25519", t0, 24*time.Hour, 0); !errors.Is(err, ErrPathLength) {
		t.Fatalf("a path-length-0 root issued an intermediate: %v", err)
	}
	// A chain built by hand around the issuing check still fails to verify.
	key, _ := NewSigningKey("Ed25519")
	claims, err := newClaims("r", CertTemplate{Subject: "i", SigKey: key.Public, CA: true}, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	inter, err := signCertificate(root.Key, claims)
	if err != nil {
		t.Fatal(err)
	}
	leafKeys, _ := NewOperationalKeys("Ed25519", nil)
	leaf, err := signCertificate(key, mustClaims(t, "i", "dev", leafKeys))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyChain(Chain{leaf, inter}, []*Certificate{root.Cert}, VerifyOptions{Now: t0.Add(time.Minute)}); !errors.Is(err, ErrPathLength) {
		t.Fatalf("got %v, want ErrPathLength", err)
	}
}

// Every decoder rejects bad bytes with a specific error, before or instead
// of doing any cryptography.
func TestCertificateDecoderRejects(t *testing.T) {
	f := newFleet(t)
	chain, _ := f.device(t, f.root, "sensor-1", 0, time.Hour, t0)
	good := chain[0].Raw
	policy, _ := SignPolicy(f.root, testPolicy(1, t0))

	resign := func(payload []byte) []byte {
		raw, err := f.root.Key.sign(KindCertificate, payload, nil)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	claims := chain[0].Claims
	canonical, _ := marshal(claims)
	// The same claims with the expiry (key 4) in a longer integer form than
	// needed: valid CBOR, but not the deterministic encoding.
	exp := binary.BigEndian.AppendUint32([]byte{0x04, 0x1a}, uint32(claims.Expiry))
	i := bytes.Index(canonical, exp)
	if i < 0 {
		t.Fatal("test setup: expiry encoding not found")
	}
	longForm := binary.BigEndian.AppendUint64([]byte{0x04, 0x1b}, uint64(claims.Expiry))
	nonShortest := append(append(bytes.Clone(canonical[:i]), longForm...), canonical[i+len(exp):]...)
	withUnknown := func() []byte {
		var m map[int]any
		if err := cbor.Unmarshal(canonical, &m); err != nil {
			t.Fatal(err)
		}
		m[-99] = "critical extension"
		b, _ := marshal(m)
		return b
	}()
	badKeyID := claims
	badKeyID.KeyID = bytes.Repeat([]byte{1}, keyIDSize)
	badKeyIDBytes, _ := marshal(badKeyID)
	wrongVersion := claims
	wrongVersion.Version = 2
	wrongVersionBytes, _ := marshal(wrongVersion)
	badID := claims
	badID.Subject = "sensor 1/../x"
	badIDBytes, _ := marshal(badID)

	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"oversized", make([]byte, MaxObjectSize+1), ErrTooLarge},
		{"empty", nil, ErrMalformed},
		{"truncated", good[:len(good)-10], ErrMalformed},
		{"trailing bytes", append(bytes.Clone(good), 0x00), ErrMalformed},
		{"policy presented as certificate", policy, ErrWrongKind},
		{"non-canonical claims", resign(nonShortest), ErrMalformed},
		{"unknown claim", resign(withUnknown), ErrMalformed},
		{"key id not matching keys", resign(badKeyIDBytes), ErrMalformed},
		{"unknown version", resign(wrongVersionBytes), ErrMalformed},
		{"invalid subject syntax", resign(badIDBytes), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseCertificate(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTamperedCertificateFailsSignature(t *testing.T) {
	f := newFleet(t)
	chain, _ := f.device(t, f.root, "sensor-1", 0, time.Hour, t0)
	raw := bytes.Clone(chain[0].Raw)
	raw[len(raw)-5] ^= 0x01 // inside the signature
	c, err := ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyChain(Chain{c}, f.anchors, VerifyOptions{Now: t0}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("got %v, want ErrBadSignature", err)
	}
}

func TestEncodeParseChainRoundTrip(t *testing.T) {
	f := newFleet(t)
	chain, _ := f.device(t, f.inter, "sensor-1", 0, time.Hour, t0)
	enc, err := EncodeChain(chain)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseChain(enc)
	if err != nil || len(back) != 2 || !bytes.Equal(back[0].Raw, chain[0].Raw) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := ParseChain(append(enc, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
	five, _ := marshal([][]byte{chain[0].Raw, chain[0].Raw, chain[0].Raw, chain[0].Raw, chain[0].Raw})
	if _, err := ParseChain(five); !errors.Is(err, ErrMalformed) {
		t.Fatalf("overlong chain: %v", err)
	}
}

// Every registry signature scheme with a COSE identifier can run a CA and
// sign device keys, Falcon's variable-length signatures included.
func TestChainsWithEverySignatureScheme(t *testing.T) {
	for alg := range coseAlgs {
		t.Run(alg, func(t *testing.T) {
			root, err := NewRootCA("root", alg, t0, 24*time.Hour, 0)
			if err != nil {
				t.Fatal(err)
			}
			keys, err := NewOperationalKeys(alg, DefaultKEMs)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := root.Issue(CertTemplate{Subject: "dev-1", SigKey: keys.Sig.Public, KEMKeys: keys.KEMPublicKeys(), Validity: time.Hour}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyChain(Chain{cert}, []*Certificate{root.Cert}, VerifyOptions{Now: t0}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
