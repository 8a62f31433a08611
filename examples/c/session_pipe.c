/*
 * session_pipe: a whole pqc-iiot session between two processes over pipes.
 *
 * The parent provisions a CA and two devices (plc-1, scada-1) into a
 * temporary directory through the C API, then starts two copies of this
 * program, one per device, joined by two pipes. Each opens its own
 * keystore, learns the other's certificate chain from a file, and they run
 * the handshake and exchange messages as length-prefixed frames (4-byte
 * big-endian length, then the frame; length 0 ends the stream). plc-1
 * finally sends a frame with one bit flipped, which scada-1 rejects.
 *
 * The library never touches the pipes: it turns messages into frames and
 * frames into messages, and this program moves the bytes. Any transport
 * (serial line, MQTT, a socket) is driven the same way.
 *
 * The children are started with fork + exec, not fork alone: a process
 * that has loaded the library runs Go runtime threads, which do not
 * survive fork.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pqc_iiot.h"

#define CONTEXT "plant/line1/plc-1"
#define ROUNDS 3

static uint8_t keystore_key[32] = {
    0x70, 0x71, 0x63, 0x2d, 0x69, 0x69, 0x6f, 0x74, 0x20, 0x65, 0x78,
    0x61, 0x6d, 0x70, 0x6c, 0x65, 0x20, 0x6f, 0x6e, 0x6c, 0x79, 0x3b,
    0x20, 0x75, 0x73, 0x65, 0x20, 0x61, 0x20, 0x54, 0x50, 0x4d};

static int die(const char *who, const char *what, int status) {
  fprintf(stderr, "%s: %s: %s (%s)\n", who, what, pqc_strerror(status),
          pqc_last_error());
  return 1;
}

/* ---- Frames over a pipe ------------------------------------------------- */

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) {
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) {
      return -1;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int send_frame(int fd, const uint8_t *frame, size_t n) {
  uint8_t len[4];
  len[0] = (uint8_t)(n >> 24);
  len[1] = (uint8_t)(n >> 16);
  len[2] = (uint8_t)(n >> 8);
  len[3] = (uint8_t)n;
  return write_all(fd, len, 4) == 0 && write_all(fd, frame, n) == 0 ? 0 : -1;
}

/* Reads one frame into buf (cap bytes); -1 on EOF, error or oversize. */
static int recv_frame(int fd, uint8_t *buf, size_t cap, size_t *n) {
  uint8_t len[4];
  if (read_all(fd, len, 4) != 0) {
    return -1;
  }
  *n = (size_t)len[0] << 24 | (size_t)len[1] << 16 | (size_t)len[2] << 8 |
       (size_t)len[3];
  return *n <= cap && read_all(fd, buf, *n) == 0 ? 0 : -1;
}

/* ---- Files -------------------------------------------------------------- */

static int save(const char *path, const uint8_t *p, size_t n) {
  FILE *f = fopen(path, "wb");
  int ok = f != NULL && fwrite(p, 1, n, f) == n;
  if (f != NULL) {
    ok = fclose(f) == 0 && ok;
  }
  return ok ? 0 : -1;
}

static long load(const char *path, uint8_t *p, size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n;
  if (f == NULL) {
    return -1;
  }
  n = fread(p, 1, cap, f);
  fclose(f);
  return (long)n;
}

/* ---- Provisioning (parent) ---------------------------------------------- */

static int provision(const char *dir) {
  char path[512];
  uint8_t *anchor = malloc(PQC_OBJECT_MAX_BYTES);
  uint8_t *policy = malloc(PQC_OBJECT_MAX_BYTES);
  uint8_t *revl = malloc(PQC_REVOCATION_MAX_BYTES);
  uint8_t *req = malloc(PQC_OBJECT_MAX_BYTES);
  uint8_t *chain = malloc(PQC_OBJECT_MAX_BYTES);
  size_t anchor_n, policy_n, revl_n, req_n, chain_n, fpk_n;
  uint8_t fpk[8192];
  const char *names[2] = {"plc-1", "scada-1"};
  pqc_ca *ca = NULL;
  int i, st, rc = 1;

  if (anchor == NULL || policy == NULL || revl == NULL || req == NULL ||
      chain == NULL) {
    goto out;
  }
  snprintf(path, sizeof path, "%s/ca.store", dir);
  if ((st = pqc_ca_create(path, PQC_KEYSTORE_RAW_KEY, keystore_key,
                          sizeof keystore_key, "plant-root", NULL, 86400 * 365,
                          &ca)) != PQC_OK ||
      (st = pqc_ca_certificate(ca, anchor, PQC_OBJECT_MAX_BYTES, &anchor_n)) !=
          PQC_OK ||
      (st = pqc_ca_sign_policy(ca, 3600, NULL, NULL, 0, 0, 1, policy,
                               PQC_OBJECT_MAX_BYTES, &policy_n)) != PQC_OK ||
      (st = pqc_ca_revoke(ca, NULL, 0, revl, PQC_REVOCATION_MAX_BYTES,
                          &revl_n)) != PQC_OK) {
    die("provision", "CA", st);
    goto out;
  }
  for (i = 0; i < 2; i++) {
    pqc_identity *id = NULL;
    snprintf(path, sizeof path, "%s/%s.store", dir, names[i]);
    if ((st = pqc_identity_create(path, PQC_KEYSTORE_RAW_KEY, keystore_key,
                                  sizeof keystore_key, names[i], NULL, NULL,
                                  NULL, &id)) != PQC_OK ||
        (st = pqc_identity_factory_public_key(id, fpk, sizeof fpk, &fpk_n)) !=
            PQC_OK ||
        (st = pqc_ca_allow(ca, names[i], fpk, fpk_n, NULL)) != PQC_OK ||
        (st = pqc_identity_join_request(id, req, PQC_OBJECT_MAX_BYTES,
                                        &req_n)) != PQC_OK ||
        (st = pqc_ca_enroll(ca, req, req_n, 86400, chain, PQC_OBJECT_MAX_BYTES,
                            &chain_n)) != PQC_OK ||
        (st = pqc_identity_install(id, chain, chain_n, anchor, anchor_n, 0)) !=
            PQC_OK ||
        (st = pqc_identity_apply_policy(id, policy, policy_n)) != PQC_OK ||
        (st = pqc_identity_apply_revocation(id, revl, revl_n)) != PQC_OK) {
      pqc_identity_free(id);
      die("provision", names[i], st);
      goto out;
    }
    /* The keystore is locked while open: close it for the child. */
    pqc_identity_free(id);
    snprintf(path, sizeof path, "%s/%s.chain", dir, names[i]);
    if (save(path, chain, chain_n) != 0) {
      fprintf(stderr, "provision: cannot write %s\n", path);
      goto out;
    }
  }
  printf("provisioned plant-root, plc-1 and scada-1 in %s\n", dir);
  rc = 0;
out:
  pqc_ca_free(ca);
  free(anchor);
  free(policy);
  free(revl);
  free(req);
  free(chain);
  return rc;
}

/* ---- One device (child) -------------------------------------------------- */

struct device {
  const char *me, *peer;
  pqc_identity *id;
  pqc_session_manager *m;
  pqc_session *s;
  uint8_t *buf, *out;
  size_t cap;
};

static int device_open(struct device *d, const char *dir) {
  char path[512];
  long n;
  int st;

  d->cap = PQC_HANDSHAKE_MAX_BYTES + 4096 + pqc_session_frame_overhead_max();
  d->buf = malloc(d->cap);
  d->out = malloc(d->cap);
  if (d->buf == NULL || d->out == NULL) {
    return 1;
  }
  snprintf(path, sizeof path, "%s/%s.store", dir, d->me);
  if ((st = pqc_identity_open(path, PQC_KEYSTORE_RAW_KEY, keystore_key,
                              sizeof keystore_key, &d->id)) != PQC_OK) {
    return die(d->me, "open keystore", st);
  }
  if ((st = pqc_session_manager_new(d->id, 0, &d->m)) != PQC_OK) {
    return die(d->me, "session manager", st);
  }
  /* The peer's chain came out of band (here a file). */
  snprintf(path, sizeof path, "%s/%s.chain", dir, d->peer);
  if ((n = load(path, d->buf, d->cap)) <= 0) {
    fprintf(stderr, "%s: cannot read %s\n", d->me, path);
    return 1;
  }
  if ((st = pqc_session_manager_add_peer(d->m, d->buf, (size_t)n, NULL, 0,
                                         NULL)) != PQC_OK) {
    return die(d->me, "add peer", st);
  }
  return 0;
}

static void device_close(struct device *d) {
  pqc_session_free(d->s);
  pqc_session_manager_free(d->m);
  pqc_identity_free(d->id);
  free(d->buf);
  free(d->out);
}

static int send_text(struct device *d, int fd, const char *text) {
  size_t n;
  int st = pqc_session_protect(d->s, (const uint8_t *)text, strlen(text),
                               d->out, d->cap, &n);
  if (st != PQC_OK) {
    return die(d->me, "protect", st);
  }
  return send_frame(fd, d->out, n) == 0 ? 0 : 1;
}

/* Receives one data frame; *status is the unprotect status. */
static int recv_text(struct device *d, int fd, char *text, size_t cap,
                     int *status) {
  size_t n, pn = 0;
  if (recv_frame(fd, d->buf, d->cap, &n) != 0) {
    fprintf(stderr, "%s: the pipe closed early\n", d->me);
    return 1;
  }
  *status = pqc_session_unprotect(d->s, d->buf, n, d->out, d->cap, &pn);
  if (*status == PQC_OK) {
    if (pn >= cap) {
      pn = cap - 1;
    }
    memcpy(text, d->out, pn);
  }
  text[*status == PQC_OK ? pn : 0] = '\0';
  return 0;
}

static int run_initiator(const char *dir, int in, int out) {
  struct device d = {"plc-1", "scada-1", NULL, NULL, NULL, NULL, NULL, 0};
  char text[256], msg[64];
  size_t n, rn;
  int st, i, rc = 1;

  if (device_open(&d, dir) != 0) {
    goto out;
  }
  if ((st = pqc_session_initiate(d.m, d.peer, CONTEXT, d.out, d.cap, &n)) !=
      PQC_OK) {
    die(d.me, "initiate", st);
    goto out;
  }
  printf("%s: Init, %lu bytes\n", d.me, (unsigned long)n);
  if (send_frame(out, d.out, n) != 0 || recv_frame(in, d.buf, d.cap, &n) != 0) {
    goto out;
  }
  if ((st = pqc_session_handle_handshake(d.m, d.buf, n, d.out, d.cap, &rn,
                                         &d.s)) != PQC_OK ||
      d.s == NULL) {
    die(d.me, "Response", st);
    goto out;
  }
  printf("%s: session established with %s\n", d.me, d.peer);

  for (i = 0; i < ROUNDS; i++) {
    snprintf(msg, sizeof msg, "flow %d.%d m3/h", 40 + i, i);
    if (send_text(&d, out, msg) != 0 || recv_text(&d, in, text, sizeof text,
                                                  &st) != 0) {
      goto out;
    }
    if (st != PQC_OK) {
      die(d.me, "reply", st);
      goto out;
    }
    printf("%s: got \"%s\"\n", d.me, text);
  }

  /* One bit flipped on the way: the peer must refuse the frame. */
  if ((st = pqc_session_protect(d.s, (const uint8_t *)"close valve 7", 13,
                                d.out, d.cap, &n)) != PQC_OK) {
    die(d.me, "protect", st);
    goto out;
  }
  d.out[n - 1] ^= 0x01;
  if (send_frame(out, d.out, n) != 0 ||
      recv_text(&d, in, text, sizeof text, &st) != 0 || st != PQC_OK) {
    goto out;
  }
  printf("%s: got \"%s\"\n", d.me, text);
  if (strstr(text, pqc_strerror(PQC_ERR_VERIFY)) == NULL) {
    fprintf(stderr, "%s: the tampered frame was not refused\n", d.me);
    goto out;
  }
  send_frame(out, NULL, 0);
  rc = 0;
out:
  device_close(&d);
  return rc;
}

static int run_responder(const char *dir, int in, int out) {
  struct device d = {"scada-1", "plc-1", NULL, NULL, NULL, NULL, NULL, 0};
  char text[256], reply[320];
  size_t n, rn;
  int st, rc = 1, needs = 0;

  if (device_open(&d, dir) != 0) {
    goto out;
  }
  if (recv_frame(in, d.buf, d.cap, &n) != 0) {
    goto out;
  }
  if ((st = pqc_session_handle_handshake(d.m, d.buf, n, d.out, d.cap, &rn,
                                         &d.s)) != PQC_OK ||
      d.s == NULL) {
    die(d.me, "Init", st);
    goto out;
  }
  printf("%s: Response, %lu bytes\n", d.me, (unsigned long)rn);
  if (send_frame(out, d.out, rn) != 0) {
    goto out;
  }
  for (;;) {
    if (recv_frame(in, d.buf, d.cap, &n) != 0) {
      goto out;
    }
    if (n == 0) {
      break; /* end of stream */
    }
    st = pqc_session_unprotect(d.s, d.buf, n, d.out, d.cap, &rn);
    if (st != PQC_OK) {
      printf("%s: refused a frame: %s\n", d.me, pqc_strerror(st));
      snprintf(reply, sizeof reply, "refused: %s", pqc_strerror(st));
    } else {
      snprintf(text, sizeof text, "%.*s", (int)rn, (const char *)d.out);
      printf("%s: got \"%s\"\n", d.me, text);
      snprintf(reply, sizeof reply, "ack %s", text);
    }
    /* Here every frame is answered; a receive-mostly device would answer
     * at least when the peer asks (needs_reply), so the ratchet steps. */
    pqc_session_needs_reply(d.s, &needs);
    if (send_text(&d, out, reply) != 0) {
      goto out;
    }
  }
  rc = 0;
out:
  device_close(&d);
  return rc;
}

/* ---- Parent -------------------------------------------------------------- */

static pid_t spawn(const char *role, const char *dir, int in, int out,
                   int close1, int close2) {
  char ins[16], outs[16];
  char *argv[6];
  pid_t pid;

  snprintf(ins, sizeof ins, "%d", in);
  snprintf(outs, sizeof outs, "%d", out);
  argv[0] = "session_pipe";
  argv[1] = (char *)role;
  argv[2] = (char *)dir;
  argv[3] = ins;
  argv[4] = outs;
  argv[5] = NULL;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid == 0) {
    /* Only async-signal-safe calls until exec. */
    close(close1);
    close(close2);
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  return pid;
}

int main(int argc, char **argv) {
  char dir[] = "/tmp/pqc_session_pipe.XXXXXX";
  char cmd[128];
  int to_resp[2], to_init[2], status, rc = 0;
  pid_t a, b;

  if (argc == 5) {
    int in = atoi(argv[3]), out = atoi(argv[4]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return strcmp(argv[1], "initiator") == 0 ? run_initiator(argv[2], in, out)
                                             : run_responder(argv[2], in, out);
  }
  if (mkdtemp(dir) == NULL || provision(dir) != 0) {
    return 1;
  }
  if (pipe(to_resp) != 0 || pipe(to_init) != 0) {
    perror("pipe");
    return 1;
  }
  a = spawn("initiator", dir, to_init[0], to_resp[1], to_init[1], to_resp[0]);
  b = spawn("responder", dir, to_resp[0], to_init[1], to_resp[1], to_init[0]);
  close(to_resp[0]);
  close(to_resp[1]);
  close(to_init[0]);
  close(to_init[1]);
  if (a < 0 || b < 0) {
    perror("fork");
    return 1;
  }
  if (waitpid(a, &status, 0) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "initiator failed\n");
    rc = 1;
  }
  if (waitpid(b, &status, 0) < 0 || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    fprintf(stderr, "responder failed\n");
    rc = 1;
  }
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "note: could not remove %s\n", dir);
  }
  printf(rc == 0 ? "session_pipe: ok\n" : "session_pipe: FAILED\n");
  return rc;
}
