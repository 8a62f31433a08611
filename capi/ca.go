package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// caObject is what a pqc_ca handle refers to: a CA keystore kept open.
type caObject struct {
	mu sync.Mutex
	st *store.Store
	ca *identity.CAStore
}

//export pqc_ca_create
func pqc_ca_create(path *C.char, kind C.int, key *C.uint8_t, keyLen C.size_t, name, alg *C.char, validitySeconds C.uint64_t, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	n, err := cstr(name, "CA name")
	if err != nil {
		return fail(err)
	}
	a, err := optionalString(alg, "algorithm", identity.DefaultSignature)
	if err != nil {
		return fail(err)
	}
	validity, err := seconds(validitySeconds, "validity")
	if err != nil {
		return fail(err)
	}
	if !identity.ValidID(n) {
		return fail(argError(fmt.Sprintf("CA name %q", n)))
	}
	return keystoreHandle(path, kind, key, keyLen, true, out, func(st *store.Store) (any, error) {
		ca, err := identity.InitCA(st, n, a, time.Now(), validity, 1)
		return &caObject{st: st, ca: ca}, err
	})
}

//export pqc_ca_open
func pqc_ca_open(path *C.char, kind C.int, key *C.uint8_t, keyLen C.size_t, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	return keystoreHandle(path, kind, key, keyLen, false, out, func(st *store.Store) (any, error) {
		ca, err := identity.OpenCA(st)
		return &caObject{st: st, ca: ca}, err
	})
}

//export pqc_ca_free
func pqc_ca_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	if c, ok := release[*caObject](uintptr(h)); ok {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.ca.Close()
		c.st.Close()
	}
}

func withCA(h C.uintptr_t, fn func(*caObject) error) C.int {
	obj, ok := lookup[*caObject](uintptr(h))
	if !ok {
		return fail(closedError("pqc_ca", h))
	}
	obj.mu.Lock()
	defer obj.mu.Unlock()
	if err := fn(obj); err != nil {
		return fail(err)
	}
	return statusOK
}

//export pqc_ca_certificate
func pqc_ca_certificate(h C.uintptr_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCA(h, func(c *caObject) error {
		return writeVar(out, capacity, outLen, c.ca.CA.Cert.Raw, "certificate")
	})
}

//export pqc_ca_allow
func pqc_ca_allow(h C.uintptr_t, deviceID *C.char, factoryKey *C.uint8_t, factoryKeyLen C.size_t, roles *C.char) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCA(h, func(c *caObject) error {
		id, err := cstr(deviceID, "device id")
		if err != nil {
			return err
		}
		raw, err := input(factoryKey, factoryKeyLen, "factory key")
		if err != nil {
			return err
		}
		key, err := identity.DecodePublicKey(raw)
		if err != nil {
			return err
		}
		r, err := optionalString(roles, "roles", "")
		if err != nil {
			return err
		}
		return c.ca.Allow(identity.AllowedDevice{DeviceID: id, FactoryKey: key, Roles: splitList(r)})
	})
}

//export pqc_ca_enroll
func pqc_ca_enroll(h C.uintptr_t, req *C.uint8_t, reqLen C.size_t, validitySeconds C.uint64_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCA(h, func(c *caObject) error {
		if err := requireCapacity(out, capacity, outLen, objectMax, "chain"); err != nil {
			return err
		}
		r, err := input(req, reqLen, "request")
		if err != nil {
			return err
		}
		validity, err := seconds(validitySeconds, "validity")
		if err != nil {
			return err
		}
		chain, err := c.ca.Enroll(r, validity, 24*time.Hour, time.Now())
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, chain, "chain")
	})
}

//export pqc_ca_sign_policy
func pqc_ca_sign_policy(h C.uintptr_t, ttlSeconds C.uint64_t, allowedKEMs, allowedSigs *C.char, rekeyMessages, rekeySeconds C.uint64_t, requireSessions C.int, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCA(h, func(c *caObject) error {
		if err := requireCapacity(out, capacity, outLen, objectMax, "policy"); err != nil {
			return err
		}
		kems, err := optionalString(allowedKEMs, "allowed KEMs", "ML-KEM-768,"+pqc.HybridKEMName)
		if err != nil {
			return err
		}
		sigs, err := optionalString(allowedSigs, "allowed signatures", identity.DefaultSignature)
		if err != nil {
			return err
		}
		kemList, err := canonical(splitList(kems), func(n string) (string, error) {
			k, err := pqc.KEMByName(n)
			if err != nil {
				return "", err
			}
			return k.Name(), nil
		})
		if err != nil {
			return err
		}
		sigList, err := canonical(splitList(sigs), func(n string) (string, error) {
			s, err := pqc.SignatureByName(n)
			if err != nil {
				return "", err
			}
			return s.Name(), nil
		})
		if err != nil {
			return err
		}
		ttl, err := seconds(ttlSeconds, "policy TTL")
		if err != nil {
			return err
		}
		now := time.Now()
		signed, err := c.ca.SignPolicy(identity.PolicyClaims{
			IssuedAt: now.Unix(), Expiry: now.Add(ttl).Unix(),
			AllowedKEMs: kemList, AllowedSigs: sigList,
			RekeyMessages: uint64(rekeyMessages), RekeySeconds: uint64(rekeySeconds),
			PeerBudget:      identity.RateLimit{Rate: 20, Burst: 40},
			GlobalBudget:    identity.RateLimit{Rate: 2000, Burst: 4000},
			RequireSessions: requireSessions != 0,
		})
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, signed, "policy")
	})
}

//export pqc_ca_revoke
func pqc_ca_revoke(h C.uintptr_t, keyIDs *C.uint8_t, count C.size_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withCA(h, func(c *caObject) error {
		if err := requireCapacity(out, capacity, outLen, revocationMax, "revocation list"); err != nil {
			return err
		}
		const idSize = 16
		if uint64(count) > maxInput/idSize {
			return argError("too many key ids")
		}
		all, err := input(keyIDs, count*idSize, "key ids")
		if err != nil {
			return err
		}
		ids := make([][]byte, 0, int(count))
		for i := 0; i < len(all); i += idSize {
			ids = append(ids, all[i:i+idSize])
		}
		signed, err := c.ca.Revoke(ids, time.Now())
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, signed, "revocation list")
	})
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func canonical(names []string, lookup func(string) (string, error)) ([]string, error) {
	for i, n := range names {
		c, err := lookup(n)
		if err != nil {
			return nil, err
		}
		names[i] = c
	}
	return names, nil
}
