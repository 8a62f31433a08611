package coap

import (
	"errors"
	"fmt"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/session"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// Mode selects how each CoAP message is protected.
type Mode int

const (
	// ModePlain adds no message protection: use it under DTLS, or for
	// measurements. The sender is the DTLS identity, if any.
	ModePlain Mode = iota + 1
	// ModeSigned signs each message (COSE_Sign1) with the sender's
	// operational key: authenticity and replay protection, no secrecy.
	ModeSigned
	// ModeSession runs a pqc-iiot session handshake on HandshakePath and
	// protects each message with the session's ratchet.
	ModeSession
	// ModeOSCORE keys RFC 8613 OSCORE from a pqc-iiot session handshake.
	ModeOSCORE
)

func (m Mode) String() string {
	switch m {
	case ModePlain:
		return "plain"
	case ModeSigned:
		return "signed"
	case ModeSession:
		return "session"
	case ModeOSCORE:
		return "oscore"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// HandshakePath is where session and OSCORE modes run their handshake.
const HandshakePath = "/.well-known/pqc/hs"

// NoContentFormat marks a message without a Content-Format option.
const NoContentFormat = -1

// Errors callers can test with errors.Is.
var (
	ErrConfig       = errors.New("coap: invalid configuration")
	ErrMalformed    = errors.New("coap: malformed protected message")
	ErrAuth         = errors.New("coap: message authentication failed")
	ErrReplay       = errors.New("coap: replayed message")
	ErrBinding      = errors.New("coap: message moved to another code, path, option or token")
	ErrTooLarge     = errors.New("coap: message too large")
	ErrForbidden    = errors.New("coap: access denied")
	ErrRejected     = errors.New("coap: peer rejected the request")
	ErrUnknownPeer  = errors.New("coap: unexpected peer")
	ErrClosed       = errors.New("coap: closed")
	ErrNoSession    = errors.New("coap: no session with the peer")
	ErrUnsupported  = errors.New("coap: not supported in this mode")
	errUnknownSessn = errors.New("coap: unknown session") // server side; the client re-handshakes
)

// Config configures a Server or a Client. Zero values get the defaults
// listed.
type Config struct {
	Mode Mode

	// Device is the own identity (signed, session and OSCORE modes). Local
	// may be given instead (keys already loaded, e.g. by a caller that
	// manages rotation itself); Device wins when both are set.
	Device *identity.Device
	Local  *session.Local
	// Trust resolves peers' certified keys, policy and revocation.
	Trust *identity.Trust
	// Store keeps sequence numbers and replay high-water marks across
	// restarts. Without it Volatile must be set (tests and demos only).
	Store    *store.Store
	Volatile bool

	// Peer is, on a client, the server's device id: the handshake target
	// in session and OSCORE modes and the required signer of responses in
	// signed mode (any certified signer is accepted when empty).
	Peer string

	// ACL, on a server, decides which identity may use which method on
	// which path; nil lets every authenticated sender do anything.
	ACL *ACL
	// DTLS, when set, carries every mode over DTLS instead of plain UDP.
	DTLS *DTLS

	// MaxPayload bounds a protected payload before any cryptography: 64 KiB.
	MaxPayload int
	// MaxSessions bounds the server's session table (least recently used
	// sessions are dropped first): 1024. SessionIdle drops sessions unused
	// this long: 30 minutes.
	MaxSessions int
	SessionIdle time.Duration
	// Timeout bounds one client exchange (with retransmissions and, in
	// session mode, a handshake): 30 s.
	Timeout time.Duration
	// Transmission tunes CoAP retransmission (RFC 7252 §4.8); zero keeps
	// go-coap's defaults (ACK_TIMEOUT 2 s, MAX_RETRANSMIT 4).
	AckTimeout    time.Duration
	MaxRetransmit uint32
	// NStart, on a client, is how many confirmable requests may be
	// outstanding at once (RFC 7252 §4.7 NSTART): 1, the RFC's default,
	// under which concurrent requests on one Client go one after another.
	// Raise it for a server on a network that can take the bursts.
	NStart uint32
	// DrainTimeout bounds how long Server.Close waits for requests in
	// flight (handlers running, answers not yet written): 5 s.
	DrainTimeout time.Duration
	// MaxInFlight bounds the requests a server handles at once, and the
	// requests a client has outstanding at once: 64. A server runs the
	// requests of one client endpoint concurrently up to this bound, then
	// one after another (go-coap's default is one at a time per endpoint).
	MaxInFlight int

	// Now is the clock (time.Now).
	Now func() time.Time
	// Errors receives transport errors go-coap and pion/dtls report
	// (malformed datagrams, failed writes, refused connections, DTLS
	// alerts); nil drops them. Nothing is ever written to standard output
	// or standard error: go-coap's own default prints on standard output
	// and pion/dtls's default logger on standard error, which a host
	// process (a SCADA server, a CLI whose output is data) must not get.
	Errors func(error)
}

func (c Config) withDefaults() Config {
	if c.MaxPayload <= 0 {
		c.MaxPayload = 64 << 10
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 1024
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 30 * time.Minute
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Second
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 64
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Errors == nil {
		c.Errors = func(error) {}
	}
	return c
}

// transmission returns go-coap's transmission parameters (NSTART,
// ACK_TIMEOUT, MAX_RETRANSMIT), or false to keep go-coap's defaults.
func (c *Config) transmission() (nstart uint32, ack time.Duration, retransmit uint32, set bool) {
	if c.AckTimeout <= 0 && c.NStart <= 1 {
		return 0, 0, 0, false
	}
	nstart, ack, retransmit = max(c.NStart, 1), c.AckTimeout, max(c.MaxRetransmit, 1)
	if ack <= 0 {
		ack = 2 * time.Second
	}
	if c.MaxRetransmit == 0 && c.AckTimeout <= 0 {
		retransmit = 4
	}
	return nstart, ack, retransmit, true
}

// tick is how often go-coap looks for messages to retransmit: its default
// (4 s) would stretch every retransmission to a multiple of 4 s whatever
// the ACK timeout.
func (c *Config) tick() time.Duration {
	ack := c.AckTimeout
	if ack <= 0 {
		ack = 2 * time.Second
	}
	return min(max(ack/4, 10*time.Millisecond), time.Second)
}

// check refuses incomplete configurations before any socket is opened.
func (c *Config) check(client bool) error {
	switch c.Mode {
	case ModePlain:
		return nil
	case ModeSigned, ModeSession, ModeOSCORE:
	default:
		return fmt.Errorf("%w: mode %v", ErrConfig, c.Mode)
	}
	if c.Device == nil && c.Local == nil {
		return fmt.Errorf("%w: %v mode needs Device", ErrConfig, c.Mode)
	}
	if c.Trust == nil {
		return fmt.Errorf("%w: %v mode needs Trust", ErrConfig, c.Mode)
	}
	if c.Store == nil && !c.Volatile {
		return fmt.Errorf("%w: no Store (set Volatile for tests)", ErrConfig)
	}
	if client && c.Mode != ModeSigned && !identity.ValidID(c.Peer) {
		return fmt.Errorf("%w: %v mode needs the server's device id in Peer", ErrConfig, c.Mode)
	}
	return nil
}

// local loads the own keys; the caller wipes them if it loaded them.
func (c *Config) local() (*session.Local, bool, error) {
	if c.Device == nil {
		return c.Local, false, nil
	}
	l, err := session.LocalFromDevice(c.Device, c.Now())
	if err != nil {
		return nil, false, fmt.Errorf("coap: load device keys: %w", err)
	}
	return l, true, nil
}
