package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/chacha20poly1305"
)

// Cheap Argon2id so that tests measure the store, not the KDF; the defaults
// are exercised once, in TestDefaultArgon2.
var testArgon = &Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

var testRawKey = bytes.Repeat([]byte{0x42}, 32)

func opts(a Anchor) *Options {
	return &Options{Anchor: a, Argon2: testArgon, Timeout: 100 * time.Millisecond}
}

func mustCreate(t testing.TB, path string, ks KeySource, o *Options) *Store {
	t.Helper()
	s, err := Create(path, ks, o)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return s
}

func mustOpen(t testing.TB, path string, ks KeySource, o *Options) *Store {
	t.Helper()
	s, err := Open(path, ks, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// rawEdit opens the file with bbolt directly, as an attacker with write
// access to it would.
func rawEdit(t *testing.T, path string, fn func(meta, recs *bolt.Bucket)) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		fn(tx.Bucket(bucketMeta), tx.Bucket(bucketRecords))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		ks   func() KeySource
	}{
		{"passphrase", func() KeySource { return Passphrase([]byte("correct horse battery staple")) }},
		{"raw key", func() KeySource { return RawKey(testRawKey) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ks.db")
			s := mustCreate(t, path, tc.ks(), opts(nil))
			records := map[string][]byte{
				"identity/self":    bytes.Repeat([]byte{1}, 4032),
				"peer/plc-07":      []byte("peer key"),
				"policy":           {},
				"revocation/epoch": {0, 0, 0, 9},
			}
			for k, v := range records {
				if err := s.Put(k, v); err != nil {
					t.Fatalf("Put %q: %v", k, err)
				}
			}
			if err := s.Put("peer/plc-07", []byte("rotated peer key")); err != nil {
				t.Fatal(err)
			}
			records["peer/plc-07"] = []byte("rotated peer key")
			check := func(s *Store) {
				t.Helper()
				for k, v := range records {
					got, err := s.Get(k)
					if err != nil || !bytes.Equal(got, v) {
						t.Fatalf("Get %q = %q, %v; want %q", k, got, err, v)
					}
				}
				names, err := s.List("peer/")
				if err != nil || !slices.Equal(names, []string{"peer/plc-07"}) {
					t.Fatalf("List(peer/) = %v, %v", names, err)
				}
				all, _ := s.List("")
				if len(all) != len(records) {
					t.Fatalf("List() = %v", all)
				}
				if _, err := s.Get("absent"); !errors.Is(err, ErrNotFound) {
					t.Fatalf("Get(absent) err = %v, want ErrNotFound", err)
				}
			}
			check(s)
			mustClose(t, s)
			s = mustOpen(t, path, tc.ks(), opts(nil))
			defer s.Close()
			check(s)
		})
	}
}

func TestCreateAndOpenFiles(t *testing.T) {
	dir := t.TempDir()
	ks := RawKey(testRawKey)
	existing := filepath.Join(dir, "existing")
	os.WriteFile(existing, []byte("x"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, bytes.Repeat([]byte("not a bolt file "), 1024), 0o600)
	missing := filepath.Join(dir, "missing")

	if _, err := Create(existing, ks, nil); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over existing file: err = %v, want fs.ErrExist", err)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{missing, fs.ErrNotExist},
		{empty, ErrCorrupt},
		{junk, ErrCorrupt},
	} {
		if _, err := Open(tc.path, ks, nil); !errors.Is(err, tc.want) {
			t.Errorf("Open(%s): err = %v, want %v", filepath.Base(tc.path), err, tc.want)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created %s", missing)
	}
	if fi, _ := os.Stat(empty); fi.Size() != 0 {
		t.Errorf("Open initialised an empty file")
	}
	s := mustCreate(t, filepath.Join(dir, "ks"), ks, nil)
	defer s.Close()
	if _, err := Create(filepath.Join(dir, "ks"), ks, nil); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Create: err = %v, want fs.ErrExist", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "ks")); fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestWrongKey(t *testing.T) {
	dir := t.TempDir()
	pp := filepath.Join(dir, "pp")
	raw := filepath.Join(dir, "raw")
	mustClose(t, mustCreate(t, pp, Passphrase([]byte("right")), opts(nil)))
	mustClose(t, mustCreate(t, raw, RawKey(testRawKey), opts(nil)))
	other := bytes.Repeat([]byte{0x43}, 32)
	for _, tc := range []struct {
		name string
		path string
		ks   KeySource
		want error
	}{
		{"right passphrase", pp, Passphrase([]byte("right")), nil},
		{"wrong passphrase", pp, Passphrase([]byte("wrong")), ErrWrongKey},
		{"passphrase prefix", pp, Passphrase([]byte("righ")), ErrWrongKey},
		{"raw key on passphrase store", pp, RawKey(testRawKey), ErrWrongKey},
		{"empty passphrase", pp, Passphrase(nil), ErrInvalid},
		{"right raw key", raw, RawKey(testRawKey), nil},
		{"wrong raw key", raw, RawKey(other), ErrWrongKey},
		{"passphrase on raw store", raw, Passphrase([]byte("right")), ErrWrongKey},
		{"short raw key", raw, RawKey(testRawKey[:31]), ErrInvalid},
		{"nil key source", raw, nil, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.path, tc.ks, nil)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				mustClose(t, s)
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: err = %v, want %v", err, tc.want)
			}
		})
	}
	// A failed Open must release the lock.
	mustClose(t, mustOpen(t, raw, RawKey(testRawKey), nil))
}

