'use strict';
// The status codes of include/pqc_iiot.h, whose values never change once
// released; names are the macro names so users can grep the header.

const STATUS = Object.freeze({
  PQC_OK: 0,
  PQC_ERR_INVALID_ARGUMENT: -1,
  PQC_ERR_BUFFER_TOO_SMALL: -2,
  PQC_ERR_UNSUPPORTED: -3,
  PQC_ERR_VERIFY: -4,
  PQC_ERR_CLOSED: -5,
  PQC_ERR_INTERNAL: -6,
  PQC_ERR_REPLAY: -7,
  PQC_ERR_POLICY: -8,
  PQC_ERR_TIMEOUT: -9,
  PQC_ERR_IO: -10,
  PQC_ERR_RATE_LIMITED: -11,
  PQC_ERR_STATE: -12,
  PQC_ERR_REVOKED: -13,
  PQC_ERR_EXPIRED: -14,
  PQC_ERR_UNTRUSTED: -15,
  PQC_ERR_ROLLBACK: -16,
  PQC_ERR_WRONG_KEY: -17,
  PQC_ERR_CORRUPT: -18,
});

const STATUS_CODES = Object.freeze(
  Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, k])));

module.exports = { STATUS, STATUS_CODES };
