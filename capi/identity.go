package main

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pqc-iiot/pqc-iiot/core/identity"
	"github.com/pqc-iiot/pqc-iiot/core/pqc"
	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// Keystore key kinds of the header.
const (
	keystorePassphrase = 0
	keystoreRawKey     = 1
)

// Maxima of the header: buffers for calls with side effects must be this
// large (PQC_OBJECT_MAX_BYTES, PQC_REVOCATION_MAX_BYTES).
const (
	objectMax     = 4 * identity.MaxObjectSize
	revocationMax = identity.MaxRevocationSize
)

// identityObject is what a pqc_identity handle refers to: a device's
// keystore, open for the handle's lifetime. Its mutex serializes use from
// several threads.
type identityObject struct {
	mu  sync.Mutex
	st  *store.Store
	dev *identity.Device
	// tr is the trust state once loaded: shared with the session managers
	// made from this identity, so a policy or revocation list applied here
	// reaches their sessions at once.
	tr *identity.Trust
	// freed lets managers refuse work once the keystore they use is closed.
	freed atomic.Bool
}

func keystoreKey(kind C.int, key *C.uint8_t, keyLen C.size_t) (store.KeySource, func(), error) {
	k, err := input(key, keyLen, "keystore key")
	if err != nil {
		return nil, nil, err
	}
	wipe := func() { clear(k) }
	switch kind {
	case keystorePassphrase:
		if len(k) == 0 {
			return nil, nil, argError("empty passphrase")
		}
		return store.Passphrase(k), wipe, nil
	case keystoreRawKey:
		return store.RawKey(k), wipe, nil
	default:
		return nil, nil, argError(fmt.Sprintf("keystore key kind %d", int(kind)))
	}
}

// openKeystore opens (or creates) a keystore with its rollback anchor, a
// file beside it (store.AnchorPath): restoring an older copy of the store,
// or corrupting its newest commit so that bbolt falls back to an older one,
// is then PQC_ERR_ROLLBACK rather than silently accepted.
func openKeystore(path *C.char, kind C.int, key *C.uint8_t, keyLen C.size_t, create bool) (*store.Store, error) {
	p, err := cstrPath(path)
	if err != nil {
		return nil, err
	}
	ks, wipe, err := keystoreKey(kind, key, keyLen)
	if err != nil {
		return nil, err
	}
	defer wipe()
	opts := &store.Options{Anchor: store.NewFileAnchor(store.AnchorPath(p))}
	if create {
		return store.Create(p, ks, opts)
	}
	return store.Open(p, ks, opts)
}

// discardKeystore removes a keystore that a failed create call made, so
// that the caller can retry with corrected arguments.
func discardKeystore(st *store.Store, path *C.char) {
	st.Close()
	if p, err := cstrPath(path); err == nil {
		os.Remove(p)
		os.Remove(store.AnchorPath(p))
	}
}

// seconds converts a caller's duration, refusing values time.Duration
// cannot hold (about 292 years) instead of letting them wrap.
func seconds(s C.uint64_t, what string) (time.Duration, error) {
	if s == 0 || uint64(s) > uint64(math.MaxInt64/int64(time.Second)) {
		return 0, argError(fmt.Sprintf("%s of %d seconds is zero or too long", what, uint64(s)))
	}
	return time.Duration(s) * time.Second, nil
}

// cstrPath reads a path of up to 4096 bytes.
func cstrPath(p *C.char) (string, error) {
	// Scanned byte by byte: copying a fixed 4097 bytes would read past the
	// terminator, and a short path near the end of a mapping (argv at the
	// top of the stack) then faults.
	s, err := boundedString(p, 4096, "path")
	if err != nil {
		return "", err
	}
	if len(s) == 0 {
		return "", argError("path is empty")
	}
	return s, nil
}

//export pqc_identity_create
func pqc_identity_create(path *C.char, kind C.int, key *C.uint8_t, keyLen C.size_t, deviceID, factoryAlg, sigAlg, kemAlg *C.char, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	id, err := cstr(deviceID, "device id")
	if err != nil {
		return fail(err)
	}
	fa, err1 := optionalString(factoryAlg, "factory algorithm", identity.DefaultSignature)
	sa, err2 := optionalString(sigAlg, "signature algorithm", identity.DefaultSignature)
	ka, err3 := optionalString(kemAlg, "KEM algorithms", strings.Join(identity.DefaultKEMs, ","))
	for _, e := range []error{err1, err2, err3} {
		if e != nil {
			return fail(e)
		}
	}
	// Check what can be checked before a file is made.
	if !identity.ValidID(id) {
		return fail(argError(fmt.Sprintf("device id %q", id)))
	}
	return keystoreHandle(path, kind, key, keyLen, true, out, func(st *store.Store) (any, error) {
		dev, err := identity.InitDevice(st, id, fa, sa, strings.Split(ka, ","))
		return &identityObject{st: st, dev: dev}, err
	})
}

