"""Device identities, trust stores and a root CA (pqc_identity_*, pqc_trust_*
and pqc_ca_* of include/pqc_iiot.h).

A device keeps its keys in an encrypted keystore file that only the library
reads; Python sees public keys and the signed objects exchanged during
provisioning (join and renewal requests, certificate chains, policies,
revocation lists, announcements), all as opaque ``bytes``. The keystores are
the same files the ``pqc-iiot`` command line tool reads and writes.

Example (``ca_key`` and ``dev_key`` are 32-byte keys)::

    with CertificateAuthority.create("ca.store", "plant-root", raw_key=ca_key) as ca, \\
            Identity.create("dev.store", "sensor-1", raw_key=dev_key) as dev:
        ca.allow("sensor-1", dev.factory_public_key)
        dev.install(ca.enroll(dev.join_request()), anchor=ca.certificate)
        assert Trust(ca.certificate).verify_chain(dev.chain) == "sensor-1"
"""

from __future__ import annotations

import ctypes
import datetime
import math
import os
from typing import (Any, Callable, Iterable, NamedTuple, Optional, Tuple, Type, TypeVar,
                    Union)

from ._common import BytesLike, Handle, as_bytes, check, out_buffer
from ._native import (DEVICE_ID_MAX_BYTES, KEY_ID_BYTES, KEYSTORE_PASSPHRASE,
                      KEYSTORE_RAW_KEY, OBJECT_MAX_BYTES, REVOCATION_MAX_BYTES, lib)
from .errors import InternalError, InvalidArgumentError, PqcError, Status

__all__ = [
    "CertificateAuthority",
    "DAY",
    "Identity",
    "MAX_DURATION_SECONDS",
    "Trust",
]

#: Keystore paths: anything :func:`os.fspath` accepts.
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
#: A passphrase: ``str`` (encoded UTF-8) or raw bytes.
Passphrase = Union[str, bytes, bytearray, memoryview]
#: A point in time for :meth:`Trust.verify_chain`.
Moment = Union[datetime.datetime, int]

#: Seconds in a day, for the duration arguments below.
DAY = 86400

#: Largest duration argument accepted (about 292 years). libpqc_iiot 0.1.0
#: turns seconds into Go's int64 nanoseconds without an overflow check, so a
#: larger value wraps: to a negative duration (refused, but only after the
#: keystore file was made) or, worse, to a short positive one, e.g. a
#: certificate valid for an hour when 584 years were asked for.
MAX_DURATION_SECONDS = (2**63 - 1) // 1_000_000_000

_UINT64_MAX = 2**64 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# First guesses for outputs whose size the library reports exactly. A guess
# that is too small costs one more call, so they are sized for the default
# algorithms (ML-DSA-65 chains are about 12 KiB) rather than for the maximum.
_STRING_GUESS = 260  # the library's names are at most 256 bytes
_KEY_GUESS = 4096
_CHAIN_GUESS = 32768

_H = TypeVar("_H", bound=Handle)


# ---- argument conversion ---------------------------------------------------


def _path(path: PathLike) -> bytes:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be str, bytes or os.PathLike, not {type(path).__name__}")
    raw = os.fsencode(path)
    if b"\x00" in raw:
        # C would silently use only the part before the NUL: another file.
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, "path contains a NUL character")
    return raw


def _text(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what}: {exc}") from exc
    if b"\x00" in raw:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what} contains a NUL character")
    return raw


def _optional_text(value: Optional[str], what: str) -> Optional[bytes]:
    # None becomes NULL, which the library reads as "use the default".
    return None if value is None else _text(value, what)


