"""Pieces shared by Kem and Signature: argument conversion, status checks and
the lifetime of a library handle."""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Optional, TypeVar, Union

from . import _native
from .errors import ClosedError, InvalidArgumentError, Status, error_for_status

#: What every byte-string parameter accepts.
BytesLike = Union[bytes, bytearray, memoryview]

_T = TypeVar("_T", bound="Handle")


def as_bytes(data: BytesLike, what: str) -> bytes:
    """Returns data as bytes, which ctypes hands to C without another copy."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        # bytes() flattens non-contiguous and multi-byte-item views into the
        # raw byte sequence C expects.
        return bytes(data)
    raise TypeError(
        f"{what} must be bytes, bytearray or memoryview, not {type(data).__name__}"
    )


def check(status: int) -> None:
    """Raises the exception for a failed call; must run on the thread that
    made the call, because the library's error detail is per thread."""
    if status != Status.OK:
        raise error_for_status(status, _native.last_error(), _native.strerror(status))


def check_seed_length(seed: bytes, want: int, alg: str) -> None:
    """Rejects a seed of the wrong length before it reaches the library.

    libpqc_iiot 0.1.0 answers PQC_OK to such a seed without writing the key
    buffers (the error is lost to variable shadowing in capi's keypair
    functions), so the caller would receive zeroed "keys" as if they were
    real.
    """
    if len(seed) != want:
        raise InvalidArgumentError(
            Status.INVALID_ARGUMENT,
            f"{alg}: seed is {len(seed)} bytes, want {want}",
        )


def take(buf: "ctypes.Array[ctypes.c_char]", length: Optional[int] = None) -> bytes:
    """Copies a result out of a C buffer and zeroes the buffer, so a secret
    does not linger in memory Python no longer tracks."""
    n = len(buf) if length is None else length
    out = buf.raw[:n]
    ctypes.memset(buf, 0, len(buf))
    return out


def out_buffer(size: int) -> "ctypes.Array[ctypes.c_char]":
    return ctypes.create_string_buffer(size)


class Handle:
    """Owns one library handle (a pqc_kem, pqc_sig, pqc_identity, pqc_trust
    or pqc_ca).

    The handle is a number checked by the library on every call, so a call
    racing close() from another thread fails cleanly with ClosedError
    instead of touching freed memory.
    """

    _kind = "object"
    _free: Callable[[Any], None]

    def __init__(self, name: str, new: Callable[..., int]) -> None:
        self._handle: Optional[int] = None
        if not isinstance(name, str):
            raise TypeError(f"algorithm name must be str, not {type(name).__name__}")
        try:
            encoded = name.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, str(exc)) from exc
        if b"\x00" in encoded:
            # C would silently read only the part before the NUL.
            raise InvalidArgumentError(
                Status.INVALID_ARGUMENT, "algorithm name contains a NUL character"
            )
        self._adopt(new, encoded)

    def _adopt(self, new: Callable[..., int], *args: Any) -> None:
        """Calls a pqc_X_new/create/open function whose last parameter is the
        handle out-pointer, and keeps the handle it makes."""
        out = ctypes.c_void_p()
        check(new(*args, ctypes.byref(out)))
        self._handle = out.value

    @property
    def _h(self) -> int:
        handle = self._handle
        if handle is None:
            raise ClosedError(Status.CLOSED, f"this {self._kind} object is closed")
        return handle

    @property
    def closed(self) -> bool:
        return self._handle is None

    def close(self) -> None:
        """Releases the library object; later calls raise ClosedError.
        Closing twice is allowed."""
        handle, self._handle = self._handle, None
        if handle is not None:
            type(self)._free(handle)

    def __enter__(self: _T) -> _T:
        self._h  # entering a closed object is already a use of it
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # At interpreter shutdown module globals may already be gone; the
        # process is ending and the library's handle table with it.
        try:
            self.close()
        except Exception:
            pass
