package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"io"

	"github.com/pqc-iiot/pqc-iiot/core/pqc"
)

// kemObject is what a pqc_kem handle refers to.
type kemObject struct {
	kem  pqc.KEM
	name *C.char
}

// Algorithm names as C strings, made once and kept for the process's life
// so that pointers handed to C stay valid.
var kemNames = cNames(pqc.KEMNames())

//export pqc_kem_algorithm_count
func pqc_kem_algorithm_count() C.size_t { return C.size_t(len(kemNames)) }

//export pqc_kem_algorithm_name
func pqc_kem_algorithm_name(i C.size_t) *C.char {
	if uint64(i) >= uint64(len(kemNames)) {
		return nil
	}
	return kemNames[i]
}

//export pqc_kem_new
func pqc_kem_new(alg *C.char, out *C.uintptr_t) (status C.int) {
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
	k, err := pqc.KEMByName(name)
	if err != nil {
		return fail(err)
	}
	*out = C.uintptr_t(handles.add(&kemObject{kem: k, name: cName(k.Name(), kemNames, pqc.KEMNames())}))
	return statusOK
}

//export pqc_kem_free
func pqc_kem_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	release[*kemObject](uintptr(h))
}

func kemOf(h C.uintptr_t) (*kemObject, error) {
	if k, ok := lookup[*kemObject](uintptr(h)); ok {
		return k, nil
	}
	return nil, closedError("pqc_kem", h)
}

//export pqc_kem_algorithm
func pqc_kem_algorithm(h C.uintptr_t) *C.char {
	enter()
	defer recoverZero()
	k, err := kemOf(h)
	if err != nil {
		fail(err)
		return nil
	}
	return k.name
}

// kemSize answers a size query; 0 for an invalid handle.
func kemSize(h C.uintptr_t, size func(pqc.KEM) int) C.size_t {
	k, err := kemOf(h)
	if err != nil {
		fail(err)
		return 0
	}
	return C.size_t(size(k.kem))
}

//export pqc_kem_public_key_size
func pqc_kem_public_key_size(h C.uintptr_t) C.size_t {
	return kemSize(h, pqc.KEM.PublicKeySize)
}

//export pqc_kem_secret_key_size
func pqc_kem_secret_key_size(h C.uintptr_t) C.size_t {
	return kemSize(h, pqc.KEM.SecretKeySize)
}

//export pqc_kem_ciphertext_size
func pqc_kem_ciphertext_size(h C.uintptr_t) C.size_t {
	return kemSize(h, pqc.KEM.CiphertextSize)
}

//export pqc_kem_shared_secret_size
func pqc_kem_shared_secret_size(h C.uintptr_t) C.size_t {
	return kemSize(h, pqc.KEM.SharedSecretSize)
}

//export pqc_kem_seed_size
func pqc_kem_seed_size(h C.uintptr_t) C.size_t {
	return kemSize(h, pqc.KEM.SeedSize)
}

// keypairOutputs validates both key buffers before any work is done.
func keypairOutputs(pk *C.uint8_t, pkLen C.size_t, pkNeed int, sk *C.uint8_t, skLen C.size_t, skNeed int) (pkOut, skOut []byte, err error) {
	if pkOut, err = output(pk, pkLen, pkNeed, "public key"); err != nil {
		return nil, nil, err
	}
	if skOut, err = output(sk, skLen, skNeed, "secret key"); err != nil {
		return nil, nil, err
	}
	return pkOut, skOut, nil
}

//export pqc_kem_keypair
func pqc_kem_keypair(h C.uintptr_t, pk *C.uint8_t, pkLen C.size_t, sk *C.uint8_t, skLen C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return kemKeypair(h, nil, 0, false, pk, pkLen, sk, skLen)
}

//export pqc_kem_keypair_from_seed
func pqc_kem_keypair_from_seed(h C.uintptr_t, seed *C.uint8_t, seedLen C.size_t, pk *C.uint8_t, pkLen C.size_t, sk *C.uint8_t, skLen C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return kemKeypair(h, seed, seedLen, true, pk, pkLen, sk, skLen)
}

func kemKeypair(h C.uintptr_t, seed *C.uint8_t, seedLen C.size_t, fromSeed bool, pk *C.uint8_t, pkLen C.size_t, sk *C.uint8_t, skLen C.size_t) C.int {
	k, err := kemOf(h)
	if err != nil {
		return fail(err)
	}
	return keypair(k.kem, seed, seedLen, fromSeed, pk, pkLen, sk, skLen)
}

// keyGenerator is what KEMs and signature schemes share for key pairs.
type keyGenerator interface {
	PublicKeySize() int
	SecretKeySize() int
	GenerateKey(rand io.Reader) (pk, sk []byte, err error)
	KeyFromSeed(seed []byte) (pk, sk []byte, err error)
}

// keypair fills caller buffers with a fresh or seeded key pair; both
// buffers are checked before any key is made.
func keypair(g keyGenerator, seed *C.uint8_t, seedLen C.size_t, fromSeed bool, pk *C.uint8_t, pkLen C.size_t, sk *C.uint8_t, skLen C.size_t) C.int {
	pkOut, skOut, err := keypairOutputs(pk, pkLen, g.PublicKeySize(), sk, skLen, g.SecretKeySize())
	if err != nil {
		return fail(err)
	}
	var pub, sec []byte
	if fromSeed {
		var s []byte
		if s, err = input(seed, seedLen, "seed"); err != nil {
			return fail(err)
		}
		defer clear(s)
		pub, sec, err = g.KeyFromSeed(s)
	} else {
		pub, sec, err = g.GenerateKey(nil)
	}
	if err != nil {
		return fail(err)
	}
	deliver(pkOut, pub)
	deliver(skOut, sec)
	return statusOK
}

//export pqc_kem_encapsulate
func pqc_kem_encapsulate(h C.uintptr_t, pk *C.uint8_t, pkLen C.size_t, ct *C.uint8_t, ctLen C.size_t, ss *C.uint8_t, ssLen C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	k, err := kemOf(h)
	if err != nil {
		return fail(err)
	}
	pub, err := input(pk, pkLen, "public key")
	if err != nil {
		return fail(err)
	}
	ctOut, err := output(ct, ctLen, k.kem.CiphertextSize(), "ciphertext")
	if err != nil {
		return fail(err)
	}
	ssOut, err := output(ss, ssLen, k.kem.SharedSecretSize(), "shared secret")
	if err != nil {
		return fail(err)
	}
	c, s, err := k.kem.Encapsulate(pub, nil)
	if err != nil {
		return fail(err)
	}
	deliver(ctOut, c)
	deliver(ssOut, s)
	return statusOK
}

//export pqc_kem_decapsulate
func pqc_kem_decapsulate(h C.uintptr_t, sk *C.uint8_t, skLen C.size_t, ct *C.uint8_t, ctLen C.size_t, ss *C.uint8_t, ssLen C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	k, err := kemOf(h)
	if err != nil {
		return fail(err)
	}
	sec, err := input(sk, skLen, "secret key")
	if err != nil {
		return fail(err)
	}
	defer clear(sec)
	c, err := input(ct, ctLen, "ciphertext")
	if err != nil {
		return fail(err)
	}
	ssOut, err := output(ss, ssLen, k.kem.SharedSecretSize(), "shared secret")
	if err != nil {
		return fail(err)
	}
	s, err := k.kem.Decapsulate(sec, c)
	if err != nil {
		return fail(err)
	}
	deliver(ssOut, s)
	return statusOK
}
