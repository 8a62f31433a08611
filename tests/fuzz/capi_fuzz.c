/*
 * libFuzzer harness for the C API: untrusted bytes through the entry points
 * a network peer reaches, in a process where the library was built with
 * `go build -asan -gcflags=all=-d=libfuzzer` and this file with
 * -fsanitize=fuzzer,address,undefined: the Go side's reads and writes of C
 * buffers are checked by ASan, and coverage of the Go code guides the
 * fuzzer (tests/fuzz/run.sh).
 *
 * Input: byte 0 picks the entry point, byte 1 a variant (algorithm, flags),
 * the rest is the untrusted payload. Every output buffer is malloc'd to the
 * exact capacity the call is told, so a write past it is an ASan error.
 *
 * Beyond "no crash", each target checks the contract (abort() on a
 * violation, which libFuzzer reports as a crash with the input saved):
 * nothing a fuzzer makes is accepted unless it is byte for byte a genuine
 * object; and after any input a genuine frame still opens through the live
 * session and (after every sealed input and every 16th other one) a fresh
 * sealed frame still opens: a refusal changes no state.
 *
 * PQC_FUZZ_SEED_DIR=dir makes the harness write genuine seed inputs there
 * and exit (tests/fuzz/run.sh does this before fuzzing).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pqc_iiot.h"

#define CONTEXT "plant/fuzz"
#define MAX_ALGS 16

enum target {
  T_MANAGER_UNPROTECT,
  T_SESSION_UNPROTECT,
  T_HANDSHAKE,
  T_OPEN,
  T_VERIFY_CHAIN,
  T_SIG_VERIFY,
  T_KEM_DECAPSULATE,
  T_TRUST_APPLY,
  T_COUNT
};

struct blob {
  uint8_t *p;
  size_t n;
};

struct sig_fixture {
  pqc_sig *s;
  struct blob pk, sig;
};

struct kem_fixture {
  pqc_kem *k;
  struct blob sk, ct, ss;
};

static struct {
  pqc_identity *ia, *ib;
  pqc_session_manager *ma, *mb;
  pqc_session *sa, *sb;
  pqc_trust *trust;
  struct blob chain_a, chain_b, init, resp, sealed, policy, revocation;
  struct sig_fixture sigs[MAX_ALGS];
  struct kem_fixture kems[MAX_ALGS];
  size_t nsigs, nkems;
} rig;

static const uint8_t store_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                      12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                      22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t sig_msg[] = "pqc-iiot fuzz message";
static char workdir[] = "/tmp/pqc-capi-fuzz-XXXXXX";

/* Removes the keystores at exit (libFuzzer leaves through exit()). */
static void remove_workdir(void) {
  static const char *files[] = {"ca.store", "plc-1.store", "scada-1.store",
                                "ca.store.anchor", "plc-1.store.anchor",
                                "scada-1.store.anchor"};
  char path[512];
  size_t i;
  for (i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", workdir, files[i]);
    unlink(path);
  }
  rmdir(workdir);
}

static void fail(const char *what, int st) {
  fprintf(stderr, "capi_fuzz: %s: %s (%s)\n", what, pqc_strerror(st),
          pqc_last_error());
  abort();
}

static void must(int st, const char *what) {
  if (st != PQC_OK) {
    fail(what, st);
  }
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) {
    abort();
  }
  return p;
}

static struct blob dup_blob(const uint8_t *p, size_t n) {
  struct blob b = {xmalloc(n), n};
  memcpy(b.p, p, n);
  return b;
}

static int equal(const uint8_t *p, size_t n, struct blob b) {
  return n == b.n && memcmp(p, b.p, n) == 0;
}

/* ---- Set-up: a CA, two devices, a session, fixtures per algorithm ---- */

