"""Post-quantum key encapsulation, signatures and device identities from
libpqc_iiot.

>>> import pqc_iiot
>>> with pqc_iiot.Kem("ML-KEM-768") as kem:
...     pk, sk = kem.keypair()
...     ct, ss = kem.encapsulate(pk)
...     assert kem.decapsulate(sk, ct) == ss

Device provisioning (keystores, a CA, certificate chains, fleet policy and
revocation) is in :class:`Identity`, :class:`CertificateAuthority` and
:class:`Trust`; sessions and sealed messages between devices in
:class:`SessionManager` and :class:`Session`; protected MQTT in
:class:`MqttClient`.

The library is the one bundled with the package, or the file named by the
``PQC_IIOT_LIBRARY`` environment variable (read once, at import).
"""

from __future__ import annotations

from ._common import BytesLike, check as _check, out_buffer as _out_buffer
from ._native import (ABI_VERSION, KEY_ID_BYTES, OBJECT_MAX_BYTES,
                      REVOCATION_MAX_BYTES, lib as _lib, library_path)
from .errors import (
    STATUS_ERRORS,
    BufferTooSmallError,
    ClosedError,
    CorruptError,
    ExpiredError,
    InternalError,
    InvalidArgumentError,
    KeystoreIOError,
    PolicyError,
    PqcError,
    PqcTimeoutError,
    RateLimitedError,
    ReplayError,
    RevokedError,
    RollbackError,
    StateError,
    Status,
    UnsupportedAlgorithmError,
    UntrustedError,
    VerificationError,
    WrongKeyError,
    error_for_status,
)
from .identity import (DAY, MAX_DURATION_SECONDS, SIGNED_MAX_CONTENT, CertificateAuthority,
                       Identity, SignedMessage, Trust)
from .kem import Kem
from .mqtt import Message, MqttBroker, MqttClient, allow_topics
from . import coap
from .coap import CoapClient, CoapServer
from .session import Opened, Session, SessionManager, frame_overhead_max, seal_overhead_max
from .signature import Signature

__version__ = "0.1.0"

__all__ = [
    "ABI_VERSION",
    "BufferTooSmallError",
    "BytesLike",
    "CertificateAuthority",
    "CoapClient",
    "CoapServer",
    "ClosedError",
    "CorruptError",
    "DAY",
    "ExpiredError",
    "Identity",
    "InternalError",
    "InvalidArgumentError",
    "KEY_ID_BYTES",
    "KeystoreIOError",
    "Kem",
    "Message",
    "MqttBroker",
    "MqttClient",
    "MAX_DURATION_SECONDS",
    "OBJECT_MAX_BYTES",
    "PolicyError",
    "PqcError",
    "PqcTimeoutError",
    "REVOCATION_MAX_BYTES",
    "RateLimitedError",
    "ReplayError",
    "RevokedError",
    "RollbackError",
    "STATUS_ERRORS",
    "SIGNED_MAX_CONTENT",
    "SignedMessage",
    "Opened",
    "Session",
    "SessionManager",
    "Signature",
    "StateError",
    "Status",
    "Trust",
    "UnsupportedAlgorithmError",
    "UntrustedError",
    "VerificationError",
    "WrongKeyError",
    "abi_version",
    "allow_topics",
    "coap",
    "error_for_status",
    "frame_overhead_max",
    "library_path",
    "random_bytes",
    "seal_overhead_max",
    "version",
]


def version() -> str:
    """The library's version string, e.g. ``"0.1.0"``."""
    raw: bytes = _lib.pqc_version()
    return raw.decode("utf-8")


def abi_version() -> int:
    """The library's ABI version; equals :data:`ABI_VERSION` (import checks)."""
    return int(_lib.pqc_abi_version())


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the operating system's CSPRNG, via the library."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, not {type(n).__name__}")
    if n < 0:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"n is {n}, must be >= 0")
    if n == 0:
        return b""
    buf = _out_buffer(n)
    _check(_lib.pqc_random_bytes(buf, n))
    return buf.raw