func TestTamper(t *testing.T) {
	ks := RawKey(testRawKey)
	type setup struct {
		path       string
		nk         func(string) []byte // bucket key of a record name
		oldA       []byte              // ciphertext of "a" before it was rewritten
		oldState   []byte              // state record before the last writes
		foreignA   []byte              // ciphertext of "a" in another store, same key
		foreignGen uint64
	}
	prepare := func(t *testing.T) setup {
		dir := t.TempDir()
		var st setup
		st.path = filepath.Join(dir, "ks")
		s := mustCreate(t, st.path, ks, nil)
		// a and b written in one transaction share a generation, so moving a
		// ciphertext between them isolates the name binding.
		if err := s.Update(func(tx *Tx) error {
			tx.Put("a", []byte("secret a"))
			return tx.Put("b", []byte("secret b"))
		}); err != nil {
			t.Fatal(err)
		}
		keys := slices.Clone(s.keys[keySize:])
		st.nk = func(n string) []byte { return nameKey(keys, n) }
		s.db.View(func(tx *bolt.Tx) error {
			st.oldA = slices.Clone(tx.Bucket(bucketRecords).Get(st.nk("a")))
			st.oldState = slices.Clone(tx.Bucket(bucketMeta).Get(keyState))
			return nil
		})
		s.Put("a", []byte("secret a, rotated"))
		s.Increment("c", 5)
		mustClose(t, s)

		other := mustCreate(t, filepath.Join(dir, "other"), ks, nil)
		other.Update(func(tx *Tx) error {
			tx.Put("a", []byte("foreign"))
			return tx.Put("b", []byte("foreign"))
		})
		other.Put("a", []byte("foreign a"))
		st.foreignGen = other.Generation()
		okeys := slices.Clone(other.keys[keySize:])
		other.db.View(func(tx *bolt.Tx) error {
			st.foreignA = slices.Clone(tx.Bucket(bucketRecords).Get(nameKey(okeys, "a")))
			return nil
		})
		mustClose(t, other)
		return st
	}
	flip := func(b []byte, i int) []byte { b = slices.Clone(b); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name     string
		edit     func(st setup, meta, recs *bolt.Bucket)
		openErr  error // expected from Open
		getName  string
		getErr   error // expected from Get(getName) when Open succeeds
		getValue string
	}{
		{"untouched", func(setup, *bolt.Bucket, *bolt.Bucket) {}, nil, "a", nil, "secret a, rotated"},
		{"flipped ciphertext byte", func(st setup, _, recs *bolt.Bucket) {
			v := recs.Get(st.nk("b"))
			recs.Put(st.nk("b"), flip(v, len(v)-20))
		}, nil, "b", ErrCorrupt, ""},
		{"flipped tag byte", func(st setup, _, recs *bolt.Bucket) {
			v := recs.Get(st.nk("b"))
			recs.Put(st.nk("b"), flip(v, len(v)-1))
		}, nil, "b", ErrCorrupt, ""},
		{"flipped nonce byte", func(st setup, _, recs *bolt.Bucket) {
			recs.Put(st.nk("b"), flip(recs.Get(st.nk("b")), 3))
		}, nil, "b", ErrCorrupt, ""},
		{"truncated record", func(st setup, _, recs *bolt.Bucket) {
			recs.Put(st.nk("b"), recs.Get(st.nk("b"))[:20])
		}, nil, "b", ErrCorrupt, ""},
		{"ciphertext copied under another name", func(st setup, _, recs *bolt.Bucket) {
			recs.Put(st.nk("b"), slices.Clone(recs.Get(st.nk("a"))))
		}, nil, "b", ErrCorrupt, ""},
		{"older ciphertext of the same record", func(st setup, _, recs *bolt.Bucket) {
			recs.Put(st.nk("a"), st.oldA)
		}, nil, "a", ErrCorrupt, ""},
		{"record from another store with the same key", func(st setup, _, recs *bolt.Bucket) {
			recs.Put(st.nk("a"), st.foreignA)
		}, nil, "a", ErrCorrupt, ""},
		{"record removed from file", func(st setup, _, recs *bolt.Bucket) {
			recs.Delete(st.nk("b"))
		}, ErrCorrupt, "", nil, ""},
		{"record injected into file", func(st setup, _, recs *bolt.Bucket) {
			recs.Put(st.nk("x"), slices.Clone(recs.Get(st.nk("a"))))
		}, ErrCorrupt, "", nil, ""},
		{"state record flipped", func(st setup, meta, _ *bolt.Bucket) {
			meta.Put(keyState, flip(meta.Get(keyState), 30))
		}, ErrCorrupt, "", nil, ""},
		{"state record deleted", func(st setup, meta, _ *bolt.Bucket) {
			meta.Delete(keyState)
		}, ErrCorrupt, "", nil, ""},
		{"header salt changed", func(st setup, meta, _ *bolt.Bucket) {
			meta.Put(keyHeader, flip(meta.Get(keyHeader), headerSize-1))
		}, ErrWrongKey, "", nil, ""},
		{"header store id changed", func(st setup, meta, _ *bolt.Bucket) {
			meta.Put(keyHeader, flip(meta.Get(keyHeader), 10))
		}, ErrWrongKey, "", nil, ""},
		{"header version changed", func(st setup, meta, _ *bolt.Bucket) {
			meta.Put(keyHeader, flip(meta.Get(keyHeader), 8))
		}, ErrCorrupt, "", nil, ""},
		{"header truncated", func(st setup, meta, _ *bolt.Bucket) {
			meta.Put(keyHeader, meta.Get(keyHeader)[:20])
		}, ErrCorrupt, "", nil, ""},
		{"key check record flipped", func(st setup, meta, _ *bolt.Bucket) {
			meta.Put(keyCheck, flip(meta.Get(keyCheck), 30))
		}, ErrWrongKey, "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := prepare(t)
			rawEdit(t, st.path, func(meta, recs *bolt.Bucket) { tc.edit(st, meta, recs) })
			s, err := Open(st.path, ks, nil)
			if tc.openErr != nil {
				if !errors.Is(err, tc.openErr) {
					t.Fatalf("Open: err = %v, want %v", err, tc.openErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			got, err := s.Get(tc.getName)
			if tc.getErr != nil {
				if !errors.Is(err, tc.getErr) {
					t.Fatalf("Get(%q) = %q, %v; want %v", tc.getName, got, err, tc.getErr)
				}
				return
			}
			if err != nil || string(got) != tc.getValue {
				t.Fatalf("Get(%q) = %q, %v; want %q", tc.getName, got, err, tc.getValue)
			}
		})
	}

	// Putting back the whole state record from before the last writes rolls
	// back the counter and the index together. Without an anchor that is an
	// ordinary old state; the mismatch with the records now in the file still
	// gives it away here, and with an anchor it is refused even when it would
	// not (see TestRollbackDetection).
	t.Run("older state record", func(t *testing.T) {
		st := prepare(t)
		rawEdit(t, st.path, func(meta, _ *bolt.Bucket) { meta.Put(keyState, st.oldState) })
		s, err := Open(st.path, ks, nil)
		if err == nil {
			defer s.Close()
			if _, err = s.Get("a"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get(a) after state rollback: err = %v, want ErrCorrupt", err)
			}
		}
	})
}

func TestNoPlaintextSecret(t *testing.T) {
	secret := []byte("PQC-IIOT-TEST-SECRET-0xC0FFEE!!!") // distinctive, 32 bytes
	if len(secret) != 32 {
		t.Fatal("secret must be 32 bytes")
	}
	const name = "identity/very-distinctive-record-name"
	for _, tc := range []struct {
		name string
		ks   KeySource
	}{
		{"passphrase", Passphrase([]byte("pw"))},
		{"raw key", RawKey(testRawKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ks")
			s := mustCreate(t, path, tc.ks, opts(nil))
			for i := range 20 {
				if err := s.Put(fmt.Sprintf("%s/%d", name, i), secret); err != nil {
					t.Fatal(err)
				}
			}
			s.Increment("counter/very-distinctive-counter", 7)
			s.Delete(name + "/3")
			mustClose(t, s)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, needle := range [][]byte{
				secret,
				secret[:16],
				[]byte(hex.EncodeToString(secret)),
				[]byte(strings.ToUpper(hex.EncodeToString(secret))),
				testRawKey,
				[]byte(name),
				[]byte("very-distinctive-counter"),
			} {
				if bytes.Contains(raw, needle) {
					t.Errorf("file contains %q", needle)
				}
			}
			// The scan must be able to fail: the same bytes are found when
			// planted.
			if !bytes.Contains(append(raw, secret...), secret) {
				t.Fatal("scan is broken")
			}
		})
	}
}

func TestCounters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ks")
	ks := RawKey(testRawKey)
	s := mustCreate(t, path, ks, nil)
	for _, tc := range []struct {
		name    string
		counter string
		n       uint64
		want    uint64
		err     error
	}{
		{"first increment", "tx/seq", 1, 1, nil},
		{"reserve ahead", "tx/seq", 64, 65, nil},
		{"zero reads", "tx/seq", 0, 65, nil},
		{"independent counter", "epoch", 3, 3, nil},
		{"to the top", "top", math.MaxUint64, math.MaxUint64, nil},
		{"past the top", "top", 1, 0, ErrCounterExhausted},
		{"overflow by sum", "tx/seq", math.MaxUint64 - 64, 0, ErrCounterExhausted},
		{"exactly to the top", "tx/seq", math.MaxUint64 - 65, math.MaxUint64, nil},
		{"empty name", "", 1, 0, ErrInvalid},
		{"long name", strings.Repeat("n", MaxNameLen+1), 1, 0, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := s.Counter(tc.counter)
			got, err := s.Increment(tc.counter, tc.n)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Increment: err = %v, want %v", err, tc.err)
				}
				if after, _ := s.Counter(tc.counter); after != before {
					t.Fatalf("failed Increment moved counter from %d to %d", before, after)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Increment = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	if v, err := s.Counter("never"); v != 0 || err != nil {
		t.Errorf("Counter(never) = %d, %v", v, err)
	}
	// Counters and records are separate namespaces.
	if _, err := s.Get("epoch"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(epoch) err = %v, want ErrNotFound", err)
	}
	mustClose(t, s)
	s = mustOpen(t, path, ks, nil)
	defer s.Close()
	for name, want := range map[string]uint64{"tx/seq": math.MaxUint64, "epoch": 3, "top": math.MaxUint64} {
		if v, _ := s.Counter(name); v != want {
			t.Errorf("after reopen Counter(%q) = %d, want %d", name, v, want)
		}
	}
}

func TestCountersMonotonicConcurrent(t *testing.T) {
	s := mustCreate(t, filepath.Join(t.TempDir(), "ks"), RawKey(testRawKey), nil)
	defer s.Close()
	var wg sync.WaitGroup
	results := make([][]uint64, 4)
	for w := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				v, err := s.Increment("c", 1)
				if err != nil {
					t.Error(err)
					return
				}
				results[w] = append(results[w], v)
				if _, err := s.Get("missing"); !errors.Is(err, ErrNotFound) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var all []uint64
	for _, r := range results {
		if !slices.IsSorted(r) {
			t.Errorf("one goroutine saw the counter go backwards: %v", r)
		}
		all = append(all, r...)
	}
	slices.Sort(all)
	for i, v := range all {
		if v != uint64(i+1) {
			t.Fatalf("increments not unique and contiguous: %v", all)
		}
	}
}

func TestUpdateAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ks")
	ks := RawKey(testRawKey)
	s := mustCreate(t, path, ks, nil)
	s.Put("keep", []byte("v1"))
	s.Put("doomed", []byte("d"))
	s.Increment("c", 10)
	gen := s.Generation()
	boom := errors.New("boom")

	for _, tc := range []struct {
		name string
		fn   func(tx *Tx) error
	}{
		{"error after writes", func(tx *Tx) error {
			tx.Put("keep", []byte("v2"))
			tx.Put("new", []byte("n"))
			tx.Delete("doomed")
			tx.Increment("c", 5)
			return boom
		}},
		{"error from an op", func(tx *Tx) error {
			tx.Put("keep", []byte("v2"))
			tx.Increment("c", 5)
			_, err := tx.Increment("c", math.MaxUint64)
			return err
		}},
		{"panic", func(tx *Tx) error {
			tx.Put("keep", []byte("v2"))
			tx.Increment("c", 5)
			panic(boom)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			func() {
				defer func() { recover() }()
				if err := s.Update(tc.fn); err == nil {
					t.Fatal("Update returned nil")
				}
			}()
			if v, _ := s.Get("keep"); string(v) != "v1" {
				t.Errorf("keep = %q after failed Update", v)
			}
			if _, err := s.Get("new"); !errors.Is(err, ErrNotFound) {
				t.Errorf("new exists after failed Update")
			}
			if _, err := s.Get("doomed"); err != nil {
				t.Errorf("doomed gone after failed Update: %v", err)
			}
			if c, _ := s.Counter("c"); c != 10 {
				t.Errorf("counter = %d after failed Update", c)
			}
			if g := s.Generation(); g != gen {
				t.Errorf("generation moved from %d to %d on a failed Update", gen, g)
			}
		})
	}

	var kept *Tx
	err := s.Update(func(tx *Tx) error {
		kept = tx
		if err := tx.Put("keep", []byte("v2")); err != nil {
			return err
		}
		if v, err := tx.Get("keep"); err != nil || string(v) != "v2" {
			return fmt.Errorf("tx does not read its own write: %q %v", v, err)
		}
		if err := tx.Delete("doomed"); err != nil {
			return err
		}
		if err := tx.Delete("doomed"); !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("second delete: %v", err)
		}
		if names, _ := tx.List(""); !slices.Equal(names, []string{"keep"}) {
			return fmt.Errorf("tx.List = %v", names)
		}
		if v, err := tx.Increment("c", 5); err != nil || v != 15 {
			return fmt.Errorf("tx.Increment = %d %v", v, err)
		}
		_, err := tx.Increment("d", 1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Generation() != gen+1 {
		t.Errorf("one Update moved generation %d -> %d, want +1", gen, s.Generation())
	}
	if err := kept.Put("late", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Tx used after Update: err = %v, want ErrClosed", err)
	}
	mustClose(t, s)
	s = mustOpen(t, path, ks, nil)
	defer s.Close()
	v, _ := s.Get("keep")
	c, _ := s.Counter("c")
	d, _ := s.Counter("d")
	_, derr := s.Get("doomed")
	if string(v) != "v2" || c != 15 || d != 1 || !errors.Is(derr, ErrNotFound) {
		t.Errorf("after reopen: keep=%q c=%d d=%d doomed err=%v", v, c, d, derr)
	}
}

func TestGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ks")
	ks := RawKey(testRawKey)
	s := mustCreate(t, path, ks, nil)
	g := s.Generation()
	for _, tc := range []struct {
		name string
		op   func() error
		bump uint64
	}{
		{"put", func() error { return s.Put("a", []byte("1")) }, 1},
		{"increment", func() error { _, err := s.Increment("c", 1); return err }, 1},
		{"increment by zero", func() error { _, err := s.Increment("c", 0); return err }, 0},
		{"read-only update", func() error { return s.Update(func(tx *Tx) error { _, err := tx.Get("a"); return err }) }, 0},
		{"delete", func() error { return s.Delete("a") }, 1},
		{"failed delete", func() error { s.Delete("a"); return nil }, 0},
		{"invalid put", func() error { s.Put("", nil); return nil }, 0},
	} {
		if err := tc.op(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := s.Generation(); got != g+tc.bump {
			t.Fatalf("%s: generation %d -> %d, want +%d", tc.name, g, got, tc.bump)
		}
		g = s.Generation()
	}
	mustClose(t, s)
	s = mustOpen(t, path, ks, nil)
	defer s.Close()
	if s.Generation() != g {
		t.Errorf("generation after reopen %d, want %d", s.Generation(), g)
	}
}

func TestDelete(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ks")
	ks := RawKey(testRawKey)
	s := mustCreate(t, path, ks, nil)
	s.Put("old-key", []byte("to be destroyed"))
	s.Put("other", []byte("stays"))
	if err := s.Delete("old-key"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("old-key"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: err = %v, want ErrNotFound", err)
	}
	if err := s.Delete(""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Delete(\"\"): err = %v, want ErrInvalid", err)
	}
	mustClose(t, s)
	s = mustOpen(t, path, ks, nil)
	defer s.Close()
	if _, err := s.Get("old-key"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted record after reopen: err = %v", err)
	}
	if v, err := s.Get("other"); err != nil || string(v) != "stays" {
		t.Errorf("other = %q, %v", v, err)
	}
}

func TestNamesAndValues(t *testing.T) {
	s := mustCreate(t, filepath.Join(t.TempDir(), "ks"), RawKey(testRawKey), nil)
	defer s.Close()
	for _, tc := range []struct {
		name  string
		key   string
		value []byte
		err   error
	}{
		{"empty name", "", []byte("v"), ErrInvalid},
		{"longest name", strings.Repeat("n", MaxNameLen), []byte("v"), nil},
		{"name too long", strings.Repeat("n", MaxNameLen+1), []byte("v"), ErrInvalid},
		{"binary name", "\x00\xff/peer", []byte("v"), nil},
		{"nil value", "nil", nil, nil},
		{"largest value", "big", make([]byte, MaxValueLen), nil},
		{"value too large", "huge", make([]byte, MaxValueLen+1), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Put(tc.key, tc.value)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Put: err = %v, want %v", err, tc.err)
			}
			got, gerr := s.Get(tc.key)
			if tc.err != nil {
				if gerr == nil {
					t.Fatal("Get found a rejected record")
				}
				return
			}
			if gerr != nil || !bytes.Equal(got, tc.value) {
				t.Fatalf("Get: %d bytes, %v", len(got), gerr)
			}
		})
	}
}

func TestClosed(t *testing.T) {
	s := mustCreate(t, filepath.Join(t.TempDir(), "ks"), RawKey(testRawKey), nil)
	s.Put("a", []byte("x"))
	s.Increment("c", 4)
	g := s.Generation()
	keys := s.keys
	mustClose(t, s)
	if !bytes.Equal(keys, make([]byte, len(keys))) {
		t.Error("Close left key material in memory")
	}
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"Put", func() error { return s.Put("a", nil) }},
		{"Get", func() error { _, err := s.Get("a"); return err }},
		{"Delete", func() error { return s.Delete("a") }},
		{"List", func() error { _, err := s.List(""); return err }},
		{"Update", func() error { return s.Update(func(*Tx) error { return nil }) }},
		{"Counter", func() error { _, err := s.Counter("c"); return err }},
		{"Increment", func() error { _, err := s.Increment("c", 1); return err }},
		{"Close", s.Close},
	} {
		if err := tc.op(); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", tc.name, err)
		}
	}
	if s.Generation() != g {
		t.Errorf("Generation after Close = %d, want %d", s.Generation(), g)
	}
}