static pqc_identity *enrol(pqc_ca *ca, const char *dir, const char *name,
                           struct blob anchor, struct blob *chain) {
  char path[512];
  uint8_t *buf = xmalloc(PQC_OBJECT_MAX_BYTES), *req = xmalloc(PQC_OBJECT_MAX_BYTES);
  size_t n, rn;
  pqc_identity *id = NULL;

  snprintf(path, sizeof path, "%s/%s.store", dir, name);
  must(pqc_identity_create(path, PQC_KEYSTORE_RAW_KEY, store_key,
                           sizeof store_key, name, NULL, NULL, NULL, &id),
       "identity_create");
  must(pqc_identity_factory_public_key(id, buf, PQC_OBJECT_MAX_BYTES, &n),
       "factory key");
  must(pqc_ca_allow(ca, name, buf, n, NULL), "ca_allow");
  must(pqc_identity_join_request(id, req, PQC_OBJECT_MAX_BYTES, &rn), "join");
  must(pqc_ca_enroll(ca, req, rn, 86400, buf, PQC_OBJECT_MAX_BYTES, &n),
       "enroll");
  must(pqc_identity_install(id, buf, n, anchor.p, anchor.n, 0), "install");
  must(pqc_identity_apply_policy(id, rig.policy.p, rig.policy.n), "policy");
  must(pqc_identity_apply_revocation(id, rig.revocation.p, rig.revocation.n),
       "revocation");
  *chain = dup_blob(buf, n);
  free(buf);
  free(req);
  return id;
}

static void setup_session(void) {
  uint8_t *buf = xmalloc(PQC_HANDSHAKE_MAX_BYTES), *out = xmalloc(PQC_HANDSHAKE_MAX_BYTES);
  size_t n, rn;
  pqc_session *none = NULL;

  must(pqc_session_manager_new(rig.ia, 0, &rig.ma), "manager a");
  must(pqc_session_manager_new(rig.ib, 0, &rig.mb), "manager b");
  must(pqc_session_manager_add_peer(rig.ma, rig.chain_b.p, rig.chain_b.n, NULL, 0, NULL), "peer b");
  must(pqc_session_manager_add_peer(rig.mb, rig.chain_a.p, rig.chain_a.n, NULL, 0, NULL), "peer a");
  must(pqc_session_initiate(rig.ma, "scada-1", CONTEXT, buf, PQC_HANDSHAKE_MAX_BYTES, &n), "initiate");
  must(pqc_session_handle_handshake(rig.mb, buf, n, out, PQC_HANDSHAKE_MAX_BYTES, &rn, &rig.sb), "Init");
  rig.init = dup_blob(buf, n);
  rig.resp = dup_blob(out, rn);
  must(pqc_session_handle_handshake(rig.ma, out, rn, buf, PQC_HANDSHAKE_MAX_BYTES, &n, &rig.sa), "Response");
  if (rig.sa == NULL || rig.sb == NULL) {
    fail("handshake made no session", PQC_ERR_STATE);
  }
  pqc_session_free(none);
  free(buf);
  free(out);
}

