package store

import (
	"fmt"
	"path/filepath"
	"testing"
)

// Each write is a bbolt commit (fsync), so write benchmarks measure the disk
// as much as the crypto; they are what a caller will see.

func benchStore(b *testing.B) *Store {
	s := mustCreate(b, filepath.Join(b.TempDir(), "ks"), RawKey(testRawKey), nil)
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkPut64(b *testing.B) {
	// Every write re-seals the index of record names, so the cost grows with
	// the number of records; the sizes bracket a gateway's keystore.
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := benchStore(b)
			v := make([]byte, 64)
			s.Update(func(tx *Tx) error {
				for i := range n {
					tx.Put(fmt.Sprintf("peer/%d", i), v)
				}
				return nil
			})
			b.SetBytes(64)
			i := 0
			for b.Loop() {
				if err := s.Put(fmt.Sprintf("peer/%d", i%n), v); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkGet64(b *testing.B) {
	s := benchStore(b)
	for i := range 100 {
		s.Put(fmt.Sprintf("peer/%d", i), make([]byte, 64))
	}
	b.SetBytes(64)
	i := 0
	for b.Loop() {
		if _, err := s.Get(fmt.Sprintf("peer/%d", i%100)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkIncrement(b *testing.B) {
	s := benchStore(b)
	for b.Loop() {
		if _, err := s.Increment("tx/seq", 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdate10 shows the cost of batching: ten records, one commit.
func BenchmarkUpdate10(b *testing.B) {
	s := benchStore(b)
	v := make([]byte, 64)
	for b.Loop() {
		err := s.Update(func(tx *Tx) error {
			for j := range 10 {
				if err := tx.Put(fmt.Sprintf("peer/%d", j), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenRawKey(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ks")
	s := mustCreate(b, path, RawKey(testRawKey), nil)
	for i := range 100 {
		s.Put(fmt.Sprintf("peer/%d", i), make([]byte, 64))
	}
	s.Close()
	for b.Loop() {
		s, err := Open(path, RawKey(testRawKey), nil)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
