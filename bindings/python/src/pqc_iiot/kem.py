"""Key encapsulation (pqc_kem_* of include/pqc_iiot.h)."""

from __future__ import annotations

from typing import List, Tuple

from ._common import (BytesLike, Handle, as_bytes, check, check_seed_length,
                      out_buffer, take)
from ._native import lib


class Kem(Handle):
    """A key encapsulation mechanism, e.g. ``Kem("ML-KEM-768")``.

    Names are matched case-insensitively; :attr:`name` is the canonical one.
    An object may be shared between threads. Use it as a context manager or
    call :meth:`close` to release it early.
    """

    _kind = "Kem"
    _free = lib.pqc_kem_free

    def __init__(self, name: str) -> None:
        super().__init__(name, lib.pqc_kem_new)
        h = self._handle
        # Sizes never change for a handle; caching them also keeps them
        # answerable without a round trip per call.
        self._name: str = lib.pqc_kem_algorithm(h).decode("utf-8")
        self._pk_size: int = lib.pqc_kem_public_key_size(h)
        self._sk_size: int = lib.pqc_kem_secret_key_size(h)
        self._ct_size: int = lib.pqc_kem_ciphertext_size(h)
        self._ss_size: int = lib.pqc_kem_shared_secret_size(h)
        self._seed_size: int = lib.pqc_kem_seed_size(h)

    @staticmethod
    def algorithms() -> List[str]:
        """The names of every KEM the library supports."""
        n = lib.pqc_kem_algorithm_count()
        return [lib.pqc_kem_algorithm_name(i).decode("utf-8") for i in range(n)]

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
    def ciphertext_size(self) -> int:
        self._h
        return self._ct_size

    @property
    def shared_secret_size(self) -> int:
        self._h
        return self._ss_size

    @property
    def seed_size(self) -> int:
        """Length of the seed :meth:`keypair_from_seed` takes."""
        self._h
        return self._seed_size

    def keypair(self) -> Tuple[bytes, bytes]:
        """A fresh ``(public_key, secret_key)`` from the OS's randomness."""
        pk, sk = out_buffer(self._pk_size), out_buffer(self._sk_size)
        check(lib.pqc_kem_keypair(self._h, pk, len(pk), sk, len(sk)))
        return take(pk), take(sk)

    def keypair_from_seed(self, seed: BytesLike) -> Tuple[bytes, bytes]:
        """The ``(public_key, secret_key)`` derived from ``seed`` (exactly
        :attr:`seed_size` bytes); the same seed always gives the same pair."""
        self._h  # a closed object reports that before any argument error
        s = as_bytes(seed, "seed")
        check_seed_length(s, self._seed_size, self._name)
        pk, sk = out_buffer(self._pk_size), out_buffer(self._sk_size)
        check(
            lib.pqc_kem_keypair_from_seed(
                self._h, s, len(s), pk, len(pk), sk, len(sk)
            )
        )
        return take(pk), take(sk)

    def encapsulate(self, public_key: BytesLike) -> Tuple[bytes, bytes]:
        """Returns ``(ciphertext, shared_secret)`` for ``public_key``."""
        pk = as_bytes(public_key, "public_key")
        ct, ss = out_buffer(self._ct_size), out_buffer(self._ss_size)
        check(lib.pqc_kem_encapsulate(self._h, pk, len(pk), ct, len(ct), ss, len(ss)))
        return take(ct), take(ss)

    def decapsulate(self, secret_key: BytesLike, ciphertext: BytesLike) -> bytes:
        """The shared secret in ``ciphertext``.

        A tampered ciphertext does not raise: it yields the scheme's
        pseudorandom implicit-rejection secret, which will not match the
        sender's. Wrong lengths raise :class:`InvalidArgumentError`.
        """
        sk = as_bytes(secret_key, "secret_key")
        ct = as_bytes(ciphertext, "ciphertext")
        ss = out_buffer(self._ss_size)
        check(lib.pqc_kem_decapsulate(self._h, sk, len(sk), ct, len(ct), ss, len(ss)))
        return take(ss)

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<pqc_iiot.Kem {getattr(self, '_name', '?')!r} {state}>"
