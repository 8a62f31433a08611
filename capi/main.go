// Command capi is the C interface of pqc-iiot, built with
// -buildmode=c-shared or c-archive into libpqc_iiot. It converts C arguments,
// validates them, calls the Go core and maps Go errors to the stable status
// codes of include/pqc_iiot.h. It holds no protocol logic.
//
// Handles: the pqc_X pointers C sees are not addresses but numbers issued by
// a handle table, so a freed, forged or mistyped handle is found missing and
// answered with PQC_ERR_CLOSED instead of being dereferenced. The Go
// signatures take them as uintptr_t, which has the size and calling
// convention of a pointer on every platform Go supports.
package main

/*
#include <stdint.h>
#include <stddef.h>
#include "capi.h"
*/
import "C"

func main() {} // required by -buildmode=c-shared; never runs
