/*
 * Soak of the C API's handle table and session calls, the way a long-lived
 * SCADA process uses them: for the given number of seconds, make a session
 * manager per cycle, run a handshake, move messages both ways, close and
 * free every handle, and also create and free KEM and signature handles.
 * Freed handles must answer PQC_ERR_CLOSED. Resident memory and open file
 * descriptors are sampled after a warm-up (a fifth of the run) and must
 * stay within bounds.
 *
 *   capi_soak SECONDS
 *
 * The library exports no count of live handles; the bound on resident
 * memory is what catches a handle table that keeps freed objects.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pqc_iiot.h"

#define CONTEXT "plant/soak"
#define BURST 500

static const uint8_t store_key[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static void must(int st, const char *what) {
  if (st != PQC_OK) {
    fprintf(stderr, "capi_soak: %s: %s (%s)\n", what, pqc_strerror(st),
            pqc_last_error());
    exit(1);
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void) {
  char line[256];
  long v = -1;
  FILE *f = fopen("/proc/self/status", "r");
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      v = strtol(line + 6, NULL, 10);
    }
  }
  if (f != NULL) {
    fclose(f);
  }
  return v;
}

static int open_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  while (d != NULL && readdir(d) != NULL) {
    n++;
  }
  if (d != NULL) {
    closedir(d);
  }
  return n;
}

static uint8_t *buf(size_t n) {
  uint8_t *p = malloc(n);
  if (p == NULL) {
    exit(1);
  }
  return p;
}

/* Removes the keystores and their directory. */
static void remove_dir(const char *dir) {
  static const char *files[] = {"ca.store", "plc-1.store", "scada-1.store",
                                "ca.store.anchor", "plc-1.store.anchor",
                                "scada-1.store.anchor"};
  char path[512];
  size_t i;
  for (i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  rmdir(dir);
}

struct device {
  pqc_identity *id;
  uint8_t *chain;
  size_t chain_n;
};

static void enrol(pqc_ca *ca, const char *dir, const char *name,
                  const uint8_t *anchor, size_t anchor_n, const uint8_t *policy,
                  size_t policy_n, const uint8_t *revl, size_t revl_n,
                  struct device *d) {
  char path[512];
  uint8_t *b = buf(PQC_OBJECT_MAX_BYTES), *req = buf(PQC_OBJECT_MAX_BYTES);
  size_t n, rn;
  snprintf(path, sizeof path, "%s/%s.store", dir, name);
  must(pqc_identity_create(path, PQC_KEYSTORE_RAW_KEY, store_key,
                           sizeof store_key, name, NULL, NULL, NULL, &d->id),
       "identity_create");
  must(pqc_identity_factory_public_key(d->id, b, PQC_OBJECT_MAX_BYTES, &n), "factory key");
  must(pqc_ca_allow(ca, name, b, n, NULL), "allow");
  must(pqc_identity_join_request(d->id, req, PQC_OBJECT_MAX_BYTES, &rn), "join");
  must(pqc_ca_enroll(ca, req, rn, 86400, b, PQC_OBJECT_MAX_BYTES, &n), "enroll");
  must(pqc_identity_install(d->id, b, n, anchor, anchor_n, 0), "install");
  must(pqc_identity_apply_policy(d->id, policy, policy_n), "policy");
  must(pqc_identity_apply_revocation(d->id, revl, revl_n), "revocation");
  d->chain = b;
  d->chain_n = n;
  free(req);
}

/* One session's life: managers, handshake, traffic, close, free. */
static long session_cycle(struct device *a, struct device *b) {
  pqc_session_manager *ma = NULL, *mb = NULL;
  pqc_session *sa = NULL, *sb = NULL;
  size_t cap = 64 + pqc_session_frame_overhead_max(), n, pn;
  uint8_t *hs = buf(PQC_HANDSHAKE_MAX_BYTES), *out = buf(PQC_HANDSHAKE_MAX_BYTES);
  uint8_t *frame = buf(cap), *pt = buf(cap);
  long messages = 0;
  int round, i;
  size_t hn, rn;

  must(pqc_session_manager_new(a->id, 0, &ma), "manager a");
  must(pqc_session_manager_new(b->id, 0, &mb), "manager b");
  must(pqc_session_manager_add_peer(ma, b->chain, b->chain_n, NULL, 0, NULL), "peer b");
  must(pqc_session_manager_add_peer(mb, a->chain, a->chain_n, NULL, 0, NULL), "peer a");
  must(pqc_session_initiate(ma, "scada-1", CONTEXT, hs, PQC_HANDSHAKE_MAX_BYTES, &hn), "initiate");
  must(pqc_session_handle_handshake(mb, hs, hn, out, PQC_HANDSHAKE_MAX_BYTES, &rn, &sb), "Init");
  must(pqc_session_handle_handshake(ma, out, rn, hs, PQC_HANDSHAKE_MAX_BYTES, &hn, &sa), "Response");
  /* Few DH steps per session: each costs the peer's budget (20/s by the
   * CA's default policy), the bulk of the traffic runs on one chain. */
  for (round = 0; round < 2; round++) {
    for (i = 0; i < BURST; i++) {
      must(pqc_session_protect(sa, (const uint8_t *)"reading", 7, frame, cap, &n), "protect");
      must(pqc_session_unprotect(sb, frame, n, pt, n, &pn), "unprotect");
      messages++;
    }
    must(pqc_session_protect(sb, (const uint8_t *)"ack", 3, frame, cap, &n), "protect b");
    must(pqc_session_manager_unprotect(ma, frame, n, CONTEXT, pt, n, &pn, NULL), "unprotect a");
    messages++;
  }
  must(pqc_session_close(sa), "close a");
  must(pqc_session_close(sb), "close b");
  if (pqc_session_protect(sa, (const uint8_t *)"x", 1, frame, cap, &n) != PQC_ERR_CLOSED) {
    fprintf(stderr, "capi_soak: a closed session still protects\n");
    exit(1);
  }
  pqc_session_free(sa);
  pqc_session_free(sb);
  pqc_session_manager_free(ma);
  pqc_session_manager_free(mb);
  if (pqc_session_manager_enforce_policy(ma) != PQC_ERR_CLOSED) {
    fprintf(stderr, "capi_soak: a freed manager handle is still live\n");
    exit(1);
  }
  free(hs);
  free(out);
  free(frame);
  free(pt);
  return messages;
}

/* Algorithm handles: new, use, free, and the freed handle is dead. */
static void handle_cycle(void) {
  pqc_kem *k = NULL;
  pqc_sig *s = NULL;
  uint8_t pk[2048], sk[4096];
  must(pqc_kem_new("ML-KEM-768", &k), "kem_new");
  must(pqc_sig_new("Ed25519", &s), "sig_new");
  must(pqc_sig_keypair(s, pk, pqc_sig_public_key_size(s), sk, pqc_sig_secret_key_size(s)), "keypair");
  pqc_kem_free(k);
  pqc_sig_free(s);
  if (pqc_kem_public_key_size(k) != 0 || pqc_sig_keypair(s, pk, 32, sk, 64) != PQC_ERR_CLOSED) {
    fprintf(stderr, "capi_soak: a freed algorithm handle is still live\n");
    exit(1);
  }
}

int main(int argc, char **argv) {
  double secs = argc > 1 ? atof(argv[1]) : 5, start, warm, next, every;
  char dir[] = "/tmp/pqc-capi-soak-XXXXXX", path[512];
  uint8_t *anchor = buf(PQC_OBJECT_MAX_BYTES), *policy = buf(PQC_OBJECT_MAX_BYTES);
  uint8_t *revl = buf(PQC_REVOCATION_MAX_BYTES);
  size_t anchor_n, policy_n, revl_n;
  struct device a, b;
  pqc_ca *ca = NULL;
  long sessions = 0, messages = 0, handles = 0, base_rss = -1, peak_rss = 0;
  int base_fds = -1, samples = 0;

  if (mkdtemp(dir) == NULL) {
    return 1;
  }
  snprintf(path, sizeof path, "%s/ca.store", dir);
  must(pqc_ca_create(path, PQC_KEYSTORE_RAW_KEY, store_key, sizeof store_key,
                     "plant-root", NULL, 86400 * 365, &ca), "ca_create");
  must(pqc_ca_certificate(ca, anchor, PQC_OBJECT_MAX_BYTES, &anchor_n), "anchor");
  must(pqc_ca_sign_policy(ca, 86400, NULL, NULL, 0, 0, 0, policy, PQC_OBJECT_MAX_BYTES, &policy_n), "policy");
  must(pqc_ca_revoke(ca, NULL, 0, revl, PQC_REVOCATION_MAX_BYTES, &revl_n), "revoke");
  enrol(ca, dir, "plc-1", anchor, anchor_n, policy, policy_n, revl, revl_n, &a);
  enrol(ca, dir, "scada-1", anchor, anchor_n, policy, policy_n, revl, revl_n, &b);
  pqc_ca_free(ca);

  start = now_s();
  warm = start + (secs / 5 > 1 ? secs / 5 : 1);
  every = (secs - (warm - start)) / 20 > 0.2 ? (secs - (warm - start)) / 20 : 0.2;
  next = warm;
  while (now_s() - start < secs) {
    int i;
    messages += session_cycle(&a, &b);
    sessions++;
    for (i = 0; i < 20; i++) {
      handle_cycle();
    }
    handles += 20 * 2 + 4; /* algorithm handles + managers and sessions */
    if (now_s() >= next) {
      long rss = rss_kib();
      int fds = open_fds();
      next = now_s() + every;
      samples++;
      if (base_rss < 0) {
        base_rss = rss;
        base_fds = fds;
      }
      peak_rss = rss > peak_rss ? rss : peak_rss;
      /* The Go heap grows and shrinks with its collector; RSS may breathe
       * by a quarter plus 16 MiB, and no file descriptor may stay open. */
      if (rss > base_rss + base_rss / 4 + 16384 || fds > base_fds) {
        fprintf(stderr, "capi_soak: grew after %d samples: RSS %ld -> %ld KiB, fds %d -> %d\n",
                samples, base_rss, rss, base_fds, fds);
        return 1;
      }
    }
  }
  printf("capi_soak: %.0fs: %ld sessions, %ld messages (%.0f/s), %ld handles created and freed; "
         "RSS %ld KiB at warm-up, peak %ld KiB; fds %d; %d samples\n",
         now_s() - start, sessions, messages, (double)messages / (now_s() - start), handles,
         base_rss, peak_rss, base_fds, samples);
  pqc_identity_free(a.id);
  pqc_identity_free(b.id);
  remove_dir(dir);
  free(a.chain);
  free(b.chain);
  free(anchor);
  free(policy);
  free(revl);
  return 0;
}
