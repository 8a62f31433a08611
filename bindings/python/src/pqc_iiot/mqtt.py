"""MQTT with end-to-end protection (pqc_mqtt_* of include/pqc_iiot.h).

An :class:`MqttClient` acts as an open, provisioned
:class:`~pqc_iiot.Identity`: every payload it publishes is protected for the
devices entitled to read the topic, and every message it receives names the
sender the library authenticated (a device id), never what the topic or the
MQTT client id claims. Who may publish and read a topic is in the devices'
certificates (:func:`allow_topics` when provisioning).

Example::

    with MqttClient(scada, "tcp://broker:1883") as client:
        client.subscribe("plant/#")
        client.connect()
        while True:
            msg = client.recv(timeout=1.0)
            if msg is not None:
                print(msg.sender, msg.topic, msg.payload)

:meth:`MqttClient.recv` is the polling form; :meth:`MqttClient.set_callback`
hands messages to a function on a library thread instead. An
:class:`MqttBroker` is an in-process broker for demos and tests.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char_p, c_uint32, c_uint64
from typing import Callable, Dict, Iterable, NamedTuple, Optional, Union

from ._common import BytesLike, Handle, as_bytes, check, out_buffer
from ._native import DEVICE_ID_MAX_BYTES, MQTT_CALLBACK, lib
from .errors import BufferTooSmallError, PqcTimeoutError
from .identity import (CertificateAuthority, Identity, PathLike, _optional_text, _path,
                       _text)

__all__ = [
    "MAX_PAYLOAD",
    "Message",
    "MqttBroker",
    "MqttClient",
    "allow_topics",
]

#: Largest application payload (PQC_MQTT_MAX_PAYLOAD).
MAX_PAYLOAD = 49152
#: A topic with its NUL (PQC_MQTT_TOPIC_MAX_BYTES).
TOPIC_MAX_BYTES = 513

_MODES = {"auto": 0, "sealed": 1, "sessions": 2}
_FLAG_QOS0 = 1
_FLAG_CLEAN_SESSION = 2


class _Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("mode", c_uint32),
        ("client_id", c_char_p),
        ("username", c_char_p),
        ("password", c_char_p),
        ("recipients", c_char_p),
        ("flags", c_uint32),
        ("keepalive_seconds", c_uint32),
        ("connect_timeout_ms", c_uint32),
        ("queue_size", c_uint32),
        ("tls_ca_file", c_char_p),
        ("tls_cert_file", c_char_p),
        ("tls_key_file", c_char_p),
        ("tls_server_name", c_char_p),
    ]


_STATS_FIELDS = (
    "delivered", "published", "publish_failed", "queue_full", "dropped_oversize",
    "dropped_bad_topic", "dropped_rate_limited", "dropped_unprotect",
    "dropped_not_for_me", "dropped_control", "accepted_announcements",
    "accepted_handshakes", "reconnects", "connection_lost",
)


class _Stats(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("reserved", c_uint32)] + [
        (name, c_uint64) for name in _STATS_FIELDS
    ]


# A mismatch would make the library read or write past these structures.
if ctypes.sizeof(_Options) != lib.pqc_mqtt_options_size() or \
        ctypes.sizeof(_Stats) != lib.pqc_mqtt_stats_size():
    raise ImportError("pqc_iiot: the library's MQTT structures differ from this package's")


class Message(NamedTuple):
    """A verified message: ``sender`` is the authenticated device id."""

    topic: str
    sender: str
    payload: bytes


def _ms(timeout: Optional[float], what: str) -> int:
    """Seconds to the library's milliseconds; None waits without limit."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError(f"{what} must not be negative")
    return min(int(timeout * 1000), 2**31 - 1)


def _list(value: Union[None, str, Iterable[str]], what: str) -> Optional[bytes]:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    return _text(",".join(items), what) if items else None


def _optional_path(value: Optional[PathLike]) -> Optional[bytes]:
    # None becomes NULL: the library's default (system roots, no client
    # certificate).
    return None if value is None else _path(value)


