// Package falcon implements the Falcon-512 and Falcon-1024 lattice
// signature schemes as specified for NIST round 3 (Falcon-impl-20211101,
// the code used by PQClean and liboqs under the names "Falcon-512" and
// "Falcon-1024"). Keys and signatures are byte-for-byte identical to those
// implementations: the package reproduces every entry of the official
// known-answer test files when driven by the NIST KAT DRBG.
//
// # Formats
//
// Public key: 0x00+logn followed by h at 14 bits per coefficient.
// Secret key: 0x50+logn followed by f, g (6 bits each for Falcon-512,
// 5 for Falcon-1024) and F (8 bits); G is recomputed when signing.
// Signature (detached, PQClean/liboqs form): 0x30+logn, the 40-byte nonce,
// then the compressed s2. Verification accepts only the canonical
// compressed encoding: no "-0", no magnitude above 2047, zero padding
// bits, and no trailing bytes.
//
// # Floating point
//
// Signing and key generation use float64 arithmetic, which must round
// exactly like the reference (IEEE-754 binary64, round to nearest even,
// no fused multiply-add). Go may fuse x*y+z on arm64, ppc64le and s390x;
// every product that feeds an addition is therefore written as
// float64(x*y), an explicit conversion that the language specification
// says must round and so blocks fusion. The known-answer tests pass on
// amd64 and on arm64.
//
// # Side channels
//
// The package follows the constant-time design of the reference
// implementation; it does not try to do better than it. Specifically:
//
//   - The base Gaussian sampler scans its whole table with arithmetic
//     masks; the Bernoulli exp(-x) test uses an integer polynomial; the
//     ChaCha20-based PRNG, the modular and big-integer arithmetic of key
//     generation (including the binary extended GCD), and the rounding of
//     floats to integers are free of secret-dependent branches and memory
//     indices.
//   - Rejection sampling is not constant time by nature: the number of
//     sampler iterations, of signing attempts and of key-generation
//     attempts (and which test rejected a candidate f, g) is visible in
//     timing. The BerExp comparison stops at the first random byte that
//     differs from the threshold, as in the reference. These leaks are
//     considered harmless by the Falcon design.
//   - Float64 addition, multiplication, division and square root are
//     assumed to run in constant time for normal operands, which holds for
//     current amd64 and arm64 cores; no subnormal values occur in practice.
//     Comparisons of secret floats in key generation (range checks that
//     abort an attempt) branch, as in the reference.
//   - Range checks on secret coefficients (encoding and decoding f, g, F;
//     the width check of a key-generation candidate; the conversion of F
//     and G; the final NTRU-equation check) scan every coefficient and
//     fold the result into a mask, so only the verdict is a branch, never
//     the position of the first offending value. Decoding a secret key
//     branches on that verdict (malformed input) only.
//   - Hashing the message to a point is variable time; the message is
//     public.
//   - The Go compiler gives no formal guarantee that branch-free source
//     stays branch-free in machine code. scripts/ct.sh checks the compiled
//     code: it runs signing and key generation under Valgrind with the
//     secret inputs marked undefined and fails on any secret-dependent
//     branch or address outside the list above (docs/constant-time.md).
//
// Secret intermediate buffers (f, g, F, G, the floating-point basis and
// Gram matrix, the NTRU solver's scratch area, PRNG state, SHAKE buffers
// and seeds) are cleared after use. Copies made by the Go runtime (stack
// growth, registers spilled by the garbage collector) cannot be cleared.
package falcon
