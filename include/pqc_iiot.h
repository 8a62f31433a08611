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
#define PQC_ERR_REPLAY -7           /* replayed message or request */
#define PQC_ERR_POLICY -8           /* policy missing, expired, or forbids this */
#define PQC_ERR_TIMEOUT -9          /* an operation or wait timed out */
#define PQC_ERR_IO -10              /* file, store or network I/O failed */
#define PQC_ERR_RATE_LIMITED -11    /* a DoS budget refused the work */
#define PQC_ERR_STATE -12           /* wrong state, e.g. no certificate installed */
#define PQC_ERR_REVOKED -13         /* key or certificate revoked */
#define PQC_ERR_EXPIRED -14         /* certificate expired or not yet valid */
#define PQC_ERR_UNTRUSTED -15       /* unknown issuer, not a CA, not allow-listed */
#define PQC_ERR_ROLLBACK -16        /* lower epoch or sequence, restored old store */
#define PQC_ERR_WRONG_KEY -17       /* keystore passphrase or key is wrong */
#define PQC_ERR_CORRUPT -18         /* keystore damaged or tampered with */

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

/* ---- Device identity, trust and CA ------------------------------------
 * A device identity lives in an encrypted keystore file (AEAD under a key
 * from Argon2id(passphrase) or a caller-supplied 32-byte key); secret keys
 * never leave it through this API. Objects exchanged (join and renewal
 * requests, certificate chains, policies, revocation lists, announcements,
 * factory public keys) are deterministic CBOR / COSE_Sign1 bytes, documented
 * in docs/identity.md. "Now" is the system clock.
 *
 * Calls that do irreversible work (generate keys, consume a request, take a
 * sequence number) need their output buffer at least
 * PQC_OBJECT_MAX_BYTES (PQC_REVOCATION_MAX_BYTES for revocation lists) up
 * front and fail with PQC_ERR_BUFFER_TOO_SMALL before doing anything;
 * other variable outputs report the exact size needed. */

#define PQC_OBJECT_MAX_BYTES 262144
#define PQC_REVOCATION_MAX_BYTES 524288
#define PQC_KEY_ID_BYTES 16

/* How the keystore key argument is interpreted. */
#define PQC_KEYSTORE_PASSPHRASE 0 /* any bytes; stretched with Argon2id */
#define PQC_KEYSTORE_RAW_KEY 1    /* exactly 32 bytes, e.g. from a TPM */

typedef struct pqc_identity pqc_identity;

/* Creates a keystore at path (which must not exist) holding a new factory
 * key for device_id. Algorithm arguments may be NULL for the defaults
 * (ML-DSA-65 factory and operational keys, X25519-ML-KEM-768 KEM key);
 * kem_algs is a comma-separated list. */
PQC_API int pqc_identity_create(const char *path, int key_kind,
                                const uint8_t *key, size_t key_len,
                                const char *device_id, const char *factory_alg,
                                const char *sig_alg, const char *kem_algs,
                                pqc_identity **out);
/* Opens an existing device keystore. PQC_ERR_WRONG_KEY for a wrong key,
 * PQC_ERR_CORRUPT for a tampered file, PQC_ERR_IO if it is missing or
 * locked by another process. */
PQC_API int pqc_identity_open(const char *path, int key_kind,
                              const uint8_t *key, size_t key_len,
                              pqc_identity **out);
/* Closes the keystore and wipes keys held in memory. */
PQC_API void pqc_identity_free(pqc_identity *id);

/* The device id as a NUL-terminated string (*out_len counts the NUL). */
PQC_API int pqc_identity_device_id(const pqc_identity *id, char *out,
                                   size_t cap, size_t *out_len);
/* The factory public key (for the CA's allow-list), encoded. */
PQC_API int pqc_identity_factory_public_key(const pqc_identity *id,
                                            uint8_t *out, size_t cap,
                                            size_t *out_len);
/* New operational keys (kept pending in the keystore) and a join request
 * signed by the factory key and by the new key. */
PQC_API int pqc_identity_join_request(pqc_identity *id, uint8_t *out,
                                      size_t cap, size_t *out_len);
/* Next epoch's keys (pending) and a renewal request signed by the current
 * operational key. PQC_ERR_STATE before the first install. */
PQC_API int pqc_identity_renewal_request(pqc_identity *id, uint8_t *out,
                                         size_t cap, size_t *out_len);
/* Installs the chain a CA issued for the pending keys. anchor (the CA
 * certificate) is required on the first install and may be NULL later.
 * The previous epoch's keys stay usable for overlap_seconds. */
PQC_API int pqc_identity_install(pqc_identity *id, const uint8_t *chain,
                                 size_t chain_len, const uint8_t *anchor,
                                 size_t anchor_len, uint64_t overlap_seconds);
/* The current certificate chain, leaf first, encoded. */
PQC_API int pqc_identity_chain(const pqc_identity *id, uint8_t *out,
                               size_t cap, size_t *out_len);
/* The current key epoch (0 after joining, +1 per rotation). */
PQC_API int pqc_identity_epoch(const pqc_identity *id, uint64_t *epoch);
/* The current key id (PQC_KEY_ID_BYTES), as revocation lists name it. */
PQC_API int pqc_identity_key_id(const pqc_identity *id, uint8_t *out,
                                size_t out_len);
/* A certified public key in its scheme's raw format: the signature key
 * when alg is NULL, else the key of the named KEM or signature scheme. */
PQC_API int pqc_identity_public_key(const pqc_identity *id, const char *alg,
                                    uint8_t *out, size_t cap,
                                    size_t *out_len);
/* A signed announcement of the current keys, bound to topic. */
PQC_API int pqc_identity_announcement(pqc_identity *id, const char *topic,
                                      uint8_t *out, size_t cap,
                                      size_t *out_len);
/* Installs a CA-signed policy or cumulative revocation list into the
 * identity's trust state (persisted). PQC_ERR_ROLLBACK for an older one. */
