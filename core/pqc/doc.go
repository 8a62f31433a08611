// Package pqc is the algorithm registry of pqc-iiot: key encapsulation
// mechanisms (KEMs) and signature schemes behind two small interfaces, looked
// up by name (case-insensitive, spelled as liboqs and circl spell them).
//
// Keys, ciphertexts and signatures are plain byte slices in the formats that
// liboqs, PQClean and the NIST standards use, so they interoperate with other
// libraries byte for byte. Every input length is checked before use; a wrong
// length, an unknown name or a failed verification is a wrapped sentinel error
// (ErrInvalidArgument, ErrUnsupported, ErrVerify) that the C API maps to a
// stable status code.
//
// Implementations are chosen by correctness first, then by measured speed:
// circl carries the lattice schemes (ML-KEM, Kyber, ML-DSA, Dilithium and the
// X-Wing hybrid), the standard library carries Ed25519, and Falcon and SABER
// are the project's own (core/internal/falcon, core/internal/saber).
//
// The package refuses to do what would weaken a caller silently: there is no
// fallback from one algorithm to another and no "default" when a name is
// unknown.
package pqc