static void setup_fixtures(void) {
  uint8_t seed[128];
  size_t i, n;

  memset(seed, 7, sizeof seed);
  for (i = 0; i < pqc_sig_algorithm_count() && rig.nsigs < MAX_ALGS; i++) {
    struct sig_fixture *f = &rig.sigs[rig.nsigs++];
    uint8_t *sk;
    must(pqc_sig_new(pqc_sig_algorithm_name(i), &f->s), "sig_new");
    f->pk.n = pqc_sig_public_key_size(f->s);
    f->pk.p = xmalloc(f->pk.n);
    sk = xmalloc(pqc_sig_secret_key_size(f->s));
    must(pqc_sig_keypair_from_seed(f->s, seed, pqc_sig_seed_size(f->s), f->pk.p,
                                   f->pk.n, sk, pqc_sig_secret_key_size(f->s)),
         "sig keypair");
    f->sig.p = xmalloc(pqc_sig_signature_max_size(f->s));
    must(pqc_sig_sign(f->s, sk, pqc_sig_secret_key_size(f->s), sig_msg,
                      sizeof sig_msg, f->sig.p, pqc_sig_signature_max_size(f->s), &n),
         "sign");
    f->sig.n = n;
    free(sk);
  }
  for (i = 0; i < pqc_kem_algorithm_count() && rig.nkems < MAX_ALGS; i++) {
    struct kem_fixture *f = &rig.kems[rig.nkems++];
    uint8_t *pk;
    must(pqc_kem_new(pqc_kem_algorithm_name(i), &f->k), "kem_new");
    pk = xmalloc(pqc_kem_public_key_size(f->k));
    f->sk.n = pqc_kem_secret_key_size(f->k);
    f->sk.p = xmalloc(f->sk.n);
    f->ct.n = pqc_kem_ciphertext_size(f->k);
    f->ct.p = xmalloc(f->ct.n);
    f->ss.n = pqc_kem_shared_secret_size(f->k);
    f->ss.p = xmalloc(f->ss.n);
    must(pqc_kem_keypair_from_seed(f->k, seed, pqc_kem_seed_size(f->k), pk,
                                   pqc_kem_public_key_size(f->k), f->sk.p, f->sk.n),
         "kem keypair");
    must(pqc_kem_encapsulate(f->k, pk, pqc_kem_public_key_size(f->k), f->ct.p,
                             f->ct.n, f->ss.p, f->ss.n),
         "encapsulate");
    free(pk);
  }
}

static void write_seed(const char *dir, int target, int variant,
                       const uint8_t *p, size_t n) {
  char path[512];
  FILE *f;
  snprintf(path, sizeof path, "%s/seed-%d-%d", dir, target, variant);
  if ((f = fopen(path, "wb")) == NULL) {
    return;
  }
  fputc(target, f);
  fputc(variant, f);
  fwrite(p, 1, n, f);
  fclose(f);
}

static void write_seeds(const char *dir) {
  size_t i, n, cap = 4 + pqc_session_frame_overhead_max();
  uint8_t *frame = xmalloc(cap);
  must(pqc_session_protect(rig.sa, (const uint8_t *)"seed", 4, frame, cap, &n), "protect");
  write_seed(dir, T_MANAGER_UNPROTECT, 1, frame, n);
  write_seed(dir, T_SESSION_UNPROTECT, 0, frame, n);
  free(frame);
  write_seed(dir, T_HANDSHAKE, 0, rig.init.p, rig.init.n);
  write_seed(dir, T_HANDSHAKE, 1, rig.resp.p, rig.resp.n);
  write_seed(dir, T_OPEN, 0, rig.sealed.p, rig.sealed.n);
  write_seed(dir, T_VERIFY_CHAIN, 0, rig.chain_a.p, rig.chain_a.n);
  write_seed(dir, T_TRUST_APPLY, 0, rig.policy.p, rig.policy.n);
  write_seed(dir, T_TRUST_APPLY, 1, rig.revocation.p, rig.revocation.n);
  for (i = 0; i < rig.nsigs; i++) {
    static const uint8_t no_edit[3] = {0, 0, 0};
    write_seed(dir, T_SIG_VERIFY, (int)i, rig.sigs[i].sig.p, rig.sigs[i].sig.n);
    write_seed(dir, T_SIG_VERIFY, (int)i | 0x40, no_edit, sizeof no_edit);
  }
  for (i = 0; i < rig.nkems; i++) {
    write_seed(dir, T_KEM_DECAPSULATE, (int)i, rig.kems[i].ct.p, rig.kems[i].ct.n);
  }
}