PQC_API int pqc_identity_apply_policy(pqc_identity *id, const uint8_t *policy,
                                      size_t policy_len);
PQC_API int pqc_identity_apply_revocation(pqc_identity *id,
                                          const uint8_t *list,
                                          size_t list_len);
/* *due = 1 if the current certificate is older than interval_seconds. */
PQC_API int pqc_identity_rotation_due(const pqc_identity *id,
                                      uint64_t interval_seconds, int *due);
/* Destroys the previous epoch's keys once their overlap is over;
 * *pruned (may be NULL) tells whether it did. */
PQC_API int pqc_identity_prune(pqc_identity *id, int *pruned);

/* Verification state without an identity of one's own (e.g. a SCADA
 * server checking device certificates). */
typedef struct pqc_trust pqc_trust;

PQC_API int pqc_trust_new(const uint8_t *anchor, size_t anchor_len,
                          pqc_trust **out);
PQC_API void pqc_trust_free(pqc_trust *trust);
PQC_API int pqc_trust_apply_policy(pqc_trust *trust, const uint8_t *policy,
                                   size_t policy_len);
PQC_API int pqc_trust_apply_revocation(pqc_trust *trust, const uint8_t *list,
                                       size_t list_len);
/* PQC_OK if a fresh policy (and the revocation list it demands) is
 * installed; PQC_ERR_POLICY otherwise. High-risk operations gate on it. */
PQC_API int pqc_trust_check_policy(const pqc_trust *trust);
/* Verifies a device chain at time at_unix (0 = now): PQC_OK, or
 * PQC_ERR_UNTRUSTED / _EXPIRED / _REVOKED / _VERIFY / _POLICY /
 * _INVALID_ARGUMENT. On PQC_OK writes the device id (NUL-terminated) when
 * device_id or out_len is non-NULL. */
PQC_API int pqc_trust_verify_chain(const pqc_trust *trust,
                                   const uint8_t *chain, size_t chain_len,
                                   int64_t at_unix, char *device_id,
                                   size_t cap, size_t *out_len);

/* Signed envelopes: content signed by a device's operational key, with the
 * chain that certifies the key inside (COSE_Sign1, docs/identity.md), so
 * that anyone holding the fleet's anchor can check it over any transport.
 * Not encrypted, and not one-time: an envelope verifies each time it is
 * presented (use pqc_seal for secrecy and replay protection). context (a
 * topic, a path; at most 1024 bytes, "" allowed) is bound into the
 * signature: the verifier must give the same one. */
#define PQC_SIGNED_MAX_CONTENT 65536
/* PQC_SIGNED_MAX_CONTENT, for FFI users. */
PQC_API size_t pqc_signed_max_content(void);
/* Signs msg (at most PQC_SIGNED_MAX_CONTENT bytes) for context with the
 * identity's current key. Too small a buffer: PQC_ERR_BUFFER_TOO_SMALL
 * with *out_len set to the envelope's size (a retry signs anew);
 * PQC_OBJECT_MAX_BYTES always suffices. */
PQC_API int pqc_identity_sign(pqc_identity *id, const char *context,
                              const uint8_t *msg, size_t msg_len,
                              uint8_t *out, size_t cap, size_t *out_len);
/* Verifies an envelope received on context now: the chain must lead to the
 * anchor and be valid, unrevoked and allowed by a fresh policy, its leaf
 * must name the signer, and the signature must verify. Writes the content
 * (PQC_ERR_BUFFER_TOO_SMALL with *out_len set when it does not fit; cap >=
 * env_len always suffices), the signer's device id when sender is non-NULL
 * (sender_cap >= PQC_DEVICE_ID_MAX_BYTES, else PQC_ERR_BUFFER_TOO_SMALL
 * before any work) and the signer's clock in Unix seconds when signed_at
 * is non-NULL. Nothing changes state, so a retry is safe. PQC_ERR_VERIFY
 * (tampered, wrong key), _UNTRUSTED (other fleet, other context, a chain
 * of another device), _REVOKED, _EXPIRED, _POLICY, _INVALID_ARGUMENT. */
PQC_API int pqc_trust_verify_signed(const pqc_trust *trust,
                                    const uint8_t *env, size_t env_len,
                                    const char *context, uint8_t *out,
                                    size_t cap, size_t *out_len, char *sender,
                                    size_t sender_cap, int64_t *signed_at);
/* The same against the identity's own trust state (anchor, policy and
 * revocation list applied to it). */
PQC_API int pqc_identity_verify_signed(pqc_identity *id, const uint8_t *env,
                                       size_t env_len, const char *context,
                                       uint8_t *out, size_t cap,
                                       size_t *out_len, char *sender,
                                       size_t sender_cap, int64_t *signed_at);

/* A root CA in its own keystore, for provisioning tools. */
typedef struct pqc_ca pqc_ca;

/* Creates a CA keystore at path with a self-signed certificate; alg NULL
 * means ML-DSA-65. */
PQC_API int pqc_ca_create(const char *path, int key_kind, const uint8_t *key,
                          size_t key_len, const char *name, const char *alg,
                          uint64_t validity_seconds, pqc_ca **out);
PQC_API int pqc_ca_open(const char *path, int key_kind, const uint8_t *key,
                        size_t key_len, pqc_ca **out);
PQC_API void pqc_ca_free(pqc_ca *ca);
/* The CA certificate: the trust anchor devices and peers need. */
PQC_API int pqc_ca_certificate(const pqc_ca *ca, uint8_t *out, size_t cap,
                               size_t *out_len);
/* Allows device_id to join with its factory public key; roles is a
 * comma-separated list or NULL. */
PQC_API int pqc_ca_allow(pqc_ca *ca, const char *device_id,
                         const uint8_t *factory_key, size_t factory_key_len,
                         const char *roles);