def allow_topics(ca: CertificateAuthority, device_id: str, factory_key: BytesLike,
                 publish: Union[None, str, Iterable[str]] = None,
                 subscribe: Union[None, str, Iterable[str]] = None,
                 roles: Union[None, str, Iterable[str]] = None) -> None:
    """:meth:`CertificateAuthority.allow` with MQTT topic grants: the
    certificate ``device_id`` gets lets it publish on the ``publish``
    filters and read the ``subscribe`` filters."""
    fk = as_bytes(factory_key, "factory_key")
    check(lib.pqc_ca_allow_topics(ca._h, _text(device_id, "device_id"), fk, len(fk),
                                  _list(roles, "roles"), _list(publish, "publish"),
                                  _list(subscribe, "subscribe")))


class MqttBroker(Handle):
    """An in-process MQTT broker (mochi-mqtt) for demos and tests. It lets
    every client in and keeps nothing on disk: not a production broker."""

    _kind = "MqttBroker"
    _free = lib.pqc_mqtt_broker_free

    def __init__(self, addr: Optional[str] = None) -> None:
        """``addr`` is host:port; None picks a free port on 127.0.0.1."""
        self._handle = None
        self._adopt(lib.pqc_mqtt_broker_new, _optional_text(addr, "addr"))

    @property
    def url(self) -> str:
        buf = out_buffer(256)
        n = ctypes.c_size_t()
        check(lib.pqc_mqtt_broker_url(self._h, buf, len(buf), ctypes.byref(n)))
        return buf.value.decode("utf-8")