def _names(value: Union[None, str, Iterable[str]], what: str) -> Optional[bytes]:
    """A list of names as the comma-separated C string the library takes.

    A single ``str`` is passed through (so "ML-KEM-768,ML-KEM-1024" works);
    names in an iterable may not contain commas, which would split them.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return _text(value, what)
    if isinstance(value, (bytes, bytearray, memoryview)):
        # Iterating bytes gives ints; refusing early names the real mistake.
        raise TypeError(f"{what} must be str or an iterable of str, not {type(value).__name__}")
    names = list(value)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} must hold str, not {type(name).__name__}")
        if "," in name or not name.strip():
            raise InvalidArgumentError(
                Status.INVALID_ARGUMENT, f"{what}: {name!r} is not a single name")
    return _text(",".join(names), what)


def _int(value: int, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidArgumentError(
            Status.INVALID_ARGUMENT, f"{what} is {value}, must be in {low}..{high}")
    return value


def _seconds(value: int, what: str) -> int:
    return _int(value, what, 0, MAX_DURATION_SECONDS)


def _unix_time(at: Optional[Moment]) -> int:
    """The library's at_unix: 0 means "now"."""
    if at is None:
        return 0
    if isinstance(at, datetime.datetime):
        if at.utcoffset() is None:
            # A naive datetime is local time or UTC depending on who made it;
            # a certificate check must not guess which.
            raise InvalidArgumentError(
                Status.INVALID_ARGUMENT,
                "at is a naive datetime; give it a tzinfo (e.g. datetime.timezone.utc)")
        seconds = math.floor(at.timestamp())
    else:
        seconds = _int(at, "at", _INT64_MIN, _INT64_MAX)
    if seconds == 0:
        # The library would read 0 as "now", not as 1970-01-01.
        raise InvalidArgumentError(
            Status.INVALID_ARGUMENT, "at is the Unix epoch, which the library reads as "
            "'now'; pass None for now")
    return seconds


class _KeystoreKey:
    """The keystore key in a ctypes buffer this module owns, wiped on exit.

    The caller's object is copied once into memory that is zeroed as soon as
    the library call returns (the library copies and wipes it too), so no
    object made here keeps the secret. A ``str`` passphrase must first be
    encoded into a temporary ``bytes`` that Python cannot wipe; callers who
    care pass a ``bytearray`` and clear it themselves.
    """

    def __init__(self, passphrase: Optional[Passphrase], raw_key: Optional[BytesLike]) -> None:
        if (passphrase is None) == (raw_key is None):
            raise TypeError("give exactly one of passphrase= or raw_key=")
        if passphrase is not None:
            self.kind = KEYSTORE_PASSPHRASE
            if isinstance(passphrase, str):
                source: Any = passphrase.encode("utf-8")
            elif isinstance(passphrase, (bytes, bytearray, memoryview)):
                source = passphrase
            else:
                raise TypeError(
                    f"passphrase must be str or bytes-like, not {type(passphrase).__name__}")
        else:
            self.kind = KEYSTORE_RAW_KEY
            if not isinstance(raw_key, (bytes, bytearray, memoryview)):
                # A str "key" is almost certainly a passphrase or hex by mistake.
                raise TypeError(
                    f"raw_key must be bytes-like (32 bytes), not {type(raw_key).__name__}")
            source = raw_key
        view = memoryview(source)
        if not view.c_contiguous:
            view = memoryview(view.tobytes())
        with view.cast("B") as octets:
            self.length = octets.nbytes
            # from_buffer_copy reads the caller's buffer straight into ours,
            # without an intermediate bytes object.
            self.buf = (ctypes.c_char * self.length).from_buffer_copy(octets)
        view.release()

    def __enter__(self) -> Tuple[int, "ctypes.Array[ctypes.c_char]", int]:
        return self.kind, self.buf, self.length

    def __exit__(self, *exc: object) -> None:
        ctypes.memset(self.buf, 0, len(self.buf))


# ---- output buffers ------------------------------------------------------------

_Getter = Callable[["ctypes.Array[ctypes.c_char]", int, Any], int]


