/*
 * pqc_bench: wall-clock cost of the C ABI, per algorithm and operation, as a
 * C caller sees it (Go runtime transition, argument checks and copies
 * included).
 *
 *   pqc_bench [-t SECONDS] [-x NAME]... [NAME]...
 *
 * Each operation runs for SECONDS (default 0.5) after one untimed warm-up
 * call, split into BATCHES timed batches. ns/op is the median batch and
 * "best" the fastest: on a shared machine other processes inflate some
 * batches, and the median ignores them where a single long average would
 * not. A wide gap between the two columns means the machine was busy.
 * NAMEs restrict the run to those algorithms; -x skips one. Two more names
 * select the other groups: "call" (the bare cost of a call into the
 * library) and "session" (protect/unprotect between two devices). Names are
 * compared case-insensitively, as the library does.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pqc_iiot.h"

static double target_seconds = 0.5;
static const char **only;
static int n_only;
static const char **skip;
static int n_skip;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int selected(const char *alg) {
  int i;
  for (i = 0; i < n_skip; i++) {
    if (strcasecmp(skip[i], alg) == 0) {
      return 0;
    }
  }
  if (n_only == 0) {
    return 1;
  }
  for (i = 0; i < n_only; i++) {
    if (strcasecmp(only[i], alg) == 0) {
      return 1;
    }
  }
  return 0;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n + 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static void die(const char *alg, const char *op, int st) {
  fprintf(stderr, "%s %s failed: %s (%s)\n", alg, op, pqc_strerror(st),
          pqc_last_error());
  exit(1);
}

#define BATCHES 5

static void row(const char *alg, const char *op, double median_ns,
                double best_ns, long iters) {
  printf("%-20s %-12s %12.1f %12.1f %12.1f %10ld\n", alg, op, median_ns,
         1e9 / median_ns, best_ns, iters);
  /* Rows appear as they are measured; a slow or failing scheme later on
   * does not hide what was already measured. */
  fflush(stdout);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One operation under test: returns a status. */
typedef int (*op_fn)(void *ctx);

/* Runs fn in batches of at least `per_batch` calls between clock reads and
 * reports median and best ns/op over the batches. */
static void measure_per(const char *alg, const char *op, op_fn fn, void *ctx,
                        long per_batch, long per_call) {
  double ns[BATCHES];
  long total = 0;
  int b;
  int st = fn(ctx); /* warm-up: first-use allocations, page faults */
  if (st != PQC_OK) {
    die(alg, op, st);
  }
  for (b = 0; b < BATCHES; b++) {
    long iters = 0;
    double start = now(), elapsed;
    do {
      long i;
      for (i = 0; i < per_batch; i++) {
        st = fn(ctx);
        if (st != PQC_OK) {
          die(alg, op, st);
        }
      }
      iters += per_batch;
      elapsed = now() - start;
    } while (elapsed < target_seconds / BATCHES);
    ns[b] = elapsed * 1e9 / (double)(iters * per_call);
    total += iters * per_call;
  }
  qsort(ns, BATCHES, sizeof ns[0], cmp_double);
  row(alg, op, ns[BATCHES / 2], ns[0], total);
}

static void measure(const char *alg, const char *op, op_fn fn, void *ctx,
                    long per_batch) {
  measure_per(alg, op, fn, ctx, per_batch, 1);
}

static void bench(const char *alg, const char *op, op_fn fn, void *ctx) {
  measure(alg, op, fn, ctx, 1);
}

struct kem_ctx {
  const pqc_kem *kem;
  uint8_t *pk, *sk, *ct, *ss;
  size_t pk_n, sk_n, ct_n, ss_n;
};

static int kem_keygen(void *p) {
  struct kem_ctx *c = p;
  return pqc_kem_keypair(c->kem, c->pk, c->pk_n, c->sk, c->sk_n);
}
static int kem_encaps(void *p) {
  struct kem_ctx *c = p;
  return pqc_kem_encapsulate(c->kem, c->pk, c->pk_n, c->ct, c->ct_n, c->ss,
                             c->ss_n);
}
static int kem_decaps(void *p) {
  struct kem_ctx *c = p;
  return pqc_kem_decapsulate(c->kem, c->sk, c->sk_n, c->ct, c->ct_n, c->ss,
                             c->ss_n);
}

