package oscore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// SeqStore persists the sender sequence number with reservation (RFC 8613
// Appendix B.1.1): before a block of numbers is used, the end of the block is
// made durable, so after a crash or reboot the sender resumes after the block
// and never reuses a nonce, at the cost of skipping the unused rest.
type SeqStore interface {
	// Reserve durably records that every number below start+n may have been
	// used and returns start, the first number of the new block [start, start+n).
	// It must not return before the record is durable.
	Reserve(n uint64) (start uint64, err error)
}

// MemorySeqStore is a SeqStore without persistence, for tests and
// short-lived contexts whose keys die with the process.
type MemorySeqStore struct {
	mu   sync.Mutex
	next uint64
	// Fail, when set, makes Reserve fail (to test fail-closed behaviour).
	Fail bool
}

// NewMemorySeqStore returns an in-memory store whose first number is start.
func NewMemorySeqStore(start uint64) *MemorySeqStore { return &MemorySeqStore{next: start} }

// Reserve implements SeqStore.
func (m *MemorySeqStore) Reserve(n uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Fail {
		return 0, fmt.Errorf("%w: memory store set to fail", ErrSeqPersist)
	}
	start := m.next
	m.next += n
	return start, nil
}

// FileSeqStore keeps the reservation high-water mark in a small JSON file,
// replaced atomically (write temp, fsync, rename, fsync directory).
type FileSeqStore struct {
	mu   sync.Mutex
	path string
}

type seqFile struct {
	Next uint64 `json:"next"`
}

// NewFileSeqStore opens (or prepares to create) the store at path. The file
// holds the first number not yet reserved; a missing file means 0.
func NewFileSeqStore(path string) (*FileSeqStore, error) {
	s := &FileSeqStore{path: path}
	if _, err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *FileSeqStore) load() (uint64, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: read %s: %v", ErrSeqPersist, s.path, err)
	}
	var f seqFile
	if err := json.Unmarshal(data, &f); err != nil {
		// A corrupt counter must stop the sender: guessing could reuse a nonce.
		return 0, fmt.Errorf("%w: parse %s: %v", ErrSeqPersist, s.path, err)
	}
	return f.Next, nil
}

// Reserve implements SeqStore.
func (s *FileSeqStore) Reserve(n uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start, err := s.load()
	if err != nil {
		return 0, err
	}
	if start+n < start || start+n > maxSeq+1 {
		return 0, ErrSeqExhausted
	}
	if err := s.write(start + n); err != nil {
		return 0, err
	}
	return start, nil
}

func (s *FileSeqStore) write(next uint64) error {
	data, err := json.Marshal(seqFile{Next: next})
	if err != nil {
		return fmt.Errorf("%w: encode: %v", ErrSeqPersist, err)
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, ".seq-*.tmp")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSeqPersist, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: write: %v", ErrSeqPersist, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%w: fsync: %v", ErrSeqPersist, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%w: close: %v", ErrSeqPersist, err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("%w: rename: %v", ErrSeqPersist, err)
	}
	// The rename is only durable once the directory entry is.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%w: open dir: %v", ErrSeqPersist, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("%w: fsync dir: %v", ErrSeqPersist, err)
	}
	return nil
}

// sequencer hands out sender sequence numbers from reserved blocks.
type sequencer struct {
	mu    sync.Mutex
	store SeqStore
	block uint64
	next  uint64 // next number to hand out
	limit uint64 // first number not reserved; next == limit means reserve again
}

// take returns the next unused sequence number, reserving a block first when
// the current one is spent. A failing store fails closed.
func (s *sequencer) take() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next == s.limit {
		start, err := s.store.Reserve(s.block)
		if err != nil {
			return 0, fmt.Errorf("oscore: reserve sequence numbers: %w", err)
		}
		s.next, s.limit = start, start+s.block
	}
	if s.next > maxSeq {
		return 0, ErrSeqExhausted
	}
	n := s.next
	s.next++
	return n, nil
}
