package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"bytes"
	"fmt"
	"math"
	"unsafe"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// maxInput bounds any single input so a corrupted length cannot make the
// library address more memory than exists.
const maxInput = math.MaxInt32

// input copies caller memory into a Go slice. NULL is allowed only with
// length zero. The copy is deliberate: Go code below capi may assume it owns
// its memory (Go 1.26's crypto/ed25519 takes weak pointers into the key,
// which aborts the process for C memory), so no C pointer travels further
// than this file. Callers clear copies that hold secrets.
func input(p *C.uint8_t, n C.size_t, what string) ([]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if p == nil {
		return nil, fmt.Errorf("%s is NULL with length %d: %w", what, uint64(n), pqc.ErrInvalidArgument)
	}
	if uint64(n) > maxInput {
		return nil, fmt.Errorf("%s length %d exceeds %d: %w", what, uint64(n), maxInput, pqc.ErrInvalidArgument)
	}
	return bytes.Clone(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))), nil
}

// output views a caller buffer of capacity n that must hold need bytes.
func output(p *C.uint8_t, n C.size_t, need int, what string) ([]byte, error) {
	if uint64(n) < uint64(need) {
		return nil, fmt.Errorf("%s buffer is %d bytes, need %d: %w", what, uint64(n), need, errBufferTooSmall)
	}
	if p == nil {
		return nil, fmt.Errorf("%s buffer is NULL: %w", what, pqc.ErrInvalidArgument)
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), need), nil
}

// deliver copies a result into caller memory and wipes the Go copy, which
// may hold a secret.
func deliver(dst, src []byte) {
	copy(dst, src)
	clear(src)
}

// cstr reads a NUL-terminated name of bounded length.
func cstr(p *C.char, what string) (string, error) {
	if p == nil {
		return "", fmt.Errorf("%s is NULL: %w", what, pqc.ErrInvalidArgument)
	}
	const maxName = 256
	b := unsafe.Slice((*byte)(unsafe.Pointer(p)), maxName)
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), nil
		}
	}
	return "", fmt.Errorf("%s is longer than %d bytes: %w", what, maxName, pqc.ErrInvalidArgument)
}
