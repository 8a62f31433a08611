package main

/*
#include <stdint.h>
#include <stdlib.h>
*/
import "C"

import (
	"fmt"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// cNames makes permanent C copies of names; they are never freed because C
// callers may hold the pointers for the life of the process.
func cNames(names []string) []*C.char {
	out := make([]*C.char, len(names))
	for i, n := range names {
		out[i] = C.CString(n)
	}
	return out
}

// cName finds the permanent C string for a canonical name.
func cName(name string, cs []*C.char, names []string) *C.char {
	for i, n := range names {
		if n == name {
			return cs[i]
		}
	}
	panic("capi: algorithm " + name + " missing from the name table")
}

func argError(msg string) error { return fmt.Errorf("%s: %w", msg, pqc.ErrInvalidArgument) }

func closedError(kind string, h C.uintptr_t) error {
	return fmt.Errorf("%s handle %#x: %w", kind, uint64(h), errClosed)
}
