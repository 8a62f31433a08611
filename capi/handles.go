package main

import (
	"sync"
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