static struct blob seal_one(const char *text) {
  size_t cap = strlen(text) + pqc_seal_overhead_max(), n;
  uint8_t *out = xmalloc(cap);
  struct blob b;
  must(pqc_seal(rig.ma, "scada-1", CONTEXT, (const uint8_t *)text,
                strlen(text), out, cap, &n),
       "seal");
  b.p = out;
  b.n = n;
  return b;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  char *dir = workdir;
  char path[512];
  uint8_t *buf = xmalloc(PQC_REVOCATION_MAX_BYTES);
  size_t n;
  pqc_ca *ca = NULL;
  struct blob anchor;
  const char *seeds = getenv("PQC_FUZZ_SEED_DIR");

  (void)argc;
  (void)argv;
  if (mkdtemp(dir) == NULL) {
    abort();
  }
  atexit(remove_workdir);
  snprintf(path, sizeof path, "%s/ca.store", dir);
  must(pqc_ca_create(path, PQC_KEYSTORE_RAW_KEY, store_key, sizeof store_key,
                     "plant-root", NULL, 86400 * 365, &ca),
       "ca_create");
  must(pqc_ca_certificate(ca, buf, PQC_OBJECT_MAX_BYTES, &n), "ca cert");
  anchor = dup_blob(buf, n);
  must(pqc_ca_sign_policy(ca, 86400, NULL, NULL, 0, 0, 0, buf,
                          PQC_OBJECT_MAX_BYTES, &n),
       "policy");
  rig.policy = dup_blob(buf, n);
  must(pqc_ca_revoke(ca, NULL, 0, buf, PQC_REVOCATION_MAX_BYTES, &n), "revoke");
  rig.revocation = dup_blob(buf, n);
  rig.ia = enrol(ca, dir, "plc-1", anchor, &rig.chain_a);
  rig.ib = enrol(ca, dir, "scada-1", anchor, &rig.chain_b);
  pqc_ca_free(ca);
  must(pqc_trust_new(anchor.p, anchor.n, &rig.trust), "trust_new");
  must(pqc_trust_apply_policy(rig.trust, rig.policy.p, rig.policy.n), "trust policy");
  must(pqc_trust_apply_revocation(rig.trust, rig.revocation.p, rig.revocation.n), "trust revocation");
  setup_session();
  rig.sealed = seal_one("sealed seed");
  setup_fixtures();
  if (seeds != NULL) {
    /* Seed-writing mode: the seeds are genuine in this process only, so
     * running them here would trip the "nobody protected" checks. */
    write_seeds(seeds);
    exit(0);
  }
  free(anchor.p);
  free(buf);
  return 0;
}

/* ---- Checks run after every input ------------------------------------ */

/* A genuine message through the live session and a fresh sealed frame:
 * whatever the input did, neither may have been broken by it.
 *
 * Only a -> b on one chain: a change of direction is a DH step, which the
 * session charges to the peer's budget before the tag is checked (rule 4,
 * 20 per second by the CA's default policy), as it charges every sealed
 * frame. Fuzzed frames naming the session spend the same budget, so at
 * fuzzing speed the budget runs dry; a sealed probe refused with
 * PQC_ERR_RATE_LIMITED is therefore allowed (the refusal happens before
 * anything is parsed), any other failure is not. */
static void check_still_works(int with_sealed) {
  static const uint8_t ping[] = "ping";
  size_t cap = sizeof ping + pqc_session_frame_overhead_max(), n, pn;
  uint8_t *frame = xmalloc(cap), *pt = xmalloc(cap), sid[PQC_SESSION_ID_BYTES];
  struct blob sealed;
  char sender[PQC_DEVICE_ID_MAX_BYTES] = "";
  int st;

  must(pqc_session_protect(rig.sa, ping, sizeof ping, frame, cap, &n), "protect a");
  st = pqc_session_manager_unprotect(rig.mb, frame, n, CONTEXT, pt, n, &pn, sid);
  if (st != PQC_OK || pn != sizeof ping || memcmp(pt, ping, pn) != 0) {
    fail("genuine frame after a fuzzed input", st);
  }
  if (!with_sealed) {
    free(frame);
    free(pt);
    return;
  }
  sealed = seal_one("probe");
  free(pt);
  pt = xmalloc(sealed.n); /* open needs the frame's length up front */
  st = pqc_open(rig.mb, sealed.p, sealed.n, CONTEXT, pt, sealed.n, &pn, sender,
                sizeof sender);
  if (st != PQC_ERR_RATE_LIMITED && (st != PQC_OK || strcmp(sender, "plc-1") != 0)) {
    fail("fresh sealed frame after a fuzzed input", st);
  }
  free(sealed.p);
  free(frame);
  free(pt);
}

