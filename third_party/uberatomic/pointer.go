package atomic

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Pointer is a *T read and written atomically.
type Pointer[T any] struct {
	_ noCompare
	p atomic.Pointer[T]
}

// NewPointer returns a Pointer holding val.
func NewPointer[T any](val *T) *Pointer[T] {
	p := &Pointer[T]{}
	p.p.Store(val)
	return p
}

// Load returns the current pointer.
func (p *Pointer[T]) Load() *T { return p.p.Load() }

// Store sets the pointer to val.
func (p *Pointer[T]) Store(val *T) { p.p.Store(val) }

// Swap sets the pointer to val and returns the previous one.
func (p *Pointer[T]) Swap(val *T) *T { return p.p.Swap(val) }

// CompareAndSwap sets the pointer to new if it is old, and reports whether it did.
func (p *Pointer[T]) CompareAndSwap(old, new *T) bool { return p.p.CompareAndSwap(old, new) }

// String formats the current pointer as an address.
func (p *Pointer[T]) String() string { return fmt.Sprint(p.Load()) }

// UnsafePointer is an unsafe.Pointer read and written atomically.
type UnsafePointer struct {
	_ noCompare
	v unsafe.Pointer
}

// NewUnsafePointer returns an UnsafePointer holding val.
func NewUnsafePointer(val unsafe.Pointer) *UnsafePointer {
	return &UnsafePointer{v: val}
}

// Load returns the current pointer.
func (u *UnsafePointer) Load() unsafe.Pointer { return atomic.LoadPointer(&u.v) }

// Store sets the pointer to val.
func (u *UnsafePointer) Store(val unsafe.Pointer) { atomic.StorePointer(&u.v, val) }

// Swap sets the pointer to val and returns the previous one.
func (u *UnsafePointer) Swap(val unsafe.Pointer) unsafe.Pointer {
	return atomic.SwapPointer(&u.v, val)
}

// CAS is CompareAndSwap under its older name.
//
// Deprecated: use CompareAndSwap.
func (u *UnsafePointer) CAS(old, new unsafe.Pointer) bool { return u.CompareAndSwap(old, new) }

// CompareAndSwap sets the pointer to new if it is old, and reports whether it did.
func (u *UnsafePointer) CompareAndSwap(old, new unsafe.Pointer) bool {
	return atomic.CompareAndSwapPointer(&u.v, old, new)
}

// Value holds any value and reads and writes it atomically, with the rules
// of sync/atomic.Value (every Store must use the same concrete type).
type Value struct {
	_ noCompare
	atomic.Value
}