def _read_var(call: _Getter, guess: int) -> bytes:
    """Runs a getter that reports the exact size it needs, growing the buffer
    when told to. The size can change between calls if another thread
    installs a new chain meanwhile, hence a loop rather than one retry."""
    size = guess
    for _ in range(8):
        buf = out_buffer(size)
        needed = ctypes.c_size_t(0)
        status = call(buf, len(buf), ctypes.byref(needed))
        if status == Status.BUFFER_TOO_SMALL and needed.value > size:
            size = needed.value
            continue
        check(status)
        return ctypes.string_at(buf, needed.value)
    raise InternalError(Status.INTERNAL, "the output kept growing between calls")


def _produce(call: _Getter, capacity: int) -> bytes:
    """Runs a call with side effects (keys generated, a request consumed, a
    sequence number taken): the library demands the maximum buffer up front
    so the work is never done twice."""
    buf = out_buffer(capacity)
    n = ctypes.c_size_t(0)
    check(call(buf, len(buf), ctypes.byref(n)))
    return ctypes.string_at(buf, n.value)


class SignedMessage(NamedTuple):
    """A verified signed envelope: ``sender`` is the device id its chain
    certifies, ``signed_at`` the signer's clock in Unix seconds."""

    sender: str
    content: bytes
    signed_at: int


#: Largest content of a signed envelope (PQC_SIGNED_MAX_CONTENT).
SIGNED_MAX_CONTENT = 65536


def _verify_signed(call: Callable[..., int], env: bytes, context: bytes) -> SignedMessage:
    # The content is never longer than the envelope, so one call suffices.
    out = out_buffer(max(len(env), 1))
    sender = out_buffer(DEVICE_ID_MAX_BYTES)
    n = ctypes.c_size_t(0)
    at = ctypes.c_int64(0)
    check(call(env, len(env), context, out, len(out), ctypes.byref(n), sender, len(sender),
               ctypes.byref(at)))
    return SignedMessage(sender.value.decode("utf-8"), ctypes.string_at(out, n.value),
                         int(at.value))


def _c_string(raw: bytes) -> str:
    # *out_len counts the terminating NUL.
    return raw.rstrip(b"\x00").decode("utf-8")


def _make(cls: Type[_H], new: Callable[..., int], *args: Any) -> _H:
    obj = cls.__new__(cls)
    obj._handle = None  # so close() in __del__ is safe if the call fails
    obj._adopt(new, *args)
    return obj