class MqttClient(Handle):
    """A client of an MQTT broker acting as ``identity``, which must stay
    open while the client is used. Methods may be called from any thread.
    :meth:`close` disconnects and releases the client."""

    _kind = "MqttClient"
    _free = lib.pqc_mqtt_free

    def __init__(self, identity: Identity, broker_url: str, *, mode: str = "auto",
                 client_id: Optional[str] = None, username: Optional[str] = None,
                 password: Optional[str] = None,
                 recipients: Union[None, str, Iterable[str]] = None,
                 qos: int = 1, clean_session: bool = False, keepalive: int = 0,
                 connect_timeout: float = 0, queue_size: int = 0,
                 tls_ca_file: Optional[PathLike] = None,
                 tls_cert_file: Optional[PathLike] = None,
                 tls_key_file: Optional[PathLike] = None,
                 tls_server_name: Optional[str] = None) -> None:
        """``mode`` is "auto", "sealed" or "sessions"; ``recipients``
        overrides the certificate-derived readers of every topic; zeros mean
        the library's defaults.

        TLS to the broker needs an ``ssl://``, ``tls://``, ``mqtts://`` or
        ``tcps://`` URL; the ``tls_`` options with a ``tcp://`` or
        ``mqtt://`` URL raise :class:`InvalidArgumentError` rather than
        connect in the clear. ``tls_ca_file`` is a PEM file of the CA
        certificates that verify the broker (None: the system's roots);
        ``tls_cert_file`` and ``tls_key_file``, both or neither, are the PEM
        client certificate (chain) and key for a broker that demands one;
        ``tls_server_name`` is the name the broker's certificate must carry
        (None: the URL's host). Files are read here: a missing one raises
        :class:`KeystoreIOError`, one without a usable certificate or key
        :class:`InvalidArgumentError`. A broker the CA does not vouch for,
        or whose certificate lacks the name, makes :meth:`connect` raise
        :class:`KeystoreIOError` (the library's I/O status)."""
        self._handle = None
        self._callback = None
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {', '.join(_MODES)}, not {mode!r}")
        if qos not in (0, 1):
            raise ValueError("qos must be 0 or 1")
        # The strings must outlive the call; they are locals until it returns.
        o = _Options(struct_size=ctypes.sizeof(_Options), mode=_MODES[mode],
                     client_id=_optional_text(client_id, "client_id"),
                     username=_optional_text(username, "username"),
                     password=_optional_text(password, "password"),
                     recipients=_list(recipients, "recipients"),
                     flags=(_FLAG_QOS0 if qos == 0 else 0)
                     | (_FLAG_CLEAN_SESSION if clean_session else 0),
                     keepalive_seconds=keepalive,
                     connect_timeout_ms=_ms(connect_timeout, "connect_timeout"),
                     queue_size=queue_size,
                     tls_ca_file=_optional_path(tls_ca_file),
                     tls_cert_file=_optional_path(tls_cert_file),
                     tls_key_file=_optional_path(tls_key_file),
                     tls_server_name=_optional_text(tls_server_name, "tls_server_name"))
        self._adopt(lib.pqc_mqtt_new, identity._h, _text(broker_url, "broker_url"),
                    ctypes.byref(o))

    def connect(self, timeout: Optional[float] = 0) -> None:
        """Connects and announces the device's keys; 0 uses the connect
        timeout option. The library reconnects by itself afterwards."""
        check(lib.pqc_mqtt_connect(self._h, _ms(timeout, "timeout")))

    def publish(self, topic: str, payload: BytesLike, timeout: Optional[float] = 0) -> None:
        """Protects and publishes; returns once the broker acknowledged.
        Raises :class:`StateError` while no reader of the topic has
        announced keys, :class:`RateLimitedError` when the publish queue is
        full."""
        data = as_bytes(payload, "payload")
        check(lib.pqc_mqtt_publish(self._h, _text(topic, "topic"), data, len(data),
                                   _ms(timeout, "timeout")))

    def subscribe(self, topic_filter: str) -> None:
        check(lib.pqc_mqtt_subscribe(self._h, _text(topic_filter, "topic_filter")))

    def recv(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next verified message, or None if none arrived within
        ``timeout`` seconds (None: wait without limit, 0: poll)."""
        topic = out_buffer(TOPIC_MAX_BYTES)
        sender = out_buffer(DEVICE_ID_MAX_BYTES)
        payload = out_buffer(4096)
        n = ctypes.c_size_t()
        ms = _ms(timeout, "timeout")
        try:
            check(lib.pqc_mqtt_recv(self._h, ms, topic, len(topic), sender, len(sender),
                                    payload, len(payload), ctypes.byref(n)))
        except PqcTimeoutError:
            return None
        except BufferTooSmallError:
            # The message stayed queued: take it with a buffer of its size.
            payload = out_buffer(n.value)
            check(lib.pqc_mqtt_recv(self._h, 0, topic, len(topic), sender, len(sender),
                                    payload, len(payload), ctypes.byref(n)))
        return Message(topic.value.decode("utf-8"), sender.value.decode("utf-8"),
                       payload.raw[:n.value])

    def set_callback(self, fn: Optional[Callable[[Message], None]]) -> None:
        """Hands messages to ``fn`` on a library thread instead of
        :meth:`recv`; None goes back to recv. Exceptions in ``fn`` are
        printed and dropped. Do not call this, or :meth:`close`, from
        ``fn``."""
        if fn is None:
            check(lib.pqc_mqtt_set_callback(self._h, MQTT_CALLBACK(), None))
            self._callback = None
            return

        def trampoline(_user, topic, sender, payload, length):
            fn(Message(topic.decode("utf-8"), sender.decode("utf-8"),
                       ctypes.string_at(payload, length) if length else b""))

        c_fn = MQTT_CALLBACK(trampoline)
        check(lib.pqc_mqtt_set_callback(self._h, c_fn, None))
        # The library calls c_fn until replaced, so it must stay referenced.
        self._callback = c_fn

    def stats(self) -> Dict[str, int]:
        """Cumulative counters (delivered, published, dropped_*, ...)."""
        s = _Stats(struct_size=ctypes.sizeof(_Stats))
        check(lib.pqc_mqtt_stats(self._h, ctypes.byref(s)))
        return {name: int(getattr(s, name)) for name in _STATS_FIELDS}

    def disconnect(self) -> None:
        """Disconnects and stops the callback, keeping the object for
        :meth:`stats`; other calls then raise ClosedError."""
        check(lib.pqc_mqtt_close(self._h))

    def close(self) -> None:
        super().close()
        # Only now is the library surely done with the callback.
        self._callback = None