/* Verifies a join or renewal request and issues the device's chain.
 * PQC_ERR_REPLAY for a request seen before or outside the 24 h window,
 * PQC_ERR_UNTRUSTED for a factory key not allowed, PQC_ERR_REVOKED for a
 * renewal from a revoked key. */
PQC_API int pqc_ca_enroll(pqc_ca *ca, const uint8_t *request,
                          size_t request_len, uint64_t validity_seconds,
                          uint8_t *out, size_t cap, size_t *out_len);
/* Signs a fleet policy with the CA's next sequence number. Lists are
 * comma-separated names, NULL for the defaults (ML-KEM-768 and
 * X25519-ML-KEM-768; ML-DSA-65). */
PQC_API int pqc_ca_sign_policy(pqc_ca *ca, uint64_t ttl_seconds,
                               const char *allowed_kems,
                               const char *allowed_sigs,
                               uint64_t rekey_messages, uint64_t rekey_seconds,
                               int require_sessions, uint8_t *out, size_t cap,
                               size_t *out_len);
/* Adds count key ids (PQC_KEY_ID_BYTES each, concatenated) to the CA's
 * cumulative revocation list and signs the whole list. */
PQC_API int pqc_ca_revoke(pqc_ca *ca, const uint8_t *key_ids, size_t count,
                          uint8_t *out, size_t cap, size_t *out_len);

/* ---- Sessions and sealed messages --------------------------------------
 * The sans-I/O engine of docs/protocol.md, over an open identity: a
 * session manager runs handshakes and holds sessions; a session protects
 * and unprotects application messages (double ratchet with sparse
 * post-quantum steps). The library does no I/O of its own: every frame
 * produced is bytes for the caller to send, every frame received is given
 * back as bytes, over any transport (MQTT, CoAP, a pipe, a serial line).
 *
 * The manager keeps the identity's keystore (handshake counters, sealed
 * sequence numbers, replay marks, snapshots) and its trust state: a
 * policy or revocation list applied to the identity reaches the manager's
 * sessions at once (a revoked peer's sessions close). The identity must
 * stay open while its managers are used; once it is freed they answer
 * PQC_ERR_CLOSED. Peers are known only through add_peer or
 * accept_announcement, in memory: after a restart, add them again.
 *
 * Calls that change state (take a counter, advance a ratchet, record a
 * replay) need their output capacity up front and fail with
 * PQC_ERR_BUFFER_TOO_SMALL, setting *out_len to that capacity, before
 * changing anything:
 *   initiate, handle_handshake      PQC_HANDSHAKE_MAX_BYTES
 *   protect                         pt_len + pqc_session_frame_overhead_max()
 *   protect_batch                   sum(lens) + count * frame overhead max
 *   unprotect, open                 frame_len (a plaintext is shorter)
 *   unprotect_batch                 sum(lens)
 *   seal                            pt_len + pqc_seal_overhead_max()
 * A session's keys stay inside the library; pqc_session_free wipes them. */

#define PQC_SESSION_ID_BYTES 16
#define PQC_HANDSHAKE_MAX_BYTES 16384
#define PQC_SESSION_MAX_PLAINTEXT 61440 /* 60 KiB per message */
#define PQC_SEALED_MAX_PLAINTEXT 49152  /* 48 KiB per sealed message */
/* Device ids are at most 128 bytes; buffers for one need this with NUL. */
#define PQC_DEVICE_ID_MAX_BYTES 129

/* pqc_session_manager_new flags. */
#define PQC_SESSION_RESUME 1u /* keep sessions across restarts (snapshots
                                 in the keystore); without it, snapshots
                                 left by an earlier process are deleted */

typedef struct pqc_session_manager pqc_session_manager;
typedef struct pqc_session pqc_session;

/* A manager for the identity's current keys. The identity needs an
 * installed certificate and trust state (anchor, policy). After a key
 * rotation, make a new manager. With PQC_SESSION_RESUME, sessions saved by
 * an earlier process are restored (see pqc_session_manager_resumed). */
PQC_API int pqc_session_manager_new(pqc_identity *id, uint32_t flags,
                                    pqc_session_manager **out);
/* Ends every session of the manager in memory (snapshots stay, for
 * PQC_SESSION_RESUME) and wipes its keys. Session handles of the manager
 * then answer PQC_ERR_CLOSED and still need pqc_session_free. */
PQC_API void pqc_session_manager_free(pqc_session_manager *m);
/* Verifies a peer's certificate chain (anchor, validity, revocation,
 * policy) and records its keys. Writes the peer's device id
 * (NUL-terminated; cap >= PQC_DEVICE_ID_MAX_BYTES) when device_id or
 * out_len is non-NULL. */
PQC_API int pqc_session_manager_add_peer(pqc_session_manager *m,
                                         const uint8_t *chain,
                                         size_t chain_len, char *device_id,
                                         size_t cap, size_t *out_len);
/* Verifies a peer's signed announcement received on topic and records its
 * keys. */
PQC_API int pqc_session_manager_accept_announcement(pqc_session_manager *m,
                                                    const uint8_t *ann,
                                                    size_t ann_len,
                                                    const char *topic);
/* Closes sessions whose suite the installed policy no longer allows (all
 * of them if the policy is missing or stale). Call it after applying a
 * policy to the identity; sessions also check on every use. */
PQC_API int pqc_session_manager_enforce_policy(pqc_session_manager *m);
/* The ids of the sessions restored at creation, PQC_SESSION_ID_BYTES
 * each, concatenated (exact size; 0 bytes without PQC_SESSION_RESUME). */
PQC_API int pqc_session_manager_resumed(const pqc_session_manager *m,
                                        uint8_t *out, size_t cap,
                                        size_t *out_len);
/* A new handle for an established session, by id (e.g. one restored by
 * PQC_SESSION_RESUME); each handle is freed on its own. PQC_ERR_STATE for
 * an unknown id. */
PQC_API int pqc_session_manager_find(pqc_session_manager *m,
                                     const uint8_t *session_id,
                                     size_t session_id_len,
                                     pqc_session **out);
