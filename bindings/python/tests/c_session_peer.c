/*
 * c_session_peer - the C end of a session with Python (test_session.py).
 *
 *   c_session_peer KEYSTORE RAWKEY_FILE PEER_CHAIN_FILE CONTEXT
 *
 * Opens the device keystore, learns the peer from its chain, then serves
 * records on stdin, answering each on stdout. A record is a type byte, a
 * 4-byte big-endian length and that many bytes:
 *
 *   'H' handshake frame -> 'H' the reply (the session is then established)
 *   'D' data frame      -> 'D' a frame of "echo:" + plaintext, or
 *                          'E' the status name if the frame was refused
 *   'S' sealed frame    -> 'S' a sealed frame to its sender of "sealed:" +
 *                          plaintext, or 'E' as above
 *   'Q' (empty)         -> exit 0
 *
 * Exit status 2 on any failure outside the frames themselves.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqc_iiot.h"

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;
  if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "c_session_peer: cannot read %s\n", path);
    exit(2);
  }
  buf = malloc((size_t)n + 1);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "c_session_peer: cannot read %s\n", path);
    exit(2);
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static int fail(const char *what, int status) {
  fprintf(stderr, "c_session_peer: %s: %s: %s\n", what, pqc_strerror(status),
          pqc_last_error());
  return 2;
}

static int recv_record(uint8_t *type, uint8_t *buf, size_t cap, size_t *n) {
  uint8_t h[5];
  if (fread(h, 1, 5, stdin) != 5) {
    return -1;
  }
  *type = h[0];
  *n = (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 |
       (size_t)h[4];
  return *n <= cap && fread(buf, 1, *n, stdin) == *n ? 0 : -1;
}

static int send_record(uint8_t type, const uint8_t *p, size_t n) {
  uint8_t h[5];
  h[0] = type;
  h[1] = (uint8_t)(n >> 24);
  h[2] = (uint8_t)(n >> 16);
  h[3] = (uint8_t)(n >> 8);
  h[4] = (uint8_t)n;
  if (fwrite(h, 1, 5, stdout) != 5 || fwrite(p, 1, n, stdout) != n ||
      fflush(stdout) != 0) {
    return -1;
  }
  return 0;
}

static int send_refusal(int status) {
  const char *name = pqc_strerror(status);
  return send_record('E', (const uint8_t *)name, strlen(name));
}

int main(int argc, char **argv) {
  uint8_t *key, *chain, *in, *out, *pt;
  size_t key_n, chain_n, n, m, cap;
  pqc_identity *id = NULL;
  pqc_session_manager *mgr = NULL;
  pqc_session *s = NULL;
  char sender[PQC_DEVICE_ID_MAX_BYTES];
  uint8_t type;
  int st;

  if (argc != 5) {
    fprintf(stderr, "usage: %s KEYSTORE RAWKEY PEER_CHAIN CONTEXT\n", argv[0]);
    return 2;
  }
  key = read_file(argv[2], &key_n);
  chain = read_file(argv[3], &chain_n);
  cap = 65536 + pqc_seal_overhead_max() + pqc_session_frame_overhead_max();
  in = malloc(cap);
  out = malloc(cap);
  pt = malloc(cap);
  if (in == NULL || out == NULL || pt == NULL) {
    return 2;
  }
  if ((st = pqc_identity_open(argv[1], PQC_KEYSTORE_RAW_KEY, key, key_n,
                              &id)) != PQC_OK) {
    return fail("open", st);
  }
  if ((st = pqc_session_manager_new(id, 0, &mgr)) != PQC_OK) {
    return fail("manager", st);
  }
  if ((st = pqc_session_manager_add_peer(mgr, chain, chain_n, NULL, 0,
                                         NULL)) != PQC_OK) {
    return fail("add_peer", st);
  }
  for (;;) {
    if (recv_record(&type, in, cap, &n) != 0) {
      return fail("stdin", PQC_ERR_IO);
    }
    if (type == 'Q') {
      break;
    }
    if (type == 'H') {
      pqc_session *made = NULL;
      if ((st = pqc_session_handle_handshake(mgr, in, n, out, cap, &m,
                                             &made)) != PQC_OK) {
        return fail("handshake", st);
      }
      if (made != NULL) {
        pqc_session_free(s);
        s = made;
      }
      send_record('H', out, m);
    } else if (type == 'D' && s != NULL) {
      memcpy(pt, "echo:", 5);
      st = pqc_session_unprotect(s, in, n, pt + 5, cap - 5, &m);
      if (st != PQC_OK) {
        send_refusal(st);
        continue;
      }
      if ((st = pqc_session_protect(s, pt, m + 5, out, cap, &n)) != PQC_OK) {
        return fail("protect", st);
      }
      send_record('D', out, n);
    } else if (type == 'S') {
      memcpy(pt, "sealed:", 7);
      st = pqc_open(mgr, in, n, argv[4], pt + 7, cap - 7, &m, sender,
                    sizeof sender);
      if (st != PQC_OK) {
        send_refusal(st);
        continue;
      }
      if ((st = pqc_seal(mgr, sender, argv[4], pt, m + 7, out, cap, &n)) !=
          PQC_OK) {
        return fail("seal", st);
      }
      send_record('S', out, n);
    } else {
      return fail("record type", PQC_ERR_INVALID_ARGUMENT);
    }
  }
  pqc_session_free(s);
  pqc_session_manager_free(mgr);
  pqc_identity_free(id);
  free(key);
  free(chain);
  free(in);
  free(out);
  free(pt);
  return 0;
}
