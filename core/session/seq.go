package session

import (
	"fmt"
	"sync"

	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// DefaultSeqBlock is how many sequence numbers one store write reserves.
const DefaultSeqBlock = 1024

// SequenceAllocator hands out sender sequence numbers that are never
// reused, even across crashes: it reserves a block in a monotonic store
// counter (durable before the first number of the block is used) and hands
// numbers out of the block from memory, as RFC 8613 Appendix B.1.1 does
// for OSCORE sender sequence numbers. A crash loses at most the rest of a
// block; the next process starts at the next block.
type SequenceAllocator struct {
	st    *store.Store
	name  string
	block uint64

	mu         sync.Mutex
	next, last uint64 // next to hand out; last reserved
}

// NewSequenceAllocator allocates from the store counter name, block numbers
// per reservation (DefaultSeqBlock when 0).
func NewSequenceAllocator(st *store.Store, name string, block uint64) *SequenceAllocator {
	if block == 0 {
		block = DefaultSeqBlock
	}
	return &SequenceAllocator{st: st, name: name, block: block}
}

// Next returns a sequence number never returned before for this counter,
// starting at 1. It fails closed when the reservation cannot be persisted.
func (a *SequenceAllocator) Next() (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == 0 || a.next > a.last {
		last, err := a.st.Increment(a.name, a.block)
		if err != nil {
			return 0, fmt.Errorf("%w: reserve sequence numbers: %v", ErrPersist, err)
		}
		a.next, a.last = last-a.block+1, last
	}
	n := a.next
	a.next++
	return n, nil
}