/* Unprotects a data frame received on context, routed to its session by
 * the session id in the frame; writes that id to session_id
 * (PQC_SESSION_ID_BYTES) unless it is NULL. */
PQC_API int pqc_session_manager_unprotect(pqc_session_manager *m,
                                          const uint8_t *frame,
                                          size_t frame_len,
                                          const char *context, uint8_t *out,
                                          size_t cap, size_t *out_len,
                                          uint8_t *session_id);

/* Starts a handshake with peer_id, bound to context (topic, path; at most
 * 1024 bytes, both sides must use the same), and writes the Init frame to
 * send. The session appears when the Response is handled. */
PQC_API int pqc_session_initiate(pqc_session_manager *m, const char *peer_id,
                                 const char *context, uint8_t *out,
                                 size_t cap, size_t *out_len);
/* Handles a handshake frame from a peer. An Init (responder): writes the
 * Response to send and sets *session. A Response (initiator): *out_len = 0
 * and sets *session. *session is set to a new handle exactly once per
 * session: an identical retransmitted Init gets the identical Response
 * again and *session = NULL, as does a retransmitted Response (nothing to
 * send). */
PQC_API int pqc_session_handle_handshake(pqc_session_manager *m,
                                         const uint8_t *frame,
                                         size_t frame_len, uint8_t *out,
                                         size_t cap, size_t *out_len,
                                         pqc_session **session);
/* Bytes a data frame adds to its plaintext at most, for any suite
 * (header, a KEM key and ciphertext during a post-quantum step, tag). */
PQC_API size_t pqc_session_frame_overhead_max(void);

/* Releases the handle. The session itself stays with its manager (frames
 * routed through pqc_session_manager_unprotect still open, _find gives
 * another handle, snapshots stay for PQC_SESSION_RESUME) until it is
 * closed or the manager is freed. NULL is a no-op. */
PQC_API void pqc_session_free(pqc_session *s);
/* Ends the session for good: keys wiped, snapshot deleted. The handle then
 * answers PQC_ERR_CLOSED and still needs pqc_session_free. */
PQC_API int pqc_session_close(pqc_session *s);
PQC_API int pqc_session_id(const pqc_session *s, uint8_t *out,
                           size_t out_len);
/* The peer's device id, NUL-terminated. */
PQC_API int pqc_session_peer_id(const pqc_session *s, char *out, size_t cap,
                                size_t *out_len);
/* *needs = 1 when the peer asked for a reply so the ratchet can step:
 * send any message soon, an empty one will do. A transport that only
 * receives on this session should answer it. */
PQC_API int pqc_session_needs_reply(const pqc_session *s, int *needs);
/* Writes the session's snapshot to the keystore now (a manager made with
 * PQC_SESSION_RESUME also does it on its own when needed). */
PQC_API int pqc_session_save(pqc_session *s);
/* Encrypts one message for the peer. PQC_ERR_STATE when the sending
 * chain is spent and the peer must reply first. */
PQC_API int pqc_session_protect(pqc_session *s, const uint8_t *pt,
                                size_t pt_len, uint8_t *out, size_t cap,
                                size_t *out_len);
/* Authenticates and decrypts a frame for this session, with the context
 * the session was made for. PQC_ERR_VERIFY for a forged or altered frame,
 * PQC_ERR_REPLAY for one accepted before; neither changes the session. */
PQC_API int pqc_session_unprotect(pqc_session *s, const uint8_t *frame,
                                  size_t frame_len, uint8_t *out, size_t cap,
                                  size_t *out_len);
/* Protects count messages in order under one lock: frames are written
 * back to back, frame_lens[i] is the length of frame i and *out_len the
 * total. If message i fails, frames before it were made (and must be
 * sent), frame_lens from i on are 0, and the status is message i's. */
PQC_API int pqc_session_protect_batch(pqc_session *s,
                                      const uint8_t *const *msgs,
                                      const size_t *lens, size_t count,
                                      uint8_t *out, size_t cap,
                                      size_t *frame_lens, size_t *out_len);
/* Unprotects count frames in order; a failed frame does not stop the
 * others. statuses[i] is frame i's status and pt_lens[i] its plaintext
 * length (0 when it failed); plaintexts are written back to back. Returns
 * PQC_OK when the batch ran, whatever the frames' statuses (the first
 * failure's detail is in pqc_last_error). */
PQC_API int pqc_session_unprotect_batch(pqc_session *s,
                                        const uint8_t *const *frames,
                                        const size_t *lens, size_t count,
                                        uint8_t *out, size_t cap,
                                        size_t *pt_lens, int *statuses,
                                        size_t *out_len);

/* Sealed messages: one-shot, signed by this identity and encrypted to the
 * recipient's certified X25519-ML-KEM-768 key; no session needed. */
PQC_API size_t pqc_seal_overhead_max(void);
PQC_API int pqc_seal(pqc_session_manager *m, const char *recipient_id,
                     const char *context, const uint8_t *pt, size_t pt_len,
                     uint8_t *out, size_t cap, size_t *out_len);
/* Checks and decrypts a sealed frame received on context; each frame is
 * accepted once. Writes the sender's device id when sender is non-NULL
 * (sender_cap >= PQC_DEVICE_ID_MAX_BYTES). */
PQC_API int pqc_open(pqc_session_manager *m, const uint8_t *frame,
                     size_t frame_len, const char *context, uint8_t *out,
                     size_t cap, size_t *out_len, char *sender,
                     size_t sender_cap);

