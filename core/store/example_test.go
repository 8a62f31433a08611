package store_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/pqc-iiot/pqc-iiot/core/store"
)

func Example() {
	dir, _ := os.MkdirTemp("", "store-example")
	defer os.RemoveAll(dir)

	pass := []byte("operator passphrase")
	opts := &store.Options{
		// On a device: a TPM NV counter; here a file on another partition.
		Anchor: store.NewFileAnchor(filepath.Join(dir, "anchor")),
		Argon2: &store.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}, // example only: keep the defaults
	}
	s, err := store.Create(filepath.Join(dir, "keystore.db"), store.Passphrase(pass), opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	// Rotate an identity key and reserve sender sequence numbers in one
	// atomic write.
	err = s.Update(func(tx *store.Tx) error {
		if err := tx.Put("identity/current", []byte("new private key")); err != nil {
			return err
		}
		_, err := tx.Increment("seq/mqtt", 100)
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	seq, _ := s.Counter("seq/mqtt")
	fmt.Println("reserved up to", seq)
	s.Close()

	if _, err := store.Open(filepath.Join(dir, "keystore.db"), store.Passphrase([]byte("guess")), opts); err != nil {
		fmt.Println(err)
	}
	// Output:
	// reserved up to 100
	// store: wrong key or passphrase: key-check record does not authenticate
}
