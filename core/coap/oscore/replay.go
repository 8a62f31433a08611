package oscore

import (
	"crypto/rand"
	"crypto/subtle"
	"sync"
)

// replayWindow is the server-side sliding window of RFC 8613 §7.4: the highest
// accepted sequence number and a bitmap of the size-1 numbers below it.
type replayWindow struct {
	mu          sync.Mutex
	size        uint64
	initialized bool // false after a reboot: Echo is needed first (Appendix B.1.2)
	empty       bool // initialized but nothing seen yet
	highest     uint64
	bitmap      uint64 // bit i set: highest-i was seen
}

func newReplayWindow(size int, fresh bool) *replayWindow {
	return &replayWindow{size: uint64(size), initialized: fresh, empty: fresh}
}

// check reports whether seq may be accepted; it changes nothing.
func (w *replayWindow) check(seq uint64) (initialized, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.initialized, w.checkLocked(seq)
}

func (w *replayWindow) checkLocked(seq uint64) bool {
	if !w.initialized {
		return false
	}
	if w.empty || seq > w.highest {
		return true
	}
	diff := w.highest - seq
	if diff >= w.size {
		return false // too old to tell: reject (§7.4)
	}
	return w.bitmap&(1<<diff) == 0
}

// accept records seq if it is still acceptable (the check is repeated under
// the lock so two concurrent copies of one message cannot both pass).
func (w *replayWindow) accept(seq uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.checkLocked(seq) {
		return false
	}
	w.markLocked(seq)
	return true
}

func (w *replayWindow) markLocked(seq uint64) {
	switch {
	case w.empty:
		w.empty, w.highest, w.bitmap = false, seq, 1
	case seq > w.highest:
		shift := seq - w.highest
		if shift >= 64 {
			w.bitmap = 0
		} else {
			w.bitmap <<= shift
		}
		w.bitmap |= 1
		w.highest = seq
	default:
		w.bitmap |= 1 << (w.highest - seq)
	}
}

// initializeFrom starts the window at seq, which was just proven fresh by an
// Echo round trip: seq and everything below are from now on rejected.
func (w *replayWindow) initializeFrom(seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.initialized, w.empty = true, false
	w.highest = seq
	// Everything below seq is older than the reboot and must never be accepted.
	w.bitmap = ^uint64(0)
}

// echoState remembers the Echo values this server issued and has not yet seen
// back. The set is small and bounded: a client retries with the latest one.
type echoState struct {
	mu     sync.Mutex
	issued [][]byte
}

const maxOutstandingEcho = 8

func newEchoState() *echoState { return &echoState{} }

// issue creates a fresh 8-byte Echo value.
func (e *echoState) issue() ([]byte, error) {
	v := make([]byte, 8)
	if _, err := rand.Read(v); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.issued) == maxOutstandingEcho {
		e.issued = e.issued[1:]
	}
	e.issued = append(e.issued, v)
	return v, nil
}

// redeem reports whether v is an outstanding Echo value and consumes it.
func (e *echoState) redeem(v []byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, x := range e.issued {
		if len(x) == len(v) && subtle.ConstantTimeCompare(x, v) == 1 {
			e.issued = append(e.issued[:i], e.issued[i+1:]...)
			return true
		}
	}
	return false
}