//export pqc_identity_open
func pqc_identity_open(path *C.char, kind C.int, key *C.uint8_t, keyLen C.size_t, out *C.uintptr_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	if err := clearOut(out); err != nil {
		return fail(err)
	}
	return keystoreHandle(path, kind, key, keyLen, false, out, func(st *store.Store) (any, error) {
		dev, err := identity.OpenDevice(st)
		return &identityObject{st: st, dev: dev}, err
	})
}

// clearOut checks a handle out-parameter and sets it to NULL, so that every
// failure leaves the caller with no handle.
func clearOut(out *C.uintptr_t) error {
	if out == nil {
		return argError("out is NULL")
	}
	*out = 0
	return nil
}

// keystoreHandle opens (or creates) a keystore, lets load build the object
// on it, and issues a handle. On failure the store is closed, and a store
// this call created is removed so a corrected retry can succeed.
func keystoreHandle(path *C.char, kind C.int, key *C.uint8_t, keyLen C.size_t, create bool, out *C.uintptr_t, load func(*store.Store) (any, error)) C.int {
	st, err := openKeystore(path, kind, key, keyLen, create)
	if err != nil {
		return fail(err)
	}
	obj, err := load(st)
	if err != nil {
		if create {
			discardKeystore(st, path)
		} else {
			st.Close()
		}
		return fail(err)
	}
	*out = C.uintptr_t(handles.add(obj))
	return statusOK
}

//export pqc_identity_free
func pqc_identity_free(h C.uintptr_t) {
	enter()
	defer recoverZero()
	if id, ok := release[*identityObject](uintptr(h)); ok {
		id.mu.Lock()
		defer id.mu.Unlock()
		id.freed.Store(true)
		id.st.Close()
	}
}

// withIdentity runs fn on the identity behind h, holding its lock.
func withIdentity(h C.uintptr_t, fn func(*identityObject) error) C.int {
	obj, ok := lookup[*identityObject](uintptr(h))
	if !ok {
		return fail(closedError("pqc_identity", h))
	}
	obj.mu.Lock()
	defer obj.mu.Unlock()
	if err := fn(obj); err != nil {
		return fail(err)
	}
	return statusOK
}

//export pqc_identity_device_id
func pqc_identity_device_id(h C.uintptr_t, out *C.char, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		return writeString(out, capacity, outLen, o.dev.ID(), "device id")
	})
}

//export pqc_identity_factory_public_key
func pqc_identity_factory_public_key(h C.uintptr_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		enc, err := o.dev.FactoryKey().Encode()
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, enc, "factory key")
	})
}

//export pqc_identity_join_request
func pqc_identity_join_request(h C.uintptr_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		if err := requireCapacity(out, capacity, outLen, objectMax, "join request"); err != nil {
			return err
		}
		req, err := o.dev.JoinRequest(nil, time.Now())
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, req, "join request")
	})
}

//export pqc_identity_renewal_request
func pqc_identity_renewal_request(h C.uintptr_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		if err := requireCapacity(out, capacity, outLen, objectMax, "renewal request"); err != nil {
			return err
		}
		req, err := o.dev.RenewalRequest(time.Now())
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, req, "renewal request")
	})
}

//export pqc_identity_install
func pqc_identity_install(h C.uintptr_t, chain *C.uint8_t, chainLen C.size_t, anchor *C.uint8_t, anchorLen C.size_t, overlapSeconds C.uint64_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		c, err := input(chain, chainLen, "chain")
		if err != nil {
			return err
		}
		a, err := input(anchor, anchorLen, "anchor")
		if err != nil {
			return err
		}
		trust, err := o.trust(a)
		if err != nil {
			return err
		}
		overlap := time.Duration(0)
		if overlapSeconds > 0 {
			if overlap, err = seconds(overlapSeconds, "overlap"); err != nil {
				return err
			}
		}
		if _, err := o.dev.Install(c, trust, overlap, time.Now()); err != nil {
			return err
		}
		if err := identity.SaveTrust(o.st, trust); err != nil {
			return err
		}
		o.tr = trust
		return nil
	})
}

// trust loads the stored trust state; on first use the anchor (required
// then) starts it. A different anchor than the stored one is refused.
func (o *identityObject) trust(anchor []byte) (*identity.Trust, error) {
	if o.tr != nil {
		if len(anchor) > 0 && !hasAnchor(o.tr, anchor) {
			return nil, fmt.Errorf("the given anchor is not the stored one: %w", identity.ErrUnknownIssuer)
		}
		return o.tr, nil
	}
	t, err := identity.LoadTrust(o.st)
	if err == nil {
		o.tr = t
		if len(anchor) > 0 && !hasAnchor(t, anchor) {
			return nil, fmt.Errorf("the given anchor is not the stored one: %w", identity.ErrUnknownIssuer)
		}
		return t, nil
	}
	if len(anchor) == 0 {
		return nil, fmt.Errorf("no trust anchor stored and none given: %w", identity.ErrNoIdentity)
	}
	return identity.NewTrust(anchor)
}

