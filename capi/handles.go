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

// remove forgets h and reports whether it was live.
func (t *handleTable) remove(h uintptr) (any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	obj, ok := t.objs[h]
	delete(t.objs, h)
	return obj, ok
}

// lookup returns the object behind h if it is live and of type T.
func lookup[T any](h uintptr) (T, bool) {
	handles.mu.RLock()
	obj, ok := handles.objs[h]
	handles.mu.RUnlock()
	v, isT := obj.(T)
	return v, ok && isT
}
