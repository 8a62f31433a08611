package store

import (
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/crypto/chacha20poly1305"
)

// DefaultTimeout is how long Open and Create wait for another process to
// release the file lock when Options.Timeout is zero. bbolt's own zero means
// "wait forever", which would hang a device daemon behind a stuck peer.
const DefaultTimeout = time.Second

// Options tune Create and Open. A nil *Options means all defaults.
type Options struct {
	// Anchor detects a restored older copy of the store. Once a store has
	// been written with an anchor it refuses to open without one
	// (ErrInvalid); opening an unbound store with an anchor binds it.
	Anchor Anchor
	// Argon2 overrides DefaultArgon2 at Create (for tests and very small
	// devices). Open always uses the parameters stored in the header.
	Argon2 *Argon2Params
	// Timeout bounds the wait for the file lock; see DefaultTimeout.
	Timeout time.Duration
}

// Store is an open keystore. It is safe for concurrent use; bbolt's file lock
// keeps other processes out while it is open.
type Store struct {
	mu     sync.RWMutex
	db     *bolt.DB
	id     []byte
	keys   []byte // AEAD key || name key; wiped by Close
	aead   cipher.AEAD
	st     *state // authoritative copy of the committed state, see load
	anchor Anchor
	// anchorBehind is set when a commit succeeded but Advance failed. Writes
	// are refused until the anchor catches up, which keeps the store at most
	// one generation ahead of its anchor; Open relies on that bound.
	anchorBehind bool
	closed       bool
}

func (o *Options) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o *Options) anchor() Anchor {
	if o == nil {
		return nil
	}
	return o.Anchor
}

// openBolt opens the file without ever creating it unless create is set, and
// refuses an empty file: bbolt would silently initialise one, turning a
// truncated keystore into an empty, valid-looking database.
func openBolt(path string, create bool, timeout time.Duration) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: timeout,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			if !create {
				flag &^= os.O_CREATE
			}
			f, err := os.OpenFile(name, flag, perm)
			if err != nil || create {
				return f, err
			}
			fi, err := f.Stat()
			if err == nil && fi.Size() == 0 {
				err = fmt.Errorf("%w: empty file", ErrCorrupt)
			}
			if err != nil {
				f.Close()
				return nil, err
			}
			return f, nil
		},
	})
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	default:
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
}

func newStore(db *bolt.DB, id, master []byte, st *state, anchor Anchor) (*Store, error) {
	keys, err := subkeys(master, id)
	clear(master)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(keys[:keySize])
	if err != nil {
		clear(keys)
		return nil, err
	}
	return &Store{db: db, id: id, keys: keys, aead: aead, st: st, anchor: anchor}, nil
}

// Create makes a new store at path and opens it. It fails if path exists.
// The file is built under a temporary name and linked into place, so a crash
// during Create never leaves a half-made store at path.
func Create(path string, ks KeySource, opts *Options) (*Store, error) {
	if ks == nil {
		return nil, fmt.Errorf("%w: nil KeySource", ErrInvalid)
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("store: create %s: %w", path, fs.ErrExist)
	}
	h := &header{kdf: ks.kdf()}
	if h.kdf == kdfArgon2id {
		h.argon = DefaultArgon2
		if opts != nil && opts.Argon2 != nil {
			h.argon = *opts.Argon2
		}
		if err := h.argon.validate(); err != nil {
			return nil, err
		}
		rand.Read(h.salt[:])
	}
	rand.Read(h.storeID[:])
	master, err := ks.masterKey(h)
	if err != nil {
		return nil, err
	}
	// A fresh store starts one past the anchor's current value so that an
	// anchor that has already served (a re-provisioned device, a hardware
	// counter that cannot be reset) still works, and so that old copies of
	// any previous store on that anchor are refused.
	st := &state{gen: 1, counters: map[string]uint64{}, records: map[string]uint64{}}
	anchor := opts.anchor()
	if anchor != nil {
		a, err := anchor.Read()
		if err != nil {
			clear(master)
			return nil, fmt.Errorf("store: create: read anchor: %w", err)
		}
		if a == math.MaxUint64 {
			clear(master)
			return nil, fmt.Errorf("%w: anchor", ErrCounterExhausted)
		}
		st.gen = a + 1
		st.flags |= flagAnchored
	}
	s, err := newStore(nil, h.storeID[:], master, st, anchor)
	if err != nil {
		return nil, err
	}
	if err := s.initFile(path, h, opts.timeout()); err != nil {
		s.wipe()
		return nil, err
	}
	if anchor != nil {
		if err := anchor.Advance(st.gen); err != nil {
			s.Close()
			return nil, fmt.Errorf("store: created %s but could not advance anchor (Open will repair it): %w", path, err)
		}
	}
	return s, nil
}

