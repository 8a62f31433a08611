package store

import "errors"

// Sentinel errors. Every error returned by this package that falls in one of
// these classes wraps the sentinel with context, so callers test with
// errors.Is and the C API can map each class to a stable status code.
var (
	// ErrWrongKey: the passphrase or raw key does not open this store (or the
	// key-check record was altered, which cannot be told apart without the key).
	ErrWrongKey = errors.New("store: wrong key or passphrase")
	// ErrNotFound: no record of that name.
	ErrNotFound = errors.New("store: not found")
	// ErrCorrupt: the file is damaged or was edited: a record, the state record
	// or the header failed authentication or decoding.
	ErrCorrupt = errors.New("store: corrupt or tampered data")
	// ErrRollback: the store is older than its anchor says it must be (a
	// restored copy), or the anchor was reset or belongs to another store.
	ErrRollback = errors.New("store: rollback detected")
	// ErrClosed: the store (or a transaction) is no longer usable.
	ErrClosed = errors.New("store: closed")
	// ErrCounterExhausted: a counter or the generation would overflow.
	ErrCounterExhausted = errors.New("store: counter exhausted")
	// ErrLocked: another process holds the store open.
	ErrLocked = errors.New("store: locked by another process")
	// ErrInvalid: a bad argument (name, key size, parameters, missing anchor).
	ErrInvalid = errors.New("store: invalid argument")
)
