package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"crypto/rand"
	"fmt"
)

//export pqc_random_bytes
func pqc_random_bytes(buf *C.uint8_t, n C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if n == 0 {
		return statusOK
	}
	if uint64(n) > maxInput {
		return fail(argError("length exceeds 2^31-1"))
	}
	out, err := output(buf, n, int(n), "buffer")
	if err != nil {
		return fail(err)
	}
	if _, err := rand.Read(out); err != nil {
		return fail(fmt.Errorf("operating system randomness: %w", err))
	}
	return statusOK
}
