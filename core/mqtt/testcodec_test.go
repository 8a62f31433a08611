package mqtt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// ---------------------------------------------------------------------
// TEST CODEC — for this package's tests only. It signs every frame with
// the device's operational key and keeps an in-memory replay window. It
// does not encrypt, does not persist its counter (a restarted sender would
// be refused as a replay) and signs every message (slow for ML-DSA). The
// real codec is core/session's.
// ---------------------------------------------------------------------
//
// frame = 0x01 | idLen u8 | id | seq u64 | keyID [16] | len u32 | payload | signature
// signed = "pqc-iiot test codec v1\x00" | u16 len(topic) | topic | frame up to the signature

const testCodecVersion = 1

var (
	errTCMalformed = errors.New("test codec: malformed frame")
	errTCUnknown   = errors.New("test codec: unknown or invalid sender key")
	errTCSignature = errors.New("test codec: bad signature")
	errTCReplay    = errors.New("test codec: replayed frame")
)

type testCodec struct {
	id    string
	sig   pqc.Signature
	sk    []byte
	keyID []byte
	trust *identity.Trust

	mu      sync.Mutex
	seq     uint64
	windows map[string]*replayWindow
}

func newTestCodec(t testing.TB, dev *identity.Device, trust *identity.Trust) *testCodec {
	t.Helper()
	keys, _, err := dev.Keys()
	if err != nil {
		t.Fatal(err)
	}
	s, err := pqc.SignatureByName(keys.Sig.Public.Alg)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCodec{id: dev.ID(), sig: s, sk: bytes.Clone(keys.Sig.Secret()), keyID: keys.KeyID(), trust: trust,
		windows: map[string]*replayWindow{}}
	keys.Wipe()
	t.Cleanup(func() { clear(c.sk) })
	return c
}

func tcSigned(topic string, body []byte) []byte {
	m := make([]byte, 0, 32+len(topic)+len(body))
	m = append(m, "pqc-iiot test codec v1\x00"...)
	m = binary.BigEndian.AppendUint16(m, uint16(len(topic)))
	m = append(m, topic...)
	return append(m, body...)
}

func (c *testCodec) Protect(topic string, payload []byte) ([]byte, error) {
	c.mu.Lock()
	c.seq++
	seq := c.seq
	c.mu.Unlock()
	body := []byte{testCodecVersion, byte(len(c.id))}
	body = append(body, c.id...)
	body = binary.BigEndian.AppendUint64(body, seq)
	body = append(body, c.keyID...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(payload)))
	body = append(body, payload...)
	sig, err := c.sig.Sign(c.sk, tcSigned(topic, body))
	if err != nil {
		return nil, err
	}
	return append(body, sig...), nil
}

type tcFrame struct {
	id      string
	seq     uint64
	keyID   []byte
	payload []byte
	body    []byte
	sig     []byte
}

func parseTC(frame []byte) (*tcFrame, error) {
	if len(frame) < 2 || frame[0] != testCodecVersion {
		return nil, errTCMalformed
	}
	n := int(frame[1])
	if len(frame) < 2+n+8+16+4 {
		return nil, errTCMalformed
	}
	f := &tcFrame{id: string(frame[2 : 2+n])}
	off := 2 + n
	f.seq = binary.BigEndian.Uint64(frame[off:])
	f.keyID = frame[off+8 : off+24]
	plen := int(binary.BigEndian.Uint32(frame[off+24:]))
	off += 28
	if plen > len(frame)-off {
		return nil, errTCMalformed
	}
	f.payload = frame[off : off+plen]
	f.body, f.sig = frame[:off+plen], frame[off+plen:]
	return f, nil
}

// PeerHint reads the claimed sender without any cryptography.
func (c *testCodec) PeerHint(frame []byte) (string, bool) {
	if len(frame) < 2 || frame[0] != testCodecVersion || len(frame) < 2+int(frame[1]) {
		return "", false
	}
	return string(frame[2 : 2+int(frame[1])]), true
}

func (c *testCodec) Unprotect(topic string, frame []byte) (string, []byte, error) {
	f, err := parseTC(frame)
	if err != nil {
		return "", nil, err
	}
	if !identity.ValidID(f.id) {
		return "", nil, errTCMalformed
	}
	// Revocation and epoch checks come from Trust: a revoked key is no
	// longer valid here, whatever its signature says.
	if err := c.trust.PeerKeyValid(f.id, f.keyID, time.Now()); err != nil {
		return "", nil, fmt.Errorf("%w: %v", errTCUnknown, err)
	}
	peer, _ := c.trust.Peer(f.id)
	var pub identity.PublicKey
	switch {
	case bytes.Equal(peer.Current.KeyID, f.keyID):
		pub = peer.Current.SigKey
	case peer.Previous != nil && bytes.Equal(peer.Previous.KeyID, f.keyID):
		pub = peer.Previous.SigKey
	default:
		return "", nil, errTCUnknown
	}
	s, err := pqc.SignatureByName(pub.Alg)
	if err != nil {
		return "", nil, err
	}
	if err := s.Verify(pub.Key, tcSigned(topic, f.body), f.sig); err != nil {
		return "", nil, fmt.Errorf("%w: %v", errTCSignature, err)
	}
	// Only now, authenticated, may the replay window move.
	c.mu.Lock()
	w := c.windows[f.id]
	if w == nil {
		w = &replayWindow{}
		c.windows[f.id] = w
	}
	ok := w.accept(f.seq)
	c.mu.Unlock()
	if !ok {
		return "", nil, errTCReplay
	}
	return f.id, bytes.Clone(f.payload), nil
}