/* ---- MQTT ------------------------------------------------------------------
 * A client of an MQTT 3.1.1 broker that protects every application payload
 * end to end with the identity's keys (docs/mqtt.md): the broker sees
 * frames, never plaintext, and every message delivered names its sender as
 * authenticated by signature or session, never as claimed by the topic or
 * the MQTT client id. The control plane (announcements of keys, policy and
 * revocation lists on pqc/v1/...) runs on its own; topics under pqc/ are
 * reserved.
 *
 * Who may read and write a topic comes from the certificates: a publisher
 * needs a Publish grant matching the topic (receivers drop frames without
 * it), and its frames are encrypted to the announced peers whose Subscribe
 * grant matches (or to the recipients option). pqc_ca_allow_topics puts the
 * grants into the certificate a device's join request gets.
 *
 * The identity must stay open while its clients are used; once it is
 * freed they answer PQC_ERR_CLOSED. Free clients first.
 *
 * Timeouts are in milliseconds; a negative timeout waits without limit.
 *
 * Errors: PQC_ERR_STATE (publish before connect, connect twice, no peer
 * entitled to read the topic has announced keys yet), PQC_ERR_TIMEOUT,
 * PQC_ERR_RATE_LIMITED (the bounded queue of publishes awaiting the
 * broker's acknowledgement is full: back off), PQC_ERR_INVALID_ARGUMENT
 * (topic syntax, a reserved pqc/ topic, payload over PQC_MQTT_MAX_PAYLOAD),
 * PQC_ERR_IO (the network or broker failed), PQC_ERR_CLOSED. */

#define PQC_MQTT_MAX_PAYLOAD 49152 /* bytes of application payload */
#define PQC_MQTT_TOPIC_MAX_BYTES 513 /* a topic with its NUL */

/* pqc_mqtt_options.mode */
#define PQC_MQTT_MODE_AUTO 0     /* sessions where established, else sealed */
#define PQC_MQTT_MODE_SEALED 1   /* one-shot signed frames, no handshakes */
#define PQC_MQTT_MODE_SESSIONS 2 /* sessions only (handshake on demand) */

/* pqc_mqtt_options.flags */
#define PQC_MQTT_QOS0 1u /* publish and subscribe at QoS 0 (default QoS 1) */
#define PQC_MQTT_CLEAN_SESSION 2u /* no broker session across disconnects */

/* Zero fields (and NULL options) mean defaults. Set struct_size to
 * sizeof(pqc_mqtt_options): a library that does not know that size
 * refuses it (PQC_ERR_INVALID_ARGUMENT) rather than ignore fields. */
typedef struct pqc_mqtt_options {
  uint32_t struct_size;
  uint32_t mode;           /* PQC_MQTT_MODE_* */
  const char *client_id;   /* MQTT client id; NULL: the device id */
  const char *username;    /* broker credentials; NULL: none */
  const char *password;
  const char *recipients;  /* comma-separated device ids every frame is
                              for; NULL: from the certificates' grants */
  uint32_t flags;          /* PQC_MQTT_* flags */
  uint32_t keepalive_seconds;  /* 0: 30 */
  uint32_t connect_timeout_ms; /* 0: 10000; also subscribe's timeout */
  uint32_t queue_size; /* publishes awaiting acknowledgement; 0: 1000 */
  /* TLS to the broker, for ssl://, tls://, mqtts:// and tcps:// URLs (any
   * tls_ field with a tcp:// or mqtt:// URL is refused). These fields came
   * after queue_size: a caller compiled against the earlier header passes
   * the smaller struct_size, which is still accepted (no TLS options). */
  const char *tls_ca_file;     /* PEM CA certificates that verify the
                                  broker; NULL: the system's roots */
  const char *tls_cert_file;   /* PEM client certificate (chain) and key for */
  const char *tls_key_file;    /* brokers that require one: both or neither */
  const char *tls_server_name; /* name the broker's certificate must carry;
                                  NULL: the URL's host */
} pqc_mqtt_options;

/* Cumulative counters. Set struct_size to sizeof(pqc_mqtt_stats_t). */
typedef struct pqc_mqtt_stats_t {
  uint32_t struct_size;
  uint32_t reserved;
  uint64_t delivered;      /* verified messages handed to recv / callback */
  uint64_t published;      /* publishes acknowledged */
  uint64_t publish_failed; /* publishes that failed after protection */
  uint64_t queue_full;     /* publishes refused with PQC_ERR_RATE_LIMITED */
  uint64_t dropped_oversize;
  uint64_t dropped_bad_topic;
  uint64_t dropped_rate_limited; /* over a pre-authentication budget */
  uint64_t dropped_unprotect; /* forged, tampered, replayed or re-routed */
  uint64_t dropped_not_for_me; /* frames for other subscribers (fan-out) */
  uint64_t dropped_control;    /* control-plane objects refused */
  uint64_t accepted_announcements;
  uint64_t accepted_handshakes;
  uint64_t reconnects;
  uint64_t connection_lost;
} pqc_mqtt_stats_t;

typedef struct pqc_mqtt_client pqc_mqtt_client;
typedef struct pqc_mqtt_broker pqc_mqtt_broker;

/* sizeof the structures this library knows, for FFI users who cannot
 * compute them. */
PQC_API size_t pqc_mqtt_options_size(void);
PQC_API size_t pqc_mqtt_stats_size(void);

/* A client for broker_url ("tcp://host:port", or "ssl://host:port" with
 * TLS, verified against tls_ca_file or the system's roots) acting as
 * identity id, which needs an installed certificate and trust state.
 * Nothing is sent before pqc_mqtt_connect: an unreadable or unusable
 * certificate file fails here; a broker certificate that does not verify
 * (unknown CA, name missing) or a refused client certificate fails the
 * connect with PQC_ERR_IO. */
PQC_API int pqc_mqtt_new(pqc_identity *id, const char *broker_url,
                         const pqc_mqtt_options *opts,
                         pqc_mqtt_client **out);
/* Connects, subscribes the control plane and the filters subscribed so
 * far, and announces the device's keys. timeout_ms 0 means the connect
 * timeout option. Later connection losses are repaired by the library. */
PQC_API int pqc_mqtt_connect(pqc_mqtt_client *c, int timeout_ms);
/* Protects payload for topic and publishes it; returns once the broker
 * acknowledged it (QoS 1). timeout_ms 0 means the connect timeout. On
 * PQC_ERR_TIMEOUT the message may still be delivered, once. */
