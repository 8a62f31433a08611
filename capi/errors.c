/* The parts of the C API that are plain C: version queries, status names and
 * the per-thread error detail. They live in C so that reading an error never
 * enters the Go runtime, and so the values come straight from the header. */
#include <string.h>

#include "../include/pqc_iiot.h"
#include "capi.h"

static __thread char last_error[PQC_ERROR_DETAIL_MAX];

void capi_set_last_error(const char *msg, size_t len) {
  if (len >= sizeof last_error) {
    len = sizeof last_error - 1;
  }
  memcpy(last_error, msg, len);
  last_error[len] = '\0';
}

const char *pqc_last_error(void) { return last_error; }

const char *pqc_version(void) { return PQC_IIOT_VERSION_STRING; }

int pqc_abi_version(void) { return PQC_IIOT_ABI_VERSION; }

const char *pqc_strerror(int status) {
  switch (status) {
  case PQC_OK:
    return "ok";
  case PQC_ERR_INVALID_ARGUMENT:
    return "invalid argument";
  case PQC_ERR_BUFFER_TOO_SMALL:
    return "buffer too small";
  case PQC_ERR_UNSUPPORTED:
    return "unsupported algorithm";
  case PQC_ERR_VERIFY:
    return "verification failed";
  case PQC_ERR_CLOSED:
    return "handle closed or invalid";
  case PQC_ERR_INTERNAL:
    return "internal error";
  case PQC_ERR_REPLAY:
    return "replayed";
  case PQC_ERR_POLICY:
    return "refused by policy";
  case PQC_ERR_TIMEOUT:
    return "timed out";
  case PQC_ERR_IO:
    return "I/O error";
  case PQC_ERR_RATE_LIMITED:
    return "rate limited";
  case PQC_ERR_STATE:
    return "wrong state";
  case PQC_ERR_REVOKED:
    return "revoked";
  case PQC_ERR_EXPIRED:
    return "expired or not yet valid";
  case PQC_ERR_UNTRUSTED:
    return "not trusted";
  case PQC_ERR_ROLLBACK:
    return "rollback refused";
  case PQC_ERR_WRONG_KEY:
    return "wrong passphrase or key";
  case PQC_ERR_CORRUPT:
    return "corrupt or tampered store";
  default:
    return "unknown status";
  }
}