class _Factory(Handle):
    """A handle made by a create/open classmethod, never by calling the
    class, so that a keystore cannot be opened without saying how."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self._handle = None
        raise TypeError(f"use {type(self).__name__}.create() or .open()")


# ---- Identity ------------------------------------------------------------------


class Identity(_Factory):
    """A device identity in an encrypted keystore.

    The keystore stays open (and locked against other openers, including
    other processes) until :meth:`close`. Secret keys never leave it: the
    object hands out public keys, requests and announcements only. The
    library serializes calls on one identity, so an object may be shared
    between threads.
    """

    _kind = "Identity"
    _free = lib.pqc_identity_free

    @classmethod
    def create(
        cls,
        path: PathLike,
        device_id: str,
        *,
        passphrase: Optional[Passphrase] = None,
        raw_key: Optional[BytesLike] = None,
        factory_alg: Optional[str] = None,
        sig_alg: Optional[str] = None,
        kem_algs: Union[None, str, Iterable[str]] = None,
    ) -> "Identity":
        """Creates a keystore at ``path`` (which must not exist; else
        :class:`KeystoreIOError`) holding a new factory key for ``device_id``.

        Give exactly one of ``passphrase`` (stretched with Argon2id, about
        0.2 s per create or open) or ``raw_key`` (32 bytes, e.g. unsealed
        from a TPM). Algorithms default to ML-DSA-65 for the factory and
        operational signature keys and X25519-ML-KEM-768 for the KEM key;
        they are checked now, not at the first join.
        """
        p = _path(path)
        did = _text(device_id, "device_id")
        fa = _optional_text(factory_alg, "factory_alg")
        sa = _optional_text(sig_alg, "sig_alg")
        ka = _names(kem_algs, "kem_algs")
        with _KeystoreKey(passphrase, raw_key) as (kind, key, n):
            return _make(cls, lib.pqc_identity_create, p, kind, key, n, did, fa, sa, ka)

    @classmethod
    def open(
        cls,
        path: PathLike,
        *,
        passphrase: Optional[Passphrase] = None,
        raw_key: Optional[BytesLike] = None,
    ) -> "Identity":
        """Opens an existing device keystore.

        Raises :class:`WrongKeyError` for a wrong passphrase or key,
        :class:`CorruptError` for a damaged file and :class:`KeystoreIOError`
        if it is missing or already open.
        """
        p = _path(path)
        with _KeystoreKey(passphrase, raw_key) as (kind, key, n):
            return _make(cls, lib.pqc_identity_open, p, kind, key, n)

    @property
    def device_id(self) -> str:
        return _c_string(_read_var(
            lambda b, c, n: lib.pqc_identity_device_id(self._h, b, c, n), _STRING_GUESS))

    @property
    def factory_public_key(self) -> bytes:
        """The encoded factory public key: what the CA's :meth:`allow` needs
        to let this device join."""
        return _read_var(
            lambda b, c, n: lib.pqc_identity_factory_public_key(self._h, b, c, n), _KEY_GUESS)

    @property
    def chain(self) -> bytes:
        """The installed certificate chain, leaf first; :class:`StateError`
        before the first :meth:`install`."""
        return _read_var(
            lambda b, c, n: lib.pqc_identity_chain(self._h, b, c, n), _CHAIN_GUESS)

    @property
    def epoch(self) -> int:
        """The key epoch: 0 after joining, one more per rotation."""
        value = ctypes.c_uint64(0)
        check(lib.pqc_identity_epoch(self._h, ctypes.byref(value)))
        return value.value

    @property
    def key_id(self) -> bytes:
        """The current key id (16 bytes), as revocation lists name it."""
        buf = out_buffer(KEY_ID_BYTES)
        check(lib.pqc_identity_key_id(self._h, buf, len(buf)))
        return buf.raw

    def public_key(self, alg: Optional[str] = None) -> bytes:
        """A certified public key in its scheme's raw format: the signature
        key by default, else the key of the named KEM or signature scheme
        (:class:`UnsupportedAlgorithmError` if the certificate has none)."""
        a = _optional_text(alg, "alg")
        return _read_var(
            lambda b, c, n: lib.pqc_identity_public_key(self._h, a, b, c, n), _KEY_GUESS)

    def join_request(self) -> bytes:
        """Generates operational keys (kept pending in the keystore) and
        returns a join request, signed by the factory key and the new key,
        for :meth:`CertificateAuthority.enroll`. A new call replaces the
        pending keys, so only the latest request's chain installs."""
        return _produce(
            lambda b, c, n: lib.pqc_identity_join_request(self._h, b, c, n), OBJECT_MAX_BYTES)

    def renewal_request(self) -> bytes:
        """Generates the next epoch's keys (pending) and a renewal request
        signed by the current operational key; :class:`StateError` before
        the first install."""
        return _produce(
            lambda b, c, n: lib.pqc_identity_renewal_request(self._h, b, c, n),
            OBJECT_MAX_BYTES)

    def install(self, chain: BytesLike, anchor: Optional[BytesLike] = None,
                overlap_seconds: int = DAY) -> None:
        """Installs the chain the CA issued for the pending keys.

        ``anchor`` (the CA certificate) is required on the first install,
        which stores it; later it may be omitted, and a different one is
        refused (:class:`UntrustedError`). After a rotation the previous
        epoch's keys stay usable for ``overlap_seconds`` so peers can catch
        up, then :meth:`prune` destroys them.
        """
        c = as_bytes(chain, "chain")
        a = None if anchor is None else as_bytes(anchor, "anchor")
        overlap = _seconds(overlap_seconds, "overlap_seconds")
        check(lib.pqc_identity_install(self._h, c, len(c), a, 0 if a is None else len(a),
                                       overlap))

    def announcement(self, topic: str) -> bytes:
        """A signed announcement of the current keys, bound to ``topic`` so
        it cannot be replayed on another one."""
        t = _text(topic, "topic")
        # The chain is inside, so start at the chain's size: each retry would
        # sign anew.
        return _read_var(
            lambda b, c, n: lib.pqc_identity_announcement(self._h, t, b, c, n),
            2 * _CHAIN_GUESS)

    def sign(self, context: str, message: BytesLike) -> bytes:
        """A signed envelope of ``message`` (at most
        :data:`SIGNED_MAX_CONTENT` bytes) for ``context`` (a topic, a path):
        the content, this device's chain and a signature by its current key,
        verifiable by anyone with the fleet's anchor
        (:meth:`Trust.verify_signed`). Not encrypted, not one-time."""
        t = _text(context, "context")
        m = as_bytes(message, "message")
        return _read_var(
            lambda b, c, n: lib.pqc_identity_sign(self._h, t, m, len(m), b, c, n),
            2 * _CHAIN_GUESS + len(m))

    def verify_signed(self, envelope: BytesLike, context: str) -> "SignedMessage":
        """:meth:`Trust.verify_signed` against this identity's own trust
        state (anchor, policy and revocation list applied to it)."""
        e = as_bytes(envelope, "envelope")
        return _verify_signed(lambda *a: lib.pqc_identity_verify_signed(self._h, *a),
                              e, _text(context, "context"))

    def apply_policy(self, policy: BytesLike) -> None:
        """Installs a CA-signed fleet policy into the keystore's trust state;
        :class:`RollbackError` if it is older than the one installed."""
        p = as_bytes(policy, "policy")
        check(lib.pqc_identity_apply_policy(self._h, p, len(p)))

    def apply_revocation(self, revocation_list: BytesLike) -> None:
        """Installs a CA-signed cumulative revocation list (persisted);
        :class:`RollbackError` for an older one."""
        r = as_bytes(revocation_list, "revocation_list")
        check(lib.pqc_identity_apply_revocation(self._h, r, len(r)))

    def rotation_due(self, interval_seconds: int) -> bool:
        """True if the current certificate is at least ``interval_seconds``
        old, i.e. time for :meth:`renewal_request`."""
        interval = _seconds(interval_seconds, "interval_seconds")
        due = ctypes.c_int(0)
        check(lib.pqc_identity_rotation_due(self._h, interval, ctypes.byref(due)))
        return bool(due.value)

    def prune(self) -> bool:
        """Destroys the previous epoch's keys once their overlap is over;
        returns whether it did (False while the overlap lasts or when there
        are none)."""
        pruned = ctypes.c_int(0)
        check(lib.pqc_identity_prune(self._h, ctypes.byref(pruned)))
        return bool(pruned.value)

    def __repr__(self) -> str:
        if self.closed:
            return "<pqc_iiot.Identity closed>"
        return f"<pqc_iiot.Identity {self.device_id!r} open>"


