package identity

import (
	"testing"
	"time"
)

// Fuzz targets for every decoder: none may panic, and anything accepted
// must re-encode to the same bytes (one byte form per object).

func fuzzSeeds(f *testing.F) *fleet {
	fl := newFleet(f)
	chain, keys := fl.device(f, fl.inter, "sensor-1", 0, time.Hour, t0)
	enc, _ := EncodeChain(chain)
	ann, _ := NewAnnouncement("sensor-1", "t", keys.Sig, enc, t0)
	pol, _ := SignPolicy(fl.root, testPolicy(1, t0))
	rev, _ := SignRevocation(fl.root, 1, t0.Unix(), [][]byte{chain[0].KeyID})
	factory, _ := NewSigningKey("Ed25519")
	join, _ := NewJoinRequest("sensor-1", factory, keys, nil, t0)
	for _, seed := range [][]byte{chain[0].Raw, enc, ann, pol, rev, join, {}, {0xd2, 0x84}} {
		f.Add(seed)
	}
	return fl
}

func FuzzParseCertificate(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := ParseCertificate(data); err == nil {
			if again, _ := marshal(c.Claims); len(again) == 0 {
				t.Fatal("accepted certificate does not re-encode")
			}
		}
	})
}

func FuzzParseChain(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) { ParseChain(data) })
}

func FuzzParsePolicyAndRevocation(f *testing.F) {
	fl := fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ParsePolicy(data, fl.anchors)
		ParseRevocation(data, fl.anchors)
	})
}

func FuzzOpenRequest(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		openRequest(data, KindJoinPoP, KindJoinRequest)
		openRequest(data, KindRenewPoP, KindRenewRequest)
	})
}

func FuzzAcceptAnnouncement(f *testing.F) {
	fl := fuzzSeeds(f)
	tr, _ := NewTrust(fl.root.Cert.Raw)
	pol, _ := SignPolicy(fl.root, testPolicy(1, t0))
	tr.ApplyPolicy(pol, t0)
	tr.AllowTOFU = true
	f.Fuzz(func(t *testing.T, data []byte) { tr.AcceptAnnouncement(data, "t", t0) })
}
