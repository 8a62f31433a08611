package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// writeVar delivers a variable-size result: *outLen is always set to the
// size needed, and the bytes are copied only when they fit.
func writeVar(out *C.uint8_t, capacity C.size_t, outLen *C.size_t, data []byte, what string) error {
	if outLen == nil {
		return argError("out_len is NULL")
	}
	*outLen = C.size_t(len(data))
	buf, err := output(out, capacity, len(data), what)
	if err != nil {
		return err
	}
	copy(buf, data)
	return nil
}

// writeString delivers a NUL-terminated string; the size needed counts the
// terminator.
func writeString(out *C.char, capacity C.size_t, outLen *C.size_t, s string, what string) error {
	b := append([]byte(s), 0)
	return writeVar((*C.uint8_t)(unsafe.Pointer(out)), capacity, outLen, b, what)
}

// requireCapacity is for operations with side effects (a request that
// generates keys, a CA consuming a request id): the buffer is checked
// against the documented maximum before anything happens, so a retry
// with a bigger buffer is never needed.
func requireCapacity(out *C.uint8_t, capacity C.size_t, outLen *C.size_t, max int, what string) error {
	if outLen == nil {
		return argError("out_len is NULL")
	}
	if uint64(capacity) < uint64(max) {
		*outLen = C.size_t(max)
		return fmt.Errorf("%s buffer is %d bytes; this call needs %d up front: %w", what, uint64(capacity), max, errBufferTooSmall)
	}
	if out == nil {
		return argError(what + " buffer is NULL")
	}
	return nil
}

// optionalString reads a C string that may be NULL (meaning "default").
func optionalString(p *C.char, what, def string) (string, error) {
	if p == nil {
		return def, nil
	}
	return cstr(p, what)
}
