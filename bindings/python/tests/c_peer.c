/*
 * c_peer - the C side of the cross-language tests (test_cross_language.py).
 *
 * Every key, ciphertext, secret, message and signature travels through files
 * so the Python side can hand over and check raw bytes exactly as C sees them.
 *
 *   c_peer kem-keypair ALG PK SK
 *   c_peer kem-encap   ALG PK CT SS
 *   c_peer kem-decap   ALG SK CT SS
 *   c_peer sig-keypair ALG PK SK
 *   c_peer sig-sign    ALG SK MSG SIG
 *   c_peer sig-verify  ALG PK MSG SIG
 *
 * Exit status: 0 success (or valid signature), 1 invalid signature,
 * 2 any other failure (with the library's detail on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqc_iiot.h"

static int fail_status(const char *what, int status) {
  fprintf(stderr, "c_peer: %s: %s: %s\n", what, pqc_strerror(status),
          pqc_last_error());
  return 2;
}

/* Reads a whole file; *len gets its size. Exits on error because a missing
 * input file is a bug in the test, not something to recover from. */
static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) {
      fputs("c_peer: out of memory\n", stderr);
      exit(2);
    }
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) {
      break;
    }
    cap *= 2;
    buf = realloc(buf, cap);
  }
  if (ferror(f)) {
    perror(path);
    exit(2);
  }
  fclose(f);
  *len = n;
  return buf;
}

static void write_file(const char *path, const uint8_t *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
    perror(path);
    exit(2);
  }
}

static int kem_main(const char *cmd, const char *alg, char **files) {
  pqc_kem *kem = NULL;
  int rc = pqc_kem_new(alg, &kem);
  if (rc != PQC_OK) {
    return fail_status("pqc_kem_new", rc);
  }
  size_t pk_len = pqc_kem_public_key_size(kem);
  size_t sk_len = pqc_kem_secret_key_size(kem);
  size_t ct_len = pqc_kem_ciphertext_size(kem);
  size_t ss_len = pqc_kem_shared_secret_size(kem);
  uint8_t *ss = malloc(ss_len);
  int exit_code = 0;

  if (strcmp(cmd, "kem-keypair") == 0) {
    uint8_t *pk = malloc(pk_len), *sk = malloc(sk_len);
    rc = pqc_kem_keypair(kem, pk, pk_len, sk, sk_len);
    if (rc == PQC_OK) {
      write_file(files[0], pk, pk_len);
      write_file(files[1], sk, sk_len);
    }
    free(pk);
    free(sk);
  } else if (strcmp(cmd, "kem-encap") == 0) {
    size_t in_len;
    uint8_t *pk = read_file(files[0], &in_len);
    uint8_t *ct = malloc(ct_len);
    rc = pqc_kem_encapsulate(kem, pk, in_len, ct, ct_len, ss, ss_len);
    if (rc == PQC_OK) {
      write_file(files[1], ct, ct_len);
      write_file(files[2], ss, ss_len);
    }
    free(pk);
    free(ct);
  } else { /* kem-decap */
    size_t in_sk_len, in_ct_len;
    uint8_t *sk = read_file(files[0], &in_sk_len);
    uint8_t *ct = read_file(files[1], &in_ct_len);
    rc = pqc_kem_decapsulate(kem, sk, in_sk_len, ct, in_ct_len, ss, ss_len);
    if (rc == PQC_OK) {
      write_file(files[2], ss, ss_len);
    }
    free(sk);
    free(ct);
  }
  if (rc != PQC_OK) {
    exit_code = fail_status(cmd, rc);
  }
  free(ss);
  pqc_kem_free(kem);
  return exit_code;
}

static int sig_main(const char *cmd, const char *alg, char **files) {
  pqc_sig *sig = NULL;
  int rc = pqc_sig_new(alg, &sig);
  if (rc != PQC_OK) {
    return fail_status("pqc_sig_new", rc);
  }
  size_t pk_len = pqc_sig_public_key_size(sig);
  size_t sk_len = pqc_sig_secret_key_size(sig);
  size_t sig_max = pqc_sig_signature_max_size(sig);
  int exit_code = 0;

  if (strcmp(cmd, "sig-keypair") == 0) {
    uint8_t *pk = malloc(pk_len), *sk = malloc(sk_len);
    rc = pqc_sig_keypair(sig, pk, pk_len, sk, sk_len);
    if (rc == PQC_OK) {
      write_file(files[0], pk, pk_len);
      write_file(files[1], sk, sk_len);
    }
    free(pk);
    free(sk);
  } else if (strcmp(cmd, "sig-sign") == 0) {
    size_t in_sk_len, msg_len, out_len = 0;
    uint8_t *sk = read_file(files[0], &in_sk_len);
    uint8_t *msg = read_file(files[1], &msg_len);
    uint8_t *out = malloc(sig_max);
    rc = pqc_sig_sign(sig, sk, in_sk_len, msg, msg_len, out, sig_max, &out_len);
    if (rc == PQC_OK) {
      write_file(files[2], out, out_len);
    }
    free(sk);
    free(msg);
    free(out);
  } else { /* sig-verify */
    size_t in_pk_len, msg_len, s_len;
    uint8_t *pk = read_file(files[0], &in_pk_len);
    uint8_t *msg = read_file(files[1], &msg_len);
    uint8_t *s = read_file(files[2], &s_len);
    rc = pqc_sig_verify(sig, pk, in_pk_len, msg, msg_len, s, s_len);
    if (rc == PQC_ERR_VERIFY) {
      exit_code = 1;
      rc = PQC_OK;
    }
    free(pk);
    free(msg);
    free(s);
  }
  if (rc != PQC_OK) {
    exit_code = fail_status(cmd, rc);
  }
  pqc_sig_free(sig);
  return exit_code;
}

int main(int argc, char **argv) {
  if (pqc_abi_version() != PQC_IIOT_ABI_VERSION) {
    fprintf(stderr, "c_peer: library ABI %d, header ABI %d\n",
            pqc_abi_version(), PQC_IIOT_ABI_VERSION);
    return 2;
  }
  if (argc < 3) {
    fputs("usage: c_peer COMMAND ALG FILES...\n", stderr);
    return 2;
  }
  const char *cmd = argv[1], *alg = argv[2];
  static const struct {
    const char *name;
    int files;
  } commands[] = {{"kem-keypair", 2}, {"kem-encap", 3}, {"kem-decap", 3},
                  {"sig-keypair", 2}, {"sig-sign", 3},  {"sig-verify", 3}};
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
    if (strcmp(cmd, commands[i].name) != 0) {
      continue;
    }
    if (argc != 3 + commands[i].files) {
      fprintf(stderr, "c_peer: %s takes ALG and %d files\n", cmd,
              commands[i].files);
      return 2;
    }
    return strncmp(cmd, "kem-", 4) == 0 ? kem_main(cmd, alg, argv + 3)
                                        : sig_main(cmd, alg, argv + 3);
  }
  fprintf(stderr, "c_peer: unknown command %s\n", cmd);
  return 2;
}