/* ---- Targets ---------------------------------------------------------- */

static void fuzz_unprotect(int via_manager, int patch, const uint8_t *p, size_t n) {
  uint8_t *frame = xmalloc(n), *out = xmalloc(n), sid[PQC_SESSION_ID_BYTES];
  size_t pn = 0;
  int st;
  memcpy(frame, p, n);
  if (patch && n >= 2 + PQC_SESSION_ID_BYTES) {
    /* Session ids cannot be guessed: route the input to the live one. */
    must(pqc_session_id(rig.sb, frame + 2, PQC_SESSION_ID_BYTES), "session_id");
  }
  st = via_manager
           ? pqc_session_manager_unprotect(rig.mb, frame, n, CONTEXT, out, n, &pn, sid)
           : pqc_session_unprotect(rig.sb, frame, n, out, n, &pn);
  if (st == PQC_OK) {
    fail("accepted a data frame nobody protected", st);
  }
  free(frame);
  free(out);
}

static void fuzz_handshake(const uint8_t *p, size_t n) {
  pqc_session_manager *ms[2] = {rig.ma, rig.mb};
  uint8_t *out = xmalloc(PQC_HANDSHAKE_MAX_BYTES);
  size_t on;
  int i, st;
  for (i = 0; i < 2; i++) {
    pqc_session *s = NULL;
    st = pqc_session_handle_handshake(ms[i], p, n, out, PQC_HANDSHAKE_MAX_BYTES, &on, &s);
    if (s != NULL) {
      /* Only the genuine Init and Response could make a session, and
       * those were handled at set-up: a retransmission gives none. */
      pqc_session_free(s);
      fail("a fuzzed handshake frame made a session", st);
    }
    if (st == PQC_OK && on > PQC_HANDSHAKE_MAX_BYTES) {
      fail("reply longer than the buffer", st);
    }
  }
  free(out);
}

static void fuzz_open(const uint8_t *p, size_t n) {
  uint8_t *out = xmalloc(n);
  char sender[PQC_DEVICE_ID_MAX_BYTES];
  size_t pn;
  int st = pqc_open(rig.mb, p, n, CONTEXT, out, n, &pn, sender, sizeof sender);
  if (st == PQC_OK && !equal(p, n, rig.sealed)) {
    fail("opened a sealed frame nobody sealed", st);
  }
  free(out);
}

static void fuzz_verify_chain(const uint8_t *p, size_t n) {
  char id[PQC_DEVICE_ID_MAX_BYTES];
  size_t idn;
  int st = pqc_trust_verify_chain(rig.trust, p, n, 0, id, sizeof id, &idn);
  if (st == PQC_OK && !equal(p, n, rig.chain_a) && !equal(p, n, rig.chain_b)) {
    fail("verified a chain the CA did not issue", st);
  }
}

/* Variant bit 7: the payload is the public key. Bit 6: the payload edits
 * the genuine signature (2-byte offset, 1-byte signed resize, then a mask
 * XORed in), so the check is exact although ML-DSA and Falcon sign with
 * fresh randomness and a raw signature from another process is valid.
 * Otherwise the payload is the raw signature and only safety is checked. */
