package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"fmt"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
)

// Signed envelopes (identity.SignEnvelope): content signed by a device's
// operational key with its chain inside, checked by anyone holding the
// fleet's anchor and a fresh policy.

//export pqc_signed_max_content
func pqc_signed_max_content() C.size_t { return identity.MaxEnvelopeContent }

//export pqc_identity_sign
func pqc_identity_sign(h C.uintptr_t, context *C.char, msg *C.uint8_t, msgLen C.size_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		if outLen == nil {
			return argError("out_len is NULL")
		}
		ctx, err := boundedString(context, identity.MaxEnvelopeContext, "context")
		if err != nil {
			return err
		}
		if uint64(msgLen) > identity.MaxEnvelopeContent {
			return fmt.Errorf("message is %d bytes, limit %d: %w", uint64(msgLen), identity.MaxEnvelopeContent, identity.ErrTooLarge)
		}
		m, err := input(msg, msgLen, "message")
		if err != nil {
			return err
		}
		env, err := o.dev.SignEnvelope(ctx, m, time.Now())
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, env, "envelope")
	})
}

//export pqc_identity_verify_signed
func pqc_identity_verify_signed(h C.uintptr_t, env *C.uint8_t, envLen C.size_t, context *C.char, out *C.uint8_t, capacity C.size_t, outLen *C.size_t, sender *C.char, senderCap C.size_t, signedAt *C.int64_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		t, err := o.trust(nil)
		if err != nil {
			return err
		}
		return verifySigned(t, env, envLen, context, out, capacity, outLen, sender, senderCap, signedAt)
	})
}

//export pqc_trust_verify_signed
func pqc_trust_verify_signed(h C.uintptr_t, env *C.uint8_t, envLen C.size_t, context *C.char, out *C.uint8_t, capacity C.size_t, outLen *C.size_t, sender *C.char, senderCap C.size_t, signedAt *C.int64_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withTrust(h, func(t *identity.Trust) error {
		return verifySigned(t, env, envLen, context, out, capacity, outLen, sender, senderCap, signedAt)
	})
}

// verifySigned checks the envelope and delivers content, sender and time.
// Verifying changes no state, so the content buffer need only fit the
// content: too small, and *out_len says what it needs (a caller who gives
// env_len bytes never retries, the content being shorter than the
// envelope). The sender buffer, whose size is fixed, is checked first.
func verifySigned(t *identity.Trust, env *C.uint8_t, envLen C.size_t, context *C.char, out *C.uint8_t, capacity C.size_t, outLen *C.size_t, sender *C.char, senderCap C.size_t, signedAt *C.int64_t) error {
	if outLen == nil {
		return argError("out_len is NULL")
	}
	if sender != nil && senderCap < deviceIDMax {
		return fmt.Errorf("sender buffer is %d bytes, need %d: %w", uint64(senderCap), deviceIDMax, errBufferTooSmall)
	}
	ctx, err := boundedString(context, identity.MaxEnvelopeContext, "context")
	if err != nil {
		return err
	}
	e, err := input(env, envLen, "envelope")
	if err != nil {
		return err
	}
	sc, err := t.VerifyEnvelope(e, ctx, time.Now())
	if err != nil {
		return err
	}
	if err := writeVar(out, capacity, outLen, sc.Content, "content"); err != nil {
		return err
	}
	if sender != nil {
		var n C.size_t
		if err := writeString(sender, senderCap, &n, sc.DeviceID, "sender"); err != nil {
			return err
		}
	}
	if signedAt != nil {
		*signedAt = C.int64_t(sc.SignedAt.Unix())
	}
	return nil
}
