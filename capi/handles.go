package main

/*
#include <stdint.h>
*/
import "C"

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// handleTable maps handle numbers to Go objects. Numbers are never reused,
// so a stale handle cannot alias an object made later.
type handleTable struct {
	mu   sync.RWMutex
	next uintptr
	objs map[uintptr]any
}

var handles = &handleTable{next: 0x1000, objs: map[uintptr]any{}}

func (t *handleTable) add(obj any) uintptr {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Step by 16 so handles look like aligned pointers to debuggers and
	// tools that inspect them.
	t.next += 16
	t.objs[t.next] = obj
	return t.next
}

// release forgets h if it is live and of type T, and returns its object.
// A handle of another type given to the wrong free function stays live:
// pqc_kem_free on a pqc_sig handle must not free the signature object.
func release[T any](h uintptr) (T, bool) {
	handles.mu.Lock()
	defer handles.mu.Unlock()
	v, ok := handles.objs[h].(T)
	if ok {
		delete(handles.objs, h)
	}
	return v, ok
}

// lookup returns the object behind h if it is live and of type T.
func lookup[T any](h uintptr) (T, bool) {
	handles.mu.RLock()
	obj, ok := handles.objs[h]
	handles.mu.RUnlock()
	v, isT := obj.(T)
	return v, ok && isT
}

// liveObject is a handle object that can be closed while its handle still
// exists and that may depend on an identity (nil when it has none).
type liveObject interface {
	liveState() (closed *atomic.Bool, id *identityObject)
}

// withLive runs fn on a live object of handle h: refused when the handle is
// unknown or of another type, the object was closed, or its identity was
// freed. fn's errors go through failWith, the transport's status mapping.
// The identity's lock is not held: transport calls block on the network.
func withLive[T liveObject](h C.uintptr_t, kind string, fn func(T) error, failWith func(error) C.int) C.int {
	obj, ok := lookup[T](uintptr(h))
	if !ok {
		return fail(closedError(kind, h))
	}
	closed, id := obj.liveState()
	if closed.Load() {
		return fail(fmt.Errorf("%s %#x was closed: %w", kind, uint64(h), errClosed))
	}
	if id != nil && id.freed.Load() {
		return fail(fmt.Errorf("the identity of %s %#x was freed: %w", kind, uint64(h), errClosed))
	}
	if err := fn(obj); err != nil {
		return failWith(err)
	}
	return statusOK
}

// shutdowner is a handle object whose shutdown closes it once, however
// often it is called.
type shutdowner interface{ shutdown() }

// closeObject is pqc_<name>_close for a handle of kind: the object is shut
// down and the handle stays valid until freed. From one of the object's
// own callbacks (inCallback) it is refused: the shutdown would wait for
// that very callback.
func closeObject[T shutdowner](h C.uintptr_t, kind, name string, inCallback bool, failWith func(error) C.int) C.int {
	obj, ok := lookup[T](uintptr(h))
	if !ok {
		return fail(closedError(kind, h))
	}
	if inCallback {
		return failWith(fmt.Errorf("%s: %w", name, errWrongThread))
	}
	obj.shutdown()
	return statusOK
}

// freeObject is pqc_<name>_free: the handle is released and its object
// shut down. From one of the object's own callbacks it leaks the handle
// instead (the lesser harm than waiting for itself), saying why in the
// last error.
func freeObject[T shutdowner](h C.uintptr_t, name string, inCallback bool, leaked string) {
	if inCallback {
		setLastError(name + " called from " + leaked)
		return
	}
	if obj, ok := release[T](uintptr(h)); ok {
		obj.shutdown()
	}
}
