package identity

import (
	"fmt"
	"time"
)

// AnnouncementClaims are a device's signed statement of its current keys,
// published where peers look for them (a retained MQTT topic, a CoAP
// resource). The chain proves the keys; the topic binds the announcement to
// where it was published, so it cannot be replayed elsewhere.
type AnnouncementClaims struct {
	DeviceID  string `cbor:"1,keyasint"`
	Topic     string `cbor:"2,keyasint"`
	Timestamp int64  `cbor:"3,keyasint"`
	Chain     []byte `cbor:"4,keyasint,omitempty"` // EncodeChain, leaf first
	// Keys are carried only in TOFU mode, when there is no chain.
	SigKey  *PublicKey  `cbor:"5,keyasint,omitempty"`
	KEMKeys []PublicKey `cbor:"6,keyasint,omitempty"`
}

// NewAnnouncement signs an announcement with the operational key that the
// chain's leaf certifies.
func NewAnnouncement(deviceID, topic string, key *SigningKey, chain []byte, now time.Time) ([]byte, error) {
	c := AnnouncementClaims{DeviceID: deviceID, Topic: topic, Timestamp: now.Unix(), Chain: chain}
	return signAnnouncement(key, c)
}

// NewTOFUAnnouncement announces bare keys, for fleets that explicitly run in
// trust-on-first-use mode. Peers refuse it unless configured otherwise.
func NewTOFUAnnouncement(deviceID, topic string, key *SigningKey, kems []PublicKey, now time.Time) ([]byte, error) {
	pub := key.Public
	c := AnnouncementClaims{DeviceID: deviceID, Topic: topic, Timestamp: now.Unix(), SigKey: &pub, KEMKeys: kems}
	return signAnnouncement(key, c)
}

func signAnnouncement(key *SigningKey, c AnnouncementClaims) ([]byte, error) {
	if !ValidID(c.DeviceID) || c.Topic == "" || len(c.Topic) > 1024 {
		return nil, fmt.Errorf("announcement device id or topic: %w", ErrMalformed)
	}
	payload, err := marshal(c)
	if err != nil {
		return nil, err
	}
	return key.sign(KindAnnouncement, payload, []byte(c.Topic))
}

// Announcement is a verified announcement.
type Announcement struct {
	Claims AnnouncementClaims
	// Cert is the verified leaf certificate; nil for a TOFU announcement.
	Cert *Certificate
	// The announced keys (from Cert when there is one).
	DeviceID string
	SigKey   PublicKey
	KEMKeys  []PublicKey
	Epoch    uint64
	KeyID    []byte
}

// parseAnnouncement decodes and checks the structure; the signature is
// verified by the caller with the key the chain (or TOFU) provides. The
// topic it was received on is bound as external data, so checking the
// signature also checks the topic.
func parseAnnouncement(data []byte, topic string) (*signedObject, *AnnouncementClaims, error) {
	obj, err := parseSigned(data, KindAnnouncement, maxChainLength*MaxObjectSize+MaxObjectSize)
	if err != nil {
		return nil, nil, err
	}
	var c AnnouncementClaims
	if err := unmarshalCanonical(obj.payload, &c); err != nil {
		return nil, nil, fmt.Errorf("announcement: %w", err)
	}
	if !ValidID(c.DeviceID) {
		return nil, nil, fmt.Errorf("announcement device id %q: %w", c.DeviceID, ErrMalformed)
	}
	if c.Topic != topic {
		return nil, nil, fmt.Errorf("announcement for %q received on %q: %w", c.Topic, topic, ErrContextMismatch)
	}
	return obj, &c, nil
}
