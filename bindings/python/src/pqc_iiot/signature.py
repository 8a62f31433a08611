"""Signatures (pqc_sig_* of include/pqc_iiot.h)."""

from __future__ import annotations

import ctypes
from typing import List, Tuple

from ._common import (BytesLike, Handle, as_bytes, check, check_seed_length,
                      out_buffer, take)
from ._native import lib
from .errors import Status


class Signature(Handle):
    """A signature scheme, e.g. ``Signature("ML-DSA-65")``.

    Names are matched case-insensitively; :attr:`name` is the canonical one.
    An object may be shared between threads. Use it as a context manager or
    call :meth:`close` to release it early.
    """

    _kind = "Signature"
    _free = lib.pqc_sig_free

    def __init__(self, name: str) -> None:
        super().__init__(name, lib.pqc_sig_new)
        h = self._handle
        self._name: str = lib.pqc_sig_algorithm(h).decode("utf-8")
        self._pk_size: int = lib.pqc_sig_public_key_size(h)
        self._sk_size: int = lib.pqc_sig_secret_key_size(h)
        self._sig_max: int = lib.pqc_sig_signature_max_size(h)
        self._seed_size: int = lib.pqc_sig_seed_size(h)

    @staticmethod
    def algorithms() -> List[str]:
        """The names of every signature scheme the library supports."""
        n = lib.pqc_sig_algorithm_count()
        return [lib.pqc_sig_algorithm_name(i).decode("utf-8") for i in range(n)]

    @property
    def name(self) -> str:
        self._h
        return self._name

    @property
    def public_key_size(self) -> int:
        self._h
        return self._pk_size

    @property
    def secret_key_size(self) -> int:
        self._h
        return self._sk_size

    @property
    def signature_max_size(self) -> int:
        """Upper bound of a signature's length (Falcon's vary below it)."""
        self._h
        return self._sig_max

    @property
    def seed_size(self) -> int:
        """Length of the seed :meth:`keypair_from_seed` takes."""
        self._h
        return self._seed_size

    def keypair(self) -> Tuple[bytes, bytes]:
        """A fresh ``(public_key, secret_key)`` from the OS's randomness."""
        pk, sk = out_buffer(self._pk_size), out_buffer(self._sk_size)
        check(lib.pqc_sig_keypair(self._h, pk, len(pk), sk, len(sk)))
        return take(pk), take(sk)

    def keypair_from_seed(self, seed: BytesLike) -> Tuple[bytes, bytes]:
        """The ``(public_key, secret_key)`` derived from ``seed`` (exactly
        :attr:`seed_size` bytes); the same seed always gives the same pair."""
        self._h  # a closed object reports that before any argument error
        s = as_bytes(seed, "seed")
        check_seed_length(s, self._seed_size, self._name)
        pk, sk = out_buffer(self._pk_size), out_buffer(self._sk_size)
        check(
            lib.pqc_sig_keypair_from_seed(
                self._h, s, len(s), pk, len(pk), sk, len(sk)
            )
        )
        return take(pk), take(sk)

    def sign(self, secret_key: BytesLike, message: BytesLike) -> bytes:
        """Signs ``message``; the result has the signature's actual length."""
        sk = as_bytes(secret_key, "secret_key")
        msg = as_bytes(message, "message")
        out = out_buffer(self._sig_max)
        out_len = ctypes.c_size_t(0)
        check(
            lib.pqc_sig_sign(
                self._h, sk, len(sk), msg, len(msg), out, len(out),
                ctypes.byref(out_len),
            )
        )
        return take(out, out_len.value)

    def verify(
        self, public_key: BytesLike, message: BytesLike, signature: BytesLike
    ) -> bool:
        """True if ``signature`` is valid for ``message`` under ``public_key``.

        An invalid signature (including one of the wrong length) gives False;
        every other failure, such as a public key of the wrong length or a
        closed object, raises.
        """
        pk = as_bytes(public_key, "public_key")
        msg = as_bytes(message, "message")
        sig = as_bytes(signature, "signature")
        status = lib.pqc_sig_verify(
            self._h, pk, len(pk), msg, len(msg), sig, len(sig)
        )
        if status == Status.VERIFY:
            return False
        check(status)
        return True

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<pqc_iiot.Signature {getattr(self, '_name', '?')!r} {state}>"
