package store

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// flakyAnchor wraps an anchor and can be told to fail, standing in for a
// TPM that is busy or a partition that went read-only.
type flakyAnchor struct {
	Anchor
	mu   sync.Mutex
	fail bool
}

var errAnchorDown = errors.New("anchor unavailable")

func (f *flakyAnchor) Advance(to uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errAnchorDown
	}
	return f.Anchor.Advance(to)
}

func (f *flakyAnchor) setFail(v bool) { f.mu.Lock(); f.fail = v; f.mu.Unlock() }

func TestFileAnchor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor")
	a := NewFileAnchor(path)
	if v, err := a.Read(); v != 0 || err != nil {
		t.Fatalf("missing anchor reads %d, %v; want 0", v, err)
	}
	for _, tc := range []struct {
		to   uint64
		err  error
		want uint64
	}{
		{5, nil, 5},
		{5, nil, 5},
		{6, nil, 6},
		{4, ErrRollback, 6},
		{0, ErrRollback, 6},
		{1 << 62, nil, 1 << 62},
	} {
		if err := a.Advance(tc.to); !errors.Is(err, tc.err) {
			t.Fatalf("Advance(%d): err = %v, want %v", tc.to, err, tc.err)
		}
		if v, err := NewFileAnchor(path).Read(); v != tc.want || err != nil {
			t.Fatalf("after Advance(%d): Read = %d, %v; want %d", tc.to, v, err, tc.want)
		}
	}
	b, _ := os.ReadFile(path)
	for i := range b {
		bad := append([]byte(nil), b...)
		bad[i] ^= 0x10
		os.WriteFile(path, bad, 0o600)
		if _, err := a.Read(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("anchor with byte %d flipped: err = %v, want ErrCorrupt", i, err)
		}
		if err := a.Advance(1 << 63); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Advance over a corrupt anchor: err = %v, want ErrCorrupt", err)
		}
	}
	os.WriteFile(path, b[:10], 0o600)
	if _, err := a.Read(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated anchor: err = %v", err)
	}
}