static void fuzz_sig(uint8_t variant, const uint8_t *p, size_t n) {
  struct sig_fixture *f = &rig.sigs[(variant & 0x3f) % rig.nsigs];
  size_t off, len, i;
  uint8_t *sig;
  int st;
  if (variant & 0x80) {
    st = pqc_sig_verify(f->s, p, n, sig_msg, sizeof sig_msg, f->sig.p, f->sig.n);
    if (st == PQC_OK && !equal(p, n, f->pk)) {
      fail("verified under a public key that did not sign", st);
    }
    return;
  }
  if (!(variant & 0x40)) {
    (void)pqc_sig_verify(f->s, f->pk.p, f->pk.n, sig_msg, sizeof sig_msg, p, n);
    return;
  }
  if (n < 3) {
    return;
  }
  off = (size_t)p[0] << 8 | p[1];
  len = (size_t)((long)f->sig.n + (int8_t)p[2] < 0 ? 0 : (long)f->sig.n + (int8_t)p[2]);
  sig = xmalloc(len);
  memset(sig, 0, len);
  memcpy(sig, f->sig.p, len < f->sig.n ? len : f->sig.n);
  for (i = 3; i < n && len > 0; i++) {
    sig[(off + i - 3) % len] ^= p[i];
  }
  st = pqc_sig_verify(f->s, f->pk.p, f->pk.n, sig_msg, sizeof sig_msg, sig, len);
  if (st == PQC_OK && !equal(sig, len, f->sig)) {
    fail("verified an edited signature", st);
  }
  free(sig);
}

static void fuzz_kem(uint8_t variant, const uint8_t *p, size_t n) {
  struct kem_fixture *f = &rig.kems[variant % rig.nkems];
  uint8_t *ss = xmalloc(f->ss.n);
  int st = pqc_kem_decapsulate(f->k, f->sk.p, f->sk.n, p, n, ss, f->ss.n);
  if (n != f->ct.n) {
    if (st == PQC_OK) {
      fail("decapsulated a ciphertext of the wrong length", st);
    }
  } else if (st == PQC_OK && (memcmp(ss, f->ss.p, f->ss.n) == 0) != equal(p, n, f->ct)) {
    fail("a different ciphertext gave the genuine secret", st);
  }
  free(ss);
}

static void fuzz_trust(const uint8_t *p, size_t n) {
  if (pqc_trust_apply_policy(rig.trust, p, n) == PQC_OK && !equal(p, n, rig.policy)) {
    fail("applied a policy the CA did not sign", PQC_OK);
  }
  if (pqc_trust_apply_revocation(rig.trust, p, n) == PQC_OK && !equal(p, n, rig.revocation)) {
    fail("applied a revocation list the CA did not sign", PQC_OK);
  }
  if (pqc_trust_check_policy(rig.trust) != PQC_OK) {
    fail("a refused object removed the installed policy", PQC_ERR_POLICY);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static unsigned long iterations;
  uint8_t target, variant;
  if (size < 2) {
    return 0;
  }
  target = data[0] % T_COUNT;
  variant = data[1];
  data += 2;
  size -= 2;
  switch (target) {
  case T_MANAGER_UNPROTECT:
    fuzz_unprotect(1, variant & 1, data, size);
    break;
  case T_SESSION_UNPROTECT:
    fuzz_unprotect(0, variant & 1, data, size);
    break;
  case T_HANDSHAKE:
    fuzz_handshake(data, size);
    break;
  case T_OPEN:
    fuzz_open(data, size);
    break;
  case T_VERIFY_CHAIN:
    fuzz_verify_chain(data, size);
    break;
  case T_SIG_VERIFY:
    fuzz_sig(variant, data, size);
    return 0; /* touches no session state */
  case T_KEM_DECAPSULATE:
    fuzz_kem(variant, data, size);
    return 0;
  case T_TRUST_APPLY:
    fuzz_trust(data, size);
    break;
  }
  /* Sealing costs a signature: probe the opener after every sealed input
   * and every 16th other one. */
  iterations++;
  check_still_works(target == T_OPEN || iterations % 16 == 0);
  return 0;
}