func TestWipeAEAD(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	a, _ := chacha20poly1305.NewX(key)
	zero, _ := chacha20poly1305.NewX(make([]byte, 32))
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	if bytes.Equal(a.Seal(nil, nonce, nil, nil), zero.Seal(nil, nonce, nil, nil)) {
		t.Fatal("keys do not differ")
	}
	if !wipeAEAD(a) {
		t.Fatal("wipeAEAD no longer recognises x/crypto's XChaCha20-Poly1305; the key is not wiped on Close")
	}
	if !bytes.Equal(a.Seal(nil, nonce, nil, nil), zero.Seal(nil, nonce, nil, nil)) {
		t.Fatal("AEAD still uses its key after wipeAEAD")
	}
	if wipeAEAD(zero) != true || wipeAEAD(nil) {
		t.Fatal("wipeAEAD must accept the x/crypto type and refuse nil")
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ks")
	ks := RawKey(testRawKey)
	s := mustCreate(t, path, ks, nil)
	start := time.Now()
	_, err := Open(path, ks, &Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open waited %v", d)
	}
	mustClose(t, s)
	mustClose(t, mustOpen(t, path, ks, nil))
}

func TestDefaultArgon2(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB Argon2id")
	}
	path := filepath.Join(t.TempDir(), "ks")
	pw := []byte("default parameters")
	s := mustCreate(t, path, Passphrase(pw), nil)
	s.Put("a", []byte("b"))
	mustClose(t, s)
	var h *header
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.View(func(tx *bolt.Tx) error {
		h, err = parseHeader(tx.Bucket(bucketMeta).Get(keyHeader))
		return nil
	})
	db.Close()
	if err != nil || h.argon != DefaultArgon2 || h.kdf != kdfArgon2id {
		t.Fatalf("header = %+v, %v; want %+v", h, err, DefaultArgon2)
	}
	if DefaultArgon2.MemoryKiB < 64*1024 || DefaultArgon2.Time < 2 {
		t.Errorf("defaults weakened: %+v", DefaultArgon2)
	}
	s = mustOpen(t, path, Passphrase(pw), nil)
	defer s.Close()
	if v, err := s.Get("a"); err != nil || string(v) != "b" {
		t.Fatalf("Get = %q, %v", v, err)
	}
}