func (s *Store) initFile(path string, h *header, timeout time.Duration) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("store: create: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	db, err := openBolt(tmp, true, timeout)
	if err != nil {
		return err
	}
	hb := h.marshal()
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketRecords); err != nil {
			return err
		}
		if err := meta.Put(keyHeader, hb); err != nil {
			return err
		}
		if err := meta.Put(keyCheck, seal(s.aead, adCheck(hb), checkValue)); err != nil {
			return err
		}
		return meta.Put(keyState, seal(s.aead, adState(s.id), s.st.marshal()))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: create: %w", err)
	}
	if err := publish(tmp, path); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("store: create: %w", err)
	}
	db, err = openBolt(path, false, timeout)
	if err != nil {
		return err
	}
	s.db = db
	return nil
}

// publish moves a finished file into place without ever replacing an
// existing one. A hard link does that atomically; filesystems without links
// (FAT on some devices) get an exclusive placeholder and a rename instead.
func publish(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("store: create %s: %w", path, fs.ErrExist)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	f.Close()
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	return nil
}

// Open opens an existing store. A key that does not match gives ErrWrongKey;
// a store older than its anchor gives ErrRollback; a damaged or edited file
// gives ErrCorrupt.
func Open(path string, ks KeySource, opts *Options) (*Store, error) {
	if ks == nil {
		return nil, fmt.Errorf("%w: nil KeySource", ErrInvalid)
	}
	db, err := openBolt(path, false, opts.timeout())
	if err != nil {
		return nil, err
	}
	s, err := load(db, ks, opts.anchor())
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func load(db *bolt.DB, ks KeySource, anchor Anchor) (_ *Store, err error) {
	var hb, check, stBlob []byte
	var stored [][]byte
	err = safeView(db, func(tx *bolt.Tx) error {
		meta, recs := tx.Bucket(bucketMeta), tx.Bucket(bucketRecords)
		if meta == nil || recs == nil {
			return fmt.Errorf("%w: missing buckets", ErrCorrupt)
		}
		hb = slices.Clone(meta.Get(keyHeader))
		check = slices.Clone(meta.Get(keyCheck))
		stBlob = slices.Clone(meta.Get(keyState))
		return recs.ForEach(func(k, _ []byte) error {
			stored = append(stored, slices.Clone(k))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	if ks.kdf() != h.kdf {
		return nil, fmt.Errorf("%w: store was created with a different kind of key", ErrWrongKey)
	}
	master, err := ks.masterKey(h)
	if err != nil {
		return nil, err
	}
	s, err := newStore(db, h.storeID[:], master, nil, anchor)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.wipe()
		}
	}()
	if pt, err := openSealed(s.aead, adCheck(hb), check); err != nil {
		return nil, fmt.Errorf("%w: key-check record does not authenticate", ErrWrongKey)
	} else if string(pt) != string(checkValue) {
		return nil, fmt.Errorf("%w: key check value", ErrCorrupt)
	}
	pt, err := openSealed(s.aead, adState(s.id), stBlob)
	if err != nil {
		return nil, fmt.Errorf("%w (state record)", err)
	}
	if s.st, err = decodeState(pt); err != nil {
		return nil, err
	}
	// Records added or removed behind the state's back (for example a state
	// record put back from an older copy) show up as a mismatch between the
	// authenticated index and the keys in the file.
	want := make(map[string]bool, len(s.st.records))
	for name := range s.st.records {
		want[string(nameKey(s.keys[keySize:], name))] = true
	}
	if len(stored) != len(want) {
		return nil, fmt.Errorf("%w: %d records in file, index lists %d", ErrCorrupt, len(stored), len(want))
	}
	for _, k := range stored {
		if !want[string(k)] {
			return nil, fmt.Errorf("%w: record not in index", ErrCorrupt)
		}
	}
	if err := s.checkAnchor(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkAnchor compares the store with its anchor at Open.
//
// The store may be exactly one generation ahead: the process died (or
// Advance failed) between committing and advancing. Accepting that and
// moving the anchor forward is safe because the generation is inside the
// authenticated state, so nobody without the key can make a store look
// newer; an older copy always has a generation at or below the anchor.
// More than one ahead cannot happen with a working anchor (writes are
// refused while it lags), so it means the anchor was reset, lost or belongs
// to another store, and is refused.
func (s *Store) checkAnchor() error {
	anchored := s.st.flags&flagAnchored != 0
	if s.anchor == nil {
		if anchored {
			return fmt.Errorf("%w: store is bound to an anchor; Options.Anchor is required", ErrInvalid)
		}
		return nil
	}
	a, err := s.anchor.Read()
	if err != nil {
		return fmt.Errorf("store: read anchor: %w", err)
	}
	g := s.st.gen
	switch {
	case a > g:
		return fmt.Errorf("%w: store generation %d is behind anchor %d (restored older copy)", ErrRollback, g, a)
	case anchored && g-a > 1:
		return fmt.Errorf("%w: anchor %d is %d behind store generation %d (anchor reset or not this store's)", ErrRollback, a, g-a, g)
	}
	if err := s.anchor.Advance(g); err != nil {
		return fmt.Errorf("store: advance anchor: %w", err)
	}
	if !anchored {
		// Binding takes a write so that the flag is authenticated: from now
		// on, opening without the anchor is refused.
		return s.update(func(tx *Tx) error {
			tx.st.flags |= flagAnchored
			tx.dirty = true
			return nil
		}, false)
	}
	return nil
}

// safeView turns a bbolt panic on a damaged page into ErrCorrupt: a keystore
// read must not take down the host process.
func safeView(db *bolt.DB, fn func(tx *bolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	return db.View(fn)
}

// Put stores value under name, encrypted.
func (s *Store) Put(name string, value []byte) error {
	return s.Update(func(tx *Tx) error { return tx.Put(name, value) })
}

// Get returns a fresh copy of the value stored under name.
func (s *Store) Get(name string) ([]byte, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	gen, ok := s.st.records[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	var out []byte
	err := safeView(s.db, func(tx *bolt.Tx) error {
		var err error
		out, err = s.openRecord(tx.Bucket(bucketRecords), name, gen)
		return err
	})
	return out, err
}

func (s *Store) openRecord(b *bolt.Bucket, name string, gen uint64) ([]byte, error) {
	blob := b.Get(nameKey(s.keys[keySize:], name))
	if blob == nil {
		return nil, fmt.Errorf("%w: record %q missing from file", ErrCorrupt, name)
	}
	v, err := openSealed(s.aead, adRecord(s.id, gen, name), blob)
	if err != nil {
		return nil, fmt.Errorf("%w (record %q)", err, name)
	}
	return v, nil
}

// Delete removes a record; ErrNotFound if there is none.
//
// bbolt never overwrites in place: the page that held the ciphertext goes to
// the freelist and keeps its bytes until reused. Overwriting the value with
// random bytes first would only free the old page one transaction later, so
// it is not done. What remains is ciphertext under the store key, bound to a
// generation the index no longer lists: it cannot be resurrected by editing
// the file, only read by someone who also has the key.
func (s *Store) Delete(name string) error {
	return s.Update(func(tx *Tx) error { return tx.Delete(name) })
}

// List returns the names of records that start with prefix, sorted.
func (s *Store) List(prefix string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	return listNames(s.st, prefix), nil
}

func listNames(st *state, prefix string) []string {
	var out []string
	for name := range st.records {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Counter returns the current value of a counter, 0 if never incremented.
func (s *Store) Counter(name string) (uint64, error) {
	if err := validName(name); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return s.st.counters[name], nil
}

// Increment adds n to a counter and returns the new value once it is durable
// (and the anchor advanced). Counters can only grow: there is no way to set,
// decrement or delete one.
func (s *Store) Increment(name string, n uint64) (uint64, error) {
	var v uint64
	err := s.Update(func(tx *Tx) error {
		var err error
		v, err = tx.Increment(name, n)
		return err
	})
	if err != nil {
		return 0, err
	}
	return v, nil
}

// Generation is the store's write generation: it grows by one with every
// committed write and is what the anchor tracks.
func (s *Store) Generation() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.gen
}

// Update runs fn in one atomic write: either every change fn made is
// committed, or (fn returns an error, panics, or the commit fails) none is.
// fn must not call methods of s (the store is locked while it runs) and must
// not keep tx.
func (s *Store) Update(fn func(tx *Tx) error) error {
	return s.update(fn, true)
}

func (s *Store) update(fn func(tx *Tx) error, lock bool) (err error) {
	if lock {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	if s.closed {
		return ErrClosed
	}
	if s.anchorBehind {
		if err := s.anchor.Advance(s.st.gen); err != nil {
			return fmt.Errorf("store: anchor still behind generation %d, refusing to write: %w", s.st.gen, err)
		}
		s.anchorBehind = false
	}
	if s.st.gen == math.MaxUint64 {
		return fmt.Errorf("%w: generation", ErrCounterExhausted)
	}
	btx, err := s.db.Begin(true)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			btx.Rollback()
		}
	}()
	tx := &Tx{s: s, btx: btx, recs: btx.Bucket(bucketRecords), st: s.st.clone(), gen: s.st.gen + 1}
	if tx.recs == nil {
		return fmt.Errorf("%w: missing records bucket", ErrCorrupt)
	}
	err = fn(tx)
	tx.done = true
	if err != nil || !tx.dirty {
		return err
	}
	tx.st.gen = tx.gen
	if err := btx.Bucket(bucketMeta).Put(keyState, seal(s.aead, adState(s.id), tx.st.marshal())); err != nil {
		return fmt.Errorf("store: write state: %w", err)
	}
	if err := btx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	committed = true
	s.st = tx.st
	if s.anchor != nil {
		if err := s.anchor.Advance(tx.gen); err != nil {
			s.anchorBehind = true
			return fmt.Errorf("store: write committed at generation %d but anchor not advanced: %w", tx.gen, err)
		}
	}
	return nil
}

// Close releases the file and wipes the keys held in memory. Values returned
// by Get belong to the caller, who wipes them.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.wipe()
	return s.db.Close()
}

func (s *Store) wipe() {
	s.closed = true
	clear(s.keys)
	if s.aead != nil {
		wipeAEAD(s.aead)
	}
	s.aead = nil
}

// Tx is the view of the store inside Update. Reads see the transaction's own
// writes.
type Tx struct {
	s     *Store
	btx   *bolt.Tx
	recs  *bolt.Bucket
	st    *state
	gen   uint64 // generation this transaction commits as
	dirty bool
	done  bool
}

func (tx *Tx) check(name string) error {
	if tx.done {
		return ErrClosed
	}
	return validName(name)
}

// Put stores value under name.
func (tx *Tx) Put(name string, value []byte) error {
	if err := tx.check(name); err != nil {
		return err
	}
	if len(value) > MaxValueLen {
		return fmt.Errorf("%w: value of %d bytes exceeds %d", ErrInvalid, len(value), MaxValueLen)
	}
	blob := seal(tx.s.aead, adRecord(tx.s.id, tx.gen, name), value)
	if err := tx.recs.Put(nameKey(tx.s.keys[keySize:], name), blob); err != nil {
		return fmt.Errorf("store: put %q: %w", name, err)
	}
	tx.st.records[name] = tx.gen
	tx.dirty = true
	return nil
}

// Get returns the value under name as of this transaction.
func (tx *Tx) Get(name string) ([]byte, error) {
	if err := tx.check(name); err != nil {
		return nil, err
	}
	gen, ok := tx.st.records[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return tx.s.openRecord(tx.recs, name, gen)
}

// Delete removes name; ErrNotFound if there is none.
func (tx *Tx) Delete(name string) error {
	if err := tx.check(name); err != nil {
		return err
	}
	if _, ok := tx.st.records[name]; !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if err := tx.recs.Delete(nameKey(tx.s.keys[keySize:], name)); err != nil {
		return fmt.Errorf("store: delete %q: %w", name, err)
	}
	delete(tx.st.records, name)
	tx.dirty = true
	return nil
}

// List returns the names starting with prefix as of this transaction.
func (tx *Tx) List(prefix string) ([]string, error) {
	if tx.done {
		return nil, ErrClosed
	}
	return listNames(tx.st, prefix), nil
}

// Counter returns a counter's value as of this transaction.
func (tx *Tx) Counter(name string) (uint64, error) {
	if err := tx.check(name); err != nil {
		return 0, err
	}
	return tx.st.counters[name], nil
}

// Increment adds n to a counter within the transaction and returns the new
// value. Adding 0 reads the counter without making the transaction a write.
func (tx *Tx) Increment(name string, n uint64) (uint64, error) {
	if err := tx.check(name); err != nil {
		return 0, err
	}
	cur := tx.st.counters[name]
	if n > math.MaxUint64-cur {
		return 0, fmt.Errorf("%w: %q is %d, cannot add %d", ErrCounterExhausted, name, cur, n)
	}
	if n == 0 {
		return cur, nil
	}
	tx.st.counters[name] = cur + n
	tx.dirty = true
	return cur + n, nil
}
