package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// sigObject is what a pqc_sig handle refers to.
type sigObject struct {
	sig  pqc.Signature
	name *C.char
}

var sigNames = cNames(pqc.SignatureNames())

//export pqc_sig_algorithm_count
func pqc_sig_algorithm_count() C.size_t { return C.size_t(len(sigNames)) }

//export pqc_sig_algorithm_name
func pqc_sig_algorithm_name(i C.size_t) *C.char {
	if uint64(i) >= uint64(len(sigNames)) {
		return nil
	}
	return sigNames[i]
}

//export pqc_sig_new
func pqc_sig_new(alg *C.char, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if out == nil {
		return fail(argError("out is NULL"))
	}
	*out = 0
	name, err := cstr(alg, "algorithm name")
	if err != nil {
		return fail(err)
	}
	s, err := pqc.SignatureByName(name)
	if err != nil {
		return fail(err)
	}
	*out = C.uintptr_t(handles.add(&sigObject{sig: s, name: cName(s.Name(), sigNames, pqc.SignatureNames())}))
	return statusOK
}

//export pqc_sig_free
func pqc_sig_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	release[*sigObject](uintptr(h))
}

func sigOf(h C.uintptr_t) (*sigObject, error) {
	if s, ok := lookup[*sigObject](uintptr(h)); ok {
		return s, nil
	}
	return nil, closedError("pqc_sig", h)
}

//export pqc_sig_algorithm
func pqc_sig_algorithm(h C.uintptr_t) *C.char {
	enter()
	defer recoverZero()
	s, err := sigOf(h)
	if err != nil {
		fail(err)
		return nil
	}
	return s.name
}

func sigSize(h C.uintptr_t, size func(pqc.Signature) int) C.size_t {
	s, err := sigOf(h)
	if err != nil {
		fail(err)
		return 0
	}
	return C.size_t(size(s.sig))
}

//export pqc_sig_public_key_size
func pqc_sig_public_key_size(h C.uintptr_t) C.size_t {
	return sigSize(h, pqc.Signature.PublicKeySize)
}

//export pqc_sig_secret_key_size
func pqc_sig_secret_key_size(h C.uintptr_t) C.size_t {
	return sigSize(h, pqc.Signature.SecretKeySize)
}

//export pqc_sig_signature_max_size
func pqc_sig_signature_max_size(h C.uintptr_t) C.size_t {
	return sigSize(h, pqc.Signature.SignatureMaxSize)
}

//export pqc_sig_seed_size
func pqc_sig_seed_size(h C.uintptr_t) C.size_t {
	return sigSize(h, pqc.Signature.SeedSize)
}

//export pqc_sig_keypair
func pqc_sig_keypair(h C.uintptr_t, pk *C.uint8_t, pkLen C.size_t, sk *C.uint8_t, skLen C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return sigKeypair(h, nil, 0, false, pk, pkLen, sk, skLen)
}

//export pqc_sig_keypair_from_seed
func pqc_sig_keypair_from_seed(h C.uintptr_t, seed *C.uint8_t, seedLen C.size_t, pk *C.uint8_t, pkLen C.size_t, sk *C.uint8_t, skLen C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return sigKeypair(h, seed, seedLen, true, pk, pkLen, sk, skLen)
}

func sigKeypair(h C.uintptr_t, seed *C.uint8_t, seedLen C.size_t, fromSeed bool, pk *C.uint8_t, pkLen C.size_t, sk *C.uint8_t, skLen C.size_t) C.int {
	s, err := sigOf(h)
	if err != nil {
		return fail(err)
	}
	return keypair(s.sig, seed, seedLen, fromSeed, pk, pkLen, sk, skLen)
}

//export pqc_sig_sign
func pqc_sig_sign(h C.uintptr_t, sk *C.uint8_t, skLen C.size_t, msg *C.uint8_t, msgLen C.size_t, out *C.uint8_t, outCap C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	s, err := sigOf(h)
	if err != nil {
		return fail(err)
	}
	if outLen == nil {
		return fail(argError("out_len is NULL"))
	}
	// The whole maximum is required up front, so whether a call fits never
	// depends on the length a randomized signature happens to have.
	need := s.sig.SignatureMaxSize()
	*outLen = C.size_t(need)
	buf, err := output(out, outCap, need, "signature")
	if err != nil {
		return fail(err)
	}
	sec, err := input(sk, skLen, "secret key")
	if err != nil {
		return fail(err)
	}
	defer clear(sec)
	m, err := input(msg, msgLen, "message")
	if err != nil {
		return fail(err)
	}
	sig, err := s.sig.Sign(sec, m)
	if err != nil {
		*outLen = 0
		return fail(err)
	}
	copy(buf, sig)
	*outLen = C.size_t(len(sig))
	return statusOK
}

//export pqc_sig_verify
func pqc_sig_verify(h C.uintptr_t, pk *C.uint8_t, pkLen C.size_t, msg *C.uint8_t, msgLen C.size_t, sig *C.uint8_t, sigLen C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	s, err := sigOf(h)
	if err != nil {
		return fail(err)
	}
	pub, err := input(pk, pkLen, "public key")
	if err != nil {
		return fail(err)
	}
	m, err := input(msg, msgLen, "message")
	if err != nil {
		return fail(err)
	}
	signature, err := input(sig, sigLen, "signature")
	if err != nil {
		return fail(err)
	}
	if err := s.sig.Verify(pub, m, signature); err != nil {
		return fail(err)
	}
	return statusOK
}
