package coap

import (
	"fmt"
	"sync"

	"github.com/pqc-iiot/pqc-iiot/core/session"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// seqCounter is the store counter of own signed-mode sequence numbers.
const seqCounter = "coap/signed/seq"

// seqBlock is how many sequence numbers one store write reserves.
const seqBlock = 1024

// maxSeqSkip bounds how far a peer's (unauthenticated) floor notice may
// move our sequence forward, so a forged notice cannot exhaust it.
const maxSeqSkip = 1 << 24

// seqSource hands out signed-mode sequence numbers that are never reused,
// even across crashes (blocks reserved durably ahead, as RFC 8613 B.1.1),
// and can jump forward past a floor a restarted receiver announces.
type seqSource struct {
	st         *store.Store
	mu         sync.Mutex
	next, last uint64
}

// Next returns a fresh number, starting at 1.
func (s *seqSource) Next() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == 0 {
		s.next = 1
	}
	if s.st != nil && s.next > s.last {
		if err := s.reserve(s.next); err != nil {
			return 0, err
		}
	}
	n := s.next
	s.next++
	return n, nil
}

// reserve makes a block of numbers from at least from durable. The block
// is what one Increment added, so several sources on one store (a device
// that is a client and a server) never get overlapping numbers.
func (s *seqSource) reserve(from uint64) error {
	cur, err := s.st.Counter(seqCounter)
	if err != nil {
		return fmt.Errorf("%w: %v", session.ErrPersist, err)
	}
	n := uint64(seqBlock)
	if from > cur {
		n = from - cur + seqBlock - 1
	}
	last, err := s.st.Increment(seqCounter, n)
	if err != nil {
		return fmt.Errorf("coap: reserve sequence numbers: %w: %v", session.ErrPersist, err)
	}
	s.next, s.last = max(from, last-n+1), last
	return nil
}

// SkipPast moves the next number above floor, if that is a bounded step.
func (s *seqSource) SkipPast(floor uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if floor < s.next {
		return true
	}
	if floor-s.next > maxSeqSkip {
		return false
	}
	s.next = floor + 1
	return true
}

// replayMargin is how far ahead of an accepted number the durable
// high-water mark is pushed: one store write per that many requests, and
// after a restart the sender is told to skip past it.
const replayMargin = 64

// replayGuard is the server's signed-mode replay window per sender, with a
// durable floor so a restart cannot accept old requests again.
type replayGuard struct {
	mu   sync.Mutex
	w    *session.Windows
	st   *store.Store
	ceil map[string]uint64 // durable high-water mark per sender
}

func newReplayGuard(st *store.Store) *replayGuard {
	return &replayGuard{w: session.NewWindows(), st: st, ceil: map[string]uint64{}}
}

func rxCounter(sender string) string { return "coap/signed/rx/" + sender }

// load applies the durable floor of a sender seen for the first time.
func (g *replayGuard) load(sender string) (uint64, error) {
	if c, ok := g.ceil[sender]; ok || g.st == nil {
		return c, nil
	}
	c, err := g.st.Counter(rxCounter(sender))
	if err != nil {
		return 0, fmt.Errorf("coap: replay floor: %w: %v", session.ErrPersist, err)
	}
	g.ceil[sender] = c
	g.w.SetFloor(sender, c)
	return c, nil
}

// check is the read-only pre-check run before the signature: it records
// nothing, not even a sender seen for the first time, so unauthenticated
// requests naming many senders cannot grow the guard.
func (g *replayGuard) check(sender string, seq uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, known := g.ceil[sender]; !known && g.st != nil {
		floor, err := g.st.Counter(rxCounter(sender))
		if err != nil {
			return fmt.Errorf("coap: replay floor: %w: %v", session.ErrPersist, err)
		}
		if seq <= floor {
			return fmt.Errorf("%w: sequence %d at or below %d", ErrReplay, seq, floor)
		}
		return nil
	}
	if err := g.w.Check(sender, seq); err != nil {
		return fmt.Errorf("%w: %w", ErrReplay, err)
	}
	return nil
}

// accept records an authenticated number, checking again because another
// request with the same number may have been accepted meanwhile.
func (g *replayGuard) accept(sender string, seq uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	ceil, err := g.load(sender)
	if err != nil {
		return err
	}
	if err := g.w.Check(sender, seq); err != nil {
		return fmt.Errorf("%w: %w", ErrReplay, err)
	}
	if g.st != nil && seq > ceil {
		c, err := g.st.Increment(rxCounter(sender), seq+replayMargin-ceil)
		if err != nil {
			return fmt.Errorf("coap: persist replay mark: %w: %v", session.ErrPersist, err)
		}
		g.ceil[sender] = c
	}
	g.w.Accept(sender, seq)
	return nil
}

// floor is what a sender must skip past after our restart.
func (g *replayGuard) floor(sender string) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.ceil[sender]; ok || g.st == nil {
		return c
	}
	c, _ := g.st.Counter(rxCounter(sender))
	return c
}
