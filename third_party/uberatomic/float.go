package atomic

import (
	"encoding/json"
	"math"
	"strconv"
	"sync/atomic"
)

// Float64 is a float64 read and written atomically, kept as its IEEE 754 bit
// pattern in an aligned uint64.
type Float64 struct {
	_    noCompare
	bits atomic.Uint64
}

// NewFloat64 returns a Float64 holding val.
func NewFloat64(val float64) *Float64 {
	f := &Float64{}
	f.Store(val)
	return f
}

// Load returns the current value.
func (f *Float64) Load() float64 { return math.Float64frombits(f.bits.Load()) }

// Store sets the value to val.
func (f *Float64) Store(val float64) { f.bits.Store(math.Float64bits(val)) }

// Add adds delta and returns the new value. Hardware has no atomic float
// add, so it retries a compare-and-swap on the bit pattern.
func (f *Float64) Add(delta float64) float64 {
	for {
		oldBits := f.bits.Load()
		next := math.Float64frombits(oldBits) + delta
		if f.bits.CompareAndSwap(oldBits, math.Float64bits(next)) {
			return next
		}
	}
}

// Sub subtracts delta and returns the new value.
func (f *Float64) Sub(delta float64) float64 { return f.Add(-delta) }

// CAS is CompareAndSwap under its older name.
//
// Deprecated: use CompareAndSwap.
func (f *Float64) CAS(old, new float64) bool { return f.CompareAndSwap(old, new) }

// CompareAndSwap sets the value to new if its bit pattern equals old's and
// reports whether it did. Comparing bits, not values, means a stored NaN
// matches the same NaN and +0 does not match -0.
func (f *Float64) CompareAndSwap(old, new float64) bool {
	return f.bits.CompareAndSwap(math.Float64bits(old), math.Float64bits(new))
}

// Swap sets the value to val and returns the previous value.
func (f *Float64) Swap(val float64) float64 {
	return math.Float64frombits(f.bits.Swap(math.Float64bits(val)))
}

// MarshalJSON encodes the current value as a JSON number.
func (f *Float64) MarshalJSON() ([]byte, error) { return json.Marshal(f.Load()) }

// UnmarshalJSON stores a JSON number.
func (f *Float64) UnmarshalJSON(b []byte) error {
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	f.Store(v)
	return nil
}

// String formats the current value with the fewest digits that round-trip.
func (f *Float64) String() string { return strconv.FormatFloat(f.Load(), 'g', -1, 64) }
