package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pqc-iiot/pqc-iiot/core/store"
)

// passphraseFlag adds --passphrase-file; the passphrase never appears on
// the command line, where other users could read it from the process list.
func passphraseFlag(fs *flagSet) *string {
	return fs.String("passphrase-file", "", "file holding the keystore passphrase (default: $PQC_IIOT_PASSPHRASE)")
}

func passphrase(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		b = bytes.TrimRight(b, "\r\n")
		if len(b) == 0 {
			return nil, fmt.Errorf("passphrase file %s is empty", file)
		}
		return b, nil
	}
	if p := os.Getenv("PQC_IIOT_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	return nil, fmt.Errorf("no passphrase: give --passphrase-file or set PQC_IIOT_PASSPHRASE: %w", errUsage)
}

func createStore(path, ppFile string) (*store.Store, error) {
	pp, err := passphrase(ppFile)
	if err != nil {
		return nil, err
	}
	defer clear(pp)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return store.Create(path, store.Passphrase(pp), anchored(path))
}

func openStore(path, ppFile string) (*store.Store, error) {
	pp, err := passphrase(ppFile)
	if err != nil {
		return nil, err
	}
	defer clear(pp)
	st, err := store.Open(path, store.Passphrase(pp), anchored(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("keystore %s does not exist", path)
	}
	return st, err
}

// writeOut writes a public object; 0644 because everything the CLI writes
// to files (certificates, requests, policy) is public and signed.
func writeOut(path string, data []byte) error {
	if path == "-" {
		_, err := os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func readIn(path string) ([]byte, error) {
	if path == "-" {
		return readAllLimited(os.Stdin)
	}
	return os.ReadFile(path)
}

// anchored gives a keystore its rollback anchor file, the convention the C
// API shares (store.AnchorPath), so stores move between the two freely.
func anchored(path string) *store.Options {
	return &store.Options{Anchor: store.NewFileAnchor(store.AnchorPath(path))}
}
