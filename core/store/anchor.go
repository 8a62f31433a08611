package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Anchor is a monotonic counter kept outside the store file: a TPM NV
// counter, a secure element's counter, or (weaker) a file on another
// partition. The store records its generation inside its authenticated
// state and advances the anchor after every commit; a store whose generation
// is behind its anchor is a restored older copy.
//
// Implementations must never go backwards: Advance to a value below the
// current one must fail, Advance to the current value is a no-op, and an
// Advance that returned nil must survive power loss. One anchor serves one
// store.
type Anchor interface {
	Read() (uint64, error)
	Advance(to uint64) error
}

// NewFileAnchor keeps the anchor in a file at path, replaced atomically on
// each advance. It only helps if whoever can restore an old copy of the store
// cannot also restore this file: put it on a different, better protected
// partition. It is weaker than a hardware counter, which no file copy can
// reset, and is meant for tests and devices without one. A missing file reads
// as 0, so deleting it makes a store that is bound to it refuse to open
// rather than silently losing protection.
func NewFileAnchor(path string) Anchor { return &fileAnchor{path: path} }

// AnchorPath is where the CLI and the C API keep the file anchor of the
// store at storePath when no hardware counter is configured: beside it.
// That catches a restored or corrupted store file (bbolt falling back to an
// older commit) but not a restore of both files together.
func AnchorPath(storePath string) string { return storePath + ".anchor" }

type fileAnchor struct {
	mu   sync.Mutex
	path string
}

const anchorMagic = "PQCANCH1"

func (a *fileAnchor) Read() (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.read()
}

func (a *fileAnchor) read() (uint64, error) {
	b, err := os.ReadFile(a.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read anchor: %w", err)
	}
	if len(b) != 20 || string(b[:8]) != anchorMagic || crc32.ChecksumIEEE(b[:16]) != binary.BigEndian.Uint32(b[16:]) {
		return 0, fmt.Errorf("%w: anchor file %s is malformed", ErrCorrupt, a.path)
	}
	return binary.BigEndian.Uint64(b[8:16]), nil
}

func (a *fileAnchor) Advance(to uint64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur, err := a.read()
	if err != nil {
		return err
	}
	if to < cur {
		return fmt.Errorf("%w: anchor is at %d, refusing to move back to %d", ErrRollback, cur, to)
	}
	if to == cur {
		return nil
	}
	b := binary.BigEndian.AppendUint64([]byte(anchorMagic), to)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	return writeFileAtomic(a.path, b)
}

// writeFileAtomic writes via a temporary file and rename so a crash leaves the
// old or the new value, and syncs the directory so the rename itself is
// durable before Advance reports success. The temporary name is fixed: only
// one process advances an anchor (the one holding the store's lock), and a
// fixed name means a file left by a killed process is simply overwritten.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("store: write anchor: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: write anchor: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