static void bench_kem(const char *alg) {
  struct kem_ctx c;
  pqc_kem *kem = NULL;
  int st = pqc_kem_new(alg, &kem);
  if (st != PQC_OK) {
    die(alg, "new", st);
  }
  c.kem = kem;
  c.pk_n = pqc_kem_public_key_size(kem);
  c.sk_n = pqc_kem_secret_key_size(kem);
  c.ct_n = pqc_kem_ciphertext_size(kem);
  c.ss_n = pqc_kem_shared_secret_size(kem);
  c.pk = xmalloc(c.pk_n);
  c.sk = xmalloc(c.sk_n);
  c.ct = xmalloc(c.ct_n);
  c.ss = xmalloc(c.ss_n);
  bench(alg, "keygen", kem_keygen, &c);
  bench(alg, "encaps", kem_encaps, &c);
  bench(alg, "decaps", kem_decaps, &c);
  free(c.pk);
  free(c.sk);
  free(c.ct);
  free(c.ss);
  pqc_kem_free(kem);
}

struct sig_ctx {
  const pqc_sig *sig;
  uint8_t *pk, *sk, *sig_buf;
  size_t pk_n, sk_n, max_n, sig_n;
  uint8_t msg[64];
};

static int sig_keygen(void *p) {
  struct sig_ctx *c = p;
  return pqc_sig_keypair(c->sig, c->pk, c->pk_n, c->sk, c->sk_n);
}
static int sig_sign(void *p) {
  struct sig_ctx *c = p;
  return pqc_sig_sign(c->sig, c->sk, c->sk_n, c->msg, sizeof c->msg,
                      c->sig_buf, c->max_n, &c->sig_n);
}
static int sig_verify(void *p) {
  struct sig_ctx *c = p;
  return pqc_sig_verify(c->sig, c->pk, c->pk_n, c->msg, sizeof c->msg,
                        c->sig_buf, c->sig_n);
}

static void bench_sig(const char *alg) {
  struct sig_ctx c;
  pqc_sig *sig = NULL;
  int st = pqc_sig_new(alg, &sig);
  if (st != PQC_OK) {
    die(alg, "new", st);
  }
  c.sig = sig;
  c.pk_n = pqc_sig_public_key_size(sig);
  c.sk_n = pqc_sig_secret_key_size(sig);
  c.max_n = pqc_sig_signature_max_size(sig);
  c.sig_n = 0;
  c.pk = xmalloc(c.pk_n);
  c.sk = xmalloc(c.sk_n);
  c.sig_buf = xmalloc(c.max_n);
  memset(c.msg, 0x5a, sizeof c.msg); /* a 64-byte telemetry frame */
  bench(alg, "keygen", sig_keygen, &c);
  bench(alg, "sign", sig_sign, &c);
  /* verify measures the key pair and signature left by the last rounds. */
  st = sig_keygen(&c);
  if (st == PQC_OK) {
    st = sig_sign(&c);
  }
  if (st != PQC_OK) {
    die(alg, "setup for verify", st);
  }
  bench(alg, "verify", sig_verify, &c);
  free(c.pk);
  free(c.sk);
  free(c.sig_buf);
  pqc_sig_free(sig);
}

/* The floor every call pays: entering and leaving the Go runtime plus a
 * handle lookup. Batched so the clock read does not dominate. */
static const pqc_kem *trivial_kem;

static int trivial_ss_size(void *ctx) {
  (void)ctx;
  return pqc_kem_shared_secret_size(trivial_kem) ==
                 PQC_ML_KEM_768_SHARED_SECRET_BYTES
             ? PQC_OK
             : PQC_ERR_INTERNAL;
}

/* For contrast, a function the library implements in C, without entering Go. */
static int trivial_abi_version(void *ctx) {
  (void)ctx;
  return pqc_abi_version() == PQC_IIOT_ABI_VERSION ? PQC_OK : PQC_ERR_INTERNAL;
}

