// Package saber implements the SABER key-encapsulation mechanism as
// submitted to round 3 of the NIST post-quantum process, in its three
// parameter sets LightSaber, Saber and FireSaber. Keys, ciphertexts and
// shared secrets are byte-for-byte those of the reference implementation
// (KULeuven-COSIC/SABER); the tests replay all 300 official known-answer
// entries.
//
// # Structure
//
// The module-LWR encryption scheme (indcpa.go) works in Z_q[X]/(X^256+1)
// with q = 2^13 and rounds to p = 2^10 and to T = 2^eps_T. The matrix A is
// expanded with SHAKE-128 and streamed one polynomial at a time; secrets are
// centred binomial samples from SHAKE-128 (cbd.go). The KEM (kem.go) is the
// reference's Fujisaki-Okamoto variant with SHA3-256/SHA3-512 and implicit
// rejection through the secret value z.
//
// Polynomial products are computed exactly over the integers with a
// negacyclic NTT modulo the prime 2^29 + 2^15 + 1 and then reduced mod 2^13
// (ntt.go explains the bounds that make this exact). Transforms of A, of
// the public vector and of the secrets are each computed once per
// operation, and the sums of products are accumulated in the NTT domain.
//
// # Constant time
//
// Everything that touches secret data runs in time independent of it: the
// secret vectors s and s', the noise seeds, the message m, the hash output
// (K^, coins), z and the intermediate products. In particular
//
//   - NTT arithmetic uses only additions, shifts and multiplications
//     (Montgomery and Barrett reductions, and the final centring, are
//     branch-free mask arithmetic); loop bounds and table indices depend
//     only on the position in the polynomial;
//   - binomial sampling counts bits with word-parallel arithmetic, not a
//     population-count table;
//   - bit packing and unpacking index by position only;
//   - the re-encryption check uses crypto/subtle.ConstantTimeCompare and the
//     choice between K^ and z uses crypto/subtle.ConstantTimeCopy, so a
//     rejected ciphertext takes the same path as an accepted one;
//   - SHA-3 and SHAKE come from the standard library's crypto/sha3.
//
// Not constant time, by design: the checks of input lengths (public), the
// error paths for wrong lengths or a failing random source, and anything
// computed only from public data (A, the public vector b, the ciphertext).
// Go gives no formal guarantee about generated code; the package relies on
// the compiler not turning the arithmetic above into branches, which holds
// for the gc toolchain on amd64 and arm64 (64-bit multiplications are
// constant time on the CPUs Go targets there). scripts/ct.sh checks the
// compiled code under Valgrind with the secret key (or the key-generation
// and encapsulation seeds) marked undefined: it reports no secret-dependent
// branch or memory address (docs/constant-time.md).
//
// # Zeroing
//
// Buffers holding s, s', their transforms, the noise seeds and binomial
// input, m, (K^, coins), the re-encrypted ciphertext and intermediate
// products are cleared before the functions return. This is best effort:
// Go may keep copies the package cannot reach (registers, stack copies made
// when a goroutine stack grows, internal SHA-3 state), and the compiler is
// free to drop stores it can prove dead.
//
// # Inputs
//
// Only lengths are validated. Decapsulate returns an error solely for a
// secret key or ciphertext of the wrong length; any well-sized ciphertext,
// however malformed, yields a 32-byte secret (the implicit-rejection value
// SHA3-256(z || SHA3-256(ct)) when the re-encryption check fails). The
// secret key is trusted and not parsed for validity, but the arithmetic is
// exact for every well-sized key, so even a hand-made one decapsulates
// exactly as in the reference.
package saber
