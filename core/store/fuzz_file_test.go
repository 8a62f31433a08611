package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenFile opens keystore files damaged in arbitrary ways: bytes XORed
// in at an offset, the file cut short or extended. The decoders below the
// file format have their own targets (FuzzParseHeader, FuzzDecodeState,
// FuzzOpenRecord); this one covers what sits on top of them, bbolt's pages
// included, as Open meets a damaged disk or an attacker's edit.
//
// Invariants: no panic and no crash (a bbolt panic must come back as
// ErrCorrupt); a refusal is one of the package's sentinel errors; an
// accepted file gives back exactly the records that were written, or
// refuses a record with ErrCorrupt — never different bytes.
//
// The input is an edit of a store made in this process (an arbitrary byte
// string would almost never look like a bbolt file), so the corpus is
// portable between fuzzing processes.
func FuzzOpenFile(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "k.store")
	s, err := Create(path, RawKey(testRawKey), opts(nil))
	if err != nil {
		f.Fatal(err)
	}
	records := map[string][]byte{"peer/a": []byte("first value"), "peer/b": bytes.Repeat([]byte{7}, 300)}
	for k, v := range records {
		if err := s.Put(k, v); err != nil {
			f.Fatal(err)
		}
	}
	if _, err := s.Increment("seq/x", 5); err != nil {
		f.Fatal(err)
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	genuine, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(0), []byte{}, int32(0))
	f.Add(uint32(0), []byte{0xff}, int32(0))                  // first meta page
	f.Add(uint32(4096), []byte{1, 2, 3, 4}, int32(0))         // second meta page
	f.Add(uint32(len(genuine)-64), []byte{0x80}, int32(0))    // a data page
	f.Add(uint32(0), []byte{}, int32(-int32(len(genuine)/2))) // truncated
	f.Add(uint32(0), []byte{}, int32(4096))                   // extended with zeros
	f.Fuzz(func(t *testing.T, off uint32, mask []byte, resize int32) {
		if err := os.WriteFile(path, editFile(genuine, off, mask, resize), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path, RawKey(testRawKey), opts(nil))
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("refusal without a sentinel error: %v", err)
			}
			return
		}
		defer s.Close()
		for k, v := range records {
			got, err := s.Get(k)
			if err == nil && !bytes.Equal(got, v) {
				t.Fatalf("record %s came back as %x", k, got)
			}
			if err != nil && !isSentinel(err) {
				t.Fatalf("record %s: %v", k, err)
			}
		}
	})
}

// editFile resizes b by delta (zero-extended, at least one byte kept so the
// result is never the empty file Open refuses for its own reason) and XORs
// mask in from off.
func editFile(b []byte, off uint32, mask []byte, delta int32) []byte {
	n := max(len(b)+int(delta), 1)
	n = min(n, 4*len(b)) // bounded: the fuzzer's int32 could ask for 2 GiB
	out := make([]byte, n)
	copy(out, b)
	for i, m := range mask {
		out[(int(off)+i)%n] ^= m
	}
	return out
}

func isSentinel(err error) bool {
	for _, s := range []error{ErrWrongKey, ErrNotFound, ErrCorrupt, ErrRollback, ErrClosed, ErrInvalid, ErrLocked, ErrCounterExhausted} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