static void bench_trivial(void) {
  pqc_kem *kem = NULL;
  int st = pqc_kem_new("ML-KEM-768", &kem);
  if (st != PQC_OK) {
    die("ML-KEM-768", "new", st);
  }
  trivial_kem = kem;
  measure("(Go export)", "ss_size", trivial_ss_size, NULL, 1000);
  measure("(C export)", "abi_version", trivial_abi_version, NULL, 1000);
  pqc_kem_free(kem);
}

/* ---- Sessions ------------------------------------------------------------
 * Protect on one device plus unprotect on the other, 64-byte messages,
 * counted in pairs. Two devices are provisioned into a temporary directory
 * first; the handshake is not timed. */

#define SESSION_MSG 64
#define SESSION_BATCH 64

struct session_ctx {
  pqc_session *a, *b;
  uint8_t msg[SESSION_MSG];
  uint8_t *frames, *pts;
  size_t cap;
  const uint8_t *msgs[SESSION_BATCH];
  const uint8_t *fptr[SESSION_BATCH];
  size_t lens[SESSION_BATCH], flens[SESSION_BATCH], plens[SESSION_BATCH];
  int statuses[SESSION_BATCH];
  long sent;
};

/* A one-way flood would reach the chain's hard limit (2^20 messages): a
 * reply from time to time lets the sender start a new chain, as real
 * traffic does. */
static int session_turn(struct session_ctx *c) {
  size_t n, m;
  int st;
  if (c->sent < 200000) {
    return PQC_OK;
  }
  c->sent = 0;
  st = pqc_session_protect(c->b, c->msg, SESSION_MSG, c->frames, c->cap, &n);
  if (st == PQC_OK) {
    st = pqc_session_unprotect(c->a, c->frames, n, c->pts, c->cap, &m);
  }
  return st;
}

static int session_pair(void *p) {
  struct session_ctx *c = p;
  size_t n, m;
  int st = pqc_session_protect(c->a, c->msg, SESSION_MSG, c->frames, c->cap,
                               &n);
  if (st == PQC_OK) {
    st = pqc_session_unprotect(c->b, c->frames, n, c->pts, c->cap, &m);
  }
  c->sent++;
  return st == PQC_OK ? session_turn(c) : st;
}

static int session_batch(void *p) {
  struct session_ctx *c = p;
  size_t n, m, off = 0;
  int i, st = pqc_session_protect_batch(c->a, c->msgs, c->lens, SESSION_BATCH,
                                        c->frames, c->cap, c->flens, &n);
  if (st != PQC_OK) {
    return st;
  }
  for (i = 0; i < SESSION_BATCH; i++) {
    c->fptr[i] = c->frames + off;
    off += c->flens[i];
  }
  st = pqc_session_unprotect_batch(c->b, c->fptr, c->flens, SESSION_BATCH,
                                   c->pts, c->cap, c->plens, c->statuses, &m);
  for (i = 0; st == PQC_OK && i < SESSION_BATCH; i++) {
    st = c->statuses[i];
  }
  c->sent += SESSION_BATCH;
  return st == PQC_OK ? session_turn(c) : st;
}

static pqc_identity *bench_device(pqc_ca *ca, const char *dir, const char *name,
                                  const uint8_t *anchor, size_t anchor_n,
                                  const uint8_t *policy, size_t policy_n,
                                  const uint8_t *revl, size_t revl_n,
                                  uint8_t *chain, size_t *chain_n) {
  char path[256];
  uint8_t key[32], fpk[8192];
  uint8_t *req = xmalloc(PQC_OBJECT_MAX_BYTES);
  size_t fpk_n, req_n;
  pqc_identity *id = NULL;
  int st;
  snprintf(path, sizeof path, "%s/%s.store", dir, name);
  pqc_random_bytes(key, sizeof key);
  if ((st = pqc_identity_create(path, PQC_KEYSTORE_RAW_KEY, key, sizeof key,
                                name, NULL, NULL, NULL, &id)) != PQC_OK ||
      (st = pqc_identity_factory_public_key(id, fpk, sizeof fpk, &fpk_n)) !=
          PQC_OK ||
      (st = pqc_ca_allow(ca, name, fpk, fpk_n, NULL)) != PQC_OK ||
      (st = pqc_identity_join_request(id, req, PQC_OBJECT_MAX_BYTES,
                                      &req_n)) != PQC_OK ||
      (st = pqc_ca_enroll(ca, req, req_n, 86400, chain, PQC_OBJECT_MAX_BYTES,
                          chain_n)) != PQC_OK ||
      (st = pqc_identity_install(id, chain, *chain_n, anchor, anchor_n, 0)) !=
          PQC_OK ||
      (st = pqc_identity_apply_policy(id, policy, policy_n)) != PQC_OK ||
      (st = pqc_identity_apply_revocation(id, revl, revl_n)) != PQC_OK) {
    die(name, "provision", st);
  }
  free(req);
  return id;
}

