/* coap_server: a PLC exposing two CoAP resources, protected end to end.
 *
 *   PQC_PASSPHRASE=... coap_server KEYSTORE MODE CLIENT_ID CLIENT_CHAIN
 *                                  [COUNT]
 *
 * KEYSTORE is a provisioned device; MODE is session, signed or oscore;
 * CLIENT_CHAIN a file holding the certificate chain of the client
 * CLIENT_ID, the one device let in. The server binds a free port on 127.0.0.1, prints
 * "listening ADDR", and answers
 *   GET /hello      from a handler (a library thread): "hello SENDER";
 *   PUT /setpoint   through the polling queue (this thread): "ok VALUE".
 * After COUNT setpoints (default 1) it keeps serving until its standard
 * input closes: a response leaves on a library thread after
 * pqc_coap_server_respond returns, and closing at once could drop it. Every request it sees was
 * authenticated by the library; the ACL lets the client read /hello and
 * write /setpoint, nothing else. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqc_iiot.h"

static int fail(const char *what, int st) {
  fprintf(stderr, "coap_server: %s: %s: %s\n", what, pqc_strerror(st),
          pqc_last_error());
  return 1;
}

static int mode_of(const char *name, uint32_t *mode) {
  if (strcmp(name, "session") == 0) {
    *mode = PQC_COAP_MODE_SESSION;
  } else if (strcmp(name, "signed") == 0) {
    *mode = PQC_COAP_MODE_SIGNED;
  } else if (strcmp(name, "oscore") == 0) {
    *mode = PQC_COAP_MODE_OSCORE;
  } else {
    return 0;
  }
  return 1;
}

/* Reads a whole (small) file; the caller frees. */
static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = malloc(PQC_OBJECT_MAX_BYTES);
  *n = 0;
  if (f == NULL || buf == NULL) {
    if (f != NULL) {
      fclose(f);
    }
    free(buf);
    return NULL;
  }
  *n = fread(buf, 1, PQC_OBJECT_MAX_BYTES, f);
  fclose(f);
  return buf;
}

/* GET /hello, on a library thread. */
static void hello(void *user, const pqc_coap_request *req,
                  pqc_coap_response *resp) {
  int n = snprintf((char *)resp->payload, resp->payload_cap, "hello %s",
                   req->sender);
  (void)user;
  resp->payload_len = n > 0 ? (size_t)n : 0;
  resp->content_format = 0; /* text/plain */
  resp->code = PQC_COAP_CONTENT;
}

static int serve_setpoints(pqc_coap_server *srv, int count) {
  char path[PQC_COAP_URI_MAX_BYTES], query[PQC_COAP_URI_MAX_BYTES];
  char sender[PQC_DEVICE_ID_MAX_BYTES];
  uint8_t value[257], answer[300];
  int done = 0;
  while (done < count) {
    uint64_t id = 0;
    uint32_t method = 0;
    int cf = 0, st, n;
    size_t len = 0;
    st = pqc_coap_server_recv(srv, 60000, &id, &method, path, sizeof path,
                              query, sizeof query, sender, sizeof sender, &cf,
                              value, sizeof value - 1, &len);
    if (st != PQC_OK) {
      return fail("waiting for a setpoint", st);
    }
    value[len] = '\0';
    printf("setpoint from %s: %s\n", sender, (const char *)value);
    fflush(stdout);
    n = snprintf((char *)answer, sizeof answer, "ok %s", (const char *)value);
    st = pqc_coap_server_respond(srv, id, PQC_COAP_CHANGED, 0, answer,
                                 n > 0 ? (size_t)n : 0);
    if (st != PQC_OK) {
      return fail("answering", st);
    }
    done++;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *pass = getenv("PQC_PASSPHRASE");
  pqc_identity *id = NULL;
  pqc_coap_server *srv = NULL;
  pqc_coap_options o;
  uint8_t *chain = NULL;
  size_t chain_n = 0, n = 0;
  char acl[2 * PQC_DEVICE_ID_MAX_BYTES + 64], addr[128];
  uint32_t mode = 0;
  int st, rc = 1, count = argc > 5 ? atoi(argv[5]) : 1;

  if (argc < 5 || pass == NULL || !mode_of(argv[2], &mode)) {
    fprintf(stderr, "usage: PQC_PASSPHRASE=... %s KEYSTORE "
                    "session|signed|oscore CLIENT_ID CLIENT_CHAIN [COUNT]\n", argv[0]);
    return 2;
  }
  st = pqc_identity_open(argv[1], PQC_KEYSTORE_PASSPHRASE,
                         (const uint8_t *)pass, strlen(pass), &id);
  if (st != PQC_OK) {
    return fail("opening the keystore", st);
  }
  chain = read_file(argv[4], &chain_n);
  if (chain == NULL) {
    fprintf(stderr, "coap_server: cannot read %s\n", argv[4]);
    goto out;
  }
  /* The ACL is checked against the sender the library authenticated,
   * so naming the client here grants nothing to anyone else. */
  if (strlen(argv[3]) >= PQC_DEVICE_ID_MAX_BYTES) {
    fprintf(stderr, "coap_server: client id too long\n");
    goto out;
  }
  sprintf(acl, "%s GET /hello; %s PUT /setpoint", argv[3], argv[3]);
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.mode = mode;
  o.acl = acl;
  st = pqc_coap_server_new(id, &o, &srv);
  if (st != PQC_OK) {
    fail("creating the server", st);
    goto out;
  }
  st = pqc_coap_server_add_peer(srv, chain, chain_n);
  if (st != PQC_OK) {
    fail("adding the client's chain", st);
    goto out;
  }
  if ((st = pqc_coap_server_set_handler(srv, "/hello", hello, NULL)) != PQC_OK ||
      (st = pqc_coap_server_handle(srv, "/setpoint")) != PQC_OK ||
      (st = pqc_coap_server_listen(srv, "127.0.0.1:0")) != PQC_OK ||
      (st = pqc_coap_server_addr(srv, addr, sizeof addr, &n)) != PQC_OK) {
    fail("starting the server", st);
    goto out;
  }
  printf("listening %s\n", addr);
  fflush(stdout);
  rc = serve_setpoints(srv, count);
  while (rc == 0 && getchar() != EOF) {
  }
out:
  pqc_coap_server_free(srv);
  pqc_identity_free(id);
  free(chain);
  return rc;
}
