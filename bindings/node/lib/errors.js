'use strict';
const { STATUS, STATUS_CODES } = require('./status');

// A failed library call. status is the header's negative code, code its
// macro name, detail the text of pqc_last_error() read on the thread that
// made the call (never key material).
class PqcError extends Error {
  constructor(status, detail, fn) {
    const code = STATUS_CODES[status] || 'PQC_ERR_UNKNOWN';
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'PqcError';
    this.status = status;
    this.code = code;
    this.detail = detail || '';
    if (fn) this.function = fn;
  }
}

module.exports = { PqcError, STATUS, STATUS_CODES };