static void bench_session(void) {
  char dir[] = "/tmp/pqc_bench_session.XXXXXX", path[256], cmd[300];
  uint8_t key[32];
  uint8_t *anchor = xmalloc(PQC_OBJECT_MAX_BYTES);
  uint8_t *policy = xmalloc(PQC_OBJECT_MAX_BYTES);
  uint8_t *revl = xmalloc(PQC_REVOCATION_MAX_BYTES);
  uint8_t *chain_a = xmalloc(PQC_OBJECT_MAX_BYTES);
  uint8_t *chain_b = xmalloc(PQC_OBJECT_MAX_BYTES);
  uint8_t *hs = xmalloc(PQC_HANDSHAKE_MAX_BYTES);
  uint8_t *hs2 = xmalloc(PQC_HANDSHAKE_MAX_BYTES);
  size_t anchor_n, policy_n, revl_n, chain_a_n, chain_b_n, hs_n, hs2_n;
  pqc_ca *ca = NULL;
  pqc_identity *a, *b;
  pqc_session_manager *ma = NULL, *mb = NULL;
  struct session_ctx c;
  int st, i;

  memset(&c, 0, sizeof c);
  if (mkdtemp(dir) == NULL) {
    fprintf(stderr, "session: mkdtemp failed\n");
    exit(1);
  }
  snprintf(path, sizeof path, "%s/ca.store", dir);
  pqc_random_bytes(key, sizeof key);
  /* No post-quantum steps fall due: this measures the data path. */
  if ((st = pqc_ca_create(path, PQC_KEYSTORE_RAW_KEY, key, sizeof key, "root",
                          NULL, 86400, &ca)) != PQC_OK ||
      (st = pqc_ca_certificate(ca, anchor, PQC_OBJECT_MAX_BYTES, &anchor_n)) !=
          PQC_OK ||
      (st = pqc_ca_sign_policy(ca, 3600, NULL, NULL, 0, 0, 1, policy,
                               PQC_OBJECT_MAX_BYTES, &policy_n)) != PQC_OK ||
      (st = pqc_ca_revoke(ca, NULL, 0, revl, PQC_REVOCATION_MAX_BYTES,
                          &revl_n)) != PQC_OK) {
    die("session", "CA", st);
  }
  a = bench_device(ca, dir, "plc-1", anchor, anchor_n, policy, policy_n, revl,
                   revl_n, chain_a, &chain_a_n);
  b = bench_device(ca, dir, "scada-1", anchor, anchor_n, policy, policy_n,
                   revl, revl_n, chain_b, &chain_b_n);
  if ((st = pqc_session_manager_new(a, 0, &ma)) != PQC_OK ||
      (st = pqc_session_manager_new(b, 0, &mb)) != PQC_OK ||
      (st = pqc_session_manager_add_peer(ma, chain_b, chain_b_n, NULL, 0,
                                         NULL)) != PQC_OK ||
      (st = pqc_session_manager_add_peer(mb, chain_a, chain_a_n, NULL, 0,
                                         NULL)) != PQC_OK ||
      (st = pqc_session_initiate(ma, "scada-1", "bench", hs,
                                 PQC_HANDSHAKE_MAX_BYTES, &hs_n)) != PQC_OK ||
      (st = pqc_session_handle_handshake(mb, hs, hs_n, hs2,
                                         PQC_HANDSHAKE_MAX_BYTES, &hs2_n,
                                         &c.b)) != PQC_OK ||
      (st = pqc_session_handle_handshake(ma, hs2, hs2_n, hs,
                                         PQC_HANDSHAKE_MAX_BYTES, &hs_n,
                                         &c.a)) != PQC_OK) {
    die("session", "setup", st);
  }
  c.cap = SESSION_BATCH * (SESSION_MSG + pqc_session_frame_overhead_max());
  c.frames = xmalloc(c.cap);
  c.pts = xmalloc(c.cap);
  pqc_random_bytes(c.msg, sizeof c.msg);
  for (i = 0; i < SESSION_BATCH; i++) {
    c.msgs[i] = c.msg;
    c.lens[i] = SESSION_MSG;
  }
  measure_per("session 64 B", "pair", session_pair, &c, 100, 1);
  measure_per("session 64 B", "pair/batch64", session_batch, &c, 4,
              SESSION_BATCH);

  pqc_session_free(c.a);
  pqc_session_free(c.b);
  pqc_session_manager_free(ma);
  pqc_session_manager_free(mb);
  pqc_identity_free(a);
  pqc_identity_free(b);
  pqc_ca_free(ca);
  free(anchor);
  free(policy);
  free(revl);
  free(chain_a);
  free(chain_b);
  free(hs);
  free(hs2);
  free(c.frames);
  free(c.pts);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "note: could not remove %s\n", dir);
  }
}

