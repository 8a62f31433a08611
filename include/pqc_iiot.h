/*
 * pqc_iiot.h - the stable C interface of pqc-iiot.
 *
 * Post-quantum key encapsulation and signatures (and, in later versions,
 * identities, sessions, MQTT and CoAP) from one shared library with a Go core.
 * This header is written by hand and is the contract: it is C99, has no Go
 * types, and every function declared here is exported by libpqc_iiot and
 * nothing else with the pqc_ prefix is.
 *
 * Conventions (docs/c-api.md has the long form):
 *  - Every function returning int returns PQC_OK (0) or a negative status
 *    code. pqc_strerror(code) names it; pqc_last_error() gives the detail of
 *    the most recent failure on the calling thread.
 *  - Objects are opaque handles made by pqc_X_new and released by pqc_X_free.
 *    pqc_X_free(NULL) is a no-op. A freed or forged handle is detected and
 *    answered with PQC_ERR_CLOSED; it never crashes the process.
 *  - Buffers belong to the caller. Fixed-size outputs take (out, out_len) and
 *    need out_len >= the size the matching pqc_*_size function returns.
 *    Variable-size outputs take (out, cap, *out_len); when cap is too small
 *    the call fails with PQC_ERR_BUFFER_TOO_SMALL and sets *out_len to the
 *    capacity needed.
 *  - Inputs must have exactly the scheme's length. A NULL pointer is allowed
 *    only with a zero length.
 *  - Every function may be called from any thread, and a handle may be shared
 *    between threads.
 *  - Strings returned as const char * are owned by the library and live as
 *    long as the process (pqc_last_error: until the next failing call on the
 *    same thread).
 */
#ifndef PQC_IIOT_H
#define PQC_IIOT_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define PQC_API __declspec(dllimport)
#elif defined(__GNUC__)
#define PQC_API __attribute__((visibility("default")))
#else
#define PQC_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ------------------------------------------------------- */

#define PQC_IIOT_VERSION_MAJOR 0
#define PQC_IIOT_VERSION_MINOR 1
#define PQC_IIOT_VERSION_PATCH 0
#define PQC_IIOT_VERSION_STRING "0.1.0"
/* Incremented on any incompatible change to this header's functions,
 * structures or status codes. A wrapper compares it with pqc_abi_version(). */
#define PQC_IIOT_ABI_VERSION 1

/* The library's version string, e.g. "0.1.0". */
PQC_API const char *pqc_version(void);
/* The library's ABI version; equals PQC_IIOT_ABI_VERSION when header and
 * library match. */
PQC_API int pqc_abi_version(void);

/* ---- Status codes (stable values) ------------------------------------ */

#define PQC_OK 0
#define PQC_ERR_INVALID_ARGUMENT -1 /* wrong length, NULL pointer, malformed key */
#define PQC_ERR_BUFFER_TOO_SMALL -2 /* output buffer too small; see *out_len */
#define PQC_ERR_UNSUPPORTED -3      /* unknown algorithm name */
#define PQC_ERR_VERIFY -4           /* signature did not verify */
#define PQC_ERR_CLOSED -5           /* handle freed, forged or of another type */
#define PQC_ERR_INTERNAL -6         /* a bug in the library; see pqc_last_error */

/* A static, human-readable name for a status code; never NULL. */
PQC_API const char *pqc_strerror(int status);
/* Detail of the most recent failure on the calling thread ("" if none). */
PQC_API const char *pqc_last_error(void);

/* Fills buf with len bytes from the operating system's CSPRNG. */
PQC_API int pqc_random_bytes(uint8_t *buf, size_t len);

/* ---- Key encapsulation (KEM) ------------------------------------------
 * Algorithms: ML-KEM-512, ML-KEM-768, ML-KEM-1024, Kyber512, Kyber768,
 * Kyber1024, X25519-ML-KEM-768 (X-Wing), LightSaber, Saber, FireSaber.
 * Names are matched case-insensitively. Key and ciphertext bytes are those
 * of liboqs / the FIPS 203 encodings. */

typedef struct pqc_kem pqc_kem;

#define PQC_ML_KEM_768_PUBLIC_KEY_BYTES 1184
#define PQC_ML_KEM_768_SECRET_KEY_BYTES 2400
#define PQC_ML_KEM_768_CIPHERTEXT_BYTES 1088
#define PQC_ML_KEM_768_SHARED_SECRET_BYTES 32
#define PQC_ML_KEM_768_SEED_BYTES 64
#define PQC_X25519_ML_KEM_768_PUBLIC_KEY_BYTES 1216
#define PQC_X25519_ML_KEM_768_SECRET_KEY_BYTES 32
#define PQC_X25519_ML_KEM_768_CIPHERTEXT_BYTES 1120
#define PQC_X25519_ML_KEM_768_SHARED_SECRET_BYTES 32

/* Number of KEM algorithms and their names (i from 0 to count-1; NULL
 * beyond). */
PQC_API size_t pqc_kem_algorithm_count(void);
PQC_API const char *pqc_kem_algorithm_name(size_t i);

