// Package store is pqc-iiot's encrypted keystore: one bbolt file holding a
// device's identities, peer keys, policy, revocation state, monotonic
// counters and (later) session state.
//
// What it offers:
//
//   - Records encrypted with XChaCha20-Poly1305 under a key from Argon2id
//     (Passphrase, parameters and a random salt kept in the file's header) or
//     from the caller (RawKey, 32 bytes, e.g. unsealed by a TPM). Each
//     record's associated data binds the store id, the record name and the
//     generation it was written at, so ciphertexts cannot be moved between
//     names or stores, nor replaced by an older ciphertext of the same record.
//     Record names are stored only as keyed hashes; the file holds no
//     plaintext secret and no plaintext name.
//   - A wrong key is reported as ErrWrongKey (via an encrypted key-check
//     record), never as garbage data; edits to the file as ErrCorrupt.
//   - Atomic multi-record writes (Update) and crash safety from bbolt's
//     copy-on-write pages and fsync'd commits: a process killed at any point
//     leaves the old or the new state. TestCrashSafety kills a writing child
//     process with SIGKILL many times to show it; surviving power loss as well
//     relies on the storage honouring fsync, as with any database.
//   - Monotonic counters that never go backwards within the store. They live
//     in one authenticated state record together with the store's generation,
//     so no counter can be rolled back on its own.
//   - Rollback detection with an Anchor: every commit bumps the generation and
//     then advances the anchor; Open refuses a store behind its anchor
//     (ErrRollback). Anchor is an interface so that a TPM NV counter or a
//     secure element can replace NewFileAnchor.
//
// Scale: every write re-seals the index of record names together with the
// counters, so a write costs O(number of records). That is meant for a
// keystore (hundreds of records). Measured on the development VM, a
// 64-byte Put took 0.35-1.7 ms with 100 records and 5-10 ms with 10,000,
// mostly fsync and page writes; Get takes about 2.5 µs.
//
// What it refuses: opening with the wrong kind of key, a tampered header
// with absurd KDF costs, a store bound to an anchor without that anchor,
// writes while the anchor could not be advanced, counter or generation
// overflow, decrementing or deleting a counter. It does not fall back to
// anything weaker: every such case is an error.
//
// # Threat model
//
// A software-only store protects data at rest against someone who obtains
// the file but not the key: they learn the number and sizes of records and
// the Argon2id parameters, nothing else, and cannot change a record, counter
// or name without Open or Get failing. Against a weak passphrase it offers
// only Argon2id's cost per guess; an attacker with the file and the
// passphrase (or raw key) has everything, including data still sitting in
// pages bbolt freed after Delete, until those pages are reused. Whoever can
// replace the whole file with an older copy of itself can roll back every
// counter and record together; that is detected only when an Anchor the
// attacker cannot also roll back is used, and NewFileAnchor meets that only
// if its file sits somewhere the attacker cannot write (a hardware counter
// is the real answer). A write whose anchor advance did not complete (crash
// between commit and Advance) was never acknowledged to the caller and may
// be lost to such a restore. Someone who can run code in the process, or
// read its memory while the store is open, gets the keys: Close wipes the
// key material the package holds, but Go gives no guarantee that transient
// copies (in hash and cipher states, on stacks, in freed heap) are erased.
package store