/* Resident set size of this process in KiB (VmRSS from /proc/self/status),
 * or -1 where /proc is not available. Read before any benchmark: it is what
 * loading the library (and starting the Go runtime with it) costs a C host. */
static long resident_kib(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL) {
    return -1;
  }
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kib = strtol(line + 6, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kib;
}

int main(int argc, char **argv) {
  int i;
  size_t k, n;
  long rss_at_start = resident_kib();

  only = calloc((size_t)argc, sizeof *only);
  skip = calloc((size_t)argc, sizeof *skip);
  if (only == NULL || skip == NULL) {
    return 2;
  }
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
      target_seconds = atof(argv[++i]);
    } else if (strcmp(argv[i], "-x") == 0 && i + 1 < argc) {
      skip[n_skip++] = argv[++i];
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "usage: %s [-t SECONDS] [-x NAME]... [NAME]...\n",
              argv[0]);
      return 2;
    } else {
      only[n_only++] = argv[i];
    }
  }

  printf("pqc_iiot %s, %.2f s per operation in %d batches, CLOCK_MONOTONIC\n"
         "ns/op and ops/s: median batch; best ns/op: fastest batch\n"
         "resident memory at start: %ld KiB (library loaded, Go runtime "
         "started)\n\n",
         pqc_version(), target_seconds, BATCHES, rss_at_start);
  printf("%-20s %-12s %12s %12s %12s %10s\n", "algorithm", "op", "ns/op",
         "ops/s", "best ns/op", "iterations");
  printf("%-20s %-12s %12s %12s %12s %10s\n", "---------", "--", "-----",
         "-----", "----------", "----------");
  if (selected("call")) {
    bench_trivial();
  }
  if (selected("session")) {
    bench_session();
  }

  /* The default suite first, then everything else the library registers. */
  if (selected("ML-KEM-768")) {
    bench_kem("ML-KEM-768");
  }
  if (selected("ML-DSA-65")) {
    bench_sig("ML-DSA-65");
  }
  n = pqc_kem_algorithm_count();
  for (k = 0; k < n; k++) {
    const char *alg = pqc_kem_algorithm_name(k);
    if (strcmp(alg, "ML-KEM-768") != 0 && selected(alg)) {
      bench_kem(alg);
    }
  }
  n = pqc_sig_algorithm_count();
  for (k = 0; k < n; k++) {
    const char *alg = pqc_sig_algorithm_name(k);
    if (strcmp(alg, "ML-DSA-65") != 0 && selected(alg)) {
      bench_sig(alg);
    }
  }
  free(only);
  free(skip);
  return 0;
}
