package atomic

import (
	"encoding/json"
	"sync/atomic"
	"time"
)

// Duration is a time.Duration read and written atomically.
type Duration struct {
	_ noCompare
	v atomic.Int64
}

// NewDuration returns a Duration holding val.
func NewDuration(val time.Duration) *Duration {
	d := &Duration{}
	d.Store(val)
	return d
}

// Load returns the current value.
func (d *Duration) Load() time.Duration { return time.Duration(d.v.Load()) }

// Store sets the value to val.
func (d *Duration) Store(val time.Duration) { d.v.Store(int64(val)) }

// Add adds delta and returns the new value.
func (d *Duration) Add(delta time.Duration) time.Duration {
	return time.Duration(d.v.Add(int64(delta)))
}

// Sub subtracts delta and returns the new value.
func (d *Duration) Sub(delta time.Duration) time.Duration {
	return time.Duration(d.v.Add(-int64(delta)))
}

// CAS is CompareAndSwap under its older name.
//
// Deprecated: use CompareAndSwap.
func (d *Duration) CAS(old, new time.Duration) bool { return d.CompareAndSwap(old, new) }

// CompareAndSwap sets the value to new if it is old, and reports whether it did.
func (d *Duration) CompareAndSwap(old, new time.Duration) bool {
	return d.v.CompareAndSwap(int64(old), int64(new))
}

// Swap sets the value to val and returns the previous value.
func (d *Duration) Swap(val time.Duration) time.Duration {
	return time.Duration(d.v.Swap(int64(val)))
}

// MarshalJSON encodes the current value as a JSON number of nanoseconds.
func (d *Duration) MarshalJSON() ([]byte, error) { return json.Marshal(int64(d.Load())) }

// UnmarshalJSON stores a JSON number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d.v.Store(v)
	return nil
}

// String formats the current value as time.Duration does ("1.5s").
func (d *Duration) String() string { return d.Load().String() }

// Time is a time.Time read and written atomically. A time.Time is three
// words, too wide for one atomic instruction, so each Store publishes a new
// immutable copy through a pointer.
type Time struct {
	_ noCompare
	p atomic.Pointer[time.Time]
}

// NewTime returns a Time holding val.
func NewTime(val time.Time) *Time {
	t := &Time{}
	t.Store(val)
	return t
}

// Load returns the current value; the zero time.Time if nothing was stored.
func (t *Time) Load() time.Time {
	if p := t.p.Load(); p != nil {
		return *p
	}
	return time.Time{}
}

// Store sets the value to val.
func (t *Time) Store(val time.Time) { t.p.Store(&val) }