func TestArgon2Params(t *testing.T) {
	for _, tc := range []struct {
		p   Argon2Params
		err error
	}{
		{Argon2Params{1, 8, 1}, nil},
		{Argon2Params{0, 64, 1}, ErrInvalid},
		{Argon2Params{1, 64, 0}, ErrInvalid},
		{Argon2Params{1, 8, 2}, ErrInvalid},
		{Argon2Params{maxArgon2Time + 1, 64, 1}, ErrInvalid},
		{Argon2Params{1, maxArgon2Memory + 1, 1}, ErrInvalid},
	} {
		s, err := Create(filepath.Join(t.TempDir(), "ks"), Passphrase([]byte("p")), &Options{Argon2: &tc.p})
		if !errors.Is(err, tc.err) {
			t.Errorf("%+v: err = %v, want %v", tc.p, err, tc.err)
		}
		if err == nil {
			mustClose(t, s)
		}
	}
}

// TestTamperedHeaderCosts: the header is plaintext, so an attacker can edit
// the Argon2id parameters. Absurd ones are refused before any work is done;
// plausible ones derive a different key and fail the key check.
func TestTamperedHeaderCosts(t *testing.T) {
	pw := []byte("pw")
	for _, tc := range []struct {
		name string
		off  int
		val  []byte
		want error
	}{
		{"memory 4 GiB", 30, []byte{0xff, 0xff, 0xff, 0xff}, ErrCorrupt},
		{"time 2^32-1", 26, []byte{0xff, 0xff, 0xff, 0xff}, ErrCorrupt},
		{"zero threads", 34, []byte{0}, ErrCorrupt},
		{"unknown KDF", 25, []byte{9}, ErrCorrupt},
		{"lowered memory", 30, []byte{0, 0, 0, 32}, ErrWrongKey},
		{"raised time", 26, []byte{0, 0, 0, 2}, ErrWrongKey},
		{"raw KDF on passphrase store", 25, []byte{kdfRaw}, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ks")
			mustClose(t, mustCreate(t, path, Passphrase(pw), opts(nil)))
			rawEdit(t, path, func(meta, _ *bolt.Bucket) {
				h := slices.Clone(meta.Get(keyHeader))
				copy(h[tc.off:], tc.val)
				meta.Put(keyHeader, h)
			})
			start := time.Now()
			_, err := Open(path, Passphrase(pw), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: err = %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("Open spent %v on a tampered header", d)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	s := mustCreate(t, filepath.Join(t.TempDir(), "ks"), RawKey(testRawKey), nil)
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				name := fmt.Sprintf("w%d/%d", w, i%5)
				val := []byte(fmt.Sprintf("%d-%d", w, i))
				if err := s.Put(name, val); err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Get(name); err != nil || !bytes.Equal(got, val) {
					t.Errorf("Get(%s) = %q, %v; want %q", name, got, err, val)
				}
				if _, err := s.List(fmt.Sprintf("w%d/", w)); err != nil {
					t.Error(err)
				}
				if i%7 == 0 {
					s.Delete(name)
				}
				s.Generation()
			}
		}()
	}
	wg.Wait()
}
