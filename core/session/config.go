package session

import (
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// Config carries everything the engine needs from outside: identities,
// the fleet view, persistence, the clock and randomness. Zero values get
// the defaults listed.
type Config struct {
	Local *Local          // own keys; required
	Trust *identity.Trust // policy and revocation; required for sessions
	Peers PeerKeys        // TrustPeers{Trust} when nil
	// Store keeps sequence reservations, handshake counters, replay
	// high-water marks and (with Resume) session state. Without a store,
	// counters live in memory only: fine for tests, not for devices.
	Store *store.Store
	// Volatile allows running without a Store: sequence numbers, handshake
	// counters and replay marks then live in memory and a restart can
	// reuse or accept them again. For tests and demos only; without it, a
	// missing Store is refused with ErrPersist (fail closed).
	Volatile bool
	Budget   Budget // nil: a TokenBucket from policy's PeerBudget, or unlimited without policy

	Now  func() time.Time // time.Now
	Rand io.Reader        // crypto/rand.Reader

	HandshakeTimeout time.Duration // pending handshakes expire after this; 30 s
	MaxPending       int           // pending handshakes at once; 64
	// Resume keeps sessions across restarts (state in Store, see
	// SaveSession). Off: a restart forces a new handshake.
	Resume bool
	// ReplayMargin is how far ahead of an accepted sequence number the
	// receiver's durable high-water mark is pushed, so that only one store
	// write happens per ReplayMargin numbers; 256.
	ReplayMargin uint64
	// Chain limits for sessions: at SoftCap messages a sending chain asks
	// the peer to reply ("please ratchet"); at HardCap it refuses to
	// protect more (ErrRekeyRequired). 1024 and 1<<20.
	SoftCap, HardCap uint32
	// MaxSkip bounds message keys kept for out-of-order frames, per
	// session, evicted oldest first; 256.
	MaxSkip int
	// MaxJump bounds how far ahead of its chain a frame may be (frames
	// lost in between): deriving up to it costs that many HMACs before the
	// tag is checked, so jumps beyond MaxSkip are charged to the budget;
	// 4096. Beyond it a chain cannot be followed until the next DH step.
	MaxJump int
	// SnapshotReserve is how many message numbers a session snapshot
	// reserves ahead in each direction (Resume): one store write per that
	// many messages, and, after a restart of the receiver alone, up to 1.5
	// times that many frames refused (a restarted sender skips past them);
	// 64, at most MaxJump/3.
	SnapshotReserve uint32
	// MaxSessionsPerPeer bounds the sessions kept with one peer for one
	// context and role: a new handshake closes the oldest beyond it
	// (peers replace sessions without telling us); 2, the new one and
	// its predecessor, whose late frames may still be in flight.
	MaxSessionsPerPeer int
}

// policyFresh fails closed when a Trust is configured and its policy is
// missing, stale or expired: sealed messages obey the fleet policy as
// sessions do. Without a Trust (peers' keys supplied directly) there is no
// policy to obey.
func (c *Config) policyFresh(now time.Time) error {
	if c.Trust == nil {
		return nil
	}
	if err := c.Trust.CheckHighRisk(now); err != nil {
		return fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	return nil
}

func (c *Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// durable refuses to run counters in memory unless asked to.
func (c *Config) durable() error {
	if c.Store == nil && !c.Volatile {
		return fmt.Errorf("%w: no store configured (set Config.Volatile for tests)", ErrPersist)
	}
	return nil
}

func (c *Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

func (c Config) withDefaults() Config {
	if c.Peers == nil && c.Trust != nil {
		c.Peers = TrustPeers{c.Trust}
	}
	if c.Budget == nil && c.Trust != nil {
		if p := c.Trust.Policy(); p != nil && p.PeerBudget.Rate > 0 {
			c.Budget = NewTokenBucket(p.PeerBudget, c.Now)
		}
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 30 * time.Second
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 64
	}
	if c.ReplayMargin == 0 {
		c.ReplayMargin = 256
	}
	if c.SoftCap == 0 {
		c.SoftCap = 1024
	}
	if c.HardCap == 0 || c.HardCap > 1<<31 {
		// n is a u32 and snapshots reserve ahead: stay far below 2^32.
		c.HardCap = min(c.HardCap, 1<<31)
		if c.HardCap == 0 {
			c.HardCap = 1 << 20
		}
	}
	if c.MaxSkip <= 0 {
		c.MaxSkip = 256
	}
	if c.MaxJump <= 0 {
		c.MaxJump = 4096
	}
	c.MaxJump = max(c.MaxJump, c.MaxSkip)
	if c.MaxSessionsPerPeer <= 0 {
		c.MaxSessionsPerPeer = 2
	}
	if c.SnapshotReserve == 0 {
		c.SnapshotReserve = reserve
	}
	// A restart may put a sender 3 reservations ahead of a peer that did
	// not restart (skipRestart); the peer follows jumps up to MaxJump.
	c.SnapshotReserve = max(1, min(c.SnapshotReserve, uint32(c.MaxJump)/3))
	return c
}
