// Package atomic stands in for go.uber.org/atomic inside pqc-iiot's build.
//
// go.uber.org/atomic v1.12.0 stores its 64-bit values (Int64, Uint64,
// Float64, Duration) in plain int64/uint64 fields. On 32-bit platforms
// (ARMv7, 386, 32-bit MIPS) the 64-bit functions of sync/atomic panic with
// "unaligned 64-bit atomic operation" unless the word sits at an 8-byte
// aligned address, and Go only guarantees that for the first word of an
// allocation. go-coap v3 keeps such a field in the middle of its UDP
// connection struct, so every CoAP request failed on ARMv7.
//
// This package offers the same API as far as pqc-iiot's dependencies use it,
// built on the typed values of sync/atomic (atomic.Int64, atomic.Uint64,
// ...), which the compiler keeps 8-byte aligned on every platform since Go
// 1.19. Any struct that contains one of these types is aligned the same way,
// wherever the field sits.
//
// It refuses to be more than that: it is not a fork of go.uber.org/atomic and
// carries only the types and methods the module graph needs.
package atomic

// noCompare makes a type incomparable with == at no cost in size, so a
// caller cannot compare two atomics by value (a racy read of both).
type noCompare [0]func()
