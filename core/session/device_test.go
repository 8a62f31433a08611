package session

import (
	"errors"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// A device enrolled through core/identity (factory key, join, install,
// renewal with an overlap) is usable through LocalFromDevice, and frames
// addressed to its previous epoch are accepted only while the overlap lasts.
func TestLocalFromDeviceAcrossRotation(t *testing.T) {
	f := newFleet(t)
	peer := f.device(t, "scada-1")
	host := f.device(t, "pump-7") // only for its store and trust
	dev, err := identity.InitDevice(host.st, "pump-7", "Ed25519", identity.DefaultSignature, []string{"X25519-ML-KEM-768"})
	if err != nil {
		t.Fatal(err)
	}
	enroller := &identity.Enroller{CA: f.root, Anchors: []*identity.Certificate{f.root.Cert}, Replay: &identity.MemoryReplayGuard{},
		Window: time.Minute, Validity: 30 * 24 * time.Hour, Allowed: []identity.AllowedDevice{{DeviceID: "pump-7", FactoryKey: dev.FactoryKey()}}}
	req, _ := dev.JoinRequest(nil, t0)
	chain, err := enroller.Enroll(req, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Install(chain, host.trust, time.Hour, t0); err != nil {
		t.Fatal(err)
	}
	announce := func() {
		ann, err := dev.Announcement(annTopic, f.clk.now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := peer.trust.AcceptAnnouncement(ann, annTopic, f.clk.now()); err != nil {
			t.Fatal(err)
		}
	}
	announce()
	introduce(t, host, peer)
	oldRcpt, err := RecipientOf(TrustPeers{peer.trust}, "pump-7", "", f.clk.now())
	if err != nil {
		t.Fatal(err)
	}
	sealer := NewSealer(f.cfg(peer))
	toOld, _ := sealer.Seal(oldRcpt, topic, []byte("for epoch 0"))

	// Rotate: epoch 1 installed, epoch 0 kept for the overlap.
	f.clk.advance(time.Minute)
	renew, _ := dev.RenewalRequest(f.clk.now())
	next, err := enroller.Renew(renew, f.clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Install(next, host.trust, time.Hour, f.clk.now()); err != nil {
		t.Fatal(err)
	}
	local, err := LocalFromDevice(dev, f.clk.now())
	if err != nil {
		t.Fatal(err)
	}
	defer local.Wipe()
	if local.Previous == nil {
		t.Fatal("previous epoch not loaded during the overlap")
	}
	cfg := f.cfg(host)
	cfg.Local = local
	o, _ := NewOpener(cfg)
	if m, err := o.Open(toOld, topic); err != nil || string(m.Plaintext) != "for epoch 0" {
		t.Fatalf("frame for the previous epoch during the overlap: %v", err)
	}
	// After the overlap the previous keys are gone.
	f.clk.advance(2 * time.Hour)
	local2, err := LocalFromDevice(dev, f.clk.now())
	if err != nil {
		t.Fatal(err)
	}
	defer local2.Wipe()
	cfg.Local = local2
	o2, _ := NewOpener(cfg)
	again, _ := sealer.Seal(oldRcpt, topic, []byte("late"))
	if _, err := o2.Open(again, topic); !errors.Is(err, ErrWrongRecipient) {
		t.Fatalf("frame for the previous epoch after the overlap: %v", err)
	}
}
