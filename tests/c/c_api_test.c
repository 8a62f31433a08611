/*
 * c_api_test: the C contract of include/pqc_iiot.h, exercised through every
 * declared function. Built as strict C99 (-std=c99 -pedantic -Werror) so the
 * header is proven usable by the most conservative C consumers.
 *
 * The test is table-driven over the algorithms the library reports, so a
 * newly registered scheme is covered without editing this file; the size
 * macros are checked only for the schemes that have them.
 *
 * Each algorithm runs in a child process (this program re-executed with
 * --kem NAME or --sig NAME): the library promises never to take the host
 * down, and when a scheme breaks that promise the crash is reported as that
 * scheme's failure while every other check still runs.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pqc_iiot.h"

static int passed;
static int failed;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (cond) {                                                                \
      passed++;                                                                \
    } else {                                                                   \
      failed++;                                                                \
      fprintf(stderr, "FAIL %s:%d: %s -- ", __FILE__, __LINE__, #cond);        \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, " [last_error: %s]\n", pqc_last_error());              \
    }                                                                          \
  } while (0)

/* A status check that names both statuses on failure. */
#define CHECK_STATUS(expr, want, ctx)                                          \
  do {                                                                         \
    int got_ = (expr);                                                         \
    CHECK(got_ == (want), "%s: %s returned %d (%s), want %d (%s)", (ctx),      \
          #expr, got_, pqc_strerror(got_), (want), pqc_strerror(want));        \
  } while (0)

/* A failing call must leave a detail behind for the caller to log. */
#define CHECK_FAILS_WITH(expr, want, ctx)                                      \
  do {                                                                         \
    CHECK_STATUS(expr, want, ctx);                                             \
    CHECK(pqc_last_error()[0] != '\0', "%s: empty pqc_last_error after %s",    \
          (ctx), #expr);                                                       \
  } while (0)

static void *xmalloc(size_t n) {
  /* +1 so a zero size still yields a valid, distinct pointer. */
  void *p = calloc(1, n + 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static int all_zero(const uint8_t *p, size_t n) {
  size_t i;
  uint8_t acc = 0;
  for (i = 0; i < n; i++) {
    acc |= p[i];
  }
  return acc == 0;
}

/* Lower-cases a name into buf to prove names are matched case-insensitively. */
static void lower(const char *in, char *buf, size_t cap) {
  size_t i;
  for (i = 0; in[i] != '\0' && i + 1 < cap; i++) {
    char c = in[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  buf[i] = '\0';
}

/* ---- Versions, status names, randomness --------------------------------- */

static void test_versions(void) {
  char expect[64];
  sprintf(expect, "%d.%d.%d", PQC_IIOT_VERSION_MAJOR, PQC_IIOT_VERSION_MINOR,
          PQC_IIOT_VERSION_PATCH);
  CHECK(pqc_version() != NULL, "pqc_version() is NULL");
  CHECK(strcmp(pqc_version(), PQC_IIOT_VERSION_STRING) == 0,
        "pqc_version() = %s, header says %s", pqc_version(),
        PQC_IIOT_VERSION_STRING);
  CHECK(strcmp(PQC_IIOT_VERSION_STRING, expect) == 0,
        "PQC_IIOT_VERSION_STRING %s disagrees with the numeric macros %s",
        PQC_IIOT_VERSION_STRING, expect);
  CHECK(pqc_abi_version() == PQC_IIOT_ABI_VERSION,
        "pqc_abi_version() = %d, header says %d", pqc_abi_version(),
        PQC_IIOT_ABI_VERSION);
}

static void test_strerror(void) {
  static const int codes[] = {
      PQC_OK,           PQC_ERR_INVALID_ARGUMENT, PQC_ERR_BUFFER_TOO_SMALL,
      PQC_ERR_UNSUPPORTED, PQC_ERR_VERIFY,       PQC_ERR_CLOSED,
      PQC_ERR_INTERNAL, PQC_ERR_REPLAY,           PQC_ERR_POLICY,
      PQC_ERR_TIMEOUT,  PQC_ERR_IO,               PQC_ERR_RATE_LIMITED,
      PQC_ERR_STATE,    PQC_ERR_REVOKED,          PQC_ERR_EXPIRED,
      PQC_ERR_UNTRUSTED, PQC_ERR_ROLLBACK,        PQC_ERR_WRONG_KEY,
      PQC_ERR_CORRUPT};
  static const int unknown[] = {1, -19, -1000, 42, INT32_MIN};
  const size_t n = sizeof codes / sizeof codes[0];
  size_t i, j;
  const char *unknown_name = pqc_strerror(-12345);


  CHECK(PQC_OK == 0 && PQC_ERR_INVALID_ARGUMENT == -1 &&
            PQC_ERR_BUFFER_TOO_SMALL == -2 && PQC_ERR_UNSUPPORTED == -3 &&
            PQC_ERR_VERIFY == -4 && PQC_ERR_CLOSED == -5 &&
            PQC_ERR_INTERNAL == -6 && PQC_ERR_REPLAY == -7 &&
            PQC_ERR_POLICY == -8 && PQC_ERR_TIMEOUT == -9 &&
            PQC_ERR_IO == -10 && PQC_ERR_RATE_LIMITED == -11 &&
            PQC_ERR_STATE == -12 && PQC_ERR_REVOKED == -13 &&
            PQC_ERR_EXPIRED == -14 && PQC_ERR_UNTRUSTED == -15 &&
            PQC_ERR_ROLLBACK == -16 && PQC_ERR_WRONG_KEY == -17 &&
            PQC_ERR_CORRUPT == -18,
        "status code values changed: they are part of the ABI");
  CHECK(unknown_name != NULL && unknown_name[0] != '\0',
        "pqc_strerror(unknown) must be a non-empty string");
  for (i = 0; i < n; i++) {
    const char *s = pqc_strerror(codes[i]);
    CHECK(s != NULL && s[0] != '\0', "pqc_strerror(%d) empty", codes[i]);
    if (s == NULL) {
      continue;
    }
    CHECK(unknown_name == NULL || strcmp(s, unknown_name) != 0,
          "pqc_strerror(%d) = \"%s\" is the unknown-code text", codes[i], s);
    for (j = 0; j < i; j++) {
      const char *t = pqc_strerror(codes[j]);
      CHECK(t == NULL || strcmp(s, t) != 0,
            "pqc_strerror(%d) and (%d) are both \"%s\"", codes[i], codes[j],
            s);
    }
  }
  for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *s = pqc_strerror(unknown[i]);
    CHECK(s != NULL && s[0] != '\0', "pqc_strerror(%d) empty", unknown[i]);
  }
}

static void test_random(void) {
  uint8_t a[64], b[64];
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  CHECK_STATUS(pqc_random_bytes(a, sizeof a), PQC_OK, "random");
  CHECK_STATUS(pqc_random_bytes(b, sizeof b), PQC_OK, "random");
  CHECK(!all_zero(a, sizeof a), "64 random bytes are all zero");
  CHECK(memcmp(a, b, sizeof a) != 0, "two random draws are equal");
  CHECK_STATUS(pqc_random_bytes(NULL, 0), PQC_OK, "random NULL/0");
  CHECK_STATUS(pqc_random_bytes(a, 0), PQC_OK, "random len 0");
  CHECK_FAILS_WITH(pqc_random_bytes(NULL, 16), PQC_ERR_INVALID_ARGUMENT,
                   "random NULL/16");
}

/* ---- Size macros for the schemes that have them -------------------------- */

struct kem_macros {
  const char *name;
  size_t pk, sk, ct, ss, seed; /* seed 0: no macro */
};

static const struct kem_macros kem_macro_table[] = {
    {"ML-KEM-768", PQC_ML_KEM_768_PUBLIC_KEY_BYTES,
     PQC_ML_KEM_768_SECRET_KEY_BYTES, PQC_ML_KEM_768_CIPHERTEXT_BYTES,
     PQC_ML_KEM_768_SHARED_SECRET_BYTES, PQC_ML_KEM_768_SEED_BYTES},
    {"X25519-ML-KEM-768", PQC_X25519_ML_KEM_768_PUBLIC_KEY_BYTES,
     PQC_X25519_ML_KEM_768_SECRET_KEY_BYTES,
     PQC_X25519_ML_KEM_768_CIPHERTEXT_BYTES,
     PQC_X25519_ML_KEM_768_SHARED_SECRET_BYTES, 0},
};

struct sig_macros {
  const char *name;
  size_t pk, sk, sig_max;
  int fixed_length; /* every signature has exactly sig_max bytes */
};

static const struct sig_macros sig_macro_table[] = {
    {"ML-DSA-65", PQC_ML_DSA_65_PUBLIC_KEY_BYTES,
     PQC_ML_DSA_65_SECRET_KEY_BYTES, PQC_ML_DSA_65_SIGNATURE_BYTES, 1},
    {"Falcon-512", PQC_FALCON_512_PUBLIC_KEY_BYTES,
     PQC_FALCON_512_SECRET_KEY_BYTES, PQC_FALCON_512_SIGNATURE_MAX_BYTES, 0},
};

static int kem_macros_checked[sizeof kem_macro_table / sizeof kem_macro_table[0]];
static int sig_macros_checked[sizeof sig_macro_table / sizeof sig_macro_table[0]];

/* ---- Algorithm lists ----------------------------------------------------- */

static void test_algorithm_lists(void) {
  size_t n = pqc_kem_algorithm_count();
  size_t m = pqc_sig_algorithm_count();
  size_t i, j;
  CHECK(n > 0, "no KEM registered");
  CHECK(m > 0, "no signature scheme registered");
  CHECK(pqc_kem_algorithm_name(n) == NULL, "KEM name past the end not NULL");
  CHECK(pqc_kem_algorithm_name((size_t)-1) == NULL, "KEM name SIZE_MAX");
  CHECK(pqc_sig_algorithm_name(m) == NULL, "sig name past the end not NULL");
  CHECK(pqc_sig_algorithm_name((size_t)-1) == NULL, "sig name SIZE_MAX");
  for (i = 0; i < n; i++) {
    const char *a = pqc_kem_algorithm_name(i);
    CHECK(a != NULL && a[0] != '\0', "KEM name %lu empty", (unsigned long)i);
    for (j = 0; a != NULL && j < i; j++) {
      CHECK(strcmp(a, pqc_kem_algorithm_name(j)) != 0, "KEM %s listed twice",
            a);
    }
    /* The same pointer each time: callers may keep it. */
    CHECK(a == pqc_kem_algorithm_name(i), "KEM name %lu pointer unstable",
          (unsigned long)i);
  }
  for (i = 0; i < m; i++) {
    const char *a = pqc_sig_algorithm_name(i);
    CHECK(a != NULL && a[0] != '\0', "sig name %lu empty", (unsigned long)i);
    for (j = 0; a != NULL && j < i; j++) {
      CHECK(strcmp(a, pqc_sig_algorithm_name(j)) != 0, "sig %s listed twice",
            a);
    }
  }
  /* The default suite must always be present. */
  {
    int have_kem = 0, have_sig = 0;
    for (i = 0; i < n; i++) {
      have_kem |= strcmp(pqc_kem_algorithm_name(i), "ML-KEM-768") == 0;
    }
    for (i = 0; i < m; i++) {
      have_sig |= strcmp(pqc_sig_algorithm_name(i), "ML-DSA-65") == 0;
    }
    CHECK(have_kem, "ML-KEM-768 is not registered");
    CHECK(have_sig, "ML-DSA-65 is not registered");
  }
}

/* ---- KEM, per algorithm ------------------------------------------------- */

static void test_kem(const char *alg) {
  pqc_kem *kem = NULL;
  char lname[128];
  size_t pk_n, sk_n, ct_n, ss_n, seed_n, i;
  uint8_t *pk, *sk, *ct, *ss1, *ss2, *pk2, *sk2, *seed, *big;
  pqc_kem *kem2 = NULL;

  CHECK_STATUS(pqc_kem_new(alg, &kem), PQC_OK, alg);
  if (kem == NULL) {
    return;
  }
  CHECK(pqc_kem_algorithm(kem) != NULL &&
            strcmp(pqc_kem_algorithm(kem), alg) == 0,
        "%s: pqc_kem_algorithm = %s", alg,
        pqc_kem_algorithm(kem) ? pqc_kem_algorithm(kem) : "(null)");

  lower(alg, lname, sizeof lname);
  CHECK_STATUS(pqc_kem_new(lname, &kem2), PQC_OK, lname);
  if (kem2 != NULL) {
    CHECK(pqc_kem_algorithm(kem2) != NULL &&
              strcmp(pqc_kem_algorithm(kem2), alg) == 0,
          "%s: lower-case name does not map to the canonical name", alg);
    pqc_kem_free(kem2);
  }

  pk_n = pqc_kem_public_key_size(kem);
  sk_n = pqc_kem_secret_key_size(kem);
  ct_n = pqc_kem_ciphertext_size(kem);
  ss_n = pqc_kem_shared_secret_size(kem);
  seed_n = pqc_kem_seed_size(kem);
  CHECK(pk_n > 0 && sk_n > 0 && ct_n > 0 && ss_n > 0 && seed_n > 0,
        "%s: a size is 0 (pk %lu sk %lu ct %lu ss %lu seed %lu)", alg,
        (unsigned long)pk_n, (unsigned long)sk_n, (unsigned long)ct_n,
        (unsigned long)ss_n, (unsigned long)seed_n);

  for (i = 0; i < sizeof kem_macro_table / sizeof kem_macro_table[0]; i++) {
    const struct kem_macros *mc = &kem_macro_table[i];
    if (strcmp(mc->name, alg) != 0) {
      continue;
    }
    kem_macros_checked[i] = 1;
    CHECK(pk_n == mc->pk, "%s: public key %lu, macro %lu", alg,
          (unsigned long)pk_n, (unsigned long)mc->pk);
    CHECK(sk_n == mc->sk, "%s: secret key %lu, macro %lu", alg,
          (unsigned long)sk_n, (unsigned long)mc->sk);
    CHECK(ct_n == mc->ct, "%s: ciphertext %lu, macro %lu", alg,
          (unsigned long)ct_n, (unsigned long)mc->ct);
    CHECK(ss_n == mc->ss, "%s: shared secret %lu, macro %lu", alg,
          (unsigned long)ss_n, (unsigned long)mc->ss);
    if (mc->seed != 0) {
      CHECK(seed_n == mc->seed, "%s: seed %lu, macro %lu", alg,
            (unsigned long)seed_n, (unsigned long)mc->seed);
    }
  }

  pk = xmalloc(pk_n);
  sk = xmalloc(sk_n);
  ct = xmalloc(ct_n);
  ss1 = xmalloc(ss_n);
  ss2 = xmalloc(ss_n);
  pk2 = xmalloc(pk_n);
  sk2 = xmalloc(sk_n);
  seed = xmalloc(seed_n);
  big = xmalloc(pk_n + sk_n + ct_n + 16);

  /* Round trip. */
  CHECK_STATUS(pqc_kem_keypair(kem, pk, pk_n, sk, sk_n), PQC_OK, alg);
  CHECK(!all_zero(pk, pk_n), "%s: public key all zero", alg);
  CHECK_STATUS(pqc_kem_encapsulate(kem, pk, pk_n, ct, ct_n, ss1, ss_n), PQC_OK,
               alg);
  CHECK_STATUS(pqc_kem_decapsulate(kem, sk, sk_n, ct, ct_n, ss2, ss_n), PQC_OK,
               alg);
  CHECK(memcmp(ss1, ss2, ss_n) == 0, "%s: shared secrets differ", alg);
  CHECK(!all_zero(ss1, ss_n), "%s: shared secret all zero", alg);

  /* Implicit rejection: a tampered ciphertext is not an error but must not
   * yield the sender's secret. */
  ct[ct_n / 2] ^= 0x01;
  CHECK_STATUS(pqc_kem_decapsulate(kem, sk, sk_n, ct, ct_n, ss2, ss_n), PQC_OK,
               alg);
  CHECK(memcmp(ss1, ss2, ss_n) != 0,
        "%s: tampered ciphertext gave the same secret", alg);
  ct[ct_n / 2] ^= 0x01;

  /* Two encapsulations to one key differ (fresh randomness). */
  CHECK_STATUS(pqc_kem_encapsulate(kem, pk, pk_n, big, ct_n, ss2, ss_n), PQC_OK,
               alg);
  CHECK(memcmp(big, ct, ct_n) != 0, "%s: two ciphertexts are equal", alg);

  /* Oversized output buffers are fine: only the needed bytes are written. */
  CHECK_STATUS(pqc_kem_keypair(kem, pk2, pk_n, big, pk_n + sk_n + ct_n + 16),
               PQC_OK, alg);

  /* Seeded key generation is deterministic. */
  CHECK_STATUS(pqc_random_bytes(seed, seed_n), PQC_OK, alg);
  CHECK_STATUS(pqc_kem_keypair_from_seed(kem, seed, seed_n, pk, pk_n, sk, sk_n),
               PQC_OK, alg);
  CHECK_STATUS(
      pqc_kem_keypair_from_seed(kem, seed, seed_n, pk2, pk_n, sk2, sk_n),
      PQC_OK, alg);
  CHECK(memcmp(pk, pk2, pk_n) == 0 && memcmp(sk, sk2, sk_n) == 0,
        "%s: same seed, different keys", alg);
  /* Inputs belong to the caller: the library reads them and nothing more
   * (wiping its own copies must not reach back into them). */
  memcpy(big, seed, seed_n);
  CHECK_STATUS(
      pqc_kem_keypair_from_seed(kem, seed, seed_n, pk2, pk_n, sk2, sk_n),
      PQC_OK, alg);
  CHECK(memcmp(big, seed, seed_n) == 0, "%s: keypair_from_seed changed the seed",
        alg);
  CHECK_STATUS(pqc_kem_encapsulate(kem, pk2, pk_n, ct, ct_n, ss1, ss_n), PQC_OK,
               alg);
  CHECK_STATUS(pqc_kem_decapsulate(kem, sk2, sk_n, ct, ct_n, ss2, ss_n), PQC_OK,
               alg);
  CHECK(memcmp(pk, pk2, pk_n) == 0 && memcmp(sk, sk2, sk_n) == 0,
        "%s: encapsulate/decapsulate changed a key", alg);
  seed[0] ^= 0x80;
  CHECK_STATUS(
      pqc_kem_keypair_from_seed(kem, seed, seed_n, pk2, pk_n, sk2, sk_n),
      PQC_OK, alg);
  CHECK(memcmp(pk, pk2, pk_n) != 0, "%s: different seeds, same key", alg);
  CHECK_STATUS(pqc_kem_encapsulate(kem, pk, pk_n, ct, ct_n, ss1, ss_n), PQC_OK,
               alg);
  CHECK_STATUS(pqc_kem_decapsulate(kem, sk, sk_n, ct, ct_n, ss2, ss_n), PQC_OK,
               alg);
  CHECK(memcmp(ss1, ss2, ss_n) == 0, "%s: seeded keys do not round-trip", alg);

  /* Short output buffers. */
  CHECK_FAILS_WITH(pqc_kem_keypair(kem, pk, pk_n - 1, sk, sk_n),
                   PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK_FAILS_WITH(pqc_kem_keypair(kem, pk, pk_n, sk, sk_n - 1),
                   PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK_FAILS_WITH(pqc_kem_keypair(kem, pk, 0, sk, 0),
                   PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK_FAILS_WITH(pqc_kem_keypair_from_seed(kem, seed, seed_n, pk, pk_n - 1,
                                             sk, sk_n),
                   PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK_FAILS_WITH(
      pqc_kem_encapsulate(kem, pk, pk_n, ct, ct_n - 1, ss1, ss_n),
      PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK_FAILS_WITH(
      pqc_kem_encapsulate(kem, pk, pk_n, ct, ct_n, ss1, ss_n - 1),
      PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK_FAILS_WITH(
      pqc_kem_decapsulate(kem, sk, sk_n, ct, ct_n, ss2, ss_n - 1),
      PQC_ERR_BUFFER_TOO_SMALL, alg);

  /* NULL output buffers with a sufficient length. */
  CHECK_FAILS_WITH(pqc_kem_keypair(kem, NULL, pk_n, sk, sk_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_keypair(kem, pk, pk_n, NULL, sk_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_encapsulate(kem, pk, pk_n, NULL, ct_n, ss1, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_decapsulate(kem, sk, sk_n, ct, ct_n, NULL, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);

  /* Inputs of the wrong length. */
  CHECK_FAILS_WITH(pqc_kem_keypair_from_seed(kem, seed, seed_n - 1, pk, pk_n,
                                             sk, sk_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_keypair_from_seed(kem, big, seed_n + 1, pk, pk_n,
                                             sk, sk_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_keypair_from_seed(kem, NULL, 0, pk, pk_n, sk, sk_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_encapsulate(kem, pk, pk_n - 1, ct, ct_n, ss1, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_encapsulate(kem, big, pk_n + 1, ct, ct_n, ss1, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_encapsulate(kem, NULL, 0, ct, ct_n, ss1, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_decapsulate(kem, sk, sk_n - 1, ct, ct_n, ss2, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_decapsulate(kem, sk, sk_n, ct, ct_n - 1, ss2, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_decapsulate(kem, big, sk_n + 1, ct, ct_n, ss2, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);

  /* NULL inputs with a nonzero length. */
  CHECK_FAILS_WITH(pqc_kem_keypair_from_seed(kem, NULL, seed_n, pk, pk_n, sk,
                                             sk_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_encapsulate(kem, NULL, pk_n, ct, ct_n, ss1, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_decapsulate(kem, NULL, sk_n, ct, ct_n, ss2, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_kem_decapsulate(kem, sk, sk_n, NULL, ct_n, ss2, ss_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);

  free(pk);
  free(sk);
  free(ct);
  free(ss1);
  free(ss2);
  free(pk2);
  free(sk2);
  free(seed);
  free(big);
  pqc_kem_free(kem);
}

/* ---- Signatures, per algorithm ----------------------------------------- */

static void test_sig(const char *alg) {
  static const uint8_t msg[] = "open valve 7 at 2026-11-24T00:00Z";
  const size_t msg_n = sizeof msg - 1;
  uint8_t msg2[sizeof msg];
  pqc_sig *sig = NULL, *sig2 = NULL;
  char lname[128];
  size_t pk_n, sk_n, max_n, seed_n, sig_n, sig_len = 0, out_len, i;
  uint8_t *pk, *sk, *pk2, *sk2, *s, *seed, *big;
  int fixed_length = 0;

  CHECK_STATUS(pqc_sig_new(alg, &sig), PQC_OK, alg);
  if (sig == NULL) {
    return;
  }
  CHECK(pqc_sig_algorithm(sig) != NULL &&
            strcmp(pqc_sig_algorithm(sig), alg) == 0,
        "%s: pqc_sig_algorithm = %s", alg,
        pqc_sig_algorithm(sig) ? pqc_sig_algorithm(sig) : "(null)");
  lower(alg, lname, sizeof lname);
  CHECK_STATUS(pqc_sig_new(lname, &sig2), PQC_OK, lname);
  if (sig2 != NULL) {
    CHECK(pqc_sig_algorithm(sig2) != NULL &&
              strcmp(pqc_sig_algorithm(sig2), alg) == 0,
          "%s: lower-case name does not map to the canonical name", alg);
    pqc_sig_free(sig2);
  }

  pk_n = pqc_sig_public_key_size(sig);
  sk_n = pqc_sig_secret_key_size(sig);
  max_n = pqc_sig_signature_max_size(sig);
  seed_n = pqc_sig_seed_size(sig);
  CHECK(pk_n > 0 && sk_n > 0 && max_n > 0 && seed_n > 0,
        "%s: a size is 0 (pk %lu sk %lu sig %lu seed %lu)", alg,
        (unsigned long)pk_n, (unsigned long)sk_n, (unsigned long)max_n,
        (unsigned long)seed_n);

  for (i = 0; i < sizeof sig_macro_table / sizeof sig_macro_table[0]; i++) {
    const struct sig_macros *mc = &sig_macro_table[i];
    if (strcmp(mc->name, alg) != 0) {
      continue;
    }
    sig_macros_checked[i] = 1;
    fixed_length = mc->fixed_length;
    CHECK(pk_n == mc->pk, "%s: public key %lu, macro %lu", alg,
          (unsigned long)pk_n, (unsigned long)mc->pk);
    CHECK(sk_n == mc->sk, "%s: secret key %lu, macro %lu", alg,
          (unsigned long)sk_n, (unsigned long)mc->sk);
    CHECK(max_n == mc->sig_max, "%s: signature max %lu, macro %lu", alg,
          (unsigned long)max_n, (unsigned long)mc->sig_max);
  }

  pk = xmalloc(pk_n);
  sk = xmalloc(sk_n);
  pk2 = xmalloc(pk_n);
  sk2 = xmalloc(sk_n);
  s = xmalloc(max_n);
  seed = xmalloc(seed_n);
  big = xmalloc(pk_n + sk_n + max_n + 16);
  memcpy(msg2, msg, sizeof msg);

  CHECK_STATUS(pqc_sig_keypair(sig, pk, pk_n, sk, sk_n), PQC_OK, alg);
  sig_n = 0;
  CHECK_STATUS(pqc_sig_sign(sig, sk, sk_n, msg, msg_n, s, max_n, &sig_n),
               PQC_OK, alg);
  CHECK(sig_n > 0 && sig_n <= max_n, "%s: signature length %lu of max %lu",
        alg, (unsigned long)sig_n, (unsigned long)max_n);
  if (fixed_length) {
    CHECK(sig_n == max_n, "%s: signature length %lu, want exactly %lu", alg,
          (unsigned long)sig_n, (unsigned long)max_n);
  }
  sig_len = sig_n;
  CHECK_STATUS(pqc_sig_verify(sig, pk, pk_n, msg, msg_n, s, sig_len), PQC_OK,
               alg);

  /* Any flipped bit in the signature fails with PQC_ERR_VERIFY. */
  s[sig_len / 2] ^= 0x04;
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk, pk_n, msg, msg_n, s, sig_len),
                   PQC_ERR_VERIFY, alg);
  s[sig_len / 2] ^= 0x04;
  s[sig_len - 1] ^= 0x80;
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk, pk_n, msg, msg_n, s, sig_len),
                   PQC_ERR_VERIFY, alg);
  s[sig_len - 1] ^= 0x80;
  /* So does a flipped bit in the message. */
  msg2[0] ^= 0x01;
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk, pk_n, msg2, msg_n, s, sig_len),
                   PQC_ERR_VERIFY, alg);
  /* A truncated or empty signature is an invalid signature, not a bad
   * argument: the header reserves PQC_ERR_INVALID_ARGUMENT for the key. */
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk, pk_n, msg, msg_n, s, sig_len - 1),
                   PQC_ERR_VERIFY, alg);
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk, pk_n, msg, msg_n, NULL, 0),
                   PQC_ERR_VERIFY, alg);
  /* Intact signature still verifies after the failures above. */
  CHECK_STATUS(pqc_sig_verify(sig, pk, pk_n, msg, msg_n, s, sig_len), PQC_OK,
               alg);

  /* Another key does not verify the signature. */
  CHECK_STATUS(pqc_sig_keypair(sig, pk2, pk_n, sk2, sk_n), PQC_OK, alg);
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk2, pk_n, msg, msg_n, s, sig_len),
                   PQC_ERR_VERIFY, alg);

  /* The empty message, passed as NULL with length 0. */
  CHECK_STATUS(pqc_sig_sign(sig, sk, sk_n, NULL, 0, s, max_n, &sig_n), PQC_OK,
               alg);
  CHECK_STATUS(pqc_sig_verify(sig, pk, pk_n, NULL, 0, s, sig_n), PQC_OK, alg);
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk, pk_n, msg, msg_n, s, sig_n),
                   PQC_ERR_VERIFY, alg);

  /* An oversized output buffer is fine and *out_len is the real length. */
  out_len = 0;
  CHECK_STATUS(pqc_sig_sign(sig, sk, sk_n, msg, msg_n, big,
                            pk_n + sk_n + max_n + 16, &out_len),
               PQC_OK, alg);
  CHECK(out_len > 0 && out_len <= max_n, "%s: out_len %lu", alg,
        (unsigned long)out_len);
  CHECK_STATUS(pqc_sig_verify(sig, pk, pk_n, msg, msg_n, big, out_len), PQC_OK,
               alg);

  /* Seeded key generation is deterministic. */
  CHECK_STATUS(pqc_random_bytes(seed, seed_n), PQC_OK, alg);
  memcpy(big, seed, seed_n);
  CHECK_STATUS(pqc_sig_keypair_from_seed(sig, seed, seed_n, pk, pk_n, sk, sk_n),
               PQC_OK, alg);
  CHECK_STATUS(
      pqc_sig_keypair_from_seed(sig, seed, seed_n, pk2, pk_n, sk2, sk_n),
      PQC_OK, alg);
  CHECK(memcmp(pk, pk2, pk_n) == 0 && memcmp(sk, sk2, sk_n) == 0,
        "%s: same seed, different keys", alg);
  CHECK_STATUS(pqc_sig_sign(sig, sk, sk_n, msg, msg_n, s, max_n, &sig_n),
               PQC_OK, alg);
  CHECK_STATUS(pqc_sig_verify(sig, pk2, pk_n, msg, msg_n, s, sig_n), PQC_OK,
               alg);
  /* Inputs belong to the caller and come back unchanged. */
  CHECK(memcmp(sk, sk2, sk_n) == 0, "%s: sign changed the secret key", alg);
  CHECK(memcmp(pk, pk2, pk_n) == 0, "%s: verify changed the public key", alg);
  CHECK(memcmp(big, seed, seed_n) == 0, "%s: keypair_from_seed changed the seed",
        alg);

  /* A short signature buffer reports the size needed. */
  out_len = 0;
  CHECK_FAILS_WITH(
      pqc_sig_sign(sig, sk, sk_n, msg, msg_n, s, max_n - 1, &out_len),
      PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK(out_len == max_n, "%s: *out_len = %lu after a short buffer, want %lu",
        alg, (unsigned long)out_len, (unsigned long)max_n);
  out_len = 0;
  CHECK_FAILS_WITH(pqc_sig_sign(sig, sk, sk_n, msg, msg_n, NULL, 0, &out_len),
                   PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK(out_len == max_n, "%s: size query gave %lu, want %lu", alg,
        (unsigned long)out_len, (unsigned long)max_n);
  CHECK_FAILS_WITH(pqc_sig_keypair(sig, pk, pk_n - 1, sk, sk_n),
                   PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK_FAILS_WITH(pqc_sig_keypair(sig, pk, pk_n, sk, sk_n - 1),
                   PQC_ERR_BUFFER_TOO_SMALL, alg);
  CHECK_FAILS_WITH(pqc_sig_keypair_from_seed(sig, seed, seed_n, pk, pk_n, sk,
                                             sk_n - 1),
                   PQC_ERR_BUFFER_TOO_SMALL, alg);

  /* Bad arguments. */
  CHECK_FAILS_WITH(pqc_sig_sign(sig, sk, sk_n, msg, msg_n, s, max_n, NULL),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(
      pqc_sig_sign(sig, sk, sk_n - 1, msg, msg_n, s, max_n, &out_len),
      PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(
      pqc_sig_sign(sig, big, sk_n + 1, msg, msg_n, s, max_n, &out_len),
      PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_sig_sign(sig, NULL, sk_n, msg, msg_n, s, max_n, &out_len),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_sig_sign(sig, sk, sk_n, NULL, 5, s, max_n, &out_len),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_sig_sign(sig, sk, sk_n, msg, msg_n, NULL, max_n, &out_len),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk, pk_n - 1, msg, msg_n, s, sig_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_sig_verify(sig, big, pk_n + 1, msg, msg_n, s, sig_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_sig_verify(sig, NULL, pk_n, msg, msg_n, s, sig_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk, pk_n, NULL, msg_n, s, sig_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_sig_verify(sig, pk, pk_n, msg, msg_n, NULL, sig_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(pqc_sig_keypair(sig, NULL, pk_n, sk, sk_n),
                   PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(
      pqc_sig_keypair_from_seed(sig, seed, seed_n - 1, pk, pk_n, sk, sk_n),
      PQC_ERR_INVALID_ARGUMENT, alg);
  CHECK_FAILS_WITH(
      pqc_sig_keypair_from_seed(sig, NULL, seed_n, pk, pk_n, sk, sk_n),
      PQC_ERR_INVALID_ARGUMENT, alg);

  free(pk);
  free(sk);
  free(pk2);
  free(sk2);
  free(s);
  free(seed);
  free(big);
  pqc_sig_free(sig);
}

/* ---- Constructors and handles ------------------------------------------- */

static void test_unsupported_and_bad_new(void) {
  pqc_kem *kem = NULL;
  pqc_sig *sig = NULL;
  char long_name[600];

  CHECK_FAILS_WITH(pqc_kem_new("ML-KEM-999", &kem), PQC_ERR_UNSUPPORTED,
                   "kem_new unknown");
  CHECK(strstr(pqc_last_error(), "ML-KEM-999") != NULL,
        "the detail should name the unknown algorithm");
  CHECK_FAILS_WITH(pqc_kem_new("", &kem), PQC_ERR_UNSUPPORTED, "kem_new \"\"");
  /* A signature name is not a KEM name, and vice versa. */
  CHECK_FAILS_WITH(pqc_kem_new("ML-DSA-65", &kem), PQC_ERR_UNSUPPORTED,
                   "kem_new(sig name)");
  CHECK_FAILS_WITH(pqc_sig_new("ML-KEM-768", &sig), PQC_ERR_UNSUPPORTED,
                   "sig_new(kem name)");
  CHECK_FAILS_WITH(pqc_sig_new("RSA-2048", &sig), PQC_ERR_UNSUPPORTED,
                   "sig_new unknown");
  CHECK_FAILS_WITH(pqc_kem_new(NULL, &kem), PQC_ERR_INVALID_ARGUMENT,
                   "kem_new(NULL name)");
  CHECK_FAILS_WITH(pqc_sig_new(NULL, &sig), PQC_ERR_INVALID_ARGUMENT,
                   "sig_new(NULL name)");
  CHECK_FAILS_WITH(pqc_kem_new("ML-KEM-768", NULL), PQC_ERR_INVALID_ARGUMENT,
                   "kem_new(NULL out)");
  CHECK_FAILS_WITH(pqc_sig_new("ML-DSA-65", NULL), PQC_ERR_INVALID_ARGUMENT,
                   "sig_new(NULL out)");
  /* An unterminated-looking, very long name is refused, not overread. */
  memset(long_name, 'A', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  {
    int st = pqc_kem_new(long_name, &kem);
    CHECK(st == PQC_ERR_INVALID_ARGUMENT || st == PQC_ERR_UNSUPPORTED,
          "kem_new(600-char name) = %d", st);
  }
}

static void test_closed_and_forged(void) {
  pqc_kem *kem = NULL;
  pqc_sig *sig = NULL;
  uint8_t buf[8192];
  uint8_t buf2[8192];
  size_t out_len = 0;
  /* Plausible-looking pointers the library never issued. */
  pqc_kem *forged_kem = (pqc_kem *)(uintptr_t)0x7f0012345670u;
  pqc_sig *forged_sig = (pqc_sig *)(uintptr_t)0x1010u;
  pqc_kem *kems[3];
  pqc_sig *sigs[3];
  size_t i;

  /* free(NULL) is a no-op. */
  pqc_kem_free(NULL);
  pqc_sig_free(NULL);
  CHECK(1, "free(NULL) returned");

  CHECK_STATUS(pqc_kem_new("ML-KEM-768", &kem), PQC_OK, "closed setup");
  CHECK_STATUS(pqc_sig_new("ML-DSA-65", &sig), PQC_OK, "closed setup");
  if (kem == NULL || sig == NULL) {
    return;
  }

  /* A handle of the other type is refused as well. */
  CHECK_FAILS_WITH(pqc_kem_keypair((pqc_kem *)(void *)sig, buf, sizeof buf,
                                   buf2, sizeof buf2),
                   PQC_ERR_CLOSED, "sig handle used as kem");
  CHECK_FAILS_WITH(pqc_sig_keypair((pqc_sig *)(void *)kem, buf, sizeof buf,
                                   buf2, sizeof buf2),
                   PQC_ERR_CLOSED, "kem handle used as sig");
  CHECK(pqc_kem_public_key_size((pqc_kem *)(void *)sig) == 0,
        "size of a mistyped handle is not 0");
  /* The wrong free function leaves a handle of another type alive. */
  pqc_kem_free((pqc_kem *)(void *)sig);
  pqc_sig_free((pqc_sig *)(void *)kem);
  pqc_identity_free((pqc_identity *)(void *)kem);
  pqc_trust_free((pqc_trust *)(void *)sig);
  CHECK(pqc_kem_public_key_size(kem) == PQC_ML_KEM_768_PUBLIC_KEY_BYTES,
        "kem handle freed through another type's free function");
  CHECK(pqc_sig_public_key_size(sig) == PQC_ML_DSA_65_PUBLIC_KEY_BYTES,
        "sig handle freed through another type's free function");

  pqc_kem_free(kem);
  pqc_sig_free(sig);
  /* Freeing twice is harmless. */
  pqc_kem_free(kem);
  pqc_sig_free(sig);

  kems[0] = kem;
  kems[1] = forged_kem;
  kems[2] = NULL;
  sigs[0] = sig;
  sigs[1] = forged_sig;
  sigs[2] = NULL;
  for (i = 0; i < 3; i++) {
    const char *what = i == 0 ? "freed" : i == 1 ? "forged" : "NULL";
    pqc_kem *k = kems[i];
    pqc_sig *s = sigs[i];

    CHECK(pqc_kem_algorithm(k) == NULL, "%s kem: algorithm not NULL", what);
    CHECK(pqc_kem_public_key_size(k) == 0 && pqc_kem_secret_key_size(k) == 0 &&
              pqc_kem_ciphertext_size(k) == 0 &&
              pqc_kem_shared_secret_size(k) == 0 && pqc_kem_seed_size(k) == 0,
          "%s kem: a size is not 0", what);
    CHECK_FAILS_WITH(pqc_kem_keypair(k, buf, sizeof buf, buf2, sizeof buf2),
                     PQC_ERR_CLOSED, what);
    CHECK_FAILS_WITH(pqc_kem_keypair_from_seed(k, buf, 64, buf, sizeof buf,
                                               buf2, sizeof buf2),
                     PQC_ERR_CLOSED, what);
    CHECK_FAILS_WITH(pqc_kem_encapsulate(k, buf, PQC_ML_KEM_768_PUBLIC_KEY_BYTES,
                                         buf2, sizeof buf2, buf, 32),
                     PQC_ERR_CLOSED, what);
    CHECK_FAILS_WITH(pqc_kem_decapsulate(k, buf, PQC_ML_KEM_768_SECRET_KEY_BYTES,
                                         buf2, PQC_ML_KEM_768_CIPHERTEXT_BYTES,
                                         buf, 32),
                     PQC_ERR_CLOSED, what);

    CHECK(pqc_sig_algorithm(s) == NULL, "%s sig: algorithm not NULL", what);
    CHECK(pqc_sig_public_key_size(s) == 0 && pqc_sig_secret_key_size(s) == 0 &&
              pqc_sig_signature_max_size(s) == 0 && pqc_sig_seed_size(s) == 0,
          "%s sig: a size is not 0", what);
    CHECK_FAILS_WITH(pqc_sig_keypair(s, buf, sizeof buf, buf2, sizeof buf2),
                     PQC_ERR_CLOSED, what);
    CHECK_FAILS_WITH(pqc_sig_keypair_from_seed(s, buf, 32, buf, sizeof buf,
                                               buf2, sizeof buf2),
                     PQC_ERR_CLOSED, what);
    CHECK_FAILS_WITH(pqc_sig_sign(s, buf, PQC_ML_DSA_65_SECRET_KEY_BYTES, buf2,
                                  10, buf2, sizeof buf2, &out_len),
                     PQC_ERR_CLOSED, what);
    CHECK_FAILS_WITH(pqc_sig_verify(s, buf, PQC_ML_DSA_65_PUBLIC_KEY_BYTES,
                                    buf2, 10, buf, PQC_ML_DSA_65_SIGNATURE_BYTES),
                     PQC_ERR_CLOSED, what);
  }
  /* Freeing a forged handle is a no-op, not a crash. */
  pqc_kem_free(forged_kem);
  pqc_sig_free(forged_sig);
  CHECK(1, "free(forged) returned");

  /* Handles are not reused: a new object never answers to the old handle. */
  {
    pqc_kem *fresh = NULL;
    CHECK_STATUS(pqc_kem_new("ML-KEM-768", &fresh), PQC_OK, "fresh");
    CHECK(fresh != kem, "a freed handle value was issued again");
    CHECK(pqc_kem_public_key_size(kem) == 0, "stale handle revived");
    pqc_kem_free(fresh);
  }
}

/* ---- Identity, trust and CA --------------------------------------------- */

/* One device's life: a CA allows it, it joins, a verifier trusts its chain
 * under a policy, it rotates keys, its old key is revoked, and both
 * keystores reopen from disk. Raw 32-byte keystore keys keep Argon2id out of
 * the test's run time. */
struct id_bufs {
  uint8_t *anchor, *req, *chain, *chain2, *policy, *policy2, *revl, *obj;
  size_t anchor_n, req_n, chain_n, chain2_n, policy_n, policy2_n, revl_n,
      obj_n;
};

static void test_identity(void) {
  char dir[] = "/tmp/pqc_c_api_test.XXXXXX";
  char ca_path[64], dev_path[64], name[64], cmd[128];
  uint8_t ca_key[32], dev_key[32], wrong_key[32];
  uint8_t kid[PQC_KEY_ID_BYTES], kid_old[PQC_KEY_ID_BYTES];
  uint8_t fpk[8192], pk[8192];
  size_t fpk_n = 0, n = 0;
  uint64_t epoch = 99;
  int due = -1, pruned = -1;
  pqc_ca *ca = NULL, *ca2 = NULL;
  pqc_identity *id = NULL, *id2 = NULL;
  pqc_trust *trust = NULL;
  struct id_bufs b;
  const char *w = "identity";

  memset(&b, 0, sizeof b);
  if (mkdtemp(dir) == NULL) {
    CHECK(0, "mkdtemp failed");
    return;
  }
  sprintf(ca_path, "%s/ca.store", dir);
  sprintf(dev_path, "%s/device.store", dir);
  pqc_random_bytes(ca_key, sizeof ca_key);
  pqc_random_bytes(dev_key, sizeof dev_key);
  memcpy(wrong_key, dev_key, sizeof wrong_key);
  wrong_key[0] ^= 1;
  b.anchor = xmalloc(PQC_OBJECT_MAX_BYTES);
  b.req = xmalloc(PQC_OBJECT_MAX_BYTES);
  b.chain = xmalloc(PQC_OBJECT_MAX_BYTES);
  b.chain2 = xmalloc(PQC_OBJECT_MAX_BYTES);
  b.policy = xmalloc(PQC_OBJECT_MAX_BYTES);
  b.policy2 = xmalloc(PQC_OBJECT_MAX_BYTES);
  b.revl = xmalloc(PQC_REVOCATION_MAX_BYTES);
  b.obj = xmalloc(PQC_REVOCATION_MAX_BYTES);

  /* CA. */
  CHECK_STATUS(pqc_ca_create(ca_path, PQC_KEYSTORE_RAW_KEY, ca_key,
                             sizeof ca_key, "test-root", NULL,
                             (uint64_t)10 * 365 * 86400, &ca),
               PQC_OK, w);
  if (ca == NULL) {
    goto out;
  }
  CHECK_FAILS_WITH(pqc_ca_create(ca_path, PQC_KEYSTORE_RAW_KEY, ca_key,
                                 sizeof ca_key, "again", NULL, 86400, &ca2),
                   PQC_ERR_IO, "ca_create over an existing store");
  CHECK_FAILS_WITH(pqc_ca_create(dev_path, PQC_KEYSTORE_RAW_KEY, ca_key, 31,
                                 "short", NULL, 86400, &ca2),
                   PQC_ERR_INVALID_ARGUMENT, "ca_create, 31-byte raw key");
  /* Exact-size output: a short buffer reports what it needs. */
  n = 0;
  CHECK_FAILS_WITH(pqc_ca_certificate(ca, b.anchor, 1, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "ca_certificate short");
  CHECK(n > 1, "ca_certificate did not report the size it needs (%lu)",
        (unsigned long)n);
  CHECK_STATUS(pqc_ca_certificate(ca, b.anchor, PQC_OBJECT_MAX_BYTES,
                                  &b.anchor_n),
               PQC_OK, w);
  CHECK(b.anchor_n == n, "ca_certificate wrote %lu, announced %lu",
        (unsigned long)b.anchor_n, (unsigned long)n);

  /* Device. */
  CHECK_STATUS(pqc_identity_create(dev_path, PQC_KEYSTORE_RAW_KEY, dev_key,
                                   sizeof dev_key, "sensor-7", NULL, NULL,
                                   NULL, &id),
               PQC_OK, w);
  if (id == NULL) {
    goto out;
  }
  CHECK_STATUS(pqc_identity_device_id(id, name, sizeof name, &n), PQC_OK, w);
  CHECK(strcmp(name, "sensor-7") == 0 && n == strlen("sensor-7") + 1,
        "device id \"%s\" (%lu)", name, (unsigned long)n);
  CHECK_FAILS_WITH(pqc_identity_device_id(id, name, 3, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "device_id short");
  CHECK(n == strlen("sensor-7") + 1, "device_id needs %lu", (unsigned long)n);
  CHECK_STATUS(pqc_identity_factory_public_key(id, fpk, sizeof fpk, &fpk_n),
               PQC_OK, w);
  CHECK_FAILS_WITH(pqc_identity_epoch(id, &epoch), PQC_ERR_STATE,
                   "epoch before the first install");
  CHECK_FAILS_WITH(pqc_identity_renewal_request(id, b.req, PQC_OBJECT_MAX_BYTES,
                                                &b.req_n),
                   PQC_ERR_STATE, "renewal before the first install");

  /* Joining: irreversible calls refuse a small buffer before doing work. */
  n = 0;
  CHECK_FAILS_WITH(pqc_identity_join_request(id, b.req, 100, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "join_request short");
  CHECK(n == PQC_OBJECT_MAX_BYTES, "join_request asked for %lu",
        (unsigned long)n);
  CHECK_STATUS(pqc_identity_join_request(id, b.req, PQC_OBJECT_MAX_BYTES,
                                         &b.req_n),
               PQC_OK, w);
  CHECK_FAILS_WITH(pqc_ca_enroll(ca, b.req, b.req_n, 86400, b.chain,
                                 PQC_OBJECT_MAX_BYTES, &b.chain_n),
                   PQC_ERR_UNTRUSTED, "enroll before allow");
  CHECK_STATUS(pqc_ca_allow(ca, "sensor-7", fpk, fpk_n, "sensor"), PQC_OK, w);
  CHECK_STATUS(pqc_ca_enroll(ca, b.req, b.req_n, 86400, b.chain,
                             PQC_OBJECT_MAX_BYTES, &b.chain_n),
               PQC_OK, w);
  CHECK_FAILS_WITH(pqc_ca_enroll(ca, b.req, b.req_n, 86400, b.obj,
                                 PQC_OBJECT_MAX_BYTES, &n),
                   PQC_ERR_REPLAY, "the same join request twice");
  b.req[b.req_n / 2] ^= 1;
  {
    int st = pqc_ca_enroll(ca, b.req, b.req_n, 86400, b.obj,
                           PQC_OBJECT_MAX_BYTES, &n);
    CHECK(st == PQC_ERR_VERIFY || st == PQC_ERR_INVALID_ARGUMENT ||
              st == PQC_ERR_REPLAY,
          "tampered join request: %d (%s)", st, pqc_strerror(st));
  }
  {
    int st = pqc_identity_install(id, b.chain, b.chain_n, NULL, 0, 3600);
    CHECK(st == PQC_ERR_STATE || st == PQC_ERR_INVALID_ARGUMENT,
          "first install without an anchor: %d (%s)", st, pqc_strerror(st));
  }
  CHECK_STATUS(pqc_identity_install(id, b.chain, b.chain_n, b.anchor,
                                    b.anchor_n, 3600),
               PQC_OK, w);

  CHECK_STATUS(pqc_identity_epoch(id, &epoch), PQC_OK, w);
  CHECK(epoch == 0, "epoch after joining is %lu", (unsigned long)epoch);
  CHECK_STATUS(pqc_identity_chain(id, b.obj, PQC_OBJECT_MAX_BYTES, &n), PQC_OK,
               w);
  CHECK(n == b.chain_n && memcmp(b.obj, b.chain, n) == 0,
        "identity_chain differs from the installed chain");
  CHECK_STATUS(pqc_identity_key_id(id, kid, sizeof kid), PQC_OK, w);
  CHECK_FAILS_WITH(pqc_identity_key_id(id, kid, sizeof kid - 1),
                   PQC_ERR_BUFFER_TOO_SMALL, "key_id short");
  CHECK_STATUS(pqc_identity_public_key(id, NULL, pk, sizeof pk, &n), PQC_OK, w);
  CHECK(n == PQC_ML_DSA_65_PUBLIC_KEY_BYTES, "default signature key is %lu",
        (unsigned long)n);
  CHECK_STATUS(pqc_identity_public_key(id, "X25519-ML-KEM-768", pk, sizeof pk,
                                       &n),
               PQC_OK, w);
  CHECK(n == PQC_X25519_ML_KEM_768_PUBLIC_KEY_BYTES, "default KEM key is %lu",
        (unsigned long)n);
  CHECK_FAILS_WITH(pqc_identity_public_key(id, "Falcon-1024", pk, sizeof pk,
                                           &n),
                   PQC_ERR_UNSUPPORTED, "public key of a scheme it lacks");
  CHECK_STATUS(pqc_identity_announcement(id, "plant/line1/sensor-7", b.obj,
                                         PQC_OBJECT_MAX_BYTES, &n),
               PQC_OK, w);
  CHECK(n > 0, "empty announcement");

  /* A verifier with no identity of its own. */
  CHECK_STATUS(pqc_trust_new(b.anchor, b.anchor_n, &trust), PQC_OK, w);
  if (trust == NULL) {
    goto out;
  }
  CHECK_FAILS_WITH(pqc_trust_check_policy(trust), PQC_ERR_POLICY,
                   "no policy installed yet");
  CHECK_STATUS(pqc_ca_sign_policy(ca, 3600, NULL, NULL, 0, 0, 0, b.policy,
                                  PQC_OBJECT_MAX_BYTES, &b.policy_n),
               PQC_OK, w);
  /* A second, newer policy; it must still allow the device's default
   * hybrid KEM key, or its chain is refused (a test of its own below). */
  CHECK_STATUS(pqc_ca_sign_policy(ca, 3600, "ML-KEM-768,X25519-ML-KEM-768",
                                  "ML-DSA-65", 1000,
                                  3600, 1, b.policy2, PQC_OBJECT_MAX_BYTES,
                                  &b.policy2_n),
               PQC_OK, w);
  CHECK_STATUS(pqc_ca_revoke(ca, NULL, 0, b.revl, PQC_REVOCATION_MAX_BYTES,
                             &b.revl_n),
               PQC_OK, w);
  CHECK_STATUS(pqc_trust_apply_policy(trust, b.policy2, b.policy2_n), PQC_OK,
               w);
  CHECK_FAILS_WITH(pqc_trust_apply_policy(trust, b.policy, b.policy_n),
                   PQC_ERR_ROLLBACK, "older policy after a newer one");
  CHECK_STATUS(pqc_trust_apply_revocation(trust, b.revl, b.revl_n), PQC_OK, w);
  CHECK_STATUS(pqc_trust_check_policy(trust), PQC_OK, w);
  CHECK_STATUS(pqc_identity_apply_policy(id, b.policy2, b.policy2_n), PQC_OK,
               w);
  CHECK_FAILS_WITH(pqc_identity_apply_policy(id, b.policy, b.policy_n),
                   PQC_ERR_ROLLBACK, "identity: older policy");
  CHECK_STATUS(pqc_identity_apply_revocation(id, b.revl, b.revl_n), PQC_OK, w);

  memset(name, 0, sizeof name);
  CHECK_STATUS(pqc_trust_verify_chain(trust, b.chain, b.chain_n, 0, name,
                                      sizeof name, &n),
               PQC_OK, w);
  CHECK(strcmp(name, "sensor-7") == 0, "verified chain names \"%s\"", name);
  CHECK_STATUS(pqc_trust_verify_chain(trust, b.chain, b.chain_n, 0, NULL, 0,
                                      NULL),
               PQC_OK, w);
  CHECK_FAILS_WITH(pqc_trust_verify_chain(trust, b.chain, b.chain_n,
                                          (int64_t)4102444800, /* 2100 */
                                          NULL, 0, NULL),
                   PQC_ERR_EXPIRED, "chain checked in 2100");
  {
    /* A verifier whose policy forbids the device's KEM refuses the chain. */
    pqc_trust *strict = NULL;
    CHECK_STATUS(pqc_trust_new(b.anchor, b.anchor_n, &strict), PQC_OK, w);
    CHECK_STATUS(pqc_ca_sign_policy(ca, 3600, "ML-KEM-768", NULL, 0, 0, 0,
                                    b.obj, PQC_OBJECT_MAX_BYTES, &n),
                 PQC_OK, w);
    CHECK_STATUS(pqc_trust_apply_policy(strict, b.obj, n), PQC_OK, w);
    CHECK_STATUS(pqc_trust_apply_revocation(strict, b.revl, b.revl_n), PQC_OK,
                 w);
    CHECK_FAILS_WITH(pqc_trust_verify_chain(strict, b.chain, b.chain_n, 0,
                                            NULL, 0, NULL),
                     PQC_ERR_POLICY, "chain with a KEM the policy forbids");
    pqc_trust_free(strict);
  }
  b.chain[b.chain_n - 5] ^= 1;
  {
    int st = pqc_trust_verify_chain(trust, b.chain, b.chain_n, 0, NULL, 0,
                                    NULL);
    CHECK(st == PQC_ERR_VERIFY || st == PQC_ERR_INVALID_ARGUMENT,
          "tampered chain: %d (%s)", st, pqc_strerror(st));
  }
  b.chain[b.chain_n - 5] ^= 1;

  /* Signed envelopes: signed by the identity, verified by a bare trust
   * store and by the identity's own trust state; tampered, re-routed and
   * oversized ones refused. */
  {
    static const char reading[] = "temp=71.5";
    uint8_t content[64];
    char who[PQC_DEVICE_ID_MAX_BYTES];
    int64_t at = 0;
    size_t env_n = 0, need = 0;
    uint8_t *big = xmalloc(PQC_SIGNED_MAX_CONTENT + 1);
    CHECK(pqc_signed_max_content() == PQC_SIGNED_MAX_CONTENT,
          "signed_max_content is %lu", (unsigned long)pqc_signed_max_content());
    CHECK_FAILS_WITH(pqc_identity_sign(id, "plant/boiler-3",
                                       (const uint8_t *)reading,
                                       strlen(reading), b.obj, 16, &need),
                     PQC_ERR_BUFFER_TOO_SMALL, "sign into 16 bytes");
    CHECK(need > 16, "too-small sign reported %lu", (unsigned long)need);
    CHECK_STATUS(pqc_identity_sign(id, "plant/boiler-3",
                                   (const uint8_t *)reading, strlen(reading),
                                   b.obj, PQC_OBJECT_MAX_BYTES, &env_n),
                 PQC_OK, w);
    CHECK(env_n == need, "envelope is %lu bytes, first call said %lu",
          (unsigned long)env_n, (unsigned long)need);
    memset(who, 0, sizeof who);
    CHECK_STATUS(pqc_trust_verify_signed(trust, b.obj, env_n, "plant/boiler-3",
                                         content, sizeof content, &n, who,
                                         sizeof who, &at),
                 PQC_OK, w);
    CHECK(n == strlen(reading) && memcmp(content, reading, n) == 0,
          "verified content differs");
    CHECK(strcmp(who, "sensor-7") == 0, "envelope signed by \"%s\"", who);
    CHECK(at > 1700000000, "signed at %lld", (long long)at);
    CHECK_STATUS(pqc_identity_verify_signed(id, b.obj, env_n, "plant/boiler-3",
                                            content, sizeof content, &n, NULL,
                                            0, NULL),
                 PQC_OK, w);
    CHECK_FAILS_WITH(pqc_trust_verify_signed(trust, b.obj, env_n,
                                             "plant/boiler-4", content,
                                             sizeof content, &n, NULL, 0,
                                             NULL),
                     PQC_ERR_UNTRUSTED, "envelope on another context");
    CHECK_FAILS_WITH(pqc_trust_verify_signed(trust, b.obj, env_n,
                                             "plant/boiler-3", content,
                                             sizeof content, &n, who, 8, NULL),
                     PQC_ERR_BUFFER_TOO_SMALL, "sender buffer of 8 bytes");
    n = 0;
    CHECK_FAILS_WITH(pqc_trust_verify_signed(trust, b.obj, env_n,
                                             "plant/boiler-3", content, 4, &n,
                                             NULL, 0, NULL),
                     PQC_ERR_BUFFER_TOO_SMALL, "content buffer of 4 bytes");
    CHECK(n == strlen(reading), "too-small content buffer reported %lu",
          (unsigned long)n);
    b.obj[env_n - 7] ^= 1;
    CHECK_FAILS_WITH(pqc_trust_verify_signed(trust, b.obj, env_n,
                                             "plant/boiler-3", content,
                                             sizeof content, &n, NULL, 0,
                                             NULL),
                     PQC_ERR_VERIFY, "tampered envelope");
    b.obj[env_n - 7] ^= 1;
    CHECK_FAILS_WITH(pqc_trust_verify_signed(trust, b.obj, env_n / 2,
                                             "plant/boiler-3", content,
                                             sizeof content, &n, NULL, 0,
                                             NULL),
                     PQC_ERR_INVALID_ARGUMENT, "truncated envelope");
    memset(big, 'x', PQC_SIGNED_MAX_CONTENT + 1);
    CHECK_FAILS_WITH(pqc_identity_sign(id, "plant/boiler-3", big,
                                       PQC_SIGNED_MAX_CONTENT + 1, b.obj,
                                       PQC_OBJECT_MAX_BYTES, &n),
                     PQC_ERR_INVALID_ARGUMENT, "oversized content");
    free(big);
  }

  /* Rotation. */
  CHECK_STATUS(pqc_identity_rotation_due(id, 365 * 86400, &due), PQC_OK, w);
  CHECK(due == 0, "rotation due right after joining");
  memcpy(kid_old, kid, sizeof kid);
  CHECK_STATUS(pqc_identity_renewal_request(id, b.req, PQC_OBJECT_MAX_BYTES,
                                            &b.req_n),
               PQC_OK, w);
  CHECK_STATUS(pqc_ca_enroll(ca, b.req, b.req_n, 86400, b.chain2,
                             PQC_OBJECT_MAX_BYTES, &b.chain2_n),
               PQC_OK, w);
  CHECK_STATUS(pqc_identity_install(id, b.chain2, b.chain2_n, NULL, 0, 0),
               PQC_OK, w);
  CHECK_STATUS(pqc_identity_epoch(id, &epoch), PQC_OK, w);
  CHECK(epoch == 1, "epoch after one rotation is %lu", (unsigned long)epoch);
  CHECK_STATUS(pqc_identity_key_id(id, kid, sizeof kid), PQC_OK, w);
  CHECK(memcmp(kid, kid_old, sizeof kid) != 0, "rotation kept the key id");
  CHECK_STATUS(pqc_identity_prune(id, &pruned), PQC_OK, w);
  CHECK(pruned == 1, "zero overlap, yet prune did nothing (%d)", pruned);
  CHECK_STATUS(pqc_identity_prune(id, NULL), PQC_OK, w);

  /* Revoking the old key rejects its chain and keeps the new one. */
  CHECK_STATUS(pqc_ca_revoke(ca, kid_old, 1, b.revl, PQC_REVOCATION_MAX_BYTES,
                             &b.revl_n),
               PQC_OK, w);
  CHECK_STATUS(pqc_trust_apply_revocation(trust, b.revl, b.revl_n), PQC_OK, w);
  CHECK_FAILS_WITH(pqc_trust_verify_chain(trust, b.chain, b.chain_n, 0, NULL, 0,
                                          NULL),
                   PQC_ERR_REVOKED, "revoked chain");
  CHECK_STATUS(pqc_trust_verify_chain(trust, b.chain2, b.chain2_n, 0, NULL, 0,
                                      NULL),
               PQC_OK, w);
  CHECK_STATUS(pqc_identity_apply_revocation(id, b.revl, b.revl_n), PQC_OK, w);

  /* An open keystore is locked, even against this process. */
  CHECK_FAILS_WITH(pqc_identity_open(dev_path, PQC_KEYSTORE_RAW_KEY, dev_key,
                                     sizeof dev_key, &id2),
                   PQC_ERR_IO, "open a keystore that is already open");

  /* Persistence: both keystores reopen with their state. */
  pqc_identity_free(id);
  id = NULL;
  CHECK_FAILS_WITH(pqc_identity_open(dev_path, PQC_KEYSTORE_RAW_KEY, wrong_key,
                                     sizeof wrong_key, &id2),
                   PQC_ERR_WRONG_KEY, "open with the wrong key");
  CHECK_FAILS_WITH(pqc_identity_open("/nonexistent/pqc/device.store",
                                     PQC_KEYSTORE_RAW_KEY, dev_key,
                                     sizeof dev_key, &id2),
                   PQC_ERR_IO, "open a missing store");
  CHECK_STATUS(pqc_identity_open(dev_path, PQC_KEYSTORE_RAW_KEY, dev_key,
                                 sizeof dev_key, &id),
               PQC_OK, w);
  if (id != NULL) {
    CHECK_STATUS(pqc_identity_epoch(id, &epoch), PQC_OK, w);
    CHECK(epoch == 1, "reopened epoch %lu", (unsigned long)epoch);
  }
  pqc_ca_free(ca);
  ca = NULL;
  CHECK_STATUS(pqc_ca_open(ca_path, PQC_KEYSTORE_RAW_KEY, ca_key,
                           sizeof ca_key, &ca),
               PQC_OK, w);
  if (ca != NULL) {
    CHECK_STATUS(pqc_ca_certificate(ca, b.obj, PQC_OBJECT_MAX_BYTES, &n),
                 PQC_OK, w);
    CHECK(n == b.anchor_n && memcmp(b.obj, b.anchor, n) == 0,
          "reopened CA has another certificate");
  }

out:
  /* Freed and forged handles of the new types. */
  pqc_identity_free(id);
  pqc_trust_free(trust);
  pqc_ca_free(ca);
  pqc_identity_free(NULL);
  pqc_trust_free(NULL);
  pqc_ca_free(NULL);
  if (id != NULL) {
    CHECK_FAILS_WITH(pqc_identity_epoch(id, &epoch), PQC_ERR_CLOSED,
                     "freed identity");
    CHECK_FAILS_WITH(pqc_identity_chain(id, b.obj, PQC_OBJECT_MAX_BYTES, &n),
                     PQC_ERR_CLOSED, "freed identity");
  }
  if (trust != NULL) {
    CHECK_FAILS_WITH(pqc_trust_check_policy(trust), PQC_ERR_CLOSED,
                     "freed trust");
  }
  if (ca != NULL) {
    CHECK_FAILS_WITH(pqc_ca_certificate(ca, b.obj, PQC_OBJECT_MAX_BYTES, &n),
                     PQC_ERR_CLOSED, "freed CA");
  }
  CHECK_FAILS_WITH(pqc_trust_check_policy((pqc_trust *)(uintptr_t)0x2020u),
                   PQC_ERR_CLOSED, "forged trust");
  CHECK_FAILS_WITH(pqc_identity_epoch((pqc_identity *)(uintptr_t)0x2030u,
                                      &epoch),
                   PQC_ERR_CLOSED, "forged identity");

  free(b.anchor);
  free(b.req);
  free(b.chain);
  free(b.chain2);
  free(b.policy);
  free(b.policy2);
  free(b.revl);
  free(b.obj);
  if (strlen(dir) < sizeof cmd - 16) {
    sprintf(cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
      fprintf(stderr, "note: could not remove %s\n", dir);
    }
  }
}

/* ---- Sessions and sealed messages ---------------------------------------- */

/* Two devices provisioned under one CA in temporary keystores: everything
 * a session needs (certificate, anchor, policy, revocation list). */
struct fleet {
  char dir[64];
  pqc_ca *ca;
  uint8_t *anchor, *policy, *revl, *buf;
  size_t anchor_n, policy_n, revl_n;
  /* MQTT topic grants for the next device provisioned; NULL: none. */
  const char *publish, *subscribe;
};

static pqc_identity *provision(struct fleet *f, const char *name,
                               uint8_t *chain, size_t *chain_n) {
  char path[128];
  uint8_t key[32], fpk[8192];
  size_t fpk_n = 0, req_n = 0;
  pqc_identity *id = NULL;

  sprintf(path, "%s/%s.store", f->dir, name);
  pqc_random_bytes(key, sizeof key);
  if (pqc_identity_create(path, PQC_KEYSTORE_RAW_KEY, key, sizeof key, name,
                          NULL, NULL, NULL, &id) != PQC_OK ||
      pqc_identity_factory_public_key(id, fpk, sizeof fpk, &fpk_n) != PQC_OK ||
      (f->publish == NULL && f->subscribe == NULL
           ? pqc_ca_allow(f->ca, name, fpk, fpk_n, NULL)
           : pqc_ca_allow_topics(f->ca, name, fpk, fpk_n, NULL, f->publish,
                                 f->subscribe)) != PQC_OK ||
      pqc_identity_join_request(id, f->buf, PQC_OBJECT_MAX_BYTES, &req_n) !=
          PQC_OK ||
      pqc_ca_enroll(f->ca, f->buf, req_n, 86400, chain, PQC_OBJECT_MAX_BYTES,
                    chain_n) != PQC_OK ||
      pqc_identity_install(id, chain, *chain_n, f->anchor, f->anchor_n, 0) !=
          PQC_OK ||
      pqc_identity_apply_policy(id, f->policy, f->policy_n) != PQC_OK ||
      pqc_identity_apply_revocation(id, f->revl, f->revl_n) != PQC_OK) {
    CHECK(0, "provisioning %s failed", name);
    pqc_identity_free(id);
    return NULL;
  }
  return id;
}

static int fleet_init(struct fleet *f) {
  uint8_t key[32];
  char path[128];
  memset(f, 0, sizeof *f);
  strcpy(f->dir, "/tmp/pqc_c_api_sess.XXXXXX");
  if (mkdtemp(f->dir) == NULL) {
    return 0;
  }
  f->anchor = xmalloc(PQC_OBJECT_MAX_BYTES);
  f->policy = xmalloc(PQC_OBJECT_MAX_BYTES);
  f->revl = xmalloc(PQC_REVOCATION_MAX_BYTES);
  f->buf = xmalloc(PQC_REVOCATION_MAX_BYTES);
  sprintf(path, "%s/ca.store", f->dir);
  pqc_random_bytes(key, sizeof key);
  return pqc_ca_create(path, PQC_KEYSTORE_RAW_KEY, key, sizeof key, "root",
                       NULL, 86400 * 365, &f->ca) == PQC_OK &&
         pqc_ca_certificate(f->ca, f->anchor, PQC_OBJECT_MAX_BYTES,
                            &f->anchor_n) == PQC_OK &&
         pqc_ca_sign_policy(f->ca, 3600, NULL, NULL, 0, 0, 1, f->policy,
                            PQC_OBJECT_MAX_BYTES, &f->policy_n) == PQC_OK &&
         pqc_ca_revoke(f->ca, NULL, 0, f->revl, PQC_REVOCATION_MAX_BYTES,
                       &f->revl_n) == PQC_OK;
}

static void fleet_free(struct fleet *f) {
  char cmd[128];
  pqc_ca_free(f->ca);
  free(f->anchor);
  free(f->policy);
  free(f->revl);
  free(f->buf);
  sprintf(cmd, "rm -rf '%s'", f->dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "note: could not remove %s\n", f->dir);
  }
}

/* The message number n of a data frame (docs/protocol.md 2.5). */
static uint32_t frame_n(const uint8_t *frame) {
  const uint8_t *p = frame + 2 + PQC_SESSION_ID_BYTES + 32 + 4;
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

#define SESSION_THREADS 4
#define SESSION_THREAD_MSGS 40

struct protect_thread {
  pqc_session *s;
  uint8_t *frames; /* SESSION_THREAD_MSGS frames of up to 256 bytes */
  size_t lens[SESSION_THREAD_MSGS];
  int failures;
};

static void *protect_thread_main(void *arg) {
  struct protect_thread *t = arg;
  size_t cap = 32 + pqc_session_frame_overhead_max();
  uint8_t *out = xmalloc(cap);
  int i;
  for (i = 0; i < SESSION_THREAD_MSGS; i++) {
    uint8_t msg[32];
    memset(msg, i, sizeof msg);
    if (pqc_session_protect(t->s, msg, sizeof msg, out, cap, &t->lens[i]) !=
            PQC_OK ||
        t->lens[i] > 256) {
      t->failures++;
      t->lens[i] = 0;
      continue;
    }
    memcpy(t->frames + 256 * i, out, t->lens[i]);
  }
  free(out);
  return NULL;
}

static void test_sessions(void) {
  struct fleet f;
  const char *ctx = "plant/line1/cmd";
  const char *w = "sessions";
  uint8_t *chain_a = NULL, *chain_b = NULL, *init = NULL, *resp = NULL;
  uint8_t *frame = NULL, *frame2 = NULL, *pt = NULL, *big = NULL;
  size_t chain_a_n = 0, chain_b_n = 0, init_n = 0, resp_n = 0, n = 0, fn = 0,
         fn2 = 0;
  size_t ovh = pqc_session_frame_overhead_max(), fcap;
  pqc_identity *a = NULL, *b = NULL;
  pqc_session_manager *ma = NULL, *mb = NULL, *mb2 = NULL;
  pqc_session *sa = NULL, *sb = NULL, *sx = NULL;
  uint8_t sid_a[PQC_SESSION_ID_BYTES], sid_b[PQC_SESSION_ID_BYTES];
  uint8_t kid_a[PQC_KEY_ID_BYTES];
  char name[PQC_DEVICE_ID_MAX_BYTES];
  int needs = -1;
  uint32_t n0;

  if (!fleet_init(&f)) {
    CHECK(0, "session fleet setup: %s", pqc_last_error());
    fleet_free(&f);
    return;
  }
  chain_a = xmalloc(PQC_OBJECT_MAX_BYTES);
  chain_b = xmalloc(PQC_OBJECT_MAX_BYTES);
  init = xmalloc(PQC_HANDSHAKE_MAX_BYTES);
  resp = xmalloc(PQC_HANDSHAKE_MAX_BYTES);
  fcap = 4096 + ovh;
  frame = xmalloc(fcap);
  frame2 = xmalloc(fcap);
  pt = xmalloc(fcap);
  big = xmalloc(PQC_OBJECT_MAX_BYTES);
  a = provision(&f, "plc-1", chain_a, &chain_a_n);
  b = provision(&f, "scada-1", chain_b, &chain_b_n);
  if (a == NULL || b == NULL) {
    goto out;
  }
  CHECK(ovh >= 59 + 16 && ovh < 8192, "frame overhead max %lu",
        (unsigned long)ovh);
  CHECK(pqc_seal_overhead_max() > 1000, "seal overhead max %lu",
        (unsigned long)pqc_seal_overhead_max());

  CHECK_FAILS_WITH(pqc_session_manager_new(a, 0x80, &ma),
                   PQC_ERR_INVALID_ARGUMENT, "manager_new unknown flag");
  CHECK(ma == NULL, "a failed manager_new left a handle");
  CHECK_STATUS(pqc_session_manager_new(a, 0, &ma), PQC_OK, w);
  CHECK_STATUS(pqc_session_manager_new(b, PQC_SESSION_RESUME, &mb), PQC_OK, w);
  if (ma == NULL || mb == NULL) {
    goto out;
  }

  /* Peers: A learns B from its chain, B learns A from an announcement. */
  CHECK_FAILS_WITH(pqc_session_initiate(ma, "scada-1", ctx, init,
                                        PQC_HANDSHAKE_MAX_BYTES, &init_n),
                   PQC_ERR_UNTRUSTED, "initiate to an unknown peer");
  CHECK_STATUS(pqc_session_manager_add_peer(ma, chain_b, chain_b_n, name,
                                            sizeof name, &n),
               PQC_OK, w);
  CHECK(strcmp(name, "scada-1") == 0 && n == 8, "add_peer named \"%s\"", name);
  CHECK_STATUS(pqc_session_manager_add_peer(ma, chain_b, chain_b_n, NULL, 0,
                                            NULL),
               PQC_OK, "add_peer again");
  chain_b[chain_b_n - 3] ^= 1;
  {
    int st = pqc_session_manager_add_peer(ma, chain_b, chain_b_n, NULL, 0,
                                          NULL);
    CHECK(st == PQC_ERR_VERIFY || st == PQC_ERR_INVALID_ARGUMENT,
          "add_peer with a tampered chain: %d", st);
  }
  chain_b[chain_b_n - 3] ^= 1;
  CHECK_STATUS(pqc_identity_announcement(a, "fleet/announce", big,
                                         PQC_OBJECT_MAX_BYTES, &n),
               PQC_OK, w);
  CHECK_FAILS_WITH(pqc_session_manager_accept_announcement(mb, big, n,
                                                           "fleet/other"),
                   PQC_ERR_UNTRUSTED, "announcement on another topic");
  CHECK_STATUS(pqc_session_manager_accept_announcement(mb, big, n,
                                                       "fleet/announce"),
               PQC_OK, w);

  /* Handshake; calls with side effects want their capacity up front. */
  n = 0;
  CHECK_FAILS_WITH(pqc_session_initiate(ma, "scada-1", ctx, init, 100, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "initiate short");
  CHECK(n == PQC_HANDSHAKE_MAX_BYTES, "initiate asked for %lu",
        (unsigned long)n);
  CHECK_FAILS_WITH(pqc_session_initiate(ma, "no such id!", ctx, init,
                                        PQC_HANDSHAKE_MAX_BYTES, &init_n),
                   PQC_ERR_INVALID_ARGUMENT, "initiate bad peer id");
  CHECK_STATUS(pqc_session_initiate(ma, "scada-1", ctx, init,
                                    PQC_HANDSHAKE_MAX_BYTES, &init_n),
               PQC_OK, w);
  CHECK_STATUS(pqc_session_handle_handshake(mb, init, init_n, resp,
                                            PQC_HANDSHAKE_MAX_BYTES, &resp_n,
                                            &sb),
               PQC_OK, w);
  CHECK(sb != NULL && resp_n > 0, "responder: no session or no Response");
  /* A retransmitted Init gets the same Response, and no second handle. */
  CHECK_STATUS(pqc_session_handle_handshake(mb, init, init_n, big,
                                            PQC_HANDSHAKE_MAX_BYTES, &n, &sx),
               PQC_OK, "retransmitted Init");
  CHECK(sx == NULL && n == resp_n && memcmp(big, resp, n) == 0,
        "retransmitted Init: other Response or a second handle");
  resp[resp_n / 2] ^= 1;
  {
    int st = pqc_session_handle_handshake(ma, resp, resp_n, big,
                                          PQC_HANDSHAKE_MAX_BYTES, &n, &sa);
    CHECK(st == PQC_ERR_VERIFY || st == PQC_ERR_INVALID_ARGUMENT,
          "tampered Response: %d", st);
    CHECK(sa == NULL, "tampered Response gave a session");
  }
  resp[resp_n / 2] ^= 1;
  CHECK_STATUS(pqc_session_handle_handshake(ma, resp, resp_n, big,
                                            PQC_HANDSHAKE_MAX_BYTES, &n, &sa),
               PQC_OK, w);
  CHECK(sa != NULL && n == 0, "initiator: no session, or a reply of %lu",
        (unsigned long)n);
  if (sa == NULL || sb == NULL) {
    goto out;
  }
  CHECK_STATUS(pqc_session_id(sa, sid_a, sizeof sid_a), PQC_OK, w);
  CHECK_STATUS(pqc_session_id(sb, sid_b, sizeof sid_b), PQC_OK, w);
  CHECK(memcmp(sid_a, sid_b, sizeof sid_a) == 0, "session ids differ");
  CHECK_FAILS_WITH(pqc_session_id(sa, sid_a, sizeof sid_a - 1),
                   PQC_ERR_BUFFER_TOO_SMALL, "session_id short");
  CHECK_STATUS(pqc_session_peer_id(sa, name, sizeof name, &n), PQC_OK, w);
  CHECK(strcmp(name, "scada-1") == 0, "A's peer is \"%s\"", name);
  CHECK_STATUS(pqc_session_peer_id(sb, name, sizeof name, &n), PQC_OK, w);
  CHECK(strcmp(name, "plc-1") == 0, "B's peer is \"%s\"", name);
  CHECK_STATUS(pqc_session_manager_find(mb, sid_b, sizeof sid_b, &sx), PQC_OK,
               w);
  CHECK(sx != NULL && sx != sb, "find gave no handle, or the handshake's");
  CHECK_STATUS(pqc_session_peer_id(sx, name, sizeof name, &n), PQC_OK, w);
  pqc_session_free(sx);
  sx = NULL;
  CHECK_STATUS(pqc_session_peer_id(sb, name, sizeof name, &n), PQC_OK,
               "a session outlives one of its handles");
  CHECK_FAILS_WITH(pqc_session_manager_find(mb, sid_b, 3, &sx),
                   PQC_ERR_INVALID_ARGUMENT, "find with a short id");

  /* Messages both ways. */
  CHECK_STATUS(pqc_session_protect(sa, (const uint8_t *)"open valve 3", 12,
                                   frame, fcap, &fn),
               PQC_OK, w);
  CHECK(fn == 12 + 59 + 16, "a 12-byte message made a %lu-byte frame",
        (unsigned long)fn);
  CHECK_STATUS(pqc_session_unprotect(sb, frame, fn, pt, fcap, &n), PQC_OK, w);
  CHECK(n == 12 && memcmp(pt, "open valve 3", 12) == 0, "wrong plaintext");
  CHECK_FAILS_WITH(pqc_session_unprotect(sb, frame, fn, pt, fcap, &n),
                   PQC_ERR_REPLAY, "replayed frame");
  CHECK_STATUS(pqc_session_protect(sb, NULL, 0, frame, fcap, &fn), PQC_OK,
               "empty message");
  CHECK_STATUS(pqc_session_unprotect(sa, frame, fn, pt, fcap, &n), PQC_OK, w);
  CHECK(n == 0, "empty message came back with %lu bytes", (unsigned long)n);
  CHECK_STATUS(pqc_session_needs_reply(sa, &needs), PQC_OK, w);
  CHECK(needs == 0, "needs_reply %d without a request", needs);

  /* A short buffer changes nothing: the next frame takes the next number
   * and the peer reads it. */
  CHECK_STATUS(pqc_session_protect(sa, (const uint8_t *)"one", 3, frame, fcap,
                                   &fn),
               PQC_OK, w);
  n0 = frame_n(frame);
  CHECK_STATUS(pqc_session_unprotect(sb, frame, fn, pt, fcap, &n), PQC_OK, w);
  n = 0;
  CHECK_FAILS_WITH(pqc_session_protect(sa, (const uint8_t *)"two", 3, frame,
                                       3 + ovh - 1, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "protect short");
  CHECK(n == 3 + ovh, "protect asked for %lu, want %lu", (unsigned long)n,
        (unsigned long)(3 + ovh));
  CHECK_STATUS(pqc_session_protect(sa, (const uint8_t *)"two", 3, frame, fcap,
                                   &fn),
               PQC_OK, w);
  CHECK(frame_n(frame) == n0 + 1, "a failed protect advanced the chain "
        "(%lu after %lu)", (unsigned long)frame_n(frame), (unsigned long)n0);
  n = 0;
  CHECK_FAILS_WITH(pqc_session_unprotect(sb, frame, fn, pt, fn - 1, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "unprotect short");
  CHECK(n == fn, "unprotect asked for %lu", (unsigned long)n);
  /* A forgery changes nothing either: the genuine frame still opens. */
  frame[fn - 1] ^= 1;
  CHECK_FAILS_WITH(pqc_session_unprotect(sb, frame, fn, pt, fcap, &n),
                   PQC_ERR_VERIFY, "tampered frame");
  frame[fn - 1] ^= 1;
  CHECK_FAILS_WITH(pqc_session_manager_unprotect(mb, frame, fn, "plant/other",
                                                 pt, fcap, &n, sid_b),
                   PQC_ERR_VERIFY, "frame on another context");
  memset(sid_b, 0, sizeof sid_b);
  CHECK_STATUS(pqc_session_manager_unprotect(mb, frame, fn, ctx, pt, fcap, &n,
                                             sid_b),
               PQC_OK, w);
  CHECK(n == 3 && memcmp(pt, "two", 3) == 0, "routed plaintext");
  CHECK(memcmp(sid_a, sid_b, sizeof sid_a) == 0, "routed to another id");
  CHECK_FAILS_WITH(pqc_session_manager_unprotect(mb, frame, fn, ctx, pt, fcap,
                                                 &n, NULL),
                   PQC_ERR_REPLAY, "routed replay");
  frame[5] ^= 1; /* inside the session id */
  CHECK_FAILS_WITH(pqc_session_manager_unprotect(mb, frame, fn, ctx, pt, fcap,
                                                 &n, NULL),
                   PQC_ERR_STATE, "unknown session id");
  CHECK_FAILS_WITH(pqc_session_manager_unprotect(mb, frame, 5, ctx, pt, fcap,
                                                 &n, NULL),
                   PQC_ERR_INVALID_ARGUMENT, "5-byte frame");

  /* Batches. */
  {
    enum { COUNT = 8 };
    const uint8_t *msgs[COUNT + 1];
    size_t lens[COUNT + 1], flens[COUNT + 1], plens[COUNT + 1], total = 0;
    int statuses[COUNT + 1];
    char text[COUNT][16];
    uint8_t *frames = xmalloc(COUNT * (16 + ovh) + 16);
    size_t off;
    int i;

    for (i = 0; i < COUNT; i++) {
      sprintf(text[i], "reading %d", i);
      msgs[i] = (const uint8_t *)text[i];
      lens[i] = strlen(text[i]);
      total += lens[i];
    }
    n = 0;
    CHECK_FAILS_WITH(pqc_session_protect_batch(sa, msgs, lens, COUNT, frames,
                                               total + COUNT * ovh - 1, flens,
                                               &n),
                     PQC_ERR_BUFFER_TOO_SMALL, "protect_batch short");
    CHECK(n == total + COUNT * ovh, "protect_batch asked for %lu",
          (unsigned long)n);
    CHECK_STATUS(pqc_session_protect_batch(sa, msgs, lens, COUNT, frames,
                                           COUNT * (16 + ovh), flens, &n),
                 PQC_OK, w);
    /* Frames as the peer receives them, plus a replay of the first. */
    for (i = 0, off = 0; i < COUNT; i++) {
      msgs[i] = frames + off;
      lens[i] = flens[i];
      off += flens[i];
    }
    CHECK(off == n, "frame lengths sum to %lu of %lu", (unsigned long)off,
          (unsigned long)n);
    msgs[COUNT] = msgs[0];
    lens[COUNT] = lens[0];
    CHECK_STATUS(pqc_session_unprotect_batch(sb, msgs, lens, COUNT + 1, pt,
                                             fcap, plens, statuses, &n),
                 PQC_OK, w);
    for (i = 0, off = 0; i < COUNT; i++) {
      CHECK(statuses[i] == PQC_OK && plens[i] == strlen(text[i]) &&
                memcmp(pt + off, text[i], plens[i]) == 0,
            "batch message %d: status %d", i, statuses[i]);
      off += plens[i];
    }
    CHECK(statuses[COUNT] == PQC_ERR_REPLAY && plens[COUNT] == 0,
          "replay inside a batch: %d", statuses[COUNT]);
    CHECK(n == off, "batch plaintexts %lu of %lu", (unsigned long)n,
          (unsigned long)off);
    CHECK_STATUS(pqc_session_protect_batch(sa, NULL, NULL, 0, NULL, 0, NULL,
                                           &n),
                 PQC_OK, "empty batch");
    CHECK(n == 0, "empty batch wrote %lu", (unsigned long)n);
    CHECK_FAILS_WITH(pqc_session_unprotect_batch(sb, msgs, lens, COUNT, pt, 10,
                                                 plens, statuses, &n),
                     PQC_ERR_BUFFER_TOO_SMALL, "unprotect_batch short");
    free(frames);
  }

  /* One session shared by threads: every frame is distinct and opens. */
  {
    struct protect_thread t[SESSION_THREADS];
    pthread_t tid[SESSION_THREADS];
    int i, j, bad = 0;
    for (i = 0; i < SESSION_THREADS; i++) {
      memset(&t[i], 0, sizeof t[i]);
      t[i].s = sa;
      t[i].frames = xmalloc(256 * SESSION_THREAD_MSGS);
      pthread_create(&tid[i], NULL, protect_thread_main, &t[i]);
    }
    for (i = 0; i < SESSION_THREADS; i++) {
      pthread_join(tid[i], NULL);
      bad += t[i].failures;
    }
    for (i = 0; i < SESSION_THREADS; i++) {
      for (j = 0; j < SESSION_THREAD_MSGS; j++) {
        if (t[i].lens[j] == 0 ||
            pqc_session_unprotect(sb, t[i].frames + 256 * j, t[i].lens[j], pt,
                                  fcap, &n) != PQC_OK ||
            n != 32 || pt[0] != (uint8_t)j) {
          bad++;
        }
      }
      free(t[i].frames);
    }
    CHECK(bad == 0, "%d failures with one session shared by %d threads", bad,
          SESSION_THREADS);
  }

  /* Sealed messages. */
  CHECK_STATUS(pqc_seal(ma, "scada-1", ctx, (const uint8_t *)"alarm", 5, big,
                        PQC_OBJECT_MAX_BYTES, &fn),
               PQC_OK, w);
  n = 0;
  CHECK_FAILS_WITH(pqc_seal(ma, "scada-1", ctx, (const uint8_t *)"alarm", 5,
                            frame, 100, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "seal short");
  CHECK(n == 5 + pqc_seal_overhead_max(), "seal asked for %lu",
        (unsigned long)n);
  CHECK_FAILS_WITH(pqc_seal(ma, "nobody", ctx, (const uint8_t *)"x", 1, frame,
                            fcap, &n),
                   PQC_ERR_UNTRUSTED, "seal to an unknown device");
  memset(name, 0, sizeof name);
  CHECK_FAILS_WITH(pqc_open(mb, big, fn, "plant/other", pt, fcap, &n, name,
                            sizeof name),
                   PQC_ERR_VERIFY, "sealed frame on another context");
  CHECK_FAILS_WITH(pqc_open(mb, big, fn, ctx, pt, fcap, &n, name, 10),
                   PQC_ERR_BUFFER_TOO_SMALL, "open, short sender buffer");
  CHECK_STATUS(pqc_open(mb, big, fn, ctx, pt, fcap, &n, name, sizeof name),
               PQC_OK, w);
  CHECK(n == 5 && memcmp(pt, "alarm", 5) == 0 && strcmp(name, "plc-1") == 0,
        "opened \"%.*s\" from \"%s\"", (int)n, (const char *)pt, name);
  CHECK_FAILS_WITH(pqc_open(mb, big, fn, ctx, pt, fcap, &n, NULL, 0),
                   PQC_ERR_REPLAY, "sealed frame twice");
  CHECK_FAILS_WITH(pqc_open(ma, big, fn, ctx, pt, fcap, &n, NULL, 0),
                   PQC_ERR_UNTRUSTED, "sealed frame for another device");

  /* Restart of B: its manager goes, a new one resumes the session. */
  CHECK_STATUS(pqc_session_save(sb), PQC_OK, w);
  CHECK_STATUS(pqc_session_manager_enforce_policy(mb), PQC_OK, w);
  CHECK_STATUS(pqc_session_manager_resumed(mb, big, PQC_OBJECT_MAX_BYTES, &n),
               PQC_OK, w);
  CHECK(n == 0, "a fresh manager reports %lu resumed bytes", (unsigned long)n);
  pqc_session_manager_free(mb);
  mb = NULL;
  CHECK_FAILS_WITH(pqc_session_protect(sb, pt, 1, frame, fcap, &n),
                   PQC_ERR_CLOSED, "session of a freed manager");
  pqc_session_free(sb);
  sb = NULL;
  CHECK_STATUS(pqc_session_manager_new(b, PQC_SESSION_RESUME, &mb2), PQC_OK,
               w);
  if (mb2 != NULL) {
    n = 0;
    CHECK_FAILS_WITH(pqc_session_manager_resumed(mb2, big, 3, &n),
                     PQC_ERR_BUFFER_TOO_SMALL, "resumed short");
    CHECK(n == PQC_SESSION_ID_BYTES, "resumed needs %lu", (unsigned long)n);
    CHECK_STATUS(pqc_session_manager_resumed(mb2, big, PQC_OBJECT_MAX_BYTES,
                                             &n),
                 PQC_OK, w);
    CHECK(n == PQC_SESSION_ID_BYTES && memcmp(big, sid_a, n) == 0,
          "resumed %lu bytes", (unsigned long)n);
    CHECK_STATUS(pqc_session_manager_find(mb2, sid_a, sizeof sid_a, &sb),
                 PQC_OK, w);
  }
  if (sb != NULL) {
    /* The restored side sends first; its frames ask A to ratchet, and
     * A's answer opens a fresh chain B accepts. */
    CHECK_STATUS(pqc_session_protect(sb, (const uint8_t *)"back", 4, frame,
                                     fcap, &fn),
                 PQC_OK, w);
    CHECK_STATUS(pqc_session_unprotect(sa, frame, fn, pt, fcap, &n), PQC_OK,
                 "A reads the resumed B");
    CHECK_STATUS(pqc_session_needs_reply(sa, &needs), PQC_OK, w);
    CHECK(needs == 1, "a resumed peer did not ask for a reply");
    CHECK_STATUS(pqc_session_protect(sa, (const uint8_t *)"ack", 3, frame,
                                     fcap, &fn),
                 PQC_OK, w);
    CHECK_STATUS(pqc_session_unprotect(sb, frame, fn, pt, fcap, &n), PQC_OK,
                 "resumed B reads A");
    CHECK(n == 3 && memcmp(pt, "ack", 3) == 0, "resumed plaintext");
  }

  /* Revoking A's key closes B's sessions with A and refuses new ones. */
  CHECK_STATUS(pqc_identity_key_id(a, kid_a, sizeof kid_a), PQC_OK, w);
  CHECK_STATUS(pqc_ca_revoke(f.ca, kid_a, 1, f.revl, PQC_REVOCATION_MAX_BYTES,
                             &f.revl_n),
               PQC_OK, w);
  CHECK_STATUS(pqc_identity_apply_revocation(b, f.revl, f.revl_n), PQC_OK, w);
  if (sb != NULL) {
    CHECK_FAILS_WITH(pqc_session_protect(sb, pt, 1, frame, fcap, &n),
                     PQC_ERR_CLOSED, "session with a revoked peer");
  }
  CHECK_STATUS(pqc_session_initiate(ma, "scada-1", ctx, init,
                                    PQC_HANDSHAKE_MAX_BYTES, &init_n),
               PQC_OK, w);
  if (mb2 != NULL) {
    CHECK_FAILS_WITH(pqc_session_handle_handshake(mb2, init, init_n, resp,
                                                  PQC_HANDSHAKE_MAX_BYTES,
                                                  &resp_n, &sx),
                     PQC_ERR_REVOKED, "Init from a revoked peer");
    CHECK_FAILS_WITH(pqc_seal(mb2, "plc-1", ctx, pt, 1, big,
                              PQC_OBJECT_MAX_BYTES, &n),
                     PQC_ERR_REVOKED, "seal to a revoked peer");
  }

out:
  /* Closed, freed and forged handles. */
  if (sa != NULL) {
    CHECK_STATUS(pqc_session_close(sa), PQC_OK, w);
    CHECK_FAILS_WITH(pqc_session_protect(sa, pt, 1, frame, fcap, &n),
                     PQC_ERR_CLOSED, "closed session");
    CHECK_STATUS(pqc_session_close(sa), PQC_OK, "closing twice");
  }
  CHECK_FAILS_WITH(pqc_session_close((pqc_session *)(uintptr_t)0x3040u),
                   PQC_ERR_CLOSED, "close a forged session");
  pqc_session_free(sa);
  pqc_session_free(sb);
  pqc_session_free(NULL);
  pqc_session_manager_free(NULL);
  if (sa != NULL) {
    CHECK_FAILS_WITH(pqc_session_protect(sa, pt, 1, frame, fcap, &n),
                     PQC_ERR_CLOSED, "freed session");
    CHECK_FAILS_WITH(pqc_session_needs_reply(sa, &needs), PQC_ERR_CLOSED,
                     "freed session");
  }
  CHECK_FAILS_WITH(
      pqc_session_unprotect((pqc_session *)(uintptr_t)0x3030u, frame, 10, pt,
                            fcap, &n),
      PQC_ERR_CLOSED, "forged session");
  CHECK_FAILS_WITH(pqc_session_initiate((pqc_session_manager *)(void *)a,
                                        "scada-1", ctx, init,
                                        PQC_HANDSHAKE_MAX_BYTES, &init_n),
                   PQC_ERR_CLOSED, "identity used as a manager");
  /* A manager outliving its identity refuses work instead of crashing. */
  pqc_identity_free(a);
  a = NULL;
  if (ma != NULL) {
    CHECK_FAILS_WITH(pqc_seal(ma, "scada-1", ctx, pt, 1, big,
                              PQC_OBJECT_MAX_BYTES, &n),
                     PQC_ERR_CLOSED, "manager of a freed identity");
  }
  pqc_session_manager_free(ma);
  pqc_session_manager_free(mb);
  pqc_session_manager_free(mb2);
  if (ma != NULL) {
    CHECK_FAILS_WITH(pqc_session_manager_enforce_policy(ma), PQC_ERR_CLOSED,
                     "freed manager");
  }
  pqc_identity_free(a);
  pqc_identity_free(b);
  free(chain_a);
  free(chain_b);
  free(init);
  free(resp);
  free(frame);
  free(frame2);
  free(pt);
  free(big);
  (void)fn2;
  fleet_free(&f);
}

/* ---- Threads ------------------------------------------------------------ */

/* Each thread fails in its own way between two barriers, so both failures
 * have happened before either thread reads its detail: a process-wide
 * detail would show the other thread's message to one of them. */
struct error_thread {
  pthread_barrier_t *barrier;
  int which;
  int initially_empty;
  int status;
  char seen[256];
};

static void *error_thread_main(void *arg) {
  struct error_thread *t = arg;
  const char *e = pqc_last_error();
  pqc_kem *kem = NULL;
  uint8_t pk[16], ct[PQC_ML_KEM_768_CIPHERTEXT_BYTES];
  uint8_t ss[PQC_ML_KEM_768_SHARED_SECRET_BYTES];

  t->initially_empty = e != NULL && e[0] == '\0';
  pthread_barrier_wait(t->barrier);
  if (t->which == 0) {
    t->status = pqc_kem_new("thread-zero-unknown-kem", &kem);
  } else {
    pqc_kem_new("ML-KEM-768", &kem);
    /* Outputs are large enough, so the short public key is what fails. */
    t->status = pqc_kem_encapsulate(kem, pk, sizeof pk, ct, sizeof ct, ss,
                                    sizeof ss);
    pqc_kem_free(kem);
  }
  pthread_barrier_wait(t->barrier);
  e = pqc_last_error();
  strncpy(t->seen, e ? e : "(null)", sizeof t->seen - 1);
  t->seen[sizeof t->seen - 1] = '\0';
  return NULL;
}

/* Reads or writes a whole small file; 0 on failure. */
static size_t file_io(const char *path, uint8_t *buf, size_t len, int write) {
  FILE *f = fopen(path, write ? "wb" : "rb");
  size_t n;
  if (f == NULL) {
    return 0;
  }
  n = write ? fwrite(buf, 1, len, f) : fread(buf, 1, len, f);
  fclose(f);
  return n;
}

/* A failed create leaves no file behind; durations that cannot be
 * represented are refused, not wrapped; a restored older copy of a
 * keystore is refused on open (its anchor is ahead of it). */
static void test_keystore_hardening(void) {
  char dir[] = "/tmp/pqc_c_api_hard.XXXXXX";
  char path[96];
  uint8_t key[32], *old = NULL, *req = NULL;
  size_t old_n, n;
  pqc_identity *id = NULL;
  pqc_ca *ca = NULL;
  const char *w = "keystore hardening";

  if (mkdtemp(dir) == NULL) {
    CHECK(0, "mkdtemp failed");
    return;
  }
  sprintf(path, "%s/device.store", dir);
  pqc_random_bytes(key, sizeof key);

  CHECK_FAILS_WITH(pqc_identity_create(path, PQC_KEYSTORE_RAW_KEY, key,
                                       sizeof key, "not a valid id", NULL,
                                       NULL, NULL, &id),
                   PQC_ERR_INVALID_ARGUMENT, w);
  CHECK(access(path, F_OK) != 0, "%s: failed create left %s behind", w, path);
  CHECK_FAILS_WITH(pqc_identity_create(path, PQC_KEYSTORE_RAW_KEY, key,
                                       sizeof key, "rtu-1", "no-such-alg",
                                       NULL, NULL, &id),
                   PQC_ERR_UNSUPPORTED, w);
  CHECK(access(path, F_OK) != 0, "%s: failed create left %s behind", w, path);
  CHECK_FAILS_WITH(pqc_ca_create(path, PQC_KEYSTORE_RAW_KEY, key, sizeof key,
                                 "root", NULL, UINT64_MAX, &ca),
                   PQC_ERR_INVALID_ARGUMENT, w);
  CHECK_FAILS_WITH(pqc_ca_create(path, PQC_KEYSTORE_RAW_KEY, key, sizeof key,
                                 "root", NULL, (uint64_t)18446744074ULL + 3600,
                                 &ca),
                   PQC_ERR_INVALID_ARGUMENT, w);
  CHECK(access(path, F_OK) != 0, "%s: failed create left %s behind", w, path);

  CHECK_STATUS(pqc_identity_create(path, PQC_KEYSTORE_RAW_KEY, key, sizeof key,
                                   "rtu-1", "Ed25519", "Ed25519", NULL, &id),
               PQC_OK, w);
  old = xmalloc(1 << 20);
  req = xmalloc(PQC_OBJECT_MAX_BYTES);
  pqc_identity_free(id);
  old_n = file_io(path, old, 1 << 20, 0);
  CHECK(old_n > 0 && old_n < (1 << 20), "%s: read store copy", w);
  CHECK_STATUS(pqc_identity_open(path, PQC_KEYSTORE_RAW_KEY, key, sizeof key,
                                 &id),
               PQC_OK, w);
  /* A write after the copy: pending keys for a join request. */
  CHECK_STATUS(pqc_identity_join_request(id, req, PQC_OBJECT_MAX_BYTES, &n),
               PQC_OK, w);
  pqc_identity_free(id);
  id = NULL;
  CHECK(file_io(path, old, old_n, 1) == old_n, "%s: restore old copy", w);
  CHECK_FAILS_WITH(pqc_identity_open(path, PQC_KEYSTORE_RAW_KEY, key,
                                     sizeof key, &id),
                   PQC_ERR_ROLLBACK, w);
  pqc_identity_free(id);
  free(old);
  free(req);
}

static void test_last_error_per_thread(void) {
  pthread_barrier_t barrier;
  struct error_thread t[2];
  pthread_t tid[2];
  char mine[256];
  int i;

  /* The main thread's detail must survive the other threads' failures. */
  CHECK_FAILS_WITH(pqc_sig_new("main-thread-marker", NULL),
                   PQC_ERR_INVALID_ARGUMENT, "main marker");
  {
    pqc_sig *s = NULL;
    CHECK_FAILS_WITH(pqc_sig_new("main-thread-marker", &s), PQC_ERR_UNSUPPORTED,
                     "main marker");
  }
  strncpy(mine, pqc_last_error(), sizeof mine - 1);
  mine[sizeof mine - 1] = '\0';

  pthread_barrier_init(&barrier, NULL, 2);
  for (i = 0; i < 2; i++) {
    memset(&t[i], 0, sizeof t[i]);
    t[i].barrier = &barrier;
    t[i].which = i;
    pthread_create(&tid[i], NULL, error_thread_main, &t[i]);
  }
  for (i = 0; i < 2; i++) {
    pthread_join(tid[i], NULL);
  }
  pthread_barrier_destroy(&barrier);

  CHECK(t[0].initially_empty && t[1].initially_empty,
        "a new thread's pqc_last_error is not \"\"");
  CHECK(t[0].status == PQC_ERR_UNSUPPORTED, "thread 0 status %d",
        t[0].status);
  CHECK(t[1].status == PQC_ERR_INVALID_ARGUMENT, "thread 1 status %d",
        t[1].status);
  CHECK(strstr(t[0].seen, "thread-zero-unknown-kem") != NULL,
        "thread 0 sees \"%s\"", t[0].seen);
  CHECK(strstr(t[1].seen, "thread-zero-unknown-kem") == NULL &&
            strstr(t[1].seen, "public key") != NULL,
        "thread 1 sees \"%s\"", t[1].seen);
  CHECK(strcmp(pqc_last_error(), mine) == 0,
        "main thread's detail changed to \"%s\"", pqc_last_error());
  CHECK(strstr(mine, "main-thread-marker") != NULL, "main detail \"%s\"",
        mine);
}

#define SHARED_THREADS 4
#define SHARED_ROUNDS 12

struct shared_ctx {
  const pqc_kem *kem;
  const pqc_sig *sig;
  int failures;
};

static void *shared_thread_main(void *arg) {
  struct shared_ctx *c = arg;
  uint8_t pk[PQC_ML_KEM_768_PUBLIC_KEY_BYTES], sk[PQC_ML_KEM_768_SECRET_KEY_BYTES];
  uint8_t ct[PQC_ML_KEM_768_CIPHERTEXT_BYTES];
  uint8_t ss1[PQC_ML_KEM_768_SHARED_SECRET_BYTES];
  uint8_t ss2[PQC_ML_KEM_768_SHARED_SECRET_BYTES];
  uint8_t spk[PQC_ML_DSA_65_PUBLIC_KEY_BYTES], ssk[PQC_ML_DSA_65_SECRET_KEY_BYTES];
  uint8_t sig[PQC_ML_DSA_65_SIGNATURE_BYTES];
  uint8_t msg[32];
  size_t sig_n;
  int r;

  for (r = 0; r < SHARED_ROUNDS; r++) {
    if (pqc_kem_keypair(c->kem, pk, sizeof pk, sk, sizeof sk) != PQC_OK ||
        pqc_kem_encapsulate(c->kem, pk, sizeof pk, ct, sizeof ct, ss1,
                            sizeof ss1) != PQC_OK ||
        pqc_kem_decapsulate(c->kem, sk, sizeof sk, ct, sizeof ct, ss2,
                            sizeof ss2) != PQC_OK ||
        memcmp(ss1, ss2, sizeof ss1) != 0) {
      c->failures++;
    }
    pqc_random_bytes(msg, sizeof msg);
    if (pqc_sig_keypair(c->sig, spk, sizeof spk, ssk, sizeof ssk) != PQC_OK ||
        pqc_sig_sign(c->sig, ssk, sizeof ssk, msg, sizeof msg, sig, sizeof sig,
                     &sig_n) != PQC_OK ||
        pqc_sig_verify(c->sig, spk, sizeof spk, msg, sizeof msg, sig, sig_n) !=
            PQC_OK) {
      c->failures++;
    }
    if (pqc_kem_shared_secret_size(c->kem) != sizeof ss1 ||
        strcmp(pqc_sig_algorithm(c->sig), "ML-DSA-65") != 0) {
      c->failures++;
    }
  }
  return NULL;
}

static void test_shared_handles(void) {
  pqc_kem *kem = NULL;
  pqc_sig *sig = NULL;
  pthread_t tid[SHARED_THREADS];
  struct shared_ctx ctx[SHARED_THREADS];
  int i, failures = 0;

  CHECK_STATUS(pqc_kem_new("ML-KEM-768", &kem), PQC_OK, "shared setup");
  CHECK_STATUS(pqc_sig_new("ML-DSA-65", &sig), PQC_OK, "shared setup");
  if (kem == NULL || sig == NULL) {
    return;
  }
  for (i = 0; i < SHARED_THREADS; i++) {
    ctx[i].kem = kem;
    ctx[i].sig = sig;
    ctx[i].failures = 0;
    CHECK(pthread_create(&tid[i], NULL, shared_thread_main, &ctx[i]) == 0,
          "pthread_create %d", i);
  }
  for (i = 0; i < SHARED_THREADS; i++) {
    pthread_join(tid[i], NULL);
    failures += ctx[i].failures;
  }
  CHECK(failures == 0, "%d failures using one handle from %d threads",
        failures, SHARED_THREADS);
  pqc_kem_free(kem);
  pqc_sig_free(sig);
}

/* Runs "--kem NAME" or "--sig NAME" in a child and adds its counts. */
static void run_isolated(const char *self, const char *kind, const char *alg) {
  int fds[2];
  pid_t pid;
  int wstatus = 0;
  char fdarg[16];
  char report[64];
  ssize_t got;
  int child_passed = 0, child_failed = 0;

  fflush(stdout);
  fflush(stderr);
  if (pipe(fds) != 0) {
    CHECK(0, "pipe for %s", alg);
    return;
  }
  sprintf(fdarg, "%d", fds[1]);
  pid = fork();
  if (pid < 0) {
    CHECK(0, "fork for %s", alg);
    return;
  }
  if (pid == 0) {
    /* Only async-signal-safe calls between fork and exec: the parent has
     * Go runtime threads whose locks the child must not touch. */
    char *argv[5];
    close(fds[0]);
    argv[0] = (char *)self;
    argv[1] = (char *)kind;
    argv[2] = (char *)alg;
    argv[3] = fdarg;
    argv[4] = NULL;
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  close(fds[1]);
  got = read(fds[0], report, sizeof report - 1);
  close(fds[0]);
  while (waitpid(pid, &wstatus, 0) < 0) {
  }
  if (got > 0) {
    report[got] = '\0';
    if (sscanf(report, "%d %d", &child_passed, &child_failed) != 2) {
      child_passed = child_failed = 0;
    }
  }
  passed += child_passed;
  failed += child_failed;
  if (WIFSIGNALED(wstatus)) {
    failed++;
    fprintf(stderr, "FAIL %s %s: the process died with signal %d (%s) before "
                    "reporting; the library must never crash its host "
                    "(the child's stderr above has the cause)\n",
            kind + 2, alg, WTERMSIG(wstatus),
            WTERMSIG(wstatus) == SIGABRT ? "abort" : "crash");
  } else if (!WIFEXITED(wstatus) || got <= 0) {
    failed++;
    fprintf(stderr, "FAIL %s %s: child exited with status %d without a report\n",
            kind + 2, alg, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
  }
}

/* ---- MQTT ------------------------------------------------------------------ */

struct mqtt_inbox {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int count;
  int reentry_status;
  char sender[PQC_DEVICE_ID_MAX_BYTES];
  char topic[PQC_MQTT_TOPIC_MAX_BYTES];
  uint8_t payload[64];
  size_t len;
  pqc_mqtt_client *self;
};

static void mqtt_on_message(void *user, const char *topic, const char *sender,
                            const uint8_t *payload, size_t len) {
  struct mqtt_inbox *in = user;
  /* Replacing the callback from inside it would wait for itself. */
  int st = pqc_mqtt_set_callback(in->self, NULL, NULL);
  pthread_mutex_lock(&in->mu);
  in->reentry_status = st;
  in->count++;
  strncpy(in->sender, sender, sizeof in->sender - 1);
  strncpy(in->topic, topic, sizeof in->topic - 1);
  in->len = len < sizeof in->payload ? len : sizeof in->payload;
  memcpy(in->payload, payload, in->len);
  pthread_cond_signal(&in->cv);
  pthread_mutex_unlock(&in->mu);
}

/* Publishes, retrying while the receiver's announcement has not reached
 * the publisher yet (PQC_ERR_STATE: nobody to encrypt to). */
static int mqtt_publish_retry(pqc_mqtt_client *c, const char *topic,
                              const char *msg) {
  int st = PQC_ERR_STATE, i;
  for (i = 0; i < 100 && st == PQC_ERR_STATE; i++) {
    st = pqc_mqtt_publish(c, topic, (const uint8_t *)msg, strlen(msg), 15000);
    if (st == PQC_ERR_STATE) {
      struct timespec ts = {0, 100 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  return st;
}

/* The TLS fields of pqc_mqtt_options: refused with a plain URL, cert and
 * key only together, unreadable or non-PEM files refused before anything
 * is dialled; and a caller built against the header before those fields
 * (the smaller struct_size) is still accepted, the bytes after its struct
 * never read. */
static void mqtt_tls_options(pqc_identity *id, const char *tcp_url) {
  pqc_mqtt_options o;
  pqc_mqtt_client *c = NULL;
  char path[] = "/tmp/pqc_mqtt_tls_XXXXXX";
  int fd;

  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.tls_server_name = "broker.example";
  CHECK_FAILS_WITH(pqc_mqtt_new(id, tcp_url, &o, &c), PQC_ERR_INVALID_ARGUMENT,
                   "tls option with tcp://");
  o.tls_server_name = NULL;
  o.tls_cert_file = "/nonexistent/client.pem";
  CHECK_FAILS_WITH(pqc_mqtt_new(id, "ssl://127.0.0.1:1", &o, &c),
                   PQC_ERR_INVALID_ARGUMENT, "cert without key");
  o.tls_cert_file = NULL;
  o.tls_ca_file = "/nonexistent/ca.pem";
  CHECK(pqc_mqtt_new(id, "ssl://127.0.0.1:1", &o, &c) != PQC_OK,
        "missing CA bundle accepted");
  fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  if (fd >= 0) {
    CHECK(write(fd, "not a certificate\n", 18) == 18, "write");
    close(fd);
    o.tls_ca_file = path;
    CHECK_FAILS_WITH(pqc_mqtt_new(id, "ssl://127.0.0.1:1", &o, &c),
                     PQC_ERR_INVALID_ARGUMENT, "CA bundle without PEM");
    unlink(path);
  }
  CHECK(c == NULL, "failed pqc_mqtt_new left a handle");

  /* The previous header's size: the TLS fields are not read (a bogus CA
   * path there would fail if they were). */
  o.struct_size = (uint32_t)offsetof(pqc_mqtt_options, tls_ca_file);
  o.tls_ca_file = "/nonexistent/ca.pem";
  CHECK_STATUS(pqc_mqtt_new(id, tcp_url, &o, &c), PQC_OK, "previous options size");
  pqc_mqtt_free(c);
  c = NULL;
  /* Without a CA file an ssl:// client uses the system's roots. */
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  CHECK_STATUS(pqc_mqtt_new(id, "ssl://127.0.0.1:1", &o, &c), PQC_OK, "ssl:// with system roots");
  pqc_mqtt_free(c);
}

static void test_mqtt(void) {
  struct fleet f;
  const char *w = "mqtt";
  uint8_t *chain = NULL;
  size_t chain_n = 0, n = 0;
  pqc_identity *sensor = NULL, *scada = NULL;
  pqc_mqtt_broker *broker = NULL;
  pqc_mqtt_client *pub = NULL, *sub = NULL, *bad = NULL;
  pqc_mqtt_options opts;
  pqc_mqtt_stats_t stats;
  struct mqtt_inbox inbox;
  char url[128], topic[PQC_MQTT_TOPIC_MAX_BYTES],
      sender[PQC_DEVICE_ID_MAX_BYTES];
  uint8_t payload[256];
  int i;

  CHECK(pqc_mqtt_options_size() == sizeof(pqc_mqtt_options),
        "options size %lu", (unsigned long)pqc_mqtt_options_size());
  CHECK(pqc_mqtt_stats_size() == sizeof(pqc_mqtt_stats_t), "stats size %lu",
        (unsigned long)pqc_mqtt_stats_size());

  CHECK_STATUS(pqc_mqtt_broker_new(NULL, &broker), PQC_OK, "broker");
  if (broker == NULL) {
    return;
  }
  CHECK_FAILS_WITH(pqc_mqtt_broker_url(broker, url, 4, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "broker url small");
  CHECK(n > 4 && n < sizeof url, "broker url needs %lu", (unsigned long)n);
  CHECK_STATUS(pqc_mqtt_broker_url(broker, url, sizeof url, &n), PQC_OK, w);
  CHECK(strncmp(url, "tcp://127.0.0.1:", 16) == 0, "broker url %s", url);

  if (!fleet_init(&f)) {
    CHECK(0, "mqtt fleet setup: %s", pqc_last_error());
    fleet_free(&f);
    pqc_mqtt_broker_free(broker);
    return;
  }
  chain = xmalloc(PQC_OBJECT_MAX_BYTES);
  CHECK_FAILS_WITH(pqc_ca_allow_topics(f.ca, "x-1", chain, 0, NULL, "a/#/b",
                                       NULL),
                   PQC_ERR_INVALID_ARGUMENT, "allow_topics no key");
  f.publish = "plant/+/telemetry";
  f.subscribe = NULL;
  sensor = provision(&f, "sensor-1", chain, &chain_n);
  f.publish = NULL;
  f.subscribe = "plant/#";
  scada = provision(&f, "scada-1", chain, &chain_n);
  if (sensor == NULL || scada == NULL) {
    goto out;
  }

  memset(&opts, 0, sizeof opts);
  opts.struct_size = sizeof opts + 8;
  CHECK_FAILS_WITH(pqc_mqtt_new(sensor, url, &opts, &bad),
                   PQC_ERR_INVALID_ARGUMENT, "unknown options size");
  CHECK(bad == NULL, "failed pqc_mqtt_new left a handle");
  opts.struct_size = sizeof opts;
  opts.mode = 7;
  CHECK_FAILS_WITH(pqc_mqtt_new(sensor, url, &opts, &bad),
                   PQC_ERR_INVALID_ARGUMENT, "unknown mode");
  CHECK_FAILS_WITH(pqc_mqtt_new(sensor, "udp://x", NULL, &bad),
                   PQC_ERR_INVALID_ARGUMENT, "bad scheme");
  opts.mode = PQC_MQTT_MODE_AUTO;
  mqtt_tls_options(sensor, url);
  opts.connect_timeout_ms = 5000;
  CHECK_STATUS(pqc_mqtt_new(sensor, url, &opts, &pub), PQC_OK, w);
  CHECK_STATUS(pqc_mqtt_new(scada, url, NULL, &sub), PQC_OK, w);
  if (pub == NULL || sub == NULL) {
    goto out;
  }
  CHECK_FAILS_WITH(pqc_mqtt_publish(pub, "plant/l1/telemetry",
                                    (const uint8_t *)"x", 1, 1000),
                   PQC_ERR_STATE, "publish before connect");
  CHECK_FAILS_WITH(pqc_mqtt_subscribe(sub, "plant/#/x"),
                   PQC_ERR_INVALID_ARGUMENT, "bad filter");
  CHECK_FAILS_WITH(pqc_mqtt_subscribe(sub, "pqc/v1/keys/+"),
                   PQC_ERR_INVALID_ARGUMENT, "reserved filter");
  CHECK_STATUS(pqc_mqtt_subscribe(sub, "plant/#"), PQC_OK, w);
  CHECK_STATUS(pqc_mqtt_connect(sub, 10000), PQC_OK, "connect scada");
  CHECK_STATUS(pqc_mqtt_connect(pub, 0), PQC_OK, "connect sensor");
  CHECK_FAILS_WITH(pqc_mqtt_connect(pub, 1000), PQC_ERR_STATE,
                   "connect twice");

  CHECK_FAILS_WITH(pqc_mqtt_publish(pub, "plant/+/telemetry",
                                    (const uint8_t *)"x", 1, 1000),
                   PQC_ERR_INVALID_ARGUMENT, "wildcard topic");
  CHECK_FAILS_WITH(pqc_mqtt_publish(pub, "pqc/v1/keys/sensor-1",
                                    (const uint8_t *)"x", 1, 1000),
                   PQC_ERR_INVALID_ARGUMENT, "reserved topic");
  CHECK_FAILS_WITH(pqc_mqtt_publish(pub, "plant/l1/telemetry", payload,
                                    PQC_MQTT_MAX_PAYLOAD + 1, 1000),
                   PQC_ERR_INVALID_ARGUMENT, "payload too large");
  CHECK_FAILS_WITH(pqc_mqtt_recv(sub, 100, topic, sizeof topic, sender,
                                 sizeof sender, payload, sizeof payload, &n),
                   PQC_ERR_TIMEOUT, "recv with nothing sent");

  CHECK_STATUS(mqtt_publish_retry(pub, "plant/l1/telemetry", "temp=21.5"),
               PQC_OK, "publish");
  /* Too small a payload buffer: the size is reported and the message
   * stays for the next call. */
  CHECK_FAILS_WITH(pqc_mqtt_recv(sub, 10000, topic, sizeof topic, sender,
                                 sizeof sender, payload, 3, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "recv small payload");
  CHECK(n == 9, "needed payload size %lu", (unsigned long)n);
  CHECK_FAILS_WITH(pqc_mqtt_recv(sub, 0, topic, 4, sender, sizeof sender,
                                 payload, sizeof payload, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "recv small topic");
  memset(payload, 0, sizeof payload);
  CHECK_STATUS(pqc_mqtt_recv(sub, 0, topic, sizeof topic, sender,
                             sizeof sender, payload, sizeof payload, &n),
               PQC_OK, "recv kept message");
  CHECK(n == 9 && memcmp(payload, "temp=21.5", 9) == 0, "payload %.*s",
        (int)n, (const char *)payload);
  CHECK(strcmp(sender, "sensor-1") == 0, "sender %s", sender);
  CHECK(strcmp(topic, "plant/l1/telemetry") == 0, "topic %s", topic);
  CHECK_FAILS_WITH(pqc_mqtt_recv(sub, 0, topic, sizeof topic, sender,
                                 sizeof sender, payload, sizeof payload, &n),
                   PQC_ERR_TIMEOUT, "recv after the message was taken");
  CHECK_FAILS_WITH(pqc_mqtt_recv(sub, 0, topic, sizeof topic, sender,
                                 sizeof sender, payload, sizeof payload, NULL),
                   PQC_ERR_INVALID_ARGUMENT, "recv NULL payload_len");

  /* The callback form, on a library thread. */
  memset(&inbox, 0, sizeof inbox);
  pthread_mutex_init(&inbox.mu, NULL);
  pthread_cond_init(&inbox.cv, NULL);
  inbox.self = sub;
  CHECK_STATUS(pqc_mqtt_set_callback(sub, mqtt_on_message, &inbox), PQC_OK, w);
  /* With a callback set recv gets nothing, and says so in time. */
  CHECK_FAILS_WITH(pqc_mqtt_recv(sub, 50, topic, sizeof topic, sender,
                                 sizeof sender, payload, sizeof payload, &n),
                   PQC_ERR_TIMEOUT, "recv while a callback is set");
  CHECK_STATUS(mqtt_publish_retry(pub, "plant/l2/telemetry", "temp=22.0"),
               PQC_OK, "publish for callback");
  pthread_mutex_lock(&inbox.mu);
  for (i = 0; i < 100 && inbox.count == 0; i++) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    pthread_cond_timedwait(&inbox.cv, &inbox.mu, &ts);
  }
  pthread_mutex_unlock(&inbox.mu);
  CHECK(inbox.count == 1, "callback ran %d times", inbox.count);
  CHECK(strcmp(inbox.sender, "sensor-1") == 0, "callback sender %s",
        inbox.sender);
  CHECK(strcmp(inbox.topic, "plant/l2/telemetry") == 0, "callback topic %s",
        inbox.topic);
  CHECK(inbox.len == 9 && memcmp(inbox.payload, "temp=22.0", 9) == 0,
        "callback payload");
  CHECK(inbox.reentry_status == PQC_ERR_STATE,
        "set_callback inside the callback returned %d", inbox.reentry_status);
  CHECK_STATUS(pqc_mqtt_set_callback(sub, NULL, NULL), PQC_OK, w);

  /* A poll (timeout 0) takes a message already queued. */
  CHECK_STATUS(mqtt_publish_retry(pub, "plant/l3/telemetry", "temp=23.0"),
               PQC_OK, "publish for poll");
  for (i = 0; i < 100; i++) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    if (pqc_mqtt_stats(sub, &stats) == PQC_OK && stats.delivered == 3) {
      break;
    }
    nanosleep(&ts, NULL);
  }
  CHECK_STATUS(pqc_mqtt_recv(sub, 0, topic, sizeof topic, sender,
                             sizeof sender, payload, sizeof payload, &n),
               PQC_OK, "poll a queued message");
  CHECK(n == 9 && memcmp(payload, "temp=23.0", 9) == 0, "polled payload");

  memset(&stats, 0, sizeof stats);
  CHECK_FAILS_WITH(pqc_mqtt_stats(pub, &stats), PQC_ERR_INVALID_ARGUMENT,
                   "stats without struct_size");
  stats.struct_size = sizeof stats;
  CHECK_STATUS(pqc_mqtt_stats(pub, &stats), PQC_OK, w);
  CHECK(stats.published == 3, "published %lu",
        (unsigned long)stats.published);
  memset(&stats, 0, sizeof stats);
  stats.struct_size = sizeof stats;
  CHECK_STATUS(pqc_mqtt_stats(sub, &stats), PQC_OK, w);
  CHECK(stats.delivered == 3 && stats.dropped_unprotect == 0,
        "delivered %lu, dropped_unprotect %lu",
        (unsigned long)stats.delivered,
        (unsigned long)stats.dropped_unprotect);
  CHECK(stats.accepted_announcements >= 1, "announcements %lu",
        (unsigned long)stats.accepted_announcements);

  /* Closed: every call but stats answers PQC_ERR_CLOSED. */
  CHECK_STATUS(pqc_mqtt_close(sub), PQC_OK, w);
  CHECK_STATUS(pqc_mqtt_close(sub), PQC_OK, "close twice");
  CHECK_FAILS_WITH(pqc_mqtt_recv(sub, 0, topic, sizeof topic, sender,
                                 sizeof sender, payload, sizeof payload, &n),
                   PQC_ERR_CLOSED, "recv after close");
  CHECK_FAILS_WITH(pqc_mqtt_subscribe(sub, "a"), PQC_ERR_CLOSED,
                   "subscribe after close");
  CHECK_STATUS(pqc_mqtt_stats(sub, &stats), PQC_OK, "stats after close");
  pqc_mqtt_free(sub);
  CHECK_FAILS_WITH(pqc_mqtt_publish(sub, "plant/l1/telemetry",
                                    (const uint8_t *)"x", 1, 100),
                   PQC_ERR_CLOSED, "publish on freed handle");
  CHECK_FAILS_WITH(pqc_mqtt_set_callback((pqc_mqtt_client *)chain, NULL, NULL),
                   PQC_ERR_CLOSED, "forged handle");
  CHECK_FAILS_WITH(pqc_mqtt_close((pqc_mqtt_client *)(void *)f.ca),
                   PQC_ERR_CLOSED, "CA handle as client");
  sub = NULL;
  pthread_mutex_destroy(&inbox.mu);
  pthread_cond_destroy(&inbox.cv);

out:
  pqc_mqtt_free(pub);
  pqc_mqtt_free(sub);
  pqc_mqtt_free(NULL);
  pqc_identity_free(sensor);
  pqc_identity_free(scada);
  pqc_mqtt_broker_free(broker);
  pqc_mqtt_broker_free(NULL);
  CHECK_FAILS_WITH(pqc_mqtt_broker_url(broker, url, sizeof url, &n),
                   PQC_ERR_CLOSED, "url of freed broker");
  free(chain);
  fleet_free(&f);
}

/* ---- CoAP ------------------------------------------------------------------ */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

/* A UDP relay between one client and a server, in the path of every
 * datagram: it can flip the last byte of each datagram in one direction
 * and records the client's datagrams so a request can be replayed from
 * another socket. */
#define RELAY_MAX_RECORD 32
struct coap_relay {
  int fd;
  struct sockaddr_in server, client;
  int have_client;
  pthread_t th;
  pthread_mutex_t mu;
  int stop, tamper_to_server, tamper_to_client, recording;
  uint8_t *rec[RELAY_MAX_RECORD];
  size_t rec_n[RELAY_MAX_RECORD], nrec;
  char addr[64];
};

static int parse_addr(const char *s, struct sockaddr_in *sa) {
  char host[64];
  const char *colon = strrchr(s, ':');
  if (colon == NULL || (size_t)(colon - s) >= sizeof host) {
    return 0;
  }
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((unsigned short)atoi(colon + 1));
  return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static void *relay_main(void *arg) {
  struct coap_relay *r = arg;
  static uint8_t buf[65536];
  for (;;) {
    struct pollfd p;
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n;
    int from_server;
    pthread_mutex_lock(&r->mu);
    if (r->stop) {
      pthread_mutex_unlock(&r->mu);
      return NULL;
    }
    pthread_mutex_unlock(&r->mu);
    p.fd = r->fd;
    p.events = POLLIN;
    if (poll(&p, 1, 50) <= 0) {
      continue;
    }
    n = recvfrom(r->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
    if (n <= 0) {
      continue;
    }
    from_server = from.sin_port == r->server.sin_port &&
                  from.sin_addr.s_addr == r->server.sin_addr.s_addr;
    pthread_mutex_lock(&r->mu);
    if (!from_server) {
      r->client = from;
      r->have_client = 1;
      if (r->recording && r->nrec < RELAY_MAX_RECORD) {
        r->rec[r->nrec] = xmalloc((size_t)n);
        memcpy(r->rec[r->nrec], buf, (size_t)n);
        r->rec_n[r->nrec++] = (size_t)n;
      }
      if (r->tamper_to_server && n > 4) {
        buf[n - 1] ^= 0x01;
      }
      sendto(r->fd, buf, (size_t)n, 0, (struct sockaddr *)&r->server,
             sizeof r->server);
    } else if (r->have_client) {
      if (r->tamper_to_client && n > 4) {
        buf[n - 1] ^= 0x01;
      }
      sendto(r->fd, buf, (size_t)n, 0, (struct sockaddr *)&r->client,
             sizeof r->client);
    }
    pthread_mutex_unlock(&r->mu);
  }
}

static int relay_start(struct coap_relay *r, const char *server) {
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->mu, NULL);
  r->fd = socket(AF_INET, SOCK_DGRAM, 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (r->fd < 0 || !parse_addr(server, &r->server) ||
      bind(r->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      getsockname(r->fd, (struct sockaddr *)&sa, &sl) != 0) {
    return 0;
  }
  sprintf(r->addr, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
  return pthread_create(&r->th, NULL, relay_main, r) == 0;
}

static void relay_set(struct coap_relay *r, int to_server, int to_client,
                      int record) {
  size_t i;
  pthread_mutex_lock(&r->mu);
  r->tamper_to_server = to_server;
  r->tamper_to_client = to_client;
  if (record) {
    for (i = 0; i < r->nrec; i++) {
      free(r->rec[i]);
    }
    r->nrec = 0;
  }
  r->recording = record;
  pthread_mutex_unlock(&r->mu);
}

static void relay_stop(struct coap_relay *r) {
  size_t i;
  pthread_mutex_lock(&r->mu);
  r->stop = 1;
  pthread_mutex_unlock(&r->mu);
  pthread_join(r->th, NULL);
  close(r->fd);
  for (i = 0; i < r->nrec; i++) {
    free(r->rec[i]);
  }
  pthread_mutex_destroy(&r->mu);
}

/* Sends the recorded datagrams from a fresh socket, as an attacker who
 * captured them would, and returns the code of the server's last answer
 * (0 if none came). */
static unsigned replay_recorded(struct coap_relay *r) {
  uint8_t buf[2048];
  unsigned code = 0;
  size_t i;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    return 0;
  }
  for (i = 0; i < r->nrec; i++) {
    struct pollfd p;
    ssize_t n;
    sendto(fd, r->rec[i], r->rec_n[i], 0, (struct sockaddr *)&r->server,
           sizeof r->server);
    p.fd = fd;
    p.events = POLLIN;
    if (poll(&p, 1, 5000) <= 0) {
      break;
    }
    n = recv(fd, buf, sizeof buf, 0);
    if (n >= 2) {
      code = buf[1];
    }
  }
  close(fd);
  return code;
}

/* The echo handler: "sender|query|payload", and a check that a handler
 * cannot close its own server. */
struct coap_echo {
  pqc_coap_server *server;
  int reentry_status;
  pthread_mutex_t mu;
  int calls;
};

static int echo_calls(struct coap_echo *e) {
  int n;
  pthread_mutex_lock(&e->mu);
  n = e->calls;
  pthread_mutex_unlock(&e->mu);
  return n;
}

static void coap_echo(void *user, const pqc_coap_request *req,
                      pqc_coap_response *resp) {
  struct coap_echo *e = user;
  int n;
  pthread_mutex_lock(&e->mu);
  e->calls++;
  pthread_mutex_unlock(&e->mu);
  e->reentry_status = pqc_coap_server_close(e->server);
  n = snprintf((char *)resp->payload, resp->payload_cap, "%s|%s|", req->sender,
               req->query);
  if (n < 0 || (size_t)n + req->payload_len > resp->payload_cap) {
    resp->code = PQC_COAP_INTERNAL_ERROR;
    return;
  }
  if (req->payload_len > 0) {
    memcpy(resp->payload + n, req->payload, req->payload_len);
  }
  resp->payload_len = (size_t)n + req->payload_len;
  resp->content_format = 0;
  resp->code = req->method == PQC_COAP_GET ? PQC_COAP_CONTENT
                                           : PQC_COAP_CHANGED;
}

static void coap_bad_handler(void *user, const pqc_coap_request *req,
                             pqc_coap_response *resp) {
  (void)user;
  (void)req;
  resp->code = PQC_COAP_GET; /* a request code is no answer: 5.00 */
}

/* Answers the polling queue until stopped: "q:" + payload. */
struct coap_queue {
  pqc_coap_server *server;
  pthread_mutex_t mu;
  int stop, served;
};

static void *coap_queue_main(void *arg) {
  struct coap_queue *q = arg;
  char path[PQC_COAP_URI_MAX_BYTES], query[PQC_COAP_URI_MAX_BYTES],
      sender[PQC_DEVICE_ID_MAX_BYTES];
  uint8_t payload[512], answer[520];
  for (;;) {
    uint64_t id = 0;
    uint32_t method = 0;
    int cf = 0, st, stop;
    size_t n = 0;
    pthread_mutex_lock(&q->mu);
    stop = q->stop;
    pthread_mutex_unlock(&q->mu);
    if (stop) {
      return NULL;
    }
    st = pqc_coap_server_recv(q->server, 50, &id, &method, path, sizeof path,
                              query, sizeof query, sender, sizeof sender, &cf,
                              payload, sizeof payload, &n);
    if (st != PQC_OK) {
      continue;
    }
    memcpy(answer, "q:", 2);
    memcpy(answer + 2, payload, n);
    if (pqc_coap_server_respond(q->server, id, PQC_COAP_CONTENT, 0, answer,
                                n + 2) == PQC_OK) {
      pthread_mutex_lock(&q->mu);
      q->served++;
      pthread_mutex_unlock(&q->mu);
    }
  }
}

static void coap_opts(pqc_coap_options *o, uint32_t mode, const char *peer,
                      const char *acl) {
  memset(o, 0, sizeof *o);
  o->struct_size = sizeof *o;
  o->mode = mode;
  o->peer = peer;
  o->acl = acl;
  o->timeout_ms = 20000;
}

/* A request whose answer must be code with payload want (NULL: any). */
static void coap_expect(pqc_coap_client *c, uint32_t method, const char *path,
                        const char *body, uint32_t want_code, const char *want,
                        const char *want_sender, const char *ctx) {
  uint8_t out[1024];
  char sender[PQC_DEVICE_ID_MAX_BYTES];
  uint32_t code = 0;
  int cf = 7;
  size_t n = 0;
  int st = pqc_coap_client_request(
      c, method, path, PQC_COAP_NO_FORMAT, (const uint8_t *)body,
      body ? strlen(body) : 0, 0, &code, &cf, out, sizeof out - 1, &n, sender,
      sizeof sender);
  CHECK(st == PQC_OK, "%s: %s returned %d (%s)", ctx, path, st,
        pqc_strerror(st));
  if (st != PQC_OK) {
    return;
  }
  out[n] = 0;
  CHECK(code == want_code, "%s: %s code %u.%02u, want %u.%02u", ctx, path,
        code >> 5, code & 31, want_code >> 5, want_code & 31);
  CHECK(want == NULL || strcmp((char *)out, want) == 0, "%s: %s answered %s",
        ctx, path, (char *)out);
  CHECK(strcmp(sender, want_sender) == 0, "%s: %s sender %s, want %s", ctx,
        path, sender, want_sender);
}

/* Records peer's certificate chain in the trust state behind a server or
 * client (add is pqc_coap_server_add_peer or pqc_coap_client_add_peer). */
static int coap_know(int (*add)(void *, const uint8_t *, size_t), void *h,
                     pqc_identity *peer) {
  uint8_t *chain = xmalloc(PQC_OBJECT_MAX_BYTES);
  size_t n = 0;
  int st = pqc_identity_chain(peer, chain, PQC_OBJECT_MAX_BYTES, &n);
  if (st == PQC_OK) {
    st = add(h, chain, n);
  }
  free(chain);
  CHECK(st == PQC_OK, "add peer: %d (%s)", st, pqc_strerror(st));
  return st;
}

static int server_add(void *h, const uint8_t *c, size_t n) {
  return pqc_coap_server_add_peer(h, c, n);
}

static int client_add(void *h, const uint8_t *c, size_t n) {
  return pqc_coap_client_add_peer(h, c, n);
}

/* One server and client pair in mode: callback and queue resources, the
 * ACL, observe, and an attacker on the path. */
static void coap_pair(struct fleet *f, pqc_identity *plc, pqc_identity *hmi,
                      pqc_identity *viewer, uint32_t mode, const char *w) {
  pqc_coap_options o;
  pqc_coap_server *srv = NULL;
  pqc_coap_client *cl = NULL, *vc = NULL, *rc = NULL;
  pqc_coap_observation *obs = NULL;
  struct coap_echo echo;
  struct coap_queue q;
  struct coap_relay relay;
  pthread_t qth;
  char addr[64], sender[PQC_DEVICE_ID_MAX_BYTES];
  uint8_t out[256];
  uint32_t code = 0;
  int cf = 0, st, relay_ok = 0;
  size_t n = 0;
  (void)f;

  coap_opts(&o, mode, NULL,
            "hmi-1 * /#; viewer-1 GET /sensors; viewer-1 GET,POST /echo/v");
  CHECK_STATUS(pqc_coap_server_new(plc, &o, &srv), PQC_OK, w);
  if (srv == NULL) {
    return;
  }
  CHECK_FAILS_WITH(pqc_coap_server_addr(srv, addr, sizeof addr, &n),
                   PQC_ERR_STATE, "addr before listen");
  coap_know(server_add, srv, hmi);
  coap_know(server_add, srv, viewer);
  CHECK_FAILS_WITH(pqc_coap_server_add_peer(srv, (const uint8_t *)"junk", 4),
                   PQC_ERR_INVALID_ARGUMENT, "junk chain");
  CHECK_STATUS(pqc_coap_server_listen(srv, "127.0.0.1:0"), PQC_OK, w);
  CHECK_FAILS_WITH(pqc_coap_server_listen(srv, "127.0.0.1:0"), PQC_ERR_STATE,
                   "listen twice");
  CHECK_FAILS_WITH(pqc_coap_server_addr(srv, addr, 4, &n),
                   PQC_ERR_BUFFER_TOO_SMALL, "addr small");
  CHECK_STATUS(pqc_coap_server_addr(srv, addr, sizeof addr, &n), PQC_OK, w);
  CHECK(strncmp(addr, "127.0.0.1:", 10) == 0 && strcmp(addr, "127.0.0.1:0"),
        "%s: bound %s", w, addr);
  echo.server = srv;
  echo.reentry_status = 0;
  echo.calls = 0;
  pthread_mutex_init(&echo.mu, NULL);
  CHECK_STATUS(pqc_coap_server_set_handler(srv, "/echo", coap_echo, &echo),
               PQC_OK, w);
  CHECK_STATUS(pqc_coap_server_set_handler(srv, "/echo/v", coap_echo, &echo),
               PQC_OK, w);
  CHECK_STATUS(pqc_coap_server_set_handler(srv, "/sensors", coap_echo, &echo),
               PQC_OK, w);
  CHECK_STATUS(pqc_coap_server_set_handler(srv, "/bad", coap_bad_handler,
                                           NULL),
               PQC_OK, w);
  CHECK_FAILS_WITH(pqc_coap_server_set_handler(srv, "no-slash", coap_echo,
                                               NULL),
                   PQC_ERR_INVALID_ARGUMENT, "relative path");
  CHECK_FAILS_WITH(pqc_coap_server_handle(srv, "/q?x=1"),
                   PQC_ERR_INVALID_ARGUMENT, "path with query");
  CHECK_STATUS(pqc_coap_server_handle(srv, "/queue"), PQC_OK, w);
  CHECK_FAILS_WITH(pqc_coap_server_respond(srv, 999999, PQC_COAP_CONTENT, 0,
                                           NULL, 0),
                   PQC_ERR_STATE, "respond to nothing");
  CHECK_FAILS_WITH(pqc_coap_server_respond(srv, 1, PQC_COAP_GET, 0, NULL, 0),
                   PQC_ERR_INVALID_ARGUMENT, "request code as answer");
  q.server = srv;
  q.stop = 0;
  q.served = 0;
  pthread_mutex_init(&q.mu, NULL);
  pthread_create(&qth, NULL, coap_queue_main, &q);

  coap_opts(&o, mode, "plc-1", NULL);
  CHECK_STATUS(pqc_coap_client_new(hmi, addr, &o, &cl), PQC_OK, w);
  CHECK_STATUS(pqc_coap_client_new(viewer, addr, &o, &vc), PQC_OK, w);
  if (cl == NULL || vc == NULL) {
    goto out;
  }
  coap_know(client_add, cl, plc);
  coap_know(client_add, vc, plc);
  coap_expect(cl, PQC_COAP_POST, "/echo?a=1&b=2", "hello", PQC_COAP_CHANGED,
              "hmi-1|a=1&b=2|hello", "plc-1", w);
  CHECK(echo.reentry_status == PQC_ERR_STATE,
        "%s: close from a handler returned %d", w, echo.reentry_status);
  coap_expect(cl, PQC_COAP_GET, "/echo", NULL, PQC_COAP_CONTENT, "hmi-1||",
              "plc-1", w);
  coap_expect(cl, PQC_COAP_PUT, "/queue", "job", PQC_COAP_CONTENT, "q:job",
              "plc-1", w);
  coap_expect(cl, PQC_COAP_GET, "/nothing", NULL, PQC_COAP_NOT_FOUND, "",
              "plc-1", w);
  coap_expect(cl, PQC_COAP_GET, "/bad", NULL, PQC_COAP_INTERNAL_ERROR, "",
              "plc-1", w);
  /* The ACL: a 4.03 is a protected answer from the server, not an error. */
  coap_expect(vc, PQC_COAP_GET, "/sensors", NULL, PQC_COAP_CONTENT,
              "viewer-1||", "plc-1", w);
  coap_expect(vc, PQC_COAP_POST, "/sensors", "x", PQC_COAP_FORBIDDEN, "",
              "plc-1", w);
  coap_expect(vc, PQC_COAP_DELETE, "/echo/v", NULL, PQC_COAP_FORBIDDEN, "",
              "plc-1", w);
  coap_expect(vc, PQC_COAP_POST, "/echo/v", "ok", PQC_COAP_CHANGED,
              "viewer-1||ok", "plc-1", w);

  /* A small buffer: the code is still reported. */
  st = pqc_coap_client_request(cl, PQC_COAP_GET, "/echo", PQC_COAP_NO_FORMAT,
                               NULL, 0, 0, &code, &cf, out, 2, &n, NULL, 0);
  CHECK(st == PQC_ERR_BUFFER_TOO_SMALL && code == PQC_COAP_CONTENT && n == 7,
        "%s: small buffer: %d code %u need %lu", w, st, code,
        (unsigned long)n);
  CHECK_FAILS_WITH(pqc_coap_client_request(cl, 0, "/echo", -1, NULL, 0, 0,
                                           &code, NULL, out, sizeof out, &n,
                                           NULL, 0),
                   PQC_ERR_INVALID_ARGUMENT, "method 0");
  CHECK_FAILS_WITH(pqc_coap_client_request(cl, PQC_COAP_GET, "echo", -1, NULL,
                                           0, 0, &code, NULL, out, sizeof out,
                                           &n, NULL, 0),
                   PQC_ERR_INVALID_ARGUMENT, "relative request path");
  CHECK_FAILS_WITH(pqc_coap_client_request(cl, PQC_COAP_POST, "/echo", -1,
                                           NULL, 5, 0, &code, NULL, out,
                                           sizeof out, &n, NULL, 0),
                   PQC_ERR_INVALID_ARGUMENT, "NULL payload with length");
  CHECK_FAILS_WITH(pqc_coap_client_request(cl, PQC_COAP_POST, "/echo", -1,
                                           out, PQC_COAP_MAX_PAYLOAD + 1, 0,
                                           &code, NULL, out, sizeof out, &n,
                                           NULL, 0),
                   PQC_ERR_INVALID_ARGUMENT, "oversized payload");

  /* Observe: the first answer, then one notification per notify. */
  CHECK_STATUS(pqc_coap_client_observe(cl, "/sensors", 20000, &obs),
               PQC_OK, w);
  if (obs != NULL) {
    CHECK_STATUS(pqc_coap_observe_recv(obs, 5000, &code, &cf, out,
                                       sizeof out - 1, &n, sender,
                                       sizeof sender),
                 PQC_OK, "first observe answer");
    out[n] = 0;
    CHECK(code == PQC_COAP_CONTENT && strcmp((char *)out, "hmi-1||") == 0,
          "%s: observe first %u %s", w, code, (char *)out);
    CHECK_FAILS_WITH(pqc_coap_observe_recv(obs, 0, &code, &cf, out,
                                           sizeof out, &n, sender,
                                           sizeof sender),
                     PQC_ERR_TIMEOUT, "no notification yet");
    n = 0;
    CHECK_STATUS(pqc_coap_server_notify(srv, "/sensors", 0,
                                        (const uint8_t *)"21.5", 4, &n),
                 PQC_OK, w);
    CHECK(n == 1, "%s: notify reached %lu observers", w, (unsigned long)n);
  }
  /* A signed notification (ML-DSA-65) exceeds one datagram: it arrives
   * block-wise, the observer fetching the rest. */
  if (obs != NULL) {
    CHECK_FAILS_WITH(pqc_coap_observe_recv(obs, 20000, &code, &cf, out, 2, &n,
                                           sender, sizeof sender),
                     PQC_ERR_BUFFER_TOO_SMALL, "small notification buffer");
    CHECK_STATUS(pqc_coap_observe_recv(obs, 20000, &code, &cf, out,
                                       sizeof out - 1, &n, sender,
                                       sizeof sender),
                 PQC_OK, "notification");
    out[n] = 0;
    CHECK(code == PQC_COAP_CONTENT && strcmp((char *)out, "21.5") == 0 &&
              cf == 0 && strcmp(sender, "plc-1") == 0,
          "%s: notification %u %s cf %d from %s", w, code, (char *)out, cf,
          sender);
  }
  if (obs != NULL) {
    CHECK_STATUS(pqc_coap_observe_cancel(obs), PQC_OK, w);
    CHECK_FAILS_WITH(pqc_coap_observe_cancel(obs), PQC_ERR_CLOSED,
                     "cancel twice");
    CHECK_FAILS_WITH(pqc_coap_observe_recv(obs, 0, &code, &cf, out,
                                           sizeof out, &n, NULL, 0),
                     PQC_ERR_CLOSED, "recv after cancel");
    pqc_coap_observe_free(obs);
    CHECK_FAILS_WITH(pqc_coap_observe_recv(obs, 0, &code, &cf, out,
                                           sizeof out, &n, NULL, 0),
                     PQC_ERR_CLOSED, "recv after free");
  }
  CHECK_FAILS_WITH(pqc_coap_server_notify(srv, "/unknown", 0, NULL, 0, &n),
                   PQC_ERR_STATE, "notify unknown path");

  /* An attacker on the path: tampered requests are refused by the server
   * (an unprotected 4.xx, no sender), tampered responses by the client,
   * and a request replayed from elsewhere is refused. */
  relay_ok = relay_start(&relay, addr);
  CHECK(relay_ok, "%s: relay", w);
  if (relay_ok) {
    CHECK_STATUS(pqc_coap_client_new(hmi, relay.addr, &o, &rc), PQC_OK, w);
    coap_know(client_add, rc, plc);
    coap_expect(rc, PQC_COAP_POST, "/echo", "via relay", PQC_COAP_CHANGED,
                "hmi-1||via relay", "plc-1", "relay");
    relay_set(&relay, 1, 0, 0);
    st = pqc_coap_client_request(rc, PQC_COAP_POST, "/echo", -1,
                                 (const uint8_t *)"x", 1, 0, &code, NULL, out,
                                 sizeof out, &n, sender, sizeof sender);
    CHECK(st == PQC_OK && code >> 5 == 4 && sender[0] == '\0',
          "%s: tampered request: %d code %u.%02u sender %s", w, st, code >> 5,
          code & 31, sender);
    relay_set(&relay, 0, 1, 0);
    st = pqc_coap_client_request(rc, PQC_COAP_POST, "/echo", -1,
                                 (const uint8_t *)"y", 1, 0, &code, NULL, out,
                                 sizeof out, &n, sender, sizeof sender);
    CHECK(st == PQC_ERR_VERIFY, "%s: tampered response: %d (%s)", w, st,
          pqc_strerror(st));
    /* A fresh client (and session) so that only the data request is
     * recorded, not a handshake. */
    relay_set(&relay, 0, 0, 0);
    pqc_coap_client_free(rc);
    rc = NULL;
    CHECK_STATUS(pqc_coap_client_new(hmi, relay.addr, &o, &rc), PQC_OK, w);
    coap_expect(rc, PQC_COAP_GET, "/echo", NULL, PQC_COAP_CONTENT, "hmi-1||",
                "plc-1", "before recording");
    relay_set(&relay, 0, 0, 1);
    coap_expect(rc, PQC_COAP_POST, "/echo", "once", PQC_COAP_CHANGED,
                "hmi-1||once", "plc-1", "recorded");
    relay_set(&relay, 0, 0, 0);
    {
      int before = echo_calls(&echo);
      code = replay_recorded(&relay);
      CHECK(code >> 5 != 2 && echo_calls(&echo) == before,
            "%s: replayed request answered %u.%02u, handler ran %d times", w,
            code >> 5, code & 31, echo_calls(&echo) - before);
    }
    pqc_coap_client_free(rc);
    relay_stop(&relay);
  }

  CHECK_STATUS(pqc_coap_client_close(cl), PQC_OK, w);
  CHECK_FAILS_WITH(pqc_coap_client_request(cl, PQC_COAP_GET, "/echo", -1, NULL,
                                           0, 0, &code, NULL, out, sizeof out,
                                           &n, NULL, 0),
                   PQC_ERR_CLOSED, "request after close");
  CHECK_FAILS_WITH(pqc_coap_client_observe(cl, "/sensors", 0, &obs),
                   PQC_ERR_CLOSED, "observe after close");
out:
  pthread_mutex_lock(&q.mu);
  q.stop = 1;
  pthread_mutex_unlock(&q.mu);
  pthread_join(qth, NULL);
  pthread_mutex_destroy(&q.mu);
  pqc_coap_client_free(cl);
  pqc_coap_client_free(vc);
  CHECK_STATUS(pqc_coap_server_close(srv), PQC_OK, w);
  CHECK_FAILS_WITH(pqc_coap_server_handle(srv, "/x"), PQC_ERR_CLOSED,
                   "handle after close");
  pqc_coap_server_free(srv);
  CHECK_FAILS_WITH(pqc_coap_server_close(srv), PQC_ERR_CLOSED,
                   "close after free");
  pthread_mutex_destroy(&echo.mu);
}

/* Plain mode under DTLS with a pre-shared key: the sender a handler sees
 * is the PSK identity, and a wrong key gets no answer. */
static void coap_plain_dtls(void) {
  static const uint8_t psk[16] = "0123456789abcdef";
  static const uint8_t wrong[16] = "0123456789abcdeX";
  pqc_coap_options o;
  pqc_coap_server *srv = NULL;
  pqc_coap_client *cl = NULL, *bad = NULL;
  struct coap_echo echo;
  char addr[64];
  uint8_t out[64];
  uint32_t code = 0;
  size_t n = 0;
  const char *w = "coap plain+dtls";

  coap_opts(&o, PQC_COAP_MODE_PLAIN, NULL, "gw-1 GET /echo");
  o.dtls_psk_identity = "gw-1";
  o.dtls_psk = psk;
  o.dtls_psk_len = sizeof psk;
  CHECK_STATUS(pqc_coap_server_new(NULL, &o, &srv), PQC_OK, w);
  if (srv == NULL) {
    return;
  }
  CHECK_FAILS_WITH(pqc_coap_server_add_peer(srv, psk, sizeof psk),
                   PQC_ERR_STATE, "add peer in plain mode");
  echo.server = srv;
  echo.calls = 0;
  pthread_mutex_init(&echo.mu, NULL);
  CHECK_STATUS(pqc_coap_server_set_handler(srv, "/echo", coap_echo, &echo),
               PQC_OK, w);
  CHECK_STATUS(pqc_coap_server_listen(srv, "127.0.0.1:0"), PQC_OK, w);
  CHECK_STATUS(pqc_coap_server_addr(srv, addr, sizeof addr, &n), PQC_OK, w);
  coap_opts(&o, PQC_COAP_MODE_PLAIN, NULL, NULL);
  o.dtls_psk_identity = "gw-1";
  o.dtls_psk = psk;
  o.dtls_psk_len = sizeof psk;
  o.timeout_ms = 5000;
  CHECK_STATUS(pqc_coap_client_new(NULL, addr, &o, &cl), PQC_OK, w);
  if (cl != NULL) {
    coap_expect(cl, PQC_COAP_GET, "/echo?k=v", NULL, PQC_COAP_CONTENT,
                "gw-1|k=v|", "", w);
    coap_expect(cl, PQC_COAP_PUT, "/echo", "z", PQC_COAP_FORBIDDEN, "", "", w);
  }
  o.dtls_psk = wrong;
  o.timeout_ms = 3000;
  {
    /* The DTLS handshake fails at connect or at the first request. */
    int st = pqc_coap_client_new(NULL, addr, &o, &bad);
    if (st == PQC_OK) {
      st = pqc_coap_client_request(bad, PQC_COAP_GET, "/echo", -1, NULL, 0, 0,
                                   &code, NULL, out, sizeof out, &n, NULL, 0);
    }
    CHECK(st != PQC_OK, "%s: wrong PSK was answered %u", w, code);
    pqc_coap_client_free(bad);
  }
  pqc_coap_client_free(cl);
  pqc_coap_server_free(srv);
  pthread_mutex_destroy(&echo.mu);
}

/* A queued request nobody answers gets 5.03 once the server's wait ends. */
static void coap_queue_expiry(pqc_identity *plc, pqc_identity *hmi) {
  pqc_coap_options o;
  pqc_coap_server *srv = NULL;
  pqc_coap_client *cl = NULL;
  char addr[64], path[PQC_COAP_URI_MAX_BYTES], query[PQC_COAP_URI_MAX_BYTES],
      sender[PQC_DEVICE_ID_MAX_BYTES];
  uint8_t payload[64];
  uint64_t id = 0;
  uint32_t method = 0;
  int cf = 0;
  size_t n = 0;
  const char *w = "coap queue expiry";

  coap_opts(&o, PQC_COAP_MODE_SIGNED, NULL, NULL);
  o.timeout_ms = 200;
  CHECK_STATUS(pqc_coap_server_new(plc, &o, &srv), PQC_OK, w);
  if (srv == NULL) {
    return;
  }
  CHECK_STATUS(pqc_coap_server_handle(srv, "/slow"), PQC_OK, w);
  coap_know(server_add, srv, hmi);
  CHECK_STATUS(pqc_coap_server_listen(srv, "127.0.0.1:0"), PQC_OK, w);
  CHECK_STATUS(pqc_coap_server_addr(srv, addr, sizeof addr, &n), PQC_OK, w);
  CHECK_FAILS_WITH(pqc_coap_server_recv(srv, 0, &id, &method, path,
                                        sizeof path, query, sizeof query,
                                        sender, sizeof sender, &cf, payload,
                                        sizeof payload, &n),
                   PQC_ERR_TIMEOUT, "empty queue");
  CHECK_FAILS_WITH(pqc_coap_server_recv(srv, 0, NULL, &method, path,
                                        sizeof path, query, sizeof query,
                                        sender, sizeof sender, &cf, payload,
                                        sizeof payload, &n),
                   PQC_ERR_INVALID_ARGUMENT, "NULL request id");
  coap_opts(&o, PQC_COAP_MODE_SIGNED, "plc-1", NULL);
  CHECK_STATUS(pqc_coap_client_new(hmi, addr, &o, &cl), PQC_OK, w);
  if (cl != NULL) {
    coap_know(client_add, cl, plc);
    coap_expect(cl, PQC_COAP_POST, "/slow", "late", PQC_COAP_SERVICE_UNAVAILABLE,
                "", "plc-1", w);
    /* The request was queued and expired: answering it now is too late. */
    CHECK_STATUS(pqc_coap_server_recv(srv, 0, &id, &method, path, sizeof path,
                                      query, sizeof query, sender,
                                      sizeof sender, &cf, payload,
                                      sizeof payload, &n),
                 PQC_ERR_TIMEOUT, "expired request is not delivered");
  }
  pqc_coap_client_free(cl);
  pqc_coap_server_free(srv);
}

static void test_coap(void) {
  struct fleet f;
  uint8_t *chain = NULL;
  size_t chain_n = 0;
  pqc_identity *plc = NULL, *hmi = NULL, *viewer = NULL;
  pqc_coap_options o;
  pqc_coap_server *srv = NULL;
  pqc_coap_client *cl = NULL;
  pqc_coap_observation *obs = NULL;
  uint32_t code;
  size_t n;
  const char *w = "coap";

  CHECK(pqc_coap_options_size() == sizeof(pqc_coap_options),
        "coap options size %lu", (unsigned long)pqc_coap_options_size());
  /* Freeing NULL and forged handles is harmless; using them is CLOSED. */
  pqc_coap_server_free(NULL);
  pqc_coap_client_free(NULL);
  pqc_coap_observe_free(NULL);
  CHECK_FAILS_WITH(pqc_coap_server_listen((pqc_coap_server *)(uintptr_t)0x77770,
                                          NULL),
                   PQC_ERR_CLOSED, "forged server");
  CHECK_FAILS_WITH(pqc_coap_client_request(
                       (pqc_coap_client *)(uintptr_t)0x77770, PQC_COAP_GET,
                       "/", -1, NULL, 0, 0, &code, NULL, NULL, 0, &n, NULL, 0),
                   PQC_ERR_CLOSED, "forged client");
  CHECK_FAILS_WITH(pqc_coap_observe_recv(
                       (pqc_coap_observation *)(uintptr_t)0x77770, 0, &code,
                       NULL, NULL, 0, &n, NULL, 0),
                   PQC_ERR_CLOSED, "forged observation");

  if (!fleet_init(&f)) {
    CHECK(0, "coap fleet setup: %s", pqc_last_error());
    fleet_free(&f);
    return;
  }
  chain = xmalloc(PQC_OBJECT_MAX_BYTES);
  plc = provision(&f, "plc-1", chain, &chain_n);
  hmi = provision(&f, "hmi-1", chain, &chain_n);
  viewer = provision(&f, "viewer-1", chain, &chain_n);
  if (plc == NULL || hmi == NULL || viewer == NULL) {
    goto out;
  }

  /* Options and configuration errors, before any socket. */
  coap_opts(&o, PQC_COAP_MODE_SESSION, NULL, NULL);
  o.struct_size = sizeof o + 8;
  CHECK_FAILS_WITH(pqc_coap_server_new(plc, &o, &srv),
                   PQC_ERR_INVALID_ARGUMENT, "options size");
  CHECK(srv == NULL, "failed server_new left a handle");
  coap_opts(&o, 9, NULL, NULL);
  CHECK_FAILS_WITH(pqc_coap_server_new(plc, &o, &srv),
                   PQC_ERR_INVALID_ARGUMENT, "mode 9");
  coap_opts(&o, PQC_COAP_MODE_SESSION, NULL, NULL);
  o.flags = 0x80;
  CHECK_FAILS_WITH(pqc_coap_server_new(plc, &o, &srv),
                   PQC_ERR_INVALID_ARGUMENT, "unknown flag");
  coap_opts(&o, PQC_COAP_MODE_SESSION, NULL, "hmi-1 GET");
  CHECK_FAILS_WITH(pqc_coap_server_new(plc, &o, &srv),
                   PQC_ERR_INVALID_ARGUMENT, "short ACL rule");
  coap_opts(&o, PQC_COAP_MODE_SESSION, NULL, "hmi-1 BREW /pot");
  CHECK_FAILS_WITH(pqc_coap_server_new(plc, &o, &srv),
                   PQC_ERR_INVALID_ARGUMENT, "unknown ACL method");
  CHECK_FAILS_WITH(pqc_coap_server_new(NULL, NULL, &srv), PQC_ERR_CLOSED,
                   "session server without identity");
  CHECK_FAILS_WITH(pqc_coap_server_new(plc, NULL, NULL),
                   PQC_ERR_INVALID_ARGUMENT, "NULL out");
  CHECK_FAILS_WITH(pqc_coap_client_new(hmi, "127.0.0.1:5683", NULL, &cl),
                   PQC_ERR_INVALID_ARGUMENT, "session client without peer");
  coap_opts(&o, PQC_COAP_MODE_SIGNED, NULL, "hmi-1 * /#");
  CHECK_FAILS_WITH(pqc_coap_client_new(hmi, "127.0.0.1:5683", &o, &cl),
                   PQC_ERR_INVALID_ARGUMENT, "ACL on a client");
  coap_opts(&o, PQC_COAP_MODE_SIGNED, NULL, NULL);
  o.dtls_psk_identity = "only-identity";
  CHECK_FAILS_WITH(pqc_coap_client_new(hmi, "127.0.0.1:5683", &o, &cl),
                   PQC_ERR_INVALID_ARGUMENT, "PSK identity without key");
  CHECK(cl == NULL, "failed client_new left a handle");
  /* DTLS with certificates: checked before any socket. */
  coap_opts(&o, PQC_COAP_MODE_PLAIN, NULL, NULL);
  o.dtls_cert_file = "/nonexistent/cert.pem";
  CHECK_FAILS_WITH(pqc_coap_server_new(NULL, &o, &srv),
                   PQC_ERR_INVALID_ARGUMENT, "certificate without key");
  o.dtls_key_file = "/nonexistent/key.pem";
  CHECK_FAILS_WITH(pqc_coap_server_new(NULL, &o, &srv), PQC_ERR_IO,
                   "missing certificate file");
  o.dtls_psk_identity = "gw-1";
  CHECK_FAILS_WITH(pqc_coap_server_new(NULL, &o, &srv),
                   PQC_ERR_INVALID_ARGUMENT, "PSK and certificates");
  coap_opts(&o, PQC_COAP_MODE_PLAIN, NULL, NULL);
  o.dtls_server_name = "plc-1.local";
  CHECK_FAILS_WITH(pqc_coap_client_new(NULL, "127.0.0.1:5684", &o, &cl),
                   PQC_ERR_INVALID_ARGUMENT, "DTLS client without CA");
  CHECK_FAILS_WITH(pqc_coap_server_new(NULL, &o, &srv),
                   PQC_ERR_INVALID_ARGUMENT, "DTLS server without certificate");
  o.dtls_ca_file = f.dir; /* a directory: unreadable as a file */
  CHECK_FAILS_WITH(pqc_coap_client_new(NULL, "127.0.0.1:5684", &o, &cl),
                   PQC_ERR_IO, "unreadable CA bundle");

  coap_pair(&f, plc, hmi, viewer, PQC_COAP_MODE_SESSION, "coap session");
  coap_pair(&f, plc, hmi, viewer, PQC_COAP_MODE_SIGNED, "coap signed");
  coap_pair(&f, plc, hmi, viewer, PQC_COAP_MODE_OSCORE, "coap oscore");
  coap_plain_dtls();
  coap_queue_expiry(plc, hmi);

  /* An observation outlives neither its client nor a free. */
  coap_opts(&o, PQC_COAP_MODE_SIGNED, NULL, NULL);
  if (pqc_coap_server_new(plc, &o, &srv) == PQC_OK &&
      pqc_coap_server_listen(srv, "127.0.0.1:0") == PQC_OK) {
    char addr[64];
    uint8_t out[16];
    struct coap_echo echo;
    echo.server = srv;
    echo.calls = 0;
    pthread_mutex_init(&echo.mu, NULL);
    CHECK_STATUS(pqc_coap_server_set_handler(srv, "/v", coap_echo, &echo),
                 PQC_OK, w);
    coap_know(server_add, srv, hmi);
    CHECK_STATUS(pqc_coap_server_addr(srv, addr, sizeof addr, &n), PQC_OK, w);
    coap_opts(&o, PQC_COAP_MODE_SIGNED, "plc-1", NULL);
    CHECK_STATUS(pqc_coap_client_new(hmi, addr, &o, &cl), PQC_OK, w);
    coap_know(client_add, cl, plc);
    CHECK_STATUS(pqc_coap_client_observe(cl, "/v", 20000, &obs), PQC_OK, w);
    if (obs != NULL) {
      CHECK_STATUS(pqc_coap_observe_recv(obs, 5000, &code, NULL, out,
                                         sizeof out, &n, NULL, 0),
                   PQC_OK, w);
      CHECK(code == PQC_COAP_CONTENT, "observe /v: %u", code);
      CHECK_STATUS(pqc_coap_client_close(cl), PQC_OK, w);
      CHECK_FAILS_WITH(pqc_coap_observe_recv(obs, 0, &code, NULL, out,
                                             sizeof out, &n, NULL, 0),
                       PQC_ERR_CLOSED, "observe after client close");
      pqc_coap_observe_free(obs);
    }
    pqc_coap_client_free(cl);
    pqc_coap_server_free(srv);
    srv = NULL;
    pthread_mutex_destroy(&echo.mu);
  }
  pqc_coap_server_free(srv);
  srv = NULL;

  /* Handles outliving their identity answer PQC_ERR_CLOSED. */
  {
    pqc_identity *tmp = provision(&f, "tmp-1", chain, &chain_n);
    coap_opts(&o, PQC_COAP_MODE_SIGNED, "plc-1", NULL);
    cl = NULL;
    if (tmp != NULL &&
        pqc_coap_client_new(tmp, "127.0.0.1:5683", &o, &cl) == PQC_OK &&
        pqc_coap_server_new(tmp, NULL, &srv) == PQC_OK) {
      pqc_identity_free(tmp);
      tmp = NULL;
      CHECK_FAILS_WITH(pqc_coap_client_request(cl, PQC_COAP_GET, "/", -1,
                                               NULL, 0, 0, &code, NULL, NULL,
                                               0, &n, NULL, 0),
                       PQC_ERR_CLOSED, "client of a freed identity");
      CHECK_FAILS_WITH(pqc_coap_server_listen(srv, "127.0.0.1:0"),
                       PQC_ERR_CLOSED, "server of a freed identity");
    } else {
      CHECK(0, "identity lifetime setup: %s", pqc_last_error());
    }
    pqc_identity_free(tmp);
    pqc_coap_client_free(cl);
    pqc_coap_server_free(srv);
  }

out:
  free(chain);
  pqc_identity_free(plc);
  pqc_identity_free(hmi);
  pqc_identity_free(viewer);
  fleet_free(&f);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--coap") == 0) {
    /* Only the CoAP checks, for quick runs while working on them. */
    test_coap();
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
  }
  size_t i, n;

  if (argc == 4) {
    /* Child mode: one algorithm, counts written to the inherited pipe. */
    char report[64];
    int fd = atoi(argv[3]);
    if (strcmp(argv[1], "--kem") == 0) {
      test_kem(argv[2]);
    } else if (strcmp(argv[1], "--sig") == 0) {
      test_sig(argv[2]);
    } else {
      return 2;
    }
    sprintf(report, "%d %d", passed, failed);
    if (write(fd, report, strlen(report)) < 0) {
      return 2;
    }
    return failed == 0 ? 0 : 1;
  }

  test_versions();
  test_strerror();
  test_random();
  test_algorithm_lists();

  n = pqc_kem_algorithm_count();
  for (i = 0; i < n; i++) {
    const char *alg = pqc_kem_algorithm_name(i);
    size_t k;
    printf("KEM %s\n", alg);
    run_isolated(argv[0], "--kem", alg);
    for (k = 0; k < sizeof kem_macro_table / sizeof kem_macro_table[0]; k++) {
      kem_macros_checked[k] |= strcmp(kem_macro_table[k].name, alg) == 0;
    }
  }
  n = pqc_sig_algorithm_count();
  for (i = 0; i < n; i++) {
    const char *alg = pqc_sig_algorithm_name(i);
    size_t k;
    printf("signature %s\n", alg);
    run_isolated(argv[0], "--sig", alg);
    for (k = 0; k < sizeof sig_macro_table / sizeof sig_macro_table[0]; k++) {
      sig_macros_checked[k] |= strcmp(sig_macro_table[k].name, alg) == 0;
    }
  }
  /* Falcon and SABER may not be registered yet: say so, do not fail. */
  for (i = 0; i < sizeof kem_macro_table / sizeof kem_macro_table[0]; i++) {
    if (!kem_macros_checked[i]) {
      printf("note: %s is not registered; its size macros were not checked\n",
             kem_macro_table[i].name);
    }
  }
  for (i = 0; i < sizeof sig_macro_table / sizeof sig_macro_table[0]; i++) {
    if (!sig_macros_checked[i]) {
      printf("note: %s is not registered; its size macros were not checked\n",
             sig_macro_table[i].name);
    }
  }

  test_unsupported_and_bad_new();
  test_closed_and_forged();
  test_identity();
  test_sessions();
  test_keystore_hardening();
  test_last_error_per_thread();
  test_shared_handles();
  test_mqtt();
  test_coap();

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
