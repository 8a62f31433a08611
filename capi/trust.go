package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// pqc_trust: verification state without an identity of one's own, e.g. a
// SCADA server checking device certificates. identity.Trust is safe for
// concurrent use, so no lock is needed here.

//export pqc_trust_new
func pqc_trust_new(anchor *C.uint8_t, anchorLen C.size_t, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if out == nil {
		return fail(argError("out is NULL"))
	}
	*out = 0
	a, err := input(anchor, anchorLen, "anchor")
	if err != nil {
		return fail(err)
	}
	t, err := identity.NewTrust(a)
	if err != nil {
		return fail(err)
	}
	*out = C.uintptr_t(handles.add(t))
	return statusOK
}

//export pqc_trust_free
func pqc_trust_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	release[*identity.Trust](uintptr(h))
}

func withTrust(h C.uintptr_t, fn func(*identity.Trust) error) C.int {
	t, ok := lookup[*identity.Trust](uintptr(h))
	if !ok {
		return fail(closedError("pqc_trust", h))
	}
	if err := fn(t); err != nil {
		return fail(err)
	}
	return statusOK
}

//export pqc_trust_apply_policy
func pqc_trust_apply_policy(h C.uintptr_t, data *C.uint8_t, n C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withTrust(h, func(t *identity.Trust) error {
		b, err := input(data, n, "policy")
		if err != nil {
			return err
		}
		_, err = t.ApplyPolicy(b, time.Now())
		return err
	})
}

//export pqc_trust_apply_revocation
func pqc_trust_apply_revocation(h C.uintptr_t, data *C.uint8_t, n C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withTrust(h, func(t *identity.Trust) error {
		b, err := input(data, n, "revocation list")
		if err != nil {
			return err
		}
		_, err = t.ApplyRevocation(b)
		return err
	})
}

//export pqc_trust_check_policy
func pqc_trust_check_policy(h C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withTrust(h, func(t *identity.Trust) error { return t.CheckHighRisk(time.Now()) })
}

//export pqc_trust_verify_chain
func pqc_trust_verify_chain(h C.uintptr_t, chain *C.uint8_t, chainLen C.size_t, atUnix C.int64_t, deviceID *C.char, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withTrust(h, func(t *identity.Trust) error {
		c, err := input(chain, chainLen, "chain")
		if err != nil {
			return err
		}
		at := time.Now()
		if atUnix != 0 {
			at = time.Unix(int64(atUnix), 0)
		}
		leaf, err := t.VerifyDevice(c, at)
		if err != nil {
			return err
		}
		if outLen == nil && deviceID == nil {
			return nil // the caller only wants the verdict
		}
		return writeString(deviceID, capacity, outLen, leaf.Subject, "device id")
	})
}
