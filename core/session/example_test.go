package session_test

import (
	"fmt"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/session"
)

// peer builds one device of a two-device fleet: keys certified by root, a
// Trust with the fleet policy, and the other device's announcement.
type peer struct {
	local *session.Local
	trust *identity.Trust
	keys  *identity.OperationalKeys
	chain []byte
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func newPeer(root *identity.CA, policy []byte, id string, now time.Time) *peer {
	keys := must(identity.NewOperationalKeys("ML-DSA-65", []string{"X25519-ML-KEM-768"}))
	cert := must(root.Issue(identity.CertTemplate{Subject: id, SigKey: keys.Sig.Public, KEMKeys: keys.KEMPublicKeys(), Validity: 24 * time.Hour}, now))
	p := &peer{keys: keys, chain: must(identity.EncodeChain(identity.Chain{cert})), trust: must(identity.NewTrust(root.Cert.Raw))}
	must(p.trust.ApplyPolicy(policy, now))
	p.local = &session.Local{ID: id, Current: &session.EpochKeys{KeyID: keys.KeyID(), Sig: keys.Sig, KEMs: keys.KEMs}}
	return p
}

func (p *peer) learn(other *peer, id string, now time.Time) {
	ann := must(identity.NewAnnouncement(id, "fleet/announce", other.keys.Sig, other.chain, now))
	must(p.trust.AcceptAnnouncement(ann, "fleet/announce", now))
}

// Two devices make a session and exchange a message. Frames would travel
// over MQTT or CoAP; here they are passed by hand.
func ExampleManager() {
	now := time.Now()
	root := must(identity.NewRootCA("plant-root", "ML-DSA-65", now, 24*time.Hour, 0))
	policy := must(identity.SignPolicy(root, identity.PolicyClaims{
		IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(), Sequence: 1,
		AllowedKEMs: []string{"X25519-ML-KEM-768", "ML-KEM-768"}, AllowedSigs: []string{"ML-DSA-65"},
	}))
	plc, scada := newPeer(root, policy, "plc-1", now), newPeer(root, policy, "scada-1", now)
	plc.learn(scada, "scada-1", now)
	scada.learn(plc, "plc-1", now)

	// Volatile: counters in memory, for this example only; a device
	// passes its store (Config.Store).
	mPLC := session.NewManager(session.Config{Local: plc.local, Trust: plc.trust, Volatile: true})
	mSCADA := session.NewManager(session.Config{Local: scada.local, Trust: scada.trust, Volatile: true})

	init := must(mPLC.Initiate("scada-1", "plant/line3/plc-1"))
	resp, atSCADA, err := mSCADA.HandleHandshake(init)
	if err != nil {
		panic(err)
	}
	_, atPLC, err := mPLC.HandleHandshake(resp)
	if err != nil {
		panic(err)
	}
	frame := must(atPLC.Protect([]byte("valve 3 open")))
	_, plaintext, err := mSCADA.Unprotect(frame, "plant/line3/plc-1")
	fmt.Println(string(plaintext), err, atSCADA.Peer())
	// Output: valve 3 open <nil> plc-1
}

// A sealed message: one frame, no session, signed by the sender and
// encrypted to the recipient's certified X-Wing key.
func ExampleSealer() {
	now := time.Now()
	root := must(identity.NewRootCA("plant-root", "ML-DSA-65", now, 24*time.Hour, 0))
	policy := must(identity.SignPolicy(root, identity.PolicyClaims{
		IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(), Sequence: 1,
		AllowedKEMs: []string{"X25519-ML-KEM-768"}, AllowedSigs: []string{"ML-DSA-65"},
	}))
	sensor, gw := newPeer(root, policy, "sensor-7", now), newPeer(root, policy, "gateway-1", now)
	sensor.learn(gw, "gateway-1", now)
	gw.learn(sensor, "sensor-7", now)

	to := must(session.RecipientOf(session.TrustPeers{Trust: sensor.trust}, "gateway-1", "", now))
	frame := must(session.NewSealer(session.Config{Local: sensor.local, Volatile: true}).Seal(to, "plant/sensor-7/temp", []byte("22.5 C")))
	opener := must(session.NewOpener(session.Config{Local: gw.local, Trust: gw.trust, Volatile: true}))
	msg, err := opener.Open(frame, "plant/sensor-7/temp")
	fmt.Println(string(msg.Plaintext), msg.Sender, err)
	// Output: 22.5 C sensor-7 <nil>
}
