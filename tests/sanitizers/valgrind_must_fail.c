/*
 * A C program that misuses the library's outputs on purpose, one way per
 * mode, so scripts/valgrind.sh can prove Memcheck catches C-side mistakes
 * through the suppressions it uses for the Go runtime:
 *
 *   ok         correct use (must pass: the suppressions hide no real use)
 *   overread   reads one byte past an exactly-sized ciphertext buffer
 *   uninit     branches on a signature byte beyond *out_len, which the
 *              library never wrote (Falcon signatures are variable-length)
 *   wrongfree  releases a handle with free() instead of pqc_kem_free()
 *   leak       loses a malloc'd output buffer (needs --leak-check=full)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqc_iiot.h"

static int check(int st, const char *what) {
  if (st != PQC_OK) {
    fprintf(stderr, "valgrind_must_fail: %s: %s (%s)\n", what,
            pqc_strerror(st), pqc_last_error());
    exit(2);
  }
  return st;
}

/* Encapsulates with ML-KEM-768 into exactly-sized buffers and returns the
 * ciphertext; with overread, also reads the byte after it. */
static unsigned kem(int overread, int leak) {
  pqc_kem *k = NULL;
  uint8_t *pk, *sk, *ct, ss[32];
  size_t i, ct_len;
  unsigned sum = 0;

  check(pqc_kem_new("ML-KEM-768", &k), "kem_new");
  pk = malloc(pqc_kem_public_key_size(k));
  sk = malloc(pqc_kem_secret_key_size(k));
  ct_len = pqc_kem_ciphertext_size(k);
  ct = malloc(ct_len);
  if (pk == NULL || sk == NULL || ct == NULL) {
    exit(2);
  }
  check(pqc_kem_keypair(k, pk, pqc_kem_public_key_size(k), sk,
                        pqc_kem_secret_key_size(k)),
        "keypair");
  check(pqc_kem_encapsulate(k, pk, pqc_kem_public_key_size(k), ct, ct_len, ss,
                            sizeof ss),
        "encapsulate");
  for (i = 0; i < ct_len + (overread ? 1 : 0); i++) {
    sum += ct[i];
  }
  free(pk);
  free(sk);
  if (!leak) {
    free(ct);
  }
  pqc_kem_free(k);
  return sum;
}

/* Signs with Falcon-512 into a buffer of the maximum size; with uninit,
 * branches on the last byte, past the signature the library wrote. */
static int sig(int uninit) {
  pqc_sig *s = NULL;
  uint8_t pk[PQC_FALCON_512_PUBLIC_KEY_BYTES], sk[PQC_FALCON_512_SECRET_KEY_BYTES];
  uint8_t *out;
  size_t max, n;
  int odd = 0;

  check(pqc_sig_new("Falcon-512", &s), "sig_new");
  max = pqc_sig_signature_max_size(s);
  if ((out = malloc(max)) == NULL) {
    exit(2);
  }
  check(pqc_sig_keypair(s, pk, sizeof pk, sk, sizeof sk), "keypair");
  check(pqc_sig_sign(s, sk, sizeof sk, (const uint8_t *)"m", 1, out, max, &n),
        "sign");
  check(pqc_sig_verify(s, pk, sizeof pk, (const uint8_t *)"m", 1, out, n),
        "verify");
  if (uninit && n < max && out[max - 1] & 1) {
    odd = 1;
  } else if (out[n - 1] & 1) {
    odd = 1;
  }
  free(out);
  pqc_sig_free(s);
  return odd;
}

static void wrong_free(void) {
  pqc_kem *k = NULL;
  check(pqc_kem_new("ML-KEM-768", &k), "kem_new");
  free(k); /* a handle is not heap memory: pqc_kem_free(k) is right */
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "ok";
  unsigned sum;
  int odd;

  if (strcmp(mode, "wrongfree") == 0) {
    wrong_free();
    return 0;
  }
  sum = kem(strcmp(mode, "overread") == 0, strcmp(mode, "leak") == 0);
  odd = sig(strcmp(mode, "uninit") == 0);
  printf("%s: %u %d\n", mode, sum, odd);
  return 0;
}