# ---- Trust -----------------------------------------------------------------------


class Trust(Handle):
    """Verification state for a party with no identity of its own, such as
    a SCADA server checking device certificates: a trust anchor (the CA
    certificate) plus the fleet policy and revocation list applied to it.
    Nothing is persisted; re-apply the latest policy and list after
    creating one. May be shared between threads.
    """

    _kind = "Trust"
    _free = lib.pqc_trust_free

    def __init__(self, anchor: BytesLike) -> None:
        self._handle = None
        a = as_bytes(anchor, "anchor")
        self._adopt(lib.pqc_trust_new, a, len(a))

    def apply_policy(self, policy: BytesLike) -> None:
        """Installs a CA-signed policy; :class:`RollbackError` for one older
        than the installed one."""
        p = as_bytes(policy, "policy")
        check(lib.pqc_trust_apply_policy(self._h, p, len(p)))

    def apply_revocation(self, revocation_list: BytesLike) -> None:
        """Installs a CA-signed cumulative revocation list."""
        r = as_bytes(revocation_list, "revocation_list")
        check(lib.pqc_trust_apply_revocation(self._h, r, len(r)))

    def check_policy(self) -> None:
        """Raises :class:`PolicyError` unless a fresh policy (and the
        revocation list it demands) is installed. Gate high-risk operations,
        such as accepting firmware, on it."""
        check(lib.pqc_trust_check_policy(self._h))

    def verify_chain(self, chain: BytesLike, at: Optional[Moment] = None) -> str:
        """Verifies a device's certificate chain and returns its device id.

        ``at`` is when to check validity: ``None`` for now, an aware
        :class:`datetime.datetime`, or Unix seconds. Raises
        :class:`UntrustedError` (another CA), :class:`ExpiredError`,
        :class:`RevokedError`, :class:`VerificationError` (bad signature),
        :class:`PolicyError` or :class:`InvalidArgumentError` (malformed).
        """
        c = as_bytes(chain, "chain")
        when = _unix_time(at)
        return _c_string(_read_var(
            lambda b, cap, n: lib.pqc_trust_verify_chain(self._h, c, len(c), when, b, cap, n),
            _STRING_GUESS))

    def verify_signed(self, envelope: BytesLike, context: str) -> "SignedMessage":
        """Checks a signed envelope (:meth:`Identity.sign`) received on
        ``context``: its chain must lead to the anchor and be valid,
        unrevoked and allowed by a fresh policy now, and the signature must
        verify. Raises :class:`VerificationError` (tampered),
        :class:`UntrustedError` (another fleet or context),
        :class:`RevokedError`, :class:`ExpiredError`, :class:`PolicyError`
        or :class:`InvalidArgumentError` (malformed)."""
        e = as_bytes(envelope, "envelope")
        return _verify_signed(lambda *a: lib.pqc_trust_verify_signed(self._h, *a),
                              e, _text(context, "context"))

    def __repr__(self) -> str:
        return f"<pqc_iiot.Trust {'closed' if self.closed else 'open'}>"


