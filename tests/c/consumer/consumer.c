/* Smallest useful C consumer of an installed pqc_iiot: one KEM round trip. */
#include <stdio.h>
#include <string.h>

#include <pqc_iiot.h>

int main(void) {
  uint8_t pk[PQC_ML_KEM_768_PUBLIC_KEY_BYTES];
  uint8_t sk[PQC_ML_KEM_768_SECRET_KEY_BYTES];
  uint8_t ct[PQC_ML_KEM_768_CIPHERTEXT_BYTES];
  uint8_t ss1[PQC_ML_KEM_768_SHARED_SECRET_BYTES];
  uint8_t ss2[PQC_ML_KEM_768_SHARED_SECRET_BYTES];
  pqc_kem *kem = NULL;
  int ok;

  if (pqc_abi_version() != PQC_IIOT_ABI_VERSION ||
      pqc_kem_new("ML-KEM-768", &kem) != PQC_OK) {
    fprintf(stderr, "setup failed: %s\n", pqc_last_error());
    return 1;
  }
  ok = pqc_kem_keypair(kem, pk, sizeof pk, sk, sizeof sk) == PQC_OK &&
       pqc_kem_encapsulate(kem, pk, sizeof pk, ct, sizeof ct, ss1,
                           sizeof ss1) == PQC_OK &&
       pqc_kem_decapsulate(kem, sk, sizeof sk, ct, sizeof ct, ss2,
                           sizeof ss2) == PQC_OK &&
       memcmp(ss1, ss2, sizeof ss1) == 0;
  pqc_kem_free(kem);
  printf("consumer (C): pqc_iiot %s, ML-KEM-768 round trip %s\n", pqc_version(),
         ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
