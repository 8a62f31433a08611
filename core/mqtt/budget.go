package mqtt

import (
	"container/list"
	"sync"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// bucket is a token bucket. The zero limit means unlimited.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(lim identity.RateLimit, now time.Time) bool { return b.takeCost(lim, now, 1) }

// takeCost charges cost tokens (at most one).
func (b *bucket) takeCost(lim identity.RateLimit, now time.Time, cost float64) bool {
	if lim.Rate <= 0 {
		return true
	}
	burst := float64(lim.Burst)
	if burst < 1 {
		burst = 1
	}
	if b.last.IsZero() {
		b.tokens = burst
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(burst, b.tokens+dt*lim.Rate)
	}
	b.last = now
	if b.tokens < cost {
		return false
	}
	b.tokens -= cost
	return true
}

// sessionFrameCost is what a session frame (a bundle: AES-GCM trials, no
// public-key operation) costs against budgets denominated in expensive
// operations (signature checks, decapsulations: policies say 20-100 per
// second per peer). Charging it a whole token would cap session telemetry
// at the handshake rate. A bundle that carries a ratchet step is charged
// again, a whole token, by the session engine before its X25519 or
// decapsulation.
const sessionFrameCost = 1.0 / 32

// lru is a bounded map with least-recently-used eviction: the only
// per-peer state the client keeps before authentication, so a flood under
// random identities costs at most max entries.
type lru[V any] struct {
	max   int
	order *list.List // front = most recent; values are *lruEntry[V]
	items map[string]*list.Element
}

type lruEntry[V any] struct {
	key string
	val V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, order: list.New(), items: make(map[string]*list.Element)}
}

// get returns the entry for key, creating it (and evicting the oldest) if
// absent.
func (l *lru[V]) get(key string) *V {
	if e, ok := l.items[key]; ok {
		l.order.MoveToFront(e)
		return &e.Value.(*lruEntry[V]).val
	}
	if l.order.Len() >= l.max {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.items, old.Value.(*lruEntry[V]).key)
	}
	ent := &lruEntry[V]{key: key}
	l.items[key] = l.order.PushFront(ent)
	return &ent.val
}

func (l *lru[V]) has(key string) bool {
	e, ok := l.items[key]
	if ok {
		l.order.MoveToFront(e)
	}
	return ok
}

func (l *lru[V]) len() int { return l.order.Len() }

// limiter holds every pre-authentication budget. One mutex: a charge is a
// few arithmetic operations, far cheaper than the verification it guards.
type limiter struct {
	mu       sync.Mutex
	b        Budgets
	global   bucket
	unknown  bucket
	control  bucket
	peers    *lru[bucket]
	verified *lru[struct{}] // senders that passed Unprotect at least once
}

func newLimiter(b Budgets) *limiter {
	d := DefaultBudgets
	if b.Peer == (identity.RateLimit{}) {
		b.Peer = d.Peer
	}
	if b.Global == (identity.RateLimit{}) {
		b.Global = d.Global
	}
	if b.Unknown == (identity.RateLimit{}) {
		b.Unknown = d.Unknown
	}
	if b.Control == (identity.RateLimit{}) {
		b.Control = d.Control
	}
	if b.MaxPeers <= 0 {
		b.MaxPeers = d.MaxPeers
	}
	return &limiter{b: b, peers: newLRU[bucket](b.MaxPeers), verified: newLRU[struct{}](b.MaxPeers)}
}

// allowData charges an application frame claimed to come from peer: the
// peer's bucket first (so one noisy peer cannot drain the shared one),
// then the global bucket for proven senders or the unknown-sender bucket
// for everyone else.
func (l *limiter) allowData(peer string, now time.Time, cost float64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.peers.get(peer).takeCost(l.b.Peer, now, cost) {
		return false
	}
	if l.verified.has(peer) {
		return l.global.takeCost(l.b.Global, now, cost)
	}
	return l.unknown.takeCost(l.b.Unknown, now, cost)
}

// allowControl charges control-plane objects: per-peer (the device id in
// the topic, or the topic itself) and the control bucket.
func (l *limiter) allowControl(peer string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.peers.get("ctl:"+peer).take(l.b.Peer, now) {
		return false
	}
	return l.control.take(l.b.Control, now)
}

// markVerified records a sender after its frame authenticated, promoting
// it from the unknown-sender budget to the global one.
func (l *limiter) markVerified(sender string) {
	l.mu.Lock()
	l.verified.get(sender)
	l.mu.Unlock()
}

// applyPolicy adopts a verified policy's budgets; zero rates in a policy
// keep the configured ones rather than switching limits off.
func (l *limiter) applyPolicy(p *identity.Policy) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p.PeerBudget.Rate > 0 {
		l.b.Peer = p.PeerBudget
	}
	if p.GlobalBudget.Rate > 0 {
		l.b.Global = p.GlobalBudget
	}
}

func (l *limiter) budgets() Budgets {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b
}
