package mqtt

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// Codec protects application payloads end to end. The session engine
// implements it; the transport never sees keys.
//
// Unprotect must authenticate before it changes any state (replay window,
// ratchet) and must reject a frame bound to another topic, so a frame
// re-published elsewhere by the broker or an attacker is refused.
type Codec interface {
	Protect(topic string, payload []byte) (frame []byte, err error)
	Unprotect(topic string, frame []byte) (sender string, plaintext []byte, err error)
}

// PeerHinter is optionally implemented by a Codec whose frames carry the
// claimed sender in clear. The hint is unauthenticated: it only selects
// which per-peer budget to charge before Unprotect runs, so a flood under
// random identities cannot spend the budget of peers that already proved
// who they are. It must be cheap and must not allocate per call beyond the
// returned string.
type PeerHinter interface {
	PeerHint(frame []byte) (sender string, ok bool)
}

// Message is a verified application message: Sender is who Unprotect
// authenticated, Payload the plaintext.
type Message struct {
	Topic   string
	Sender  string
	Payload []byte
	// Retained is set when the broker delivered a retained message
	// (typically right after Subscribe).
	Retained bool
}

// Errors returned by the client. Codec and identity errors are wrapped.
var (
	ErrQueueFull     = errors.New("mqtt: outbound queue full")
	ErrNotConnected  = errors.New("mqtt: not connected")
	ErrClosed        = errors.New("mqtt: client closed")
	ErrBadTopic      = errors.New("mqtt: invalid topic")
	ErrReservedTopic = errors.New("mqtt: topic is reserved for the control plane")
	ErrTooLarge      = errors.New("mqtt: payload too large")
	ErrNoCodec       = errors.New("mqtt: no codec configured")
)

// Stats are cumulative counters since the client was created. Every frame
// the client receives ends in exactly one of the Dropped* counters,
// Delivered, or one of the control-plane Accepted* counters.
type Stats struct {
	DroppedOversize       uint64 // larger than the limit for its topic, before parsing
	DroppedBadTopic       uint64 // topic syntax, reserved prefix misuse, bad device id
	DroppedRateLimited    uint64 // over a per-peer, unknown-sender or global budget
	DroppedUnprotect      uint64 // Codec.Unprotect refused it (forged, tampered, replayed, re-routed, revoked)
	DroppedAnnouncement   uint64 // announcement did not verify or was refused by Trust
	DroppedPolicy         uint64 // policy did not verify, rolled back or is stale
	DroppedRevocation     uint64 // revocation list did not verify or rolled back
	DroppedSync           uint64 // sync reply or request that was malformed or unexpected
	DroppedNoHandler      uint64 // verified, but no subscription matched any more
	DroppedNotForMe       uint64 // a codec frame addressed to other recipients only (fan-out, not an attack)
	DroppedHandshake      uint64 // session handshake message refused
	DroppedKeepRatchet    uint64 // keep-ratchet frame refused
	Delivered             uint64 // verified application messages handed to a handler or Recv
	AcceptedAnnouncements uint64
	AcceptedPolicies      uint64
	AcceptedRevocations   uint64
	AcceptedHandshakes    uint64 // handshake messages processed (Init answered, Response completed, retransmission)
	AcceptedKeepRatchet   uint64 // keep-ratchet frames that moved a session's ratchet
	Published             uint64 // application Publish calls that returned nil (after PUBACK at QoS 1); control-plane publishes are not counted
	PublishFailed         uint64 // Publish calls that returned an error after Protect
	QueueFull             uint64 // Publish calls refused with ErrQueueFull
	Reconnects            uint64 // connections made after the first
	ConnectionLost        uint64
}

