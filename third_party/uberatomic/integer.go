package atomic

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
)

// Int32 is an int32 read and written atomically.
type Int32 struct {
	_ noCompare
	v atomic.Int32
}

// NewInt32 returns an Int32 holding val.
func NewInt32(val int32) *Int32 {
	i := &Int32{}
	i.v.Store(val)
	return i
}

// Load returns the current value.
func (i *Int32) Load() int32 { return i.v.Load() }

// Store sets the value to val.
func (i *Int32) Store(val int32) { i.v.Store(val) }

// Add adds delta and returns the new value.
func (i *Int32) Add(delta int32) int32 { return i.v.Add(delta) }

// Sub subtracts delta and returns the new value.
func (i *Int32) Sub(delta int32) int32 { return i.v.Add(-delta) }

// Inc adds one and returns the new value.
func (i *Int32) Inc() int32 { return i.v.Add(1) }

// Dec subtracts one and returns the new value.
func (i *Int32) Dec() int32 { return i.v.Add(-1) }

// CAS is CompareAndSwap under its older name.
//
// Deprecated: use CompareAndSwap.
func (i *Int32) CAS(old, new int32) bool { return i.v.CompareAndSwap(old, new) }

// CompareAndSwap sets the value to new if it is old, and reports whether it did.
func (i *Int32) CompareAndSwap(old, new int32) bool { return i.v.CompareAndSwap(old, new) }

// Swap sets the value to val and returns the previous value.
func (i *Int32) Swap(val int32) int32 { return i.v.Swap(val) }

// MarshalJSON encodes the current value as a JSON number.
func (i *Int32) MarshalJSON() ([]byte, error) { return json.Marshal(i.Load()) }

// UnmarshalJSON stores a JSON number.
func (i *Int32) UnmarshalJSON(b []byte) error {
	var v int32
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	i.Store(v)
	return nil
}

// String formats the current value in decimal.
func (i *Int32) String() string { return strconv.FormatInt(int64(i.Load()), 10) }

// Int64 is an int64 read and written atomically; safe at any field offset on
// 32-bit platforms.
type Int64 struct {
	_ noCompare
	v atomic.Int64
}

// NewInt64 returns an Int64 holding val.
func NewInt64(val int64) *Int64 {
	i := &Int64{}
	i.v.Store(val)
	return i
}

// Load returns the current value.
func (i *Int64) Load() int64 { return i.v.Load() }

// Store sets the value to val.
func (i *Int64) Store(val int64) { i.v.Store(val) }

// Add adds delta and returns the new value.
func (i *Int64) Add(delta int64) int64 { return i.v.Add(delta) }

// Sub subtracts delta and returns the new value.
func (i *Int64) Sub(delta int64) int64 { return i.v.Add(-delta) }

// Inc adds one and returns the new value.
func (i *Int64) Inc() int64 { return i.v.Add(1) }

// Dec subtracts one and returns the new value.
func (i *Int64) Dec() int64 { return i.v.Add(-1) }

// CAS is CompareAndSwap under its older name.
//
// Deprecated: use CompareAndSwap.
func (i *Int64) CAS(old, new int64) bool { return i.v.CompareAndSwap(old, new) }

// CompareAndSwap sets the value to new if it is old, and reports whether it did.
func (i *Int64) CompareAndSwap(old, new int64) bool { return i.v.CompareAndSwap(old, new) }

// Swap sets the value to val and returns the previous value.
func (i *Int64) Swap(val int64) int64 { return i.v.Swap(val) }

// MarshalJSON encodes the current value as a JSON number.
func (i *Int64) MarshalJSON() ([]byte, error) { return json.Marshal(i.Load()) }

// UnmarshalJSON stores a JSON number.
func (i *Int64) UnmarshalJSON(b []byte) error {
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	i.Store(v)
	return nil
}

// String formats the current value in decimal.
func (i *Int64) String() string { return strconv.FormatInt(i.Load(), 10) }

// Uint32 is a uint32 read and written atomically.
type Uint32 struct {
	_ noCompare
	v atomic.Uint32
}

