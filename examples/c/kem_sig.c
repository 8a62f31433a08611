/*
 * A controller and a sensor agree on a key with ML-KEM-768, and the
 * controller signs a command with ML-DSA-65 that the sensor verifies.
 *
 *   cc kem_sig.c $(pkg-config --cflags --libs pqc_iiot)
 */
#include <stdio.h>
#include <string.h>

#include <pqc_iiot.h>

/* Prints the failing call with the library's detail and leaves. */
#define TRY(call)                                                              \
  do {                                                                         \
    int st_ = (call);                                                          \
    if (st_ != PQC_OK) {                                                       \
      fprintf(stderr, "%s failed: %s (%s)\n", #call, pqc_strerror(st_),        \
              pqc_last_error());                                               \
      goto out;                                                                \
    }                                                                          \
  } while (0)

static void print_hex(const char *label, const uint8_t *p, size_t n) {
  size_t i;
  printf("%s", label);
  for (i = 0; i < n && i < 16; i++) {
    printf("%02x", p[i]);
  }
  printf("%s (%lu bytes)\n", n > 16 ? "..." : "", (unsigned long)n);
}

int main(void) {
  /* The sizes are fixed per algorithm, so the buffers can be static. */
  static uint8_t kem_pk[PQC_ML_KEM_768_PUBLIC_KEY_BYTES];
  static uint8_t kem_sk[PQC_ML_KEM_768_SECRET_KEY_BYTES];
  static uint8_t ct[PQC_ML_KEM_768_CIPHERTEXT_BYTES];
  static uint8_t ss_sender[PQC_ML_KEM_768_SHARED_SECRET_BYTES];
  static uint8_t ss_receiver[PQC_ML_KEM_768_SHARED_SECRET_BYTES];
  static uint8_t sig_pk[PQC_ML_DSA_65_PUBLIC_KEY_BYTES];
  static uint8_t sig_sk[PQC_ML_DSA_65_SECRET_KEY_BYTES];
  static uint8_t sig[PQC_ML_DSA_65_SIGNATURE_BYTES];
  static const char command[] = "valve 7: open 40%";
  size_t sig_len = 0;
  pqc_kem *kem = NULL;
  pqc_sig *dsa = NULL;
  int rc = 1;
  int st;

  if (pqc_abi_version() != PQC_IIOT_ABI_VERSION) {
    fprintf(stderr, "library ABI %d, header ABI %d\n", pqc_abi_version(),
            PQC_IIOT_ABI_VERSION);
    return 1;
  }
  printf("pqc_iiot %s\n", pqc_version());

  /* Key agreement: the sensor publishes pk, the controller encapsulates. */
  TRY(pqc_kem_new("ML-KEM-768", &kem));
  TRY(pqc_kem_keypair(kem, kem_pk, sizeof kem_pk, kem_sk, sizeof kem_sk));
  print_hex("sensor public key      ", kem_pk, sizeof kem_pk);
  TRY(pqc_kem_encapsulate(kem, kem_pk, sizeof kem_pk, ct, sizeof ct, ss_sender,
                          sizeof ss_sender));
  print_hex("controller ciphertext  ", ct, sizeof ct);
  TRY(pqc_kem_decapsulate(kem, kem_sk, sizeof kem_sk, ct, sizeof ct,
                          ss_receiver, sizeof ss_receiver));
  if (memcmp(ss_sender, ss_receiver, sizeof ss_sender) != 0) {
    fprintf(stderr, "shared secrets differ\n");
    goto out;
  }
  printf("%s: both sides hold the same %lu-byte shared secret\n",
         pqc_kem_algorithm(kem), (unsigned long)sizeof ss_sender);

  /* Signature: the controller signs a command, the sensor verifies it. */
  TRY(pqc_sig_new("ML-DSA-65", &dsa));
  TRY(pqc_sig_keypair(dsa, sig_pk, sizeof sig_pk, sig_sk, sizeof sig_sk));
  TRY(pqc_sig_sign(dsa, sig_sk, sizeof sig_sk, (const uint8_t *)command,
                   strlen(command), sig, sizeof sig, &sig_len));
  print_hex("signature              ", sig, sig_len);
  TRY(pqc_sig_verify(dsa, sig_pk, sizeof sig_pk, (const uint8_t *)command,
                     strlen(command), sig, sig_len));
  printf("%s: command \"%s\" verified\n", pqc_sig_algorithm(dsa), command);

  /* A forged command must be rejected. */
  st = pqc_sig_verify(dsa, sig_pk, sizeof sig_pk,
                      (const uint8_t *)"valve 7: open 100%", 18, sig, sig_len);
  if (st != PQC_ERR_VERIFY) {
    fprintf(stderr, "a forged command was not rejected: %s\n",
            pqc_strerror(st));
    goto out;
  }
  printf("%s: forged command rejected (%s)\n", pqc_sig_algorithm(dsa),
         pqc_strerror(st));
  rc = 0;

out:
  /* Secrets are wiped before the memory is left behind. */
  memset(kem_sk, 0, sizeof kem_sk);
  memset(sig_sk, 0, sizeof sig_sk);
  memset(ss_sender, 0, sizeof ss_sender);
  memset(ss_receiver, 0, sizeof ss_receiver);
  pqc_kem_free(kem);
  pqc_sig_free(dsa);
  return rc;
}