// Budgets are the pre-authentication token buckets. A zero Rate leaves a
// bucket unlimited, which only tests and benchmarks should want.
type Budgets struct {
	// Peer is charged per claimed sender (codec hint or device id in the
	// topic); replaced by the policy's PeerBudget when one is installed.
	Peer identity.RateLimit
	// Global is charged by every frame from a sender that has already
	// verified at least once; replaced by the policy's GlobalBudget.
	Global identity.RateLimit
	// Unknown is charged, instead of Global, by frames whose claimed sender
	// never verified: floods under random identities exhaust this one and
	// leave known peers' traffic flowing.
	Unknown identity.RateLimit
	// Control is charged by announcements, policies, revocation lists and
	// sync traffic, in addition to the per-peer bucket.
	Control identity.RateLimit
	// MaxPeers bounds the per-peer buckets and the set of verified senders
	// (least recently used evicted).
	MaxPeers int
}

// DefaultBudgets are used for zero fields of Options.Budgets.
var DefaultBudgets = Budgets{
	Peer:     identity.RateLimit{Rate: 100, Burst: 200},
	Global:   identity.RateLimit{Rate: 2000, Burst: 4000},
	Unknown:  identity.RateLimit{Rate: 100, Burst: 200},
	Control:  identity.RateLimit{Rate: 100, Burst: 1000},
	MaxPeers: 4096,
}

// Size limits applied before anything parses a frame.
const (
	DefaultMaxPayload = 64 << 10
	// Announcements carry a chain of up to four certificates.
	MaxAnnouncementSize = 5 * identity.MaxObjectSize
	MaxPolicySize       = identity.MaxObjectSize
	MaxRevocationSize   = identity.MaxRevocationSize
	MaxSyncRequestSize  = 256
	// MaxTopicLength is far below MQTT's 65535: topics name things.
	MaxTopicLength = 512
)

// Options configure a Client. Only Broker and, for application traffic,
// Codec are required; the control plane runs when Trust is set.
type Options struct {
	// Broker is tcp://host:port or ssl://host:port (tls:// and mqtts://
	// are accepted as ssl://).
	Broker    string
	TLSConfig *tls.Config
	Username  string
	Password  string
	// ClientID defaults to the device id (Device.ID()).
	ClientID string
	// QoS for Publish and Subscribe; 1 unless set. 0 is allowed for
	// telemetry that may be lost; 2 is not offered (QoS 1 plus the codec's
	// replay window gives exactly-once delivery to the application).
	QoS *byte
	// CleanSession false (the default) keeps the broker session across
	// disconnects, so QoS 1 messages queued while offline are delivered.
	CleanSession bool
	// KeepAlive defaults to 30s; ConnectTimeout to 10s.
	KeepAlive      time.Duration
	ConnectTimeout time.Duration
	// MaxReconnectInterval caps the exponential reconnect back-off
	// (paho starts at one second); default 30s.
	MaxReconnectInterval time.Duration
	// QueueSize bounds the Publish calls waiting for their PUBACK, which
	// includes everything queued while disconnected; beyond it Publish
	// returns ErrQueueFull at once. Default 1000.
	QueueSize int
	// InboundQueue bounds frames between the network and the verifier;
	// RecvQueue bounds verified messages waiting for Recv. Both apply
	// back-pressure (the broker keeps what the client has not acknowledged).
	// Defaults 256 and 1024.
	InboundQueue int
	RecvQueue    int
	// MaxPayload bounds application frames; default DefaultMaxPayload.
	MaxPayload int

	Codec Codec
	// Recipients, if set, names the devices a topic's frames are for; it
	// is handed to a SessionCodec that has no Recipients of its own. By
	// default a SessionCodec addresses the announced peers whose
	// certificate grants Subscribe on the topic.
	Recipients func(topic string) []string
	// Device and Trust enable the control plane: the client announces
	// Device's keys on pqc/v1/keys/<id> and keeps Trust current from the
	// announcements, policy and revocation lists it receives.
	Device *identity.Device
	Trust  *identity.Trust
	// Budgets; zero fields take DefaultBudgets.
	Budgets Budgets
	// Now is the clock for policy freshness; time.Now unless set.
	Now func() time.Time
	// OnError, if set, is told why frames were dropped (rate-limited ones
	// excepted, to keep a flood cheap). It runs on the receive goroutine
	// and must not block.
	OnError func(topic string, err error)
}
