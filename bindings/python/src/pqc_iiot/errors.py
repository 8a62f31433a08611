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


# Mirrors pqc_strerror() for errors raised on the Python side, where there is
# no library call whose status could be named.
_NAMES: dict[int, str] = {
    Status.INVALID_ARGUMENT: "invalid argument",
    Status.BUFFER_TOO_SMALL: "buffer too small",
    Status.UNSUPPORTED: "unsupported algorithm",
    Status.VERIFY: "verification failed",
    Status.CLOSED: "handle closed or invalid",
    Status.INTERNAL: "internal error",
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


STATUS_ERRORS: dict[int, type[PqcError]] = {
    Status.INVALID_ARGUMENT: InvalidArgumentError,
    Status.BUFFER_TOO_SMALL: BufferTooSmallError,
    Status.UNSUPPORTED: UnsupportedAlgorithmError,
    Status.VERIFY: VerificationError,
    Status.CLOSED: ClosedError,
    Status.INTERNAL: InternalError,
}


def error_for_status(status: int, detail: str = "", name: str = "") -> PqcError:
    """The exception for a nonzero status code."""
    # A code newer than this package is still a failure; InternalError keeps
    # it visible in .status rather than hiding it behind a generic message.
    cls = STATUS_ERRORS.get(status, InternalError)
    return cls(status, detail, name)