PQC_API int pqc_mqtt_publish(pqc_mqtt_client *c, const char *topic,
                             const uint8_t *payload, size_t len,
                             int timeout_ms);
/* Subscribes a filter (+ and # wildcards). Verified messages go to the
 * callback if one is set, else to the queue pqc_mqtt_recv reads. Before
 * connect the filter is recorded and subscribed on connect. */
PQC_API int pqc_mqtt_subscribe(pqc_mqtt_client *c, const char *filter);
/* Takes the next verified message, waiting up to timeout_ms (0: poll).
 * PQC_ERR_TIMEOUT when none arrived. Writes the topic and the
 * authenticated sender's device id NUL-terminated (topic_cap >=
 * PQC_MQTT_TOPIC_MAX_BYTES and sender_cap >= PQC_DEVICE_ID_MAX_BYTES always
 * suffice) and the payload with *payload_len its length. If any buffer is
 * too small: PQC_ERR_BUFFER_TOO_SMALL, *payload_len set to the payload's
 * length, and the message stays queued for the next call. */
PQC_API int pqc_mqtt_recv(pqc_mqtt_client *c, int timeout_ms, char *topic,
                          size_t topic_cap, char *sender, size_t sender_cap,
                          uint8_t *payload, size_t cap, size_t *payload_len);
/* Verified messages are handed to cb instead of the receive queue. cb runs
 * on a library thread, one message at a time; its arguments are valid only
 * during the call. cb NULL goes back to pqc_mqtt_recv. Replacing or
 * removing the callback (and pqc_mqtt_close / _free) waits until a running
 * cb returns, so afterwards user is no longer used; calling them from
 * inside cb fails with PQC_ERR_STATE. */
typedef void (*pqc_mqtt_callback)(void *user, const char *topic,
                                  const char *sender, const uint8_t *payload,
                                  size_t len);
PQC_API int pqc_mqtt_set_callback(pqc_mqtt_client *c, pqc_mqtt_callback cb,
                                  void *user);
/* Counters; readable after close too. */
PQC_API int pqc_mqtt_stats(const pqc_mqtt_client *c, pqc_mqtt_stats_t *out);
/* Disconnects, stops the callback and saves the replay state. The handle
 * then answers PQC_ERR_CLOSED (stats excepted) and still needs
 * pqc_mqtt_free. */
PQC_API int pqc_mqtt_close(pqc_mqtt_client *c);
/* Closes if needed and releases the handle. NULL is a no-op. */
PQC_API void pqc_mqtt_free(pqc_mqtt_client *c);

/* An in-process broker (mochi-mqtt) for demos and tests: it allows every
 * client, keeps sessions in memory only, and is no production broker.
 * addr is host:port; NULL means "127.0.0.1:0" (a free port). */
PQC_API int pqc_mqtt_broker_new(const char *addr, pqc_mqtt_broker **out);
/* The URL to give pqc_mqtt_new, e.g. "tcp://127.0.0.1:40123". */
PQC_API int pqc_mqtt_broker_url(const pqc_mqtt_broker *b, char *out,
                                size_t cap, size_t *out_len);
/* Stops the broker and disconnects its clients. NULL is a no-op. */
PQC_API void pqc_mqtt_broker_free(pqc_mqtt_broker *b);

/* pqc_ca_allow with MQTT topic grants in the certificate: publish and
 * subscribe are comma-separated topic filters (NULL for none). */
PQC_API int pqc_ca_allow_topics(pqc_ca *ca, const char *device_id,
                                const uint8_t *factory_key,
                                size_t factory_key_len, const char *roles,
                                const char *publish, const char *subscribe);

/* ---- CoAP ------------------------------------------------------------------
 * Secure CoAP (RFC 7252) servers and clients over UDP or DTLS (docs/coap.md).
 * Each message is protected in one of four modes:
 *   SESSION  a pqc-iiot session handshake, then every message sealed by the
 *            session's ratchet (secrecy, authenticity, replay protection);
 *   SIGNED   a COSE_Sign1 per message with the certified key (no secrecy);
 *   OSCORE   RFC 8613 OSCORE keyed by a pqc-iiot handshake;
 *   PLAIN    no protection; meant for DTLS, where the sender is the DTLS
 *            identity. The identity handle may be NULL in this mode.
 * Server handlers see only authenticated requests that passed the ACL:
 * others get 4.01 / 4.03 from the library, unknown paths 4.04.
 * A CoAP error response (4.xx, 5.xx) is an answer, not a failure: the
 * client call returns PQC_OK with the code; an unauthenticated refusal
 * comes with an empty sender. A response that fails verification is
 * PQC_ERR_VERIFY; a replayed one PQC_ERR_REPLAY; no answer PQC_ERR_TIMEOUT;
 * network failures PQC_ERR_IO.
 * Codes are the CoAP byte, class << 5 | detail: 2.05 is 69, 4.03 is 131. */
#define PQC_COAP_MAX_PAYLOAD 65536 /* bytes of request or response payload */
#define PQC_COAP_URI_MAX_BYTES 1024 /* a path or a query with its NUL */
#define PQC_COAP_NO_FORMAT (-1)     /* no Content-Format option */

#define PQC_COAP_CODE(class_, detail) ((uint32_t)(((class_) << 5) | (detail)))
#define PQC_COAP_GET 1u
#define PQC_COAP_POST 2u
#define PQC_COAP_PUT 3u
#define PQC_COAP_DELETE 4u
#define PQC_COAP_FETCH 5u
#define PQC_COAP_PATCH 6u
#define PQC_COAP_IPATCH 7u
#define PQC_COAP_CREATED 65u             /* 2.01 */
#define PQC_COAP_DELETED 66u             /* 2.02 */
#define PQC_COAP_CHANGED 68u             /* 2.04 */
#define PQC_COAP_CONTENT 69u             /* 2.05 */
#define PQC_COAP_BAD_REQUEST 128u        /* 4.00 */
#define PQC_COAP_UNAUTHORIZED 129u       /* 4.01 */
#define PQC_COAP_FORBIDDEN 131u          /* 4.03 */
#define PQC_COAP_NOT_FOUND 132u          /* 4.04 */
#define PQC_COAP_INTERNAL_ERROR 160u     /* 5.00 */
#define PQC_COAP_SERVICE_UNAVAILABLE 163u /* 5.03 */

