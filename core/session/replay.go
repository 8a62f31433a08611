package session

import (
	"fmt"
	"sort"
)

// WindowSize is the width of the sliding replay window (RFC 4303 §3.4.3,
// RFC 6479): sequence numbers up to this far below the highest accepted one
// are accepted once each, older ones are refused.
const WindowSize = 128

// window is one sender's replay window: top is the highest accepted
// sequence number, bit i of mask records top-i. The zero value accepts
// every sequence number above floor.
type window struct {
	top    uint64
	lo, hi uint64 // mask bits 0-63 and 64-127
	floor  uint64 // nothing at or below is accepted: the restart high-water mark
}

// check is the read-only pre-check run before any crypto.
func (w *window) check(seq uint64) error {
	switch {
	case seq == 0 || seq <= w.floor:
		return fmt.Errorf("%w: sequence %d at or below %d", ErrReplay, seq, w.floor)
	case seq > w.top:
		return nil
	case w.top-seq >= WindowSize:
		return fmt.Errorf("%w: sequence %d below the window (top %d)", ErrReplay, seq, w.top)
	case w.bit(w.top - seq):
		return fmt.Errorf("%w: sequence %d already accepted", ErrReplay, seq)
	}
	return nil
}

func (w *window) bit(i uint64) bool {
	if i < 64 {
		return w.lo&(1<<i) != 0
	}
	return w.hi&(1<<(i-64)) != 0
}

// accept records seq; callers ran check first and authenticated the frame.
func (w *window) accept(seq uint64) {
	if seq > w.top {
		w.shift(seq - w.top)
		w.top = seq
	}
	i := w.top - seq
	if i < 64 {
		w.lo |= 1 << i
	} else {
		w.hi |= 1 << (i - 64)
	}
}

func (w *window) shift(d uint64) {
	switch {
	case d >= WindowSize:
		w.lo, w.hi = 0, 0
	case d >= 64:
		w.hi, w.lo = w.lo<<(d-64), 0
	default:
		w.hi = w.hi<<d | w.lo>>(64-d)
		w.lo <<= d
	}
}

// Windows are the replay windows of all senders, keyed by device id.
type Windows struct {
	m map[string]*window
}

// NewWindows returns empty windows.
func NewWindows() *Windows { return &Windows{m: map[string]*window{}} }

// Check is read-only.
func (ws *Windows) Check(sender string, seq uint64) error {
	if w, ok := ws.m[sender]; ok {
		return w.check(seq)
	}
	return (&window{}).check(seq)
}

// Accept records seq for sender.
func (ws *Windows) Accept(sender string, seq uint64) {
	w, ok := ws.m[sender]
	if !ok {
		w = &window{}
		ws.m[sender] = w
	}
	w.accept(seq)
}

// SetFloor refuses every sequence number of sender at or below floor: what
// a receiver applies after a restart that lost the exact window.
func (ws *Windows) SetFloor(sender string, floor uint64) {
	w, ok := ws.m[sender]
	if !ok {
		w = &window{}
		ws.m[sender] = w
	}
	w.floor = max(w.floor, floor)
	w.top = max(w.top, floor)
}

// MarshalBinary encodes the windows: u32 count, then per sender (sorted)
// u8 id length, id, top, lo, hi, floor (u64 each).
func (ws *Windows) MarshalBinary() ([]byte, error) {
	ids := make([]string, 0, len(ws.m))
	for id := range ws.m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	w := writer{}
	w.u8(Version)
	w.u32(uint32(len(ids)))
	for _, id := range ids {
		x := ws.m[id]
		w.str8(id)
		w.u64(x.top)
		w.u64(x.lo)
		w.u64(x.hi)
		w.u64(x.floor)
	}
	return w.b, w.err
}

// UnmarshalBinary replaces the windows with encoded ones.
func (ws *Windows) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	if r.u8() != Version && r.err == nil {
		return fmt.Errorf("%w: windows version", ErrMalformed)
	}
	n := r.u32()
	// Each entry is at least 34 bytes: bound n by the input before allocating.
	if r.err != nil || uint64(n) > uint64(len(data))/34 {
		return fmt.Errorf("%w: windows count %d", ErrMalformed, n)
	}
	m := make(map[string]*window, n)
	for range n {
		id := string(r.bytes8())
		x := &window{top: r.u64(), lo: r.u64(), hi: r.u64(), floor: r.u64()}
		if r.err == nil && (!validID(id) || x.floor > x.top) {
			return fmt.Errorf("%w: window for %q", ErrMalformed, id)
		}
		// A second entry for one sender could lower its high-water mark.
		if _, dup := m[id]; dup && r.err == nil {
			return fmt.Errorf("%w: two windows for %q", ErrMalformed, id)
		}
		m[id] = x
	}
	if err := r.end(); err != nil {
		return err
	}
	ws.m = m
	return nil
}