// NewUint32 returns a Uint32 holding val.
func NewUint32(val uint32) *Uint32 {
	u := &Uint32{}
	u.v.Store(val)
	return u
}

// Load returns the current value.
func (u *Uint32) Load() uint32 { return u.v.Load() }

// Store sets the value to val.
func (u *Uint32) Store(val uint32) { u.v.Store(val) }

// Add adds delta and returns the new value.
func (u *Uint32) Add(delta uint32) uint32 { return u.v.Add(delta) }

// Sub subtracts delta (wrapping, as unsigned arithmetic does) and returns the
// new value.
func (u *Uint32) Sub(delta uint32) uint32 { return u.v.Add(^(delta - 1)) }

// Inc adds one and returns the new value.
func (u *Uint32) Inc() uint32 { return u.v.Add(1) }

// Dec subtracts one and returns the new value.
func (u *Uint32) Dec() uint32 { return u.Sub(1) }

// CAS is CompareAndSwap under its older name.
//
// Deprecated: use CompareAndSwap.
func (u *Uint32) CAS(old, new uint32) bool { return u.v.CompareAndSwap(old, new) }

// CompareAndSwap sets the value to new if it is old, and reports whether it did.
func (u *Uint32) CompareAndSwap(old, new uint32) bool { return u.v.CompareAndSwap(old, new) }

// Swap sets the value to val and returns the previous value.
func (u *Uint32) Swap(val uint32) uint32 { return u.v.Swap(val) }

// MarshalJSON encodes the current value as a JSON number.
func (u *Uint32) MarshalJSON() ([]byte, error) { return json.Marshal(u.Load()) }

// UnmarshalJSON stores a JSON number.
func (u *Uint32) UnmarshalJSON(b []byte) error {
	var v uint32
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	u.Store(v)
	return nil
}

// String formats the current value in decimal.
func (u *Uint32) String() string { return strconv.FormatUint(uint64(u.Load()), 10) }

// Uint64 is a uint64 read and written atomically; safe at any field offset
// on 32-bit platforms.
type Uint64 struct {
	_ noCompare
	v atomic.Uint64
}

// NewUint64 returns a Uint64 holding val.
func NewUint64(val uint64) *Uint64 {
	u := &Uint64{}
	u.v.Store(val)
	return u
}

// Load returns the current value.
func (u *Uint64) Load() uint64 { return u.v.Load() }

// Store sets the value to val.
func (u *Uint64) Store(val uint64) { u.v.Store(val) }

// Add adds delta and returns the new value.
func (u *Uint64) Add(delta uint64) uint64 { return u.v.Add(delta) }

// Sub subtracts delta (wrapping, as unsigned arithmetic does) and returns the
// new value.
func (u *Uint64) Sub(delta uint64) uint64 { return u.v.Add(^(delta - 1)) }

// Inc adds one and returns the new value.
func (u *Uint64) Inc() uint64 { return u.v.Add(1) }

// Dec subtracts one and returns the new value.
func (u *Uint64) Dec() uint64 { return u.Sub(1) }

// CAS is CompareAndSwap under its older name.
//
// Deprecated: use CompareAndSwap.
func (u *Uint64) CAS(old, new uint64) bool { return u.v.CompareAndSwap(old, new) }

// CompareAndSwap sets the value to new if it is old, and reports whether it did.
func (u *Uint64) CompareAndSwap(old, new uint64) bool { return u.v.CompareAndSwap(old, new) }

// Swap sets the value to val and returns the previous value.
func (u *Uint64) Swap(val uint64) uint64 { return u.v.Swap(val) }

// MarshalJSON encodes the current value as a JSON number.
func (u *Uint64) MarshalJSON() ([]byte, error) { return json.Marshal(u.Load()) }

// UnmarshalJSON stores a JSON number.
func (u *Uint64) UnmarshalJSON(b []byte) error {
	var v uint64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	u.Store(v)
	return nil
}

// String formats the current value in decimal.
func (u *Uint64) String() string { return strconv.FormatUint(u.Load(), 10) }