/* pqc_coap_options.mode; the zero value is SESSION. */
#define PQC_COAP_MODE_SESSION 0
#define PQC_COAP_MODE_SIGNED 1
#define PQC_COAP_MODE_OSCORE 2
#define PQC_COAP_MODE_PLAIN 3

/* pqc_coap_options.flags: a server also honours the CoAP path grants in
 * senders' certificates (pqc_ca_allow_topics with paths as filters:
 * subscribe allows GET/FETCH/Observe, publish the other methods). */
#define PQC_COAP_CERT_GRANTS 1u

/* Options of pqc_coap_server_new and pqc_coap_client_new; NULL means all
 * defaults. struct_size must be sizeof(pqc_coap_options). */
typedef struct pqc_coap_options {
  uint32_t struct_size;
  uint32_t mode;       /* PQC_COAP_MODE_* */
  uint32_t flags;      /* PQC_COAP_* flags */
  uint32_t timeout_ms; /* client: one exchange incl. handshake (0: 30 s);
                          server: how long a queued request waits for
                          pqc_coap_server_respond before 5.03 (0: 1.5 s) */
  const char *peer;    /* client: the server's device id (session and
                          OSCORE: required; signed: required signer) */
  const char *acl;     /* server: rules "subject methods path" separated by
                          ';' or newlines. subject: a device id (or DTLS
                          PSK identity), "*" (any authenticated sender) or
                          "role:NAME"; methods: "GET,PUT" or "*"; path: a
                          prefix on '/' boundaries, "/#" for all. NULL with
                          no flags: every authenticated sender may do all. */
  const char *dtls_psk_identity; /* DTLS with a pre-shared key (both set):  */
  const uint8_t *dtls_psk;       /* a client offers it, a server accepts    */
  size_t dtls_psk_len;           /* exactly this identity with this key.   */
  uint32_t ack_timeout_ms; /* CoAP ACK_TIMEOUT; 0: 2 s (RFC 7252 4.8) */
  uint32_t max_retransmit; /* with ack_timeout_ms; 0: 1 */
  /* DTLS with X.509 certificates (PEM files; not with a PSK). A server
   * needs cert and key; with ca_file it requires client certificates
   * issued by it, and the sender its handlers see is the client's common
   * name. A client needs ca_file to verify the server (server_name, if
   * set, must match its certificate) and cert and key if the server asks
   * for one. Unreadable files: PQC_ERR_IO; unusable ones:
   * PQC_ERR_INVALID_ARGUMENT. */
  const char *dtls_cert_file;
  const char *dtls_key_file;
  const char *dtls_ca_file;
  const char *dtls_server_name;
} pqc_coap_options;

/* A request as a resource handler sees it; valid during the call only. */
typedef struct pqc_coap_request {
  uint32_t method;        /* PQC_COAP_GET ... */
  int32_t content_format; /* PQC_COAP_NO_FORMAT when absent */
  const char *path;       /* "/sensors/t1" */
  const char *query;      /* "unit=C&avg=1", "" without query */
  const char *sender;     /* authenticated device id (plain: DTLS identity
                             or "") */
  const uint8_t *payload;
  size_t payload_len;
  uint32_t observe;       /* 1: an Observe registration or notification */
  uint32_t reserved;
} pqc_coap_request;

/* The handler's answer. code is preset to PQC_COAP_CONTENT and
 * content_format to PQC_COAP_NO_FORMAT; the handler writes up to
 * payload_cap (PQC_COAP_MAX_PAYLOAD) bytes into the library's payload
 * buffer and sets payload_len. An invalid code or length answers 5.00. */
typedef struct pqc_coap_response {
  uint32_t code;
  int32_t content_format;
  uint8_t *payload;
  size_t payload_cap;
  size_t payload_len;
} pqc_coap_response;

typedef struct pqc_coap_server pqc_coap_server;
typedef struct pqc_coap_client pqc_coap_client;
typedef struct pqc_coap_observation pqc_coap_observation;

/* sizeof(pqc_coap_options) as the library knows it. */
PQC_API size_t pqc_coap_options_size(void);

/* A server acting as the identity (which must outlive it; NULL in plain
 * mode). Nothing is bound before pqc_coap_server_listen. */
PQC_API int pqc_coap_server_new(pqc_identity *id, const pqc_coap_options *opts,
                                pqc_coap_server **out);
/* Binds addr ("host:port"; port 0 picks a free one; NULL means
 * "127.0.0.1:5683") and serves on library threads. Once per server
 * (PQC_ERR_STATE again); PQC_ERR_IO when the address cannot be bound. */
PQC_API int pqc_coap_server_listen(pqc_coap_server *s, const char *addr);
/* The bound address, e.g. "127.0.0.1:40123" (PQC_ERR_STATE before
 * listen). */
PQC_API int pqc_coap_server_addr(const pqc_coap_server *s, char *out,
                                 size_t cap, size_t *out_len);

/* Verifies a peer's certificate chain (pqc_identity_chain of the peer) and
 * records its keys in the identity's trust state, shared with the
 * identity's other users. Session and OSCORE handshakes and signed
 * messages need the peer known first; in memory only. PQC_ERR_STATE in
 * plain mode. */
PQC_API int pqc_coap_server_add_peer(pqc_coap_server *s, const uint8_t *chain,
                                     size_t chain_len);
