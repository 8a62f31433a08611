// Package session is the sans-I/O security engine of pqc-iiot: bytes in,
// bytes out, with the clock and the random source injected through Config.
//
// It offers two protections:
//
//   - Sealed messages (Sealer, Opener): one-shot, signed and encrypted to a
//     recipient's certified KEM key (X-Wing by default), with a persistent
//     sender sequence number and a receiver replay window. For devices that
//     send rarely and cannot keep a session.
//   - Sessions (Manager, Session): a two-message mutually authenticated
//     handshake (ML-DSA signatures, X25519 + ML-KEM ephemerals) followed by a
//     double ratchet with sparse post-quantum KEM steps.
//
// It refuses: unauthenticated state changes (every check that can fail runs
// before anything is mutated), suites the fleet policy does not list, peers
// whose keys are unknown, revoked or out of epoch, and any frame that does
// not parse exactly (unknown version, short fields, trailing bytes).
//
// The wire formats and key schedule are specified in docs/protocol.md.
package session