/* Creates a KEM object for the named algorithm; *out is set on PQC_OK. */
PQC_API int pqc_kem_new(const char *alg, pqc_kem **out);
PQC_API void pqc_kem_free(pqc_kem *kem);
/* The canonical algorithm name, or NULL for an invalid handle. */
PQC_API const char *pqc_kem_algorithm(const pqc_kem *kem);

/* Sizes in bytes; 0 for an invalid handle. */
PQC_API size_t pqc_kem_public_key_size(const pqc_kem *kem);
PQC_API size_t pqc_kem_secret_key_size(const pqc_kem *kem);
PQC_API size_t pqc_kem_ciphertext_size(const pqc_kem *kem);
PQC_API size_t pqc_kem_shared_secret_size(const pqc_kem *kem);
PQC_API size_t pqc_kem_seed_size(const pqc_kem *kem);

/* A fresh key pair from the operating system's randomness. */
PQC_API int pqc_kem_keypair(const pqc_kem *kem, uint8_t *pk, size_t pk_len,
                            uint8_t *sk, size_t sk_len);
/* A key pair derived from seed (exactly pqc_kem_seed_size bytes). */
PQC_API int pqc_kem_keypair_from_seed(const pqc_kem *kem, const uint8_t *seed,
                                      size_t seed_len, uint8_t *pk,
                                      size_t pk_len, uint8_t *sk,
                                      size_t sk_len);
/* Encapsulates to pk: writes the ciphertext and the shared secret. */
PQC_API int pqc_kem_encapsulate(const pqc_kem *kem, const uint8_t *pk,
                                size_t pk_len, uint8_t *ct, size_t ct_len,
                                uint8_t *ss, size_t ss_len);
/* Decapsulates ct with sk. A tampered ciphertext is not an error: it yields
 * the scheme's pseudorandom implicit-rejection secret. */
PQC_API int pqc_kem_decapsulate(const pqc_kem *kem, const uint8_t *sk,
                                size_t sk_len, const uint8_t *ct,
                                size_t ct_len, uint8_t *ss, size_t ss_len);

/* ---- Signatures ---------------------------------------------------------
 * Algorithms: ML-DSA-44, ML-DSA-65, ML-DSA-87 (hedged signing, empty
 * context), Dilithium2, Dilithium3, Dilithium5 (round 3), Falcon-512,
 * Falcon-1024 (round 3, variable-length signatures), Ed25519. */

typedef struct pqc_sig pqc_sig;

#define PQC_ML_DSA_65_PUBLIC_KEY_BYTES 1952
#define PQC_ML_DSA_65_SECRET_KEY_BYTES 4032
#define PQC_ML_DSA_65_SIGNATURE_BYTES 3309
#define PQC_FALCON_512_PUBLIC_KEY_BYTES 897
#define PQC_FALCON_512_SECRET_KEY_BYTES 1281
#define PQC_FALCON_512_SIGNATURE_MAX_BYTES 752

PQC_API size_t pqc_sig_algorithm_count(void);
PQC_API const char *pqc_sig_algorithm_name(size_t i);

PQC_API int pqc_sig_new(const char *alg, pqc_sig **out);
PQC_API void pqc_sig_free(pqc_sig *sig);
PQC_API const char *pqc_sig_algorithm(const pqc_sig *sig);

/* Sizes in bytes; 0 for an invalid handle. */
PQC_API size_t pqc_sig_public_key_size(const pqc_sig *sig);
PQC_API size_t pqc_sig_secret_key_size(const pqc_sig *sig);
/* Upper bound of a signature's length; sign needs a buffer this large. */
PQC_API size_t pqc_sig_signature_max_size(const pqc_sig *sig);
PQC_API size_t pqc_sig_seed_size(const pqc_sig *sig);

PQC_API int pqc_sig_keypair(const pqc_sig *sig, uint8_t *pk, size_t pk_len,
                            uint8_t *sk, size_t sk_len);
/* A key pair derived from seed (exactly pqc_sig_seed_size bytes). */
PQC_API int pqc_sig_keypair_from_seed(const pqc_sig *sig, const uint8_t *seed,
                                      size_t seed_len, uint8_t *pk,
                                      size_t pk_len, uint8_t *sk,
                                      size_t sk_len);
/* Signs msg. out_cap must be at least pqc_sig_signature_max_size (else
 * PQC_ERR_BUFFER_TOO_SMALL with *out_len set to that size); on PQC_OK
 * *out_len is the signature's actual length. */
PQC_API int pqc_sig_sign(const pqc_sig *sig, const uint8_t *sk, size_t sk_len,
                         const uint8_t *msg, size_t msg_len, uint8_t *out,
                         size_t out_cap, size_t *out_len);
/* PQC_OK if signature is valid for msg under pk, PQC_ERR_VERIFY if not,
 * PQC_ERR_INVALID_ARGUMENT for a public key of the wrong length. */
PQC_API int pqc_sig_verify(const pqc_sig *sig, const uint8_t *pk,
                           size_t pk_len, const uint8_t *msg, size_t msg_len,
                           const uint8_t *signature, size_t signature_len);

#ifdef __cplusplus
}
#endif

#endif /* PQC_IIOT_H */
