package atomic

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
)

// Bool is a bool read and written atomically.
type Bool struct {
	_ noCompare
	v atomic.Bool
}

// NewBool returns a Bool holding val.
func NewBool(val bool) *Bool {
	b := &Bool{}
	b.v.Store(val)
	return b
}

// Load returns the current value.
func (b *Bool) Load() bool { return b.v.Load() }

// Store sets the value to val.
func (b *Bool) Store(val bool) { b.v.Store(val) }

// CAS is CompareAndSwap under its older name.
//
// Deprecated: use CompareAndSwap.
func (b *Bool) CAS(old, new bool) bool { return b.v.CompareAndSwap(old, new) }

// CompareAndSwap sets the value to new if it is old, and reports whether it did.
func (b *Bool) CompareAndSwap(old, new bool) bool { return b.v.CompareAndSwap(old, new) }

// Swap sets the value to val and returns the previous value.
func (b *Bool) Swap(val bool) bool { return b.v.Swap(val) }

// Toggle flips the value and returns the previous one. A CAS loop, not
// Load-then-Store, so two concurrent toggles never cancel into one.
func (b *Bool) Toggle() bool {
	for {
		old := b.v.Load()
		if b.v.CompareAndSwap(old, !old) {
			return old
		}
	}
}

// MarshalJSON encodes the current value as a JSON boolean.
func (b *Bool) MarshalJSON() ([]byte, error) { return json.Marshal(b.Load()) }

// UnmarshalJSON stores a JSON boolean.
func (b *Bool) UnmarshalJSON(data []byte) error {
	var v bool
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	b.Store(v)
	return nil
}

// String formats the current value as "true" or "false".
func (b *Bool) String() string { return strconv.FormatBool(b.Load()) }