# ---- CertificateAuthority --------------------------------------------------------


class CertificateAuthority(_Factory):
    """A root CA in its own encrypted keystore, for provisioning tools: it
    keeps the allow-list of factory keys, issues device chains, signs fleet
    policies and revocation lists. Its certificate is the trust anchor that
    devices and peers need. The keystore stays open and locked until
    :meth:`close`.
    """

    _kind = "CertificateAuthority"
    _free = lib.pqc_ca_free

    @classmethod
    def create(
        cls,
        path: PathLike,
        name: str,
        *,
        passphrase: Optional[Passphrase] = None,
        raw_key: Optional[BytesLike] = None,
        alg: Optional[str] = None,
        validity_seconds: int = 10 * 365 * DAY,
    ) -> "CertificateAuthority":
        """Creates a CA keystore at ``path`` (which must not exist) with a
        new self-signed certificate; ``alg`` defaults to ML-DSA-65."""
        p = _path(path)
        ca_name = _text(name, "name")
        a = _optional_text(alg, "alg")
        validity = _seconds(validity_seconds, "validity_seconds")
        with _KeystoreKey(passphrase, raw_key) as (kind, key, n):
            return _make(cls, lib.pqc_ca_create, p, kind, key, n, ca_name, a, validity)

    @classmethod
    def open(
        cls,
        path: PathLike,
        *,
        passphrase: Optional[Passphrase] = None,
        raw_key: Optional[BytesLike] = None,
    ) -> "CertificateAuthority":
        """Opens a CA keystore, including one made by ``pqc-iiot ca init``
        (its ``ca.store``, with the same passphrase)."""
        p = _path(path)
        with _KeystoreKey(passphrase, raw_key) as (kind, key, n):
            return _make(cls, lib.pqc_ca_open, p, kind, key, n)

    @property
    def certificate(self) -> bytes:
        """The CA certificate: the trust anchor for :class:`Trust` and
        :meth:`Identity.install`."""
        return _read_var(
            lambda b, c, n: lib.pqc_ca_certificate(self._h, b, c, n), _CHAIN_GUESS)

    def allow(self, device_id: str, factory_key: BytesLike,
              roles: Iterable[str] = ()) -> None:
        """Lets ``device_id`` join with ``factory_key``
        (:attr:`Identity.factory_public_key`), granting ``roles``. A join
        request from any key not allowed is refused."""
        did = _text(device_id, "device_id")
        fk = as_bytes(factory_key, "factory_key")
        if isinstance(roles, str):
            roles = [roles]
        r = _names(roles, "roles")
        check(lib.pqc_ca_allow(self._h, did, fk, len(fk), r or None))

    def enroll(self, request: BytesLike, validity_seconds: int = 365 * DAY) -> bytes:
        """Verifies a join or renewal request and issues the device's chain.

        Raises :class:`ReplayError` for a request seen before (each is
        accepted once) or older than 24 hours, :class:`UntrustedError` for a
        factory key not allowed and :class:`RevokedError` for a renewal
        signed by a revoked key.
        """
        req = as_bytes(request, "request")
        validity = _seconds(validity_seconds, "validity_seconds")
        return _produce(
            lambda b, c, n: lib.pqc_ca_enroll(self._h, req, len(req), validity, b, c, n),
            OBJECT_MAX_BYTES)

    def sign_policy(
        self,
        ttl_seconds: int = 7 * DAY,
        allowed_kems: Union[None, str, Iterable[str]] = None,
        allowed_sigs: Union[None, str, Iterable[str]] = None,
        rekey_messages: int = 10000,
        rekey_seconds: int = 3600,
        require_sessions: bool = False,
    ) -> bytes:
        """Signs a fleet policy with the CA's next sequence number, so that
        devices refuse an older one later (:class:`RollbackError`).

        ``allowed_kems`` / ``allowed_sigs`` default (None) to ML-KEM-768 and
        X25519-ML-KEM-768, and ML-DSA-65. Sessions rekey after
        ``rekey_messages`` messages or ``rekey_seconds`` seconds;
        ``require_sessions`` forbids one-shot sealed messages.
        """
        ttl = _seconds(ttl_seconds, "ttl_seconds")
        kems = _names(allowed_kems, "allowed_kems")
        sigs = _names(allowed_sigs, "allowed_sigs")
        msgs = _int(rekey_messages, "rekey_messages", 0, _UINT64_MAX)
        secs = _int(rekey_seconds, "rekey_seconds", 0, _UINT64_MAX)
        if not isinstance(require_sessions, bool):
            raise TypeError(
                f"require_sessions must be a bool, not {type(require_sessions).__name__}")
        return _produce(
            lambda b, c, n: lib.pqc_ca_sign_policy(
                self._h, ttl, kems, sigs, msgs, secs, int(require_sessions), b, c, n),
            OBJECT_MAX_BYTES)

    def revoke(self, key_ids: Iterable[BytesLike]) -> bytes:
        """Adds key ids (:attr:`Identity.key_id`, 16 bytes each) to the CA's
        cumulative revocation list and returns the whole list, signed. An
        empty iterable re-signs the current list with a new sequence
        number."""
        if isinstance(key_ids, (bytes, bytearray, memoryview)):
            # One id passed bare would be iterated as ints.
            raise TypeError("key_ids must be an iterable of key ids, not a single bytes object")
        ids = [as_bytes(k, "key id") for k in key_ids]
        for k in ids:
            if len(k) != KEY_ID_BYTES:
                raise InvalidArgumentError(
                    Status.INVALID_ARGUMENT, f"key id is {len(k)} bytes, want {KEY_ID_BYTES}")
        joined = b"".join(ids)
        return _produce(
            lambda b, c, n: lib.pqc_ca_revoke(self._h, joined, len(ids), b, c, n),
            REVOCATION_MAX_BYTES)

    def __repr__(self) -> str:
        return f"<pqc_iiot.CertificateAuthority {'closed' if self.closed else 'open'}>"
