"""Status codes of include/pqc_iiot.h and the exceptions they become."""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """The library's status codes; the values are fixed by the C header."""

    OK = 0
    INVALID_ARGUMENT = -1
    BUFFER_TOO_SMALL = -2
    UNSUPPORTED = -3
    VERIFY = -4
    CLOSED = -5
    INTERNAL = -6
    REPLAY = -7
    POLICY = -8
    TIMEOUT = -9
    IO = -10
    RATE_LIMITED = -11
    STATE = -12
    REVOKED = -13
    EXPIRED = -14
    UNTRUSTED = -15
    ROLLBACK = -16
    WRONG_KEY = -17
    CORRUPT = -18


# Mirrors pqc_strerror() for errors raised on the Python side, where there is
# no library call whose status could be named.
_NAMES: dict[int, str] = {
    Status.INVALID_ARGUMENT: "invalid argument",
    Status.BUFFER_TOO_SMALL: "buffer too small",
    Status.UNSUPPORTED: "unsupported algorithm",
    Status.VERIFY: "verification failed",
    Status.CLOSED: "handle closed or invalid",
    Status.INTERNAL: "internal error",
    Status.REPLAY: "replayed",
    Status.POLICY: "refused by policy",
    Status.TIMEOUT: "timed out",
    Status.IO: "I/O error",
    Status.RATE_LIMITED: "rate limited",
    Status.STATE: "wrong state",
    Status.REVOKED: "revoked",
    Status.EXPIRED: "expired or not yet valid",
    Status.UNTRUSTED: "not trusted",
    Status.ROLLBACK: "rollback refused",
    Status.WRONG_KEY: "wrong passphrase or key",
    Status.CORRUPT: "corrupt or tampered store",
}


class PqcError(Exception):
    """A failed library call.

    ``status`` is the C status code (an ``int``; a :class:`Status` when the
    code is known) and ``detail`` the library's explanation from
    ``pqc_last_error()``.
    """

    def __init__(self, status: int, detail: str = "", name: str = "") -> None:
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status: int = status
        self.detail: str = detail
        text = name or _NAMES.get(status, f"status {int(status)}")
        super().__init__(f"{text}: {detail}" if detail else text)


class InvalidArgumentError(PqcError, ValueError):
    """PQC_ERR_INVALID_ARGUMENT: wrong length, malformed key and the like."""


class BufferTooSmallError(PqcError):
    """PQC_ERR_BUFFER_TOO_SMALL: an output buffer was too small."""


class UnsupportedAlgorithmError(PqcError, ValueError):
    """PQC_ERR_UNSUPPORTED: the algorithm name is unknown."""


class VerificationError(PqcError):
    """PQC_ERR_VERIFY: a signature did not verify.

    :meth:`pqc_iiot.Signature.verify` answers ``False`` instead of raising
    this; it exists so every status code has an exception.
    """


class ClosedError(PqcError):
    """PQC_ERR_CLOSED: the object was closed (or the handle is invalid)."""


class InternalError(PqcError):
    """PQC_ERR_INTERNAL, or a status code this package does not know."""


# The identity, trust and CA calls refuse for many distinct reasons. Each
# gets its own class so callers can react to the reason (re-enroll on
# ExpiredError, alert on RevokedError, ask again for a passphrase on
# WrongKeyError) without parsing messages. None of them derives from a
# builtin such as OSError or TimeoutError: those carry errno semantics and
# would make ``except OSError`` around file handling swallow security
# refusals.


class ReplayError(PqcError):
    """PQC_ERR_REPLAY: a request was seen before, or its timestamp is
    outside the CA's acceptance window (24 hours)."""


class PolicyError(PqcError):
    """PQC_ERR_POLICY: no fleet policy is installed, it has expired, the
    revocation list it demands is missing, or it forbids the algorithm."""


class PqcTimeoutError(PqcError):
    """PQC_ERR_TIMEOUT: an operation or wait timed out. Named so it does not
    shadow the builtin :class:`TimeoutError`, which it does not derive from."""


class KeystoreIOError(PqcError):
    """PQC_ERR_IO: file, keystore or network I/O failed, e.g. the keystore
    is missing, already exists (on create), or is held open by another
    object or process."""


class RateLimitedError(PqcError):
    """PQC_ERR_RATE_LIMITED: a denial-of-service budget refused the work."""


class StateError(PqcError):
    """PQC_ERR_STATE: the call does not fit the object's state, e.g. a
    renewal request or the chain of a device that has no certificate yet."""


class RevokedError(PqcError):
    """PQC_ERR_REVOKED: the key or certificate is on the revocation list."""


class ExpiredError(PqcError):
    """PQC_ERR_EXPIRED: a certificate has expired or is not yet valid."""


class UntrustedError(PqcError):
    """PQC_ERR_UNTRUSTED: unknown issuer, an issuer that is not a CA, a
    factory key not on the CA's allow-list, or an object bound to another
    device or context."""


class RollbackError(PqcError):
    """PQC_ERR_ROLLBACK: an older policy, revocation list, key epoch or
    keystore than one already seen, i.e. a possible replay of stale state."""


class WrongKeyError(PqcError):
    """PQC_ERR_WRONG_KEY: the passphrase or raw key does not open the
    keystore."""


class CorruptError(PqcError):
    """PQC_ERR_CORRUPT: the keystore is damaged or was tampered with."""


STATUS_ERRORS: dict[int, type[PqcError]] = {
    Status.INVALID_ARGUMENT: InvalidArgumentError,
    Status.BUFFER_TOO_SMALL: BufferTooSmallError,
    Status.UNSUPPORTED: UnsupportedAlgorithmError,
    Status.VERIFY: VerificationError,
    Status.CLOSED: ClosedError,
    Status.INTERNAL: InternalError,
    Status.REPLAY: ReplayError,
    Status.POLICY: PolicyError,
    Status.TIMEOUT: PqcTimeoutError,
    Status.IO: KeystoreIOError,
    Status.RATE_LIMITED: RateLimitedError,
    Status.STATE: StateError,
    Status.REVOKED: RevokedError,
    Status.EXPIRED: ExpiredError,
    Status.UNTRUSTED: UntrustedError,
    Status.ROLLBACK: RollbackError,
    Status.WRONG_KEY: WrongKeyError,
    Status.CORRUPT: CorruptError,
}


def error_for_status(status: int, detail: str = "", name: str = "") -> PqcError:
    """The exception for a nonzero status code."""
    # A code newer than this package is still a failure; InternalError keeps
    # it visible in .status rather than hiding it behind a generic message.
    cls = STATUS_ERRORS.get(status, InternalError)
    return cls(status, detail, name)
