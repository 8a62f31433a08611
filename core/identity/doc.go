// Package identity is device identity and fleet trust for pqc-iiot:
// operational certificates, certificate chains, enrolment and renewal,
// key announcements, CA-signed fleet policy and cumulative revocation lists.
//
// Every object is deterministic CBOR (RFC 8949 §4.2) inside COSE_Sign1
// (RFC 9052), with CWT claim keys (RFC 8392) where they fit, so stock
// CBOR/COSE tools can decode it. Each object carries a domain-separation
// label in its protected header (the COSE content type), so a signature made
// for one kind of object is never accepted as another.
//
// Decoders take untrusted bytes: the size is checked before parsing, the CBOR
// must be canonical, unknown fields are rejected, and every failure maps to a
// distinct sentinel error (wrong signature, unknown CA, expired, not yet
// valid, revoked, lower epoch, replayed request, stale policy, ...).
//
// The package refuses trust-on-first-use unless a caller enables it
// explicitly, refuses to roll policy or revocation state backwards, and fails
// closed when policy is missing or stale. It does no I/O of its own; clocks
// are injected and state is persisted by the caller (core/store).
package identity
