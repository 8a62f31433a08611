/* coap_client: an HMI reading a PLC's CoAP resource and writing a setpoint.
 *
 *   PQC_PASSPHRASE=... coap_client KEYSTORE MODE ADDR SERVER_ID SERVER_CHAIN
 *                                  [VALUE]
 *
 * KEYSTORE is a provisioned device; MODE is session, signed or oscore;
 * ADDR the server's host:port; SERVER_ID its device id and SERVER_CHAIN a
 * file with its certificate chain. It sends GET /hello and PUT /setpoint
 * (VALUE, default "42"), prints each answer with the responder the
 * library verified, and exits 0 only if both succeeded. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqc_iiot.h"

static int fail(const char *what, int st) {
  fprintf(stderr, "coap_client: %s: %s: %s\n", what, pqc_strerror(st),
          pqc_last_error());
  return 1;
}

/* One request; prints "CODE SENDER PAYLOAD" and returns the code (0 on a
 * library error). */
static uint32_t ask(pqc_coap_client *c, uint32_t method, const char *path,
                    const char *body) {
  uint8_t out[1025];
  char sender[PQC_DEVICE_ID_MAX_BYTES];
  uint32_t code = 0;
  size_t n = 0;
  int st = pqc_coap_client_request(
      c, method, path, body != NULL ? 0 : PQC_COAP_NO_FORMAT,
      (const uint8_t *)body, body != NULL ? strlen(body) : 0, 0, &code, NULL,
      out, sizeof out - 1, &n, sender, sizeof sender);
  if (st != PQC_OK) {
    fail(path, st);
    return 0;
  }
  out[n] = '\0';
  printf("%s %u.%02u from %s: %s\n", path, code >> 5, code & 31,
         sender[0] != '\0' ? sender : "(unauthenticated)", (const char *)out);
  fflush(stdout);
  return code;
}

int main(int argc, char **argv) {
  const char *pass = getenv("PQC_PASSPHRASE");
  pqc_identity *id = NULL;
  pqc_coap_client *cl = NULL;
  pqc_coap_options o;
  uint8_t *chain = NULL;
  size_t chain_n = 0;
  FILE *f;
  int st, rc = 1;

  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  if (argc < 6 || pass == NULL) {
    fprintf(stderr, "usage: PQC_PASSPHRASE=... %s KEYSTORE "
                    "session|signed|oscore ADDR SERVER_ID SERVER_CHAIN [VALUE]\n",
            argv[0]);
    return 2;
  }
  if (strcmp(argv[2], "session") == 0) {
    o.mode = PQC_COAP_MODE_SESSION;
  } else if (strcmp(argv[2], "signed") == 0) {
    o.mode = PQC_COAP_MODE_SIGNED;
  } else if (strcmp(argv[2], "oscore") == 0) {
    o.mode = PQC_COAP_MODE_OSCORE;
  } else {
    fprintf(stderr, "coap_client: unknown mode %s\n", argv[2]);
    return 2;
  }
  o.peer = argv[4];
  o.timeout_ms = 30000;
  chain = malloc(PQC_OBJECT_MAX_BYTES);
  f = fopen(argv[5], "rb");
  if (chain == NULL || f == NULL) {
    fprintf(stderr, "coap_client: cannot read %s\n", argv[5]);
    free(chain);
    if (f != NULL) {
      fclose(f);
    }
    return 1;
  }
  chain_n = fread(chain, 1, PQC_OBJECT_MAX_BYTES, f);
  fclose(f);
  st = pqc_identity_open(argv[1], PQC_KEYSTORE_PASSPHRASE,
                         (const uint8_t *)pass, strlen(pass), &id);
  if (st != PQC_OK) {
    fail("opening the keystore", st);
    goto out;
  }
  if ((st = pqc_coap_client_new(id, argv[3], &o, &cl)) != PQC_OK ||
      (st = pqc_coap_client_add_peer(cl, chain, chain_n)) != PQC_OK) {
    fail("connecting", st);
    goto out;
  }
  /* 4.xx and 5.xx answers are answers: the codes decide success. */
  if (ask(cl, PQC_COAP_GET, "/hello", NULL) == PQC_COAP_CONTENT &&
      ask(cl, PQC_COAP_PUT, "/setpoint", argc > 6 ? argv[6] : "42") ==
          PQC_COAP_CHANGED) {
    rc = 0;
  }
out:
  pqc_coap_client_free(cl);
  pqc_identity_free(id);
  free(chain);
  return rc;
}