/* Answers requests for path (exact match) with cb, called on a library
 * thread, possibly on several at once; user is passed through. cb NULL
 * removes the resource (4.04). Replacing or removing waits until running
 * calls of the old handler return; from inside a handler it (like
 * pqc_coap_server_close and _free) fails with PQC_ERR_STATE. */
typedef void (*pqc_coap_handler)(void *user, const pqc_coap_request *req,
                                 pqc_coap_response *resp);
PQC_API int pqc_coap_server_set_handler(pqc_coap_server *s, const char *path,
                                        pqc_coap_handler cb, void *user);
/* Answers requests for path through the polling queue instead:
 * pqc_coap_server_recv takes them, pqc_coap_server_respond answers. A
 * request not answered within timeout_ms of the options (or arriving
 * with 64 requests already waiting) gets 5.03. */
PQC_API int pqc_coap_server_handle(pqc_coap_server *s, const char *path);
/* Waits up to timeout_ms (0: poll, <0: forever) for a queued request
 * (PQC_ERR_TIMEOUT if none). Buffers: path and query
 * PQC_COAP_URI_MAX_BYTES, sender PQC_DEVICE_ID_MAX_BYTES, payload
 * PQC_COAP_MAX_PAYLOAD always fit; a smaller one fails with
 * PQC_ERR_BUFFER_TOO_SMALL (*payload_len set) and keeps the request for
 * the next call. *request_id names it for pqc_coap_server_respond. */
PQC_API int pqc_coap_server_recv(pqc_coap_server *s, int timeout_ms,
                                 uint64_t *request_id, uint32_t *method,
                                 char *path, size_t path_cap, char *query,
                                 size_t query_cap, char *sender,
                                 size_t sender_cap, int *content_format,
                                 uint8_t *payload, size_t cap,
                                 size_t *payload_len);
/* Answers a request taken with pqc_coap_server_recv. code: 2.xx, 4.xx or
 * 5.xx. PQC_ERR_STATE when the request was already answered or expired
 * (it got 5.03). */
PQC_API int pqc_coap_server_respond(pqc_coap_server *s, uint64_t request_id,
                                    uint32_t code, int content_format,
                                    const uint8_t *payload, size_t len);
/* Sends payload as a 2.05 notification to every observer of path (each
 * protected for its observer) and sets *sent to their number. */
PQC_API int pqc_coap_server_notify(pqc_coap_server *s, const char *path,
                                   int content_format, const uint8_t *payload,
                                   size_t len, size_t *sent);
/* Stops serving (queued requests get 5.03), waits for running handlers
 * and wipes sessions and keys. The handle then answers PQC_ERR_CLOSED and
 * still needs pqc_coap_server_free. */
PQC_API int pqc_coap_server_close(pqc_coap_server *s);
/* Closes if needed and releases the handle. NULL is a no-op. */
PQC_API void pqc_coap_server_free(pqc_coap_server *s);

/* A client of the server at addr ("host:port") acting as the identity
 * (NULL in plain mode). In session and OSCORE modes the handshake runs on
 * the first request. */
PQC_API int pqc_coap_client_new(pqc_identity *id, const char *addr,
                                const pqc_coap_options *opts,
                                pqc_coap_client **out);
/* pqc_coap_server_add_peer for a client: the server's chain. */
PQC_API int pqc_coap_client_add_peer(pqc_coap_client *c, const uint8_t *chain,
                                     size_t chain_len);
/* One confirmable request. path may carry a query ("/t?unit=C"). timeout_ms
 * 0 (or <0) takes the options' timeout_ms, which also caps any larger
 * value. On PQC_OK *code is
 * the response code, *resp_format its content format (may be NULL), and
 * the payload is in out; sender (may be NULL; else sender_cap >=
 * PQC_DEVICE_ID_MAX_BYTES always fits) gets the authenticated responder,
 * "" for an unprotected refusal or in plain mode. A too small out fails
 * with PQC_ERR_BUFFER_TOO_SMALL with *code and *out_len set; the payload
 * is then lost (cap PQC_COAP_MAX_PAYLOAD always fits). */
PQC_API int pqc_coap_client_request(pqc_coap_client *c, uint32_t method,
                                    const char *path, int content_format,
                                    const uint8_t *payload, size_t len,
                                    int timeout_ms, uint32_t *code,
                                    int *resp_format, uint8_t *out, size_t cap,
                                    size_t *out_len, char *sender,
                                    size_t sender_cap);
/* Registers an observation of path and waits up to timeout_ms for the
 * first answer, which pqc_coap_observe_recv returns first (it may be an
 * error code, e.g. 4.03, after which nothing follows). */
PQC_API int pqc_coap_client_observe(pqc_coap_client *c, const char *path,
                                    int timeout_ms,
                                    pqc_coap_observation **out);
/* The next verified notification, oldest first (64 are kept; older ones
 * are dropped). Buffers as in pqc_coap_client_request, except that a too
 * small out keeps the notification for the next call. PQC_ERR_CLOSED once
 * the observation was cancelled or its client closed. */
PQC_API int pqc_coap_observe_recv(pqc_coap_observation *o, int timeout_ms,
                                  uint32_t *code, int *format, uint8_t *out,
                                  size_t cap, size_t *out_len, char *sender,
                                  size_t sender_cap);
/* Deregisters at the server and ends the observation. */
PQC_API int pqc_coap_observe_cancel(pqc_coap_observation *o);
/* Cancels if needed and releases the handle. NULL is a no-op. */
PQC_API void pqc_coap_observe_free(pqc_coap_observation *o);
/* Ends the client and its observations and wipes its session. The handle
 * then answers PQC_ERR_CLOSED and still needs pqc_coap_client_free. */
PQC_API int pqc_coap_client_close(pqc_coap_client *c);
/* Closes if needed and releases the handle. NULL is a no-op. */
PQC_API void pqc_coap_client_free(pqc_coap_client *c);

#ifdef __cplusplus
}
#endif

#endif /* PQC_IIOT_H */
