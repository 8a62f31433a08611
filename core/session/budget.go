package session

import (
	"sync"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// Budget rations expensive work (signature verification, decapsulation)
// per peer. It is consulted after the cheap checks and before the crypto.
type Budget interface {
	Allow(peer string) bool
}

// TokenBucket is a Budget with one bucket per peer. Callers charge it only
// for peers whose keys Trust knows, so the map is bounded by the fleet;
// MaxPeers bounds it regardless.
type TokenBucket struct {
	Limit identity.RateLimit
	Now   func() time.Time

	// MaxPeers bounds the buckets kept (4096 when 0). When full, idle
	// (refilled) buckets are dropped; if none is idle, new peers are refused.
	MaxPeers int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewTokenBucket starts every peer with a full bucket.
func NewTokenBucket(l identity.RateLimit, now func() time.Time) *TokenBucket {
	if now == nil {
		now = time.Now
	}
	return &TokenBucket{Limit: l, Now: now, buckets: map[string]*bucket{}}
}

// Allow takes one token from peer's bucket if there is one.
func (t *TokenBucket) Allow(peer string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	b, ok := t.buckets[peer]
	if !ok {
		if !t.room(now) {
			return false
		}
		b = &bucket{tokens: float64(t.Limit.Burst), last: now}
		t.buckets[peer] = b
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(float64(t.Limit.Burst), b.tokens+dt*t.Limit.Rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// room makes space for one more bucket by dropping buckets that have
// refilled: forgetting them changes nothing, they would start full anyway.
func (t *TokenBucket) room(now time.Time) bool {
	limit := t.MaxPeers
	if limit <= 0 {
		limit = 4096
	}
	if len(t.buckets) < limit {
		return true
	}
	for id, b := range t.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*t.Limit.Rate >= float64(t.Limit.Burst) {
			delete(t.buckets, id)
		}
	}
	return len(t.buckets) < limit
}

func allow(b Budget, peer string) error {
	if b != nil && !b.Allow(peer) {
		return ErrRateLimited
	}
	return nil
}
