package main

/*
#include "capi.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/debug"
	"unsafe"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// Status codes; the values are the contract of include/pqc_iiot.h.
const (
	statusOK              C.int = 0
	statusInvalidArgument C.int = -1
	statusBufferTooSmall  C.int = -2
	statusUnsupported     C.int = -3
	statusVerify          C.int = -4
	statusClosed          C.int = -5
	statusInternal        C.int = -6
)

// Errors raised by the C layer itself.
var (
	errClosed         = errors.New("handle is closed, forged or of another type")
	errBufferTooSmall = errors.New("buffer too small")
)

// sentinels maps core errors to status codes, most specific first.
var sentinels = []struct {
	err    error
	status C.int
}{
	{errClosed, statusClosed},
	{errBufferTooSmall, statusBufferTooSmall},
	{pqc.ErrUnsupported, statusUnsupported},
	{pqc.ErrVerify, statusVerify},
	{pqc.ErrInvalidArgument, statusInvalidArgument},
}

// fail records err as the calling thread's detail and returns its status.
// Exports run on the C caller's thread, so the thread-local buffer in
// errors.c belongs to that caller.
func fail(err error) C.int {
	setLastError(err.Error())
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	return statusInternal
}

func setLastError(msg string) {
	C.capi_set_last_error((*C.char)(unsafe.Pointer(unsafe.StringData(msg))), C.size_t(len(msg)))
}

// enter is the prologue of every export: a fault on a bad caller pointer
// becomes a recoverable panic instead of killing the host process.
func enter() { debug.SetPanicOnFault(true) }

// recoverStatus is deferred by every export that returns a status: a panic
// anywhere below becomes PQC_ERR_INTERNAL with the panic text as detail.
func recoverStatus(status *C.int) {
	if r := recover(); r != nil {
		setLastError(fmt.Sprintf("internal error: %v", r))
		*status = statusInternal
	}
}

// recoverZero is recoverStatus for exports that return a size or pointer:
// they return their zero value.
func recoverZero() {
	if r := recover(); r != nil {
		setLastError(fmt.Sprintf("internal error: %v", r))
	}
}