func TestRollbackDetection(t *testing.T) {
	ks := RawKey(testRawKey)
	type env struct {
		dir, path, anchorPath string
		anchor                Anchor
	}
	newEnv := func(t *testing.T) env {
		dir := t.TempDir()
		e := env{dir: dir, path: filepath.Join(dir, "ks"), anchorPath: filepath.Join(dir, "anchor")}
		e.anchor = NewFileAnchor(e.anchorPath)
		s := mustCreate(t, e.path, ks, opts(e.anchor))
		s.Put("k", []byte("v1"))
		s.Increment("seq", 100)
		mustClose(t, s)
		return e
	}
	// snapshot copies the store, then writes more so the copy is old.
	snapshot := func(t *testing.T, e env) string {
		old := filepath.Join(e.dir, "old")
		copyFile(t, old, e.path)
		s := mustOpen(t, e.path, ks, opts(e.anchor))
		s.Put("k", []byte("v2 (new key after rotation)"))
		s.Increment("seq", 100)
		mustClose(t, s)
		return old
	}
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, e env) error
		want error
	}{
		{"current copy opens", func(t *testing.T, e env) error {
			s, err := Open(e.path, ks, opts(e.anchor))
			if err == nil {
				mustClose(t, s)
			}
			return err
		}, nil},
		{"restored older copy", func(t *testing.T, e env) error {
			old := snapshot(t, e)
			copyFile(t, e.path, old)
			_, err := Open(e.path, ks, opts(e.anchor))
			return err
		}, ErrRollback},
		{"older copy one write behind", func(t *testing.T, e env) error {
			old := filepath.Join(e.dir, "old")
			copyFile(t, old, e.path)
			s := mustOpen(t, e.path, ks, opts(e.anchor))
			s.Increment("seq", 1)
			mustClose(t, s)
			copyFile(t, e.path, old)
			_, err := Open(e.path, ks, opts(e.anchor))
			return err
		}, ErrRollback},
		{"older copy without the anchor", func(t *testing.T, e env) error {
			old := snapshot(t, e)
			copyFile(t, e.path, old)
			_, err := Open(e.path, ks, opts(nil))
			return err
		}, ErrInvalid},
		{"only the state record put back", func(t *testing.T, e env) error {
			old := snapshot(t, e)
			var oldState []byte
			rawEdit(t, old, func(meta, _ *bolt.Bucket) { oldState = append([]byte(nil), meta.Get(keyState)...) })
			rawEdit(t, e.path, func(meta, _ *bolt.Bucket) { meta.Put(keyState, oldState) })
			_, err := Open(e.path, ks, opts(e.anchor))
			return err
		}, ErrRollback},
		{"anchor file deleted", func(t *testing.T, e env) error {
			snapshot(t, e)
			os.Remove(e.anchorPath)
			_, err := Open(e.path, ks, opts(e.anchor))
			return err
		}, ErrRollback},
		{"anchor of another store", func(t *testing.T, e env) error {
			other := NewFileAnchor(filepath.Join(e.dir, "other-anchor"))
			mustClose(t, mustCreate(t, filepath.Join(e.dir, "other"), ks, opts(other)))
			_, err := Open(e.path, ks, opts(other))
			return err
		}, ErrRollback},
		{"anchor moved back", func(t *testing.T, e env) error {
			snapshot(t, e)
			copyFile(t, e.anchorPath+".x", e.anchorPath)
			s := mustOpen(t, e.path, ks, opts(e.anchor))
			s.Put("a", nil)
			s.Put("b", nil)
			mustClose(t, s)
			os.Rename(e.anchorPath+".x", e.anchorPath)
			_, err := Open(e.path, ks, opts(e.anchor))
			return err
		}, ErrRollback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if err := tc.run(t, e); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestAnchorBehindByOne covers the crash window between commit and Advance:
// the store is one generation ahead, Open accepts it and repairs the anchor.
// It also shows writes are refused while the anchor cannot advance, which is
// what keeps the gap at one.
func TestAnchorBehindByOne(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ks")
	ks := RawKey(testRawKey)
	fa := &flakyAnchor{Anchor: NewFileAnchor(filepath.Join(dir, "anchor"))}
	s := mustCreate(t, path, ks, opts(fa))
	s.Put("a", []byte("1"))
	g := s.Generation()

	fa.setFail(true)
	if err := s.Put("a", []byte("2")); !errors.Is(err, errAnchorDown) {
		t.Fatalf("Put with anchor down: err = %v, want the anchor's error", err)
	}
	if s.Generation() != g+1 {
		t.Fatalf("generation %d, want %d (commit happened)", s.Generation(), g+1)
	}
	if v, _ := s.Get("a"); string(v) != "2" {
		t.Fatalf("committed value not visible: %q", v)
	}
	if _, err := s.Increment("c", 1); !errors.Is(err, errAnchorDown) {
		t.Fatalf("write while anchor lags: err = %v, want refusal", err)
	}
	if s.Generation() != g+1 {
		t.Fatalf("a refused write moved the generation")
	}
	if a, _ := fa.Read(); a != g {
		t.Fatalf("anchor = %d, want %d", a, g)
	}
	// Crash here: close without the anchor ever catching up.
	mustClose(t, s)

	if _, err := Open(path, ks, opts(fa)); !errors.Is(err, errAnchorDown) {
		t.Fatalf("Open while anchor cannot be repaired: err = %v", err)
	}
	fa.setFail(false)
	s = mustOpen(t, path, ks, opts(fa))
	if a, _ := fa.Read(); a != g+1 {
		t.Fatalf("Open did not repair anchor: %d, want %d", a, g+1)
	}
	if _, err := s.Increment("c", 1); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)

	// Recovery while still open: once the anchor works again, the next write
	// first catches it up.
	s = mustOpen(t, path, ks, opts(fa))
	defer s.Close()
	fa.setFail(true)
	s.Put("b", nil)
	fa.setFail(false)
	if err := s.Put("c", nil); err != nil {
		t.Fatalf("write after anchor recovered: %v", err)
	}
	if a, _ := fa.Read(); a != s.Generation() {
		t.Fatalf("anchor %d, store %d", a, s.Generation())
	}
}

func TestBindToAnchor(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ks")
	ks := RawKey(testRawKey)
	s := mustCreate(t, path, ks, nil)
	s.Put("a", []byte("x"))
	mustClose(t, s)
	old := filepath.Join(dir, "old")
	copyFile(t, old, path)
	mustClose(t, mustOpen(t, path, ks, nil)) // unbound stores open without one

	anchor := NewFileAnchor(filepath.Join(dir, "anchor"))
	s = mustOpen(t, path, ks, opts(anchor))
	g := s.Generation()
	if a, _ := anchor.Read(); a != g {
		t.Fatalf("anchor %d after binding, store %d", a, g)
	}
	mustClose(t, s)
	if _, err := Open(path, ks, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bound store opened without its anchor: err = %v", err)
	}
	copyFile(t, path, old)
	if _, err := Open(path, ks, opts(anchor)); !errors.Is(err, ErrRollback) {
		t.Fatalf("pre-binding copy: err = %v, want ErrRollback", err)
	}
}

func TestCreateContinuesAnchor(t *testing.T) {
	dir := t.TempDir()
	anchor := NewFileAnchor(filepath.Join(dir, "anchor"))
	if err := anchor.Advance(1000); err != nil {
		t.Fatal(err)
	}
	s := mustCreate(t, filepath.Join(dir, "ks"), RawKey(testRawKey), opts(anchor))
	defer s.Close()
	if s.Generation() != 1001 {
		t.Fatalf("new store on a used anchor starts at %d, want 1001", s.Generation())
	}
	if a, _ := anchor.Read(); a != 1001 {
		t.Fatalf("anchor %d", a)
	}
}