func hasAnchor(t *identity.Trust, raw []byte) bool {
	for _, a := range t.Anchors() {
		if string(a.Raw) == string(raw) {
			return true
		}
	}
	return false
}

//export pqc_identity_chain
func pqc_identity_chain(h C.uintptr_t, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		_, chain, err := o.dev.Certificate()
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, chain, "chain")
	})
}

//export pqc_identity_epoch
func pqc_identity_epoch(h C.uintptr_t, epoch *C.uint64_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		if epoch == nil {
			return argError("epoch is NULL")
		}
		cert, _, err := o.dev.Certificate()
		if err != nil {
			return err
		}
		*epoch = C.uint64_t(cert.Epoch)
		return nil
	})
}

//export pqc_identity_key_id
func pqc_identity_key_id(h C.uintptr_t, out *C.uint8_t, outLen C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		cert, _, err := o.dev.Certificate()
		if err != nil {
			return err
		}
		buf, err := output(out, outLen, len(cert.KeyID), "key id")
		if err != nil {
			return err
		}
		copy(buf, cert.KeyID)
		return nil
	})
}

//export pqc_identity_public_key
func pqc_identity_public_key(h C.uintptr_t, alg *C.char, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		cert, _, err := o.dev.Certificate()
		if err != nil {
			return err
		}
		name, err := optionalString(alg, "algorithm", cert.SigKey.Alg)
		if err != nil {
			return err
		}
		if strings.EqualFold(name, cert.SigKey.Alg) {
			return writeVar(out, capacity, outLen, cert.SigKey.Key, "public key")
		}
		for _, k := range cert.KEMKeys {
			if strings.EqualFold(name, k.Alg) {
				return writeVar(out, capacity, outLen, k.Key, "public key")
			}
		}
		return fmt.Errorf("the certificate holds no %s key: %w", name, pqc.ErrUnsupported)
	})
}

//export pqc_identity_announcement
func pqc_identity_announcement(h C.uintptr_t, topic *C.char, out *C.uint8_t, capacity C.size_t, outLen *C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		t, err := cstr(topic, "topic")
		if err != nil {
			return err
		}
		a, err := o.dev.Announcement(t, time.Now())
		if err != nil {
			return err
		}
		return writeVar(out, capacity, outLen, a, "announcement")
	})
}

//export pqc_identity_apply_policy
func pqc_identity_apply_policy(h C.uintptr_t, data *C.uint8_t, n C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		return o.applyAndSave(data, n, func(t *identity.Trust, b []byte) error {
			_, err := t.ApplyPolicy(b, time.Now())
			return err
		})
	})
}

//export pqc_identity_apply_revocation
func pqc_identity_apply_revocation(h C.uintptr_t, data *C.uint8_t, n C.size_t) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		return o.applyAndSave(data, n, func(t *identity.Trust, b []byte) error {
			_, err := t.ApplyRevocation(b)
			return err
		})
	})
}

func (o *identityObject) applyAndSave(data *C.uint8_t, n C.size_t, apply func(*identity.Trust, []byte) error) error {
	b, err := input(data, n, "object")
	if err != nil {
		return err
	}
	t, err := o.trust(nil)
	if err != nil {
		return err
	}
	if err := apply(t, b); err != nil {
		return err
	}
	return identity.SaveTrust(o.st, t)
}

//export pqc_identity_rotation_due
func pqc_identity_rotation_due(h C.uintptr_t, intervalSeconds C.uint64_t, due *C.int) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		if due == nil {
			return argError("due is NULL")
		}
		// 0 is allowed here: "rotate now" is a meaningful question.
		interval := time.Duration(0)
		if intervalSeconds > 0 {
			var err error
			if interval, err = seconds(intervalSeconds, "interval"); err != nil {
				return err
			}
		}
		d, err := o.dev.RotationDue(interval, time.Now())
		if err != nil {
			return err
		}
		*due = boolInt(d)
		return nil
	})
}

//export pqc_identity_prune
func pqc_identity_prune(h C.uintptr_t, pruned *C.int) (status C.int) {
	enter()
	defer recoverStatus(&status)
	return withIdentity(h, func(o *identityObject) error {
		p, err := o.dev.Prune(time.Now())
		if err != nil {
			return err
		}
		if pruned != nil {
			*pruned = boolInt(p)
		}
		return nil
	})
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