// replayWindow accepts each sequence number once: anything above the
// highest seen, or within 64 below it and not seen yet.
type replayWindow struct {
	top    uint64
	bitmap uint64 // bit i: top-i was seen
}

func (w *replayWindow) accept(seq uint64) bool {
	switch {
	case seq == 0:
		return false
	case seq > w.top:
		shift := seq - w.top
		if shift >= 64 {
			w.bitmap = 0
		} else {
			w.bitmap <<= shift
		}
		w.bitmap |= 1
		w.top = seq
		return true
	case w.top-seq >= 64:
		return false
	default:
		bit := uint64(1) << (w.top - seq)
		if w.bitmap&bit != 0 {
			return false
		}
		w.bitmap |= bit
		return true
	}
}

// passCodec is the benchmark's baseline: no protection at all.
type passCodec struct{ id string }

func (p passCodec) Protect(_ string, payload []byte) ([]byte, error) { return payload, nil }
func (p passCodec) Unprotect(_ string, frame []byte) (string, []byte, error) {
	return p.id, frame, nil
}

// The test codec itself must refuse what the integration tests inject,
// or those tests would prove nothing.
func TestTestCodecRejectsTamperedReplayedReroutedForged(t *testing.T) {
	f := newTestFleet(t)
	devA, trA := f.device(t, "sensor-a", true)
	devB, trB := f.device(t, "sensor-b", true)
	ann, _ := devA.Announcement(KeysTopic("sensor-a"), f.now)
	if _, err := trB.AcceptAnnouncement(ann, KeysTopic("sensor-a"), f.now); err != nil {
		t.Fatal(err)
	}
	a, b := newTestCodec(t, devA, trA), newTestCodec(t, devB, trB)
	fr, _ := a.Protect("plant/x", []byte("hello"))
	fr2, _ := a.Protect("plant/y", []byte("other"))
	tampered := bytes.Clone(fr)
	tampered[len(tampered)-70] ^= 1
	if _, _, err := b.Unprotect("plant/x", tampered); !errors.Is(err, errTCSignature) && !errors.Is(err, errTCMalformed) {
		t.Fatalf("tampered: %v", err)
	}
	if _, _, err := b.Unprotect("plant/x", fr2); !errors.Is(err, errTCSignature) {
		t.Fatalf("re-routed: %v", err)
	}
	s, p, err := b.Unprotect("plant/x", fr)
	if err != nil || s != "sensor-a" || string(p) != "hello" {
		t.Fatalf("genuine: %v", err)
	}
	if _, _, err := b.Unprotect("plant/x", fr); !errors.Is(err, errTCReplay) {
		t.Fatalf("replayed: %v", err)
	}
	devM, trM := f.device(t, "mallory", true)
	forged, _ := newTestCodec(t, devM, trM).Protect("plant/x", []byte("evil"))
	if _, _, err := b.Unprotect("plant/x", forged); !errors.Is(err, errTCUnknown) {
		t.Fatalf("unannounced sender: %v", err)
	}
	// Mallory claims to be sensor-a with sensor-a's key id.
	fm, _ := parseTC(forged)
	_ = fm
	spoof := []byte{testCodecVersion, byte(len("sensor-a"))}
	spoof = append(spoof, "sensor-a"...)
	spoof = binary.BigEndian.AppendUint64(spoof, 999)
	spoof = append(spoof, a.keyID...)
	spoof = binary.BigEndian.AppendUint32(spoof, 4)
	spoof = append(spoof, "evil"...)
	m := newTestCodec(t, devM, trM)
	sig, _ := m.sig.Sign(m.sk, tcSigned("plant/x", spoof))
	if _, _, err := b.Unprotect("plant/x", append(spoof, sig...)); !errors.Is(err, errTCSignature) {
		t.Fatalf("forged signature: %v", err)
	}
}

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	for _, c := range []struct {
		seq uint64
		ok  bool
	}{{1, true}, {1, false}, {3, true}, {2, true}, {2, false}, {100, true}, {37, true}, {36, false}, {37, false}, {0, false}} {
		if got := w.accept(c.seq); got != c.ok {
			t.Fatalf("seq %d: got %v want %v", c.seq, got, c.ok)
		}
	}
}
