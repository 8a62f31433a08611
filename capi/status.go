package main

/*
#include "capi.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime/debug"
	"unsafe"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
	"github.com/pqc-iiot/pqc-iiot/core/session"
	"github.com/pqc-iiot/pqc-iiot/core/store"
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
	statusReplay          C.int = -7
	statusPolicy          C.int = -8
	statusTimeout         C.int = -9
	statusIO              C.int = -10
	statusRateLimited     C.int = -11
	statusState           C.int = -12
	statusRevoked         C.int = -13
	statusExpired         C.int = -14
	statusUntrusted       C.int = -15
	statusRollback        C.int = -16
	statusWrongKey        C.int = -17
	statusCorrupt         C.int = -18
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

	{identity.ErrBadSignature, statusVerify},
	{identity.ErrRevoked, statusRevoked},
	{identity.ErrExpired, statusExpired},
	{identity.ErrNotYetValid, statusExpired},
	{identity.ErrReplay, statusReplay},
	{identity.ErrStaleRequest, statusReplay},
	{identity.ErrUnknownIssuer, statusUntrusted},
	{identity.ErrNotCA, statusUntrusted},
	{identity.ErrPathLength, statusUntrusted},
	{identity.ErrNotAllowed, statusUntrusted},
	{identity.ErrNoCertificate, statusUntrusted},
	{identity.ErrContextMismatch, statusUntrusted},
	{identity.ErrLowerEpoch, statusRollback},
	{identity.ErrEpochConflict, statusRollback},
	{identity.ErrRollback, statusRollback},
	{identity.ErrAlgorithmNotAllowed, statusPolicy},
	{identity.ErrPolicyMissing, statusPolicy},
	{identity.ErrPolicyStale, statusPolicy},
	{identity.ErrRevocationStale, statusPolicy},
	{identity.ErrNoIdentity, statusState},
	{identity.ErrMalformed, statusInvalidArgument},
	{identity.ErrTooLarge, statusInvalidArgument},
	{identity.ErrWrongKind, statusInvalidArgument},

	// Session errors may wrap an identity error (revoked, stale policy);
	// those are matched above and say more.
	{session.ErrReplay, statusReplay},
	{session.ErrAuth, statusVerify},
	{session.ErrPolicy, statusPolicy},
	// The sending chain is spent until the peer replies: a state the
	// caller leaves by receiving, not a fault.
	{session.ErrRekeyRequired, statusState},
	{session.ErrUnknownSession, statusState},
	{session.ErrExpired, statusExpired},
	{session.ErrClosed, statusClosed},
	{session.ErrRateLimited, statusRateLimited},
	{session.ErrUnknownPeer, statusUntrusted},
	{session.ErrWrongRecipient, statusUntrusted},
	{session.ErrMalformed, statusInvalidArgument},
	{session.ErrPersist, statusIO},

	{store.ErrWrongKey, statusWrongKey},
	{store.ErrCorrupt, statusCorrupt},
	{store.ErrRollback, statusRollback},
	{store.ErrLocked, statusIO},
	{store.ErrNotFound, statusState},
	{store.ErrClosed, statusClosed},
	{store.ErrInvalid, statusInvalidArgument},
	{fs.ErrNotExist, statusIO},
	{fs.ErrPermission, statusIO},
	{fs.ErrExist, statusIO},
}

// fail records err as the calling thread's detail and returns its status.
// Exports run on the C caller's thread, so the thread-local buffer in
// errors.c belongs to that caller.
func fail(err error) C.int {
	setLastError(err.Error())
	return statusOf(err)
}

// statusOf maps an error to its status without touching the thread's
// detail, for calls that report many results (batches).
func statusOf(err error) C.int {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.status
		}
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return statusIO
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
