"""Secure CoAP (pqc_coap_* of include/pqc_iiot.h).

A :class:`CoapServer` answers requests that the library has authenticated
(and checked against its ACL) for an :class:`~pqc_iiot.Identity`; a
:class:`CoapClient` sends requests and gets back only responses that
verified. Four protection modes: ``"session"`` (a pqc-iiot handshake, then
ratchet-sealed messages), ``"signed"`` (a COSE_Sign1 per message),
``"oscore"`` (RFC 8613 keyed by a pqc-iiot handshake) and ``"plain"`` (for
use under DTLS; the identity may then be None).

Example::

    with CoapServer(plc, mode="session", acl="scada-1 GET /sensors") as srv:
        srv.add_peer(scada_chain)
        srv.route("/sensors/temp", lambda req: Response(CONTENT, b"21.5"))
        print(srv.listen("0.0.0.0:5683"))
        ...

    with CoapClient(scada, "plc.local:5683", peer="plc-1") as cl:
        cl.add_peer(plc_chain)
        r = cl.get("/sensors/temp")
        if r.code == CONTENT:
            print(r.sender, r.payload)

A CoAP error answer (4.03, 4.04, 5.03 ...) is a :class:`Response` with that
code, not an exception; a response that fails verification raises
:class:`~pqc_iiot.VerificationError`. Resources are answered either by a
function (:meth:`CoapServer.route`, called on a library thread) or through
a queue (:meth:`CoapServer.handle`, then :meth:`CoapServer.recv` and
:meth:`CoapServer.respond`).
"""

from __future__ import annotations

import ctypes
import os
import traceback
from ctypes import (POINTER, Structure, c_char_p, c_int, c_int32, c_size_t, c_uint32,
                    c_uint64, c_void_p)
from typing import Callable, Dict, NamedTuple, Optional, Union

from ._common import BytesLike, Handle, as_bytes, check, out_buffer
from ._native import DEVICE_ID_MAX_BYTES, lib
from .errors import BufferTooSmallError, PqcTimeoutError
from .identity import Identity, _optional_text, _text

__all__ = [
    "CHANGED", "CONTENT", "CREATED", "DELETED", "FORBIDDEN", "NOT_FOUND", "BAD_REQUEST",
    "UNAUTHORIZED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE",
    "GET", "POST", "PUT", "DELETE", "FETCH", "PATCH", "IPATCH",
    "MAX_PAYLOAD", "NO_FORMAT",
    "CoapClient", "CoapServer", "DtlsCertificates", "Observation", "Request", "Response", "code_text",
]

#: Largest payload (PQC_COAP_MAX_PAYLOAD); paths and queries fit in
#: URI_MAX_BYTES with their NUL.
MAX_PAYLOAD = 65536
URI_MAX_BYTES = 1024
#: No Content-Format option.
NO_FORMAT = -1

GET, POST, PUT, DELETE, FETCH, PATCH, IPATCH = range(1, 8)
_METHOD_NAMES = {GET: "GET", POST: "POST", PUT: "PUT", DELETE: "DELETE", FETCH: "FETCH",
                 PATCH: "PATCH", IPATCH: "iPATCH"}


def _code(cls: int, detail: int) -> int:
    return cls << 5 | detail


CREATED, DELETED, CHANGED, CONTENT = _code(2, 1), _code(2, 2), _code(2, 4), _code(2, 5)
BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, NOT_FOUND = (_code(4, 0), _code(4, 1), _code(4, 3),
                                                   _code(4, 4))
INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE = _code(5, 0), _code(5, 3)

_MODES = {"session": 0, "signed": 1, "oscore": 2, "plain": 3}
_FLAG_CERT_GRANTS = 1


def code_text(code: int) -> str:
    """A CoAP code as RFC 7252 writes it: 69 -> "2.05"."""
    return f"{code >> 5}.{code & 31:02d}"


class _Options(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("mode", c_uint32),
        ("flags", c_uint32),
        ("timeout_ms", c_uint32),
        ("peer", c_char_p),
        ("acl", c_char_p),
        ("dtls_psk_identity", c_char_p),
        ("dtls_psk", c_char_p),
        ("dtls_psk_len", c_size_t),
        ("ack_timeout_ms", c_uint32),
        ("max_retransmit", c_uint32),
        ("dtls_cert_file", c_char_p),
        ("dtls_key_file", c_char_p),
        ("dtls_ca_file", c_char_p),
        ("dtls_server_name", c_char_p),
    ]


class _CRequest(Structure):
    _fields_ = [
        ("method", c_uint32),
        ("content_format", c_int32),
        ("path", c_char_p),
        ("query", c_char_p),
        ("sender", c_char_p),
        ("payload", c_void_p),
        ("payload_len", c_size_t),
        ("observe", c_uint32),
        ("reserved", c_uint32),
    ]


class _CResponse(Structure):
    _fields_ = [
        ("code", c_uint32),
        ("content_format", c_int32),
        ("payload", c_void_p),
        ("payload_cap", c_size_t),
        ("payload_len", c_size_t),
    ]


_HANDLER = ctypes.CFUNCTYPE(None, c_void_p, POINTER(_CRequest), POINTER(_CResponse))

_buf = c_char_p
_size_p = POINTER(c_size_t)
_handle_p = POINTER(c_void_p)
_u32_p = POINTER(c_uint32)
_int_p = POINTER(c_int)

# The CoAP prototypes, declared here so this module alone owns them.
_PROTOTYPES = {
    "pqc_coap_options_size": (c_size_t, ()),
    "pqc_coap_server_new": (c_int, (c_void_p, c_void_p, _handle_p)),
    "pqc_coap_server_listen": (c_int, (c_void_p, c_char_p)),
    "pqc_coap_server_addr": (c_int, (c_void_p, _buf, c_size_t, _size_p)),
    "pqc_coap_server_add_peer": (c_int, (c_void_p, _buf, c_size_t)),
    "pqc_coap_server_set_handler": (c_int, (c_void_p, c_char_p, _HANDLER, c_void_p)),
    "pqc_coap_server_handle": (c_int, (c_void_p, c_char_p)),
    "pqc_coap_server_recv": (c_int, (c_void_p, c_int, POINTER(c_uint64), _u32_p, _buf,
                                     c_size_t, _buf, c_size_t, _buf, c_size_t, _int_p, _buf,
                                     c_size_t, _size_p)),
    "pqc_coap_server_respond": (c_int, (c_void_p, c_uint64, c_uint32, c_int, _buf,
                                        c_size_t)),
    "pqc_coap_server_notify": (c_int, (c_void_p, c_char_p, c_int, _buf, c_size_t, _size_p)),
    "pqc_coap_server_close": (c_int, (c_void_p,)),
    "pqc_coap_server_free": (None, (c_void_p,)),
    "pqc_coap_client_new": (c_int, (c_void_p, c_char_p, c_void_p, _handle_p)),
    "pqc_coap_client_add_peer": (c_int, (c_void_p, _buf, c_size_t)),
    "pqc_coap_client_request": (c_int, (c_void_p, c_uint32, c_char_p, c_int, _buf, c_size_t,
                                        c_int, _u32_p, _int_p, _buf, c_size_t, _size_p, _buf,
                                        c_size_t)),
    "pqc_coap_client_observe": (c_int, (c_void_p, c_char_p, c_int, _handle_p)),
    "pqc_coap_observe_recv": (c_int, (c_void_p, c_int, _u32_p, _int_p, _buf, c_size_t,
                                      _size_p, _buf, c_size_t)),
    "pqc_coap_observe_cancel": (c_int, (c_void_p,)),
    "pqc_coap_observe_free": (None, (c_void_p,)),
    "pqc_coap_client_close": (c_int, (c_void_p,)),
    "pqc_coap_client_free": (None, (c_void_p,)),
}

_missing = [name for name in _PROTOTYPES if not hasattr(lib, name)]
if _missing:
    raise ImportError(f"pqc_iiot: the library lacks {', '.join(_missing)}")
for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = list(_args)

# A mismatch would make the library read past the options.
if ctypes.sizeof(_Options) != lib.pqc_coap_options_size():
    raise ImportError("pqc_iiot: the library's CoAP options differ from this package's")


class Request(NamedTuple):
    """An authenticated request: ``sender`` is the device id the library
    verified (in plain mode the DTLS PSK identity, or "")."""

    method: int
    path: str
    query: str
    sender: str
    payload: bytes
    content_format: int = NO_FORMAT
    observe: bool = False
    #: The polling queue's id for :meth:`CoapServer.respond` (0 in handlers).
    id: int = 0

    @property
    def method_name(self) -> str:
        return _METHOD_NAMES.get(self.method, str(self.method))


class Response(NamedTuple):
    """A response: from a handler, or verified by a client (then ``sender``
    is the authenticated responder, "" for an unprotected refusal)."""

    code: int = CONTENT
    payload: bytes = b""
    content_format: int = NO_FORMAT
    sender: str = ""


def _ms(timeout: Optional[float], what: str) -> int:
    """Seconds to milliseconds; None waits without limit (-1)."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError(f"{what} must not be negative")
    return min(int(timeout * 1000), 2**31 - 1)


class DtlsCertificates(NamedTuple):
    """DTLS with X.509 certificates (PEM files), instead of a PSK. A server
    needs ``cert_file`` and ``key_file``; with ``ca_file`` it requires
    client certificates issued by it (the sender its handlers see is the
    client's common name). A client needs ``ca_file`` to verify the server
    (and ``server_name``, if given, must match its certificate)."""

    cert_file: Optional[Union[str, os.PathLike]] = None
    key_file: Optional[Union[str, os.PathLike]] = None
    ca_file: Optional[Union[str, os.PathLike]] = None
    server_name: Optional[str] = None


def _optional_path(p: Optional[Union[str, os.PathLike]]) -> Optional[bytes]:
    return None if p is None else _text(os.fspath(p), "path")


def _options(mode: str, *, peer: Optional[str] = None, acl: Optional[str] = None,
             certificate_grants: bool = False, timeout: float = 0,
             psk_identity: Optional[str] = None, psk: Optional[BytesLike] = None,
             ack_timeout: float = 0, max_retransmit: int = 0,
             dtls: Optional["DtlsCertificates"] = None) -> tuple:
    """The options structure and the bytes it points to (which must stay
    alive for the call)."""
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, not {mode!r}")
    key = as_bytes(psk, "psk") if psk is not None else None
    d = dtls or DtlsCertificates()
    keep = (_optional_text(peer, "peer"), _optional_text(acl, "acl"),
            _optional_text(psk_identity, "psk_identity"), key,
            _optional_path(d.cert_file), _optional_path(d.key_file), _optional_path(d.ca_file),
            _optional_text(d.server_name, "server_name"))
    o = _Options(struct_size=ctypes.sizeof(_Options), mode=_MODES[mode],
                 flags=_FLAG_CERT_GRANTS if certificate_grants else 0,
                 timeout_ms=max(_ms(timeout, "timeout"), 0), peer=keep[0], acl=keep[1],
                 dtls_psk_identity=keep[2], dtls_psk=key,
                 dtls_psk_len=len(key) if key else 0,
                 ack_timeout_ms=max(_ms(ack_timeout, "ack_timeout"), 0),
                 max_retransmit=max_retransmit, dtls_cert_file=keep[4], dtls_key_file=keep[5],
                 dtls_ca_file=keep[6], dtls_server_name=keep[7])
    return o, keep


def _identity_handle(identity: Optional[Identity]) -> Optional[int]:
    return None if identity is None else identity._h


Handler = Callable[[Request], Union[Response, bytes, None]]


class CoapServer(Handle):
    """A CoAP server acting as ``identity`` (which must stay open while the
    server is used; None in plain mode). Nothing is bound before
    :meth:`listen`."""

    _kind = "CoapServer"
    _free = lib.pqc_coap_server_free

    def __init__(self, identity: Optional[Identity], *, mode: str = "session",
                 acl: Optional[str] = None, certificate_grants: bool = False,
                 answer_timeout: float = 0, psk_identity: Optional[str] = None,
                 psk: Optional[BytesLike] = None, ack_timeout: float = 0,
                 max_retransmit: int = 0, dtls: Optional[DtlsCertificates] = None) -> None:
        """``acl``: rules "subject methods path" separated by ";" (subject a
        device id, "*" or "role:NAME"; methods "GET,PUT" or "*"); None lets
        every authenticated sender do anything. ``answer_timeout``: how long
        a queued request waits for :meth:`respond` before it gets 5.03 (0:
        the library's 1.5 s). ``psk_identity``/``psk``: DTLS with that one
        pre-shared key."""
        self._handle = None
        self._handlers: Dict[str, object] = {}
        o, _keep = _options(mode, acl=acl, certificate_grants=certificate_grants,
                            timeout=answer_timeout, psk_identity=psk_identity, psk=psk,
                            ack_timeout=ack_timeout, max_retransmit=max_retransmit, dtls=dtls)
        self._adopt(lib.pqc_coap_server_new, _identity_handle(identity), ctypes.byref(o))

    def listen(self, addr: str = "127.0.0.1:0") -> str:
        """Binds ``addr`` (port 0 picks a free one), serves on library
        threads and returns the bound address."""
        check(lib.pqc_coap_server_listen(self._h, _text(addr, "addr")))
        return self.address

    @property
    def address(self) -> str:
        buf = out_buffer(128)
        n = c_size_t()
        check(lib.pqc_coap_server_addr(self._h, buf, len(buf), ctypes.byref(n)))
        return buf.value.decode("utf-8")

    def add_peer(self, chain: BytesLike) -> None:
        """Makes a client's certificate chain known (verified against the
        identity's trust anchor, policy and revocation list)."""
        data = as_bytes(chain, "chain")
        check(lib.pqc_coap_server_add_peer(self._h, data, len(data)))

    def route(self, path: str, fn: Optional[Handler]) -> None:
        """Answers ``path`` with ``fn``, called on a library thread (maybe
        several at once). ``fn`` returns a :class:`Response`, or bytes for
        2.05 Content; an exception answers 5.00. None removes the path.
        Do not call :meth:`route` or :meth:`close` from ``fn``."""
        p = _text(path, "path")
        if fn is None:
            check(lib.pqc_coap_server_set_handler(self._h, p, _HANDLER(), None))
            self._handlers.pop(path, None)
            return

        def trampoline(_user, creq, cresp):
            req, resp = creq.contents, cresp.contents
            try:
                r = Request(req.method, req.path.decode("utf-8"), req.query.decode("utf-8"),
                            req.sender.decode("utf-8"),
                            ctypes.string_at(req.payload, req.payload_len)
                            if req.payload_len else b"",
                            req.content_format, bool(req.observe))
                out = fn(r)
                if out is None:
                    out = Response()
                elif not isinstance(out, Response):
                    out = Response(CONTENT, as_bytes(out, "handler result"))
                if len(out.payload) > resp.payload_cap:
                    raise ValueError(f"{len(out.payload)}-byte response exceeds {MAX_PAYLOAD}")
                ctypes.memmove(resp.payload, out.payload, len(out.payload))
                resp.payload_len = len(out.payload)
                resp.code = out.code
                resp.content_format = out.content_format
            except Exception:
                traceback.print_exc()
                resp.code = INTERNAL_SERVER_ERROR
                resp.payload_len = 0

        c_fn = _HANDLER(trampoline)
        check(lib.pqc_coap_server_set_handler(self._h, p, c_fn, None))
        # The library calls c_fn until replaced, so it must stay referenced.
        self._handlers[path] = c_fn

    def handle(self, path: str) -> None:
        """Queues requests for ``path`` for :meth:`recv`."""
        check(lib.pqc_coap_server_handle(self._h, _text(path, "path")))

    def recv(self, timeout: Optional[float] = None) -> Optional[Request]:
        """The next queued request, or None if none came within ``timeout``
        seconds (None: no limit, 0: poll). Answer it with :meth:`respond`."""
        rid, method, cf, n = c_uint64(), c_uint32(), c_int(), c_size_t()
        path, query = out_buffer(URI_MAX_BYTES), out_buffer(URI_MAX_BYTES)
        sender = out_buffer(DEVICE_ID_MAX_BYTES)
        payload = out_buffer(4096)

        def take(ms: int) -> None:
            check(lib.pqc_coap_server_recv(self._h, ms, ctypes.byref(rid), ctypes.byref(method),
                                           path, len(path), query, len(query), sender,
                                           len(sender), ctypes.byref(cf), payload,
                                           len(payload), ctypes.byref(n)))

        try:
            take(_ms(timeout, "timeout"))
        except PqcTimeoutError:
            return None
        except BufferTooSmallError:
            # The request stayed queued: take it with a buffer of its size.
            payload = out_buffer(n.value)
            take(0)
        return Request(method.value, path.value.decode("utf-8"), query.value.decode("utf-8"),
                       sender.value.decode("utf-8"), payload.raw[:n.value], cf.value,
                       False, rid.value)

    def respond(self, request: Union[Request, int], code: int = CONTENT,
                payload: BytesLike = b"", content_format: int = NO_FORMAT) -> None:
        """Answers a request from :meth:`recv`. Raises StateError when it
        was already answered or expired (it then got 5.03)."""
        rid = request.id if isinstance(request, Request) else int(request)
        data = as_bytes(payload, "payload")
        check(lib.pqc_coap_server_respond(self._h, rid, code, content_format, data, len(data)))

    def notify(self, path: str, payload: BytesLike, content_format: int = NO_FORMAT) -> int:
        """Sends ``payload`` as 2.05 to every observer of ``path``; returns
        how many."""
        data = as_bytes(payload, "payload")
        sent = c_size_t()
        check(lib.pqc_coap_server_notify(self._h, _text(path, "path"), content_format, data,
                                         len(data), ctypes.byref(sent)))
        return sent.value

    def stop(self) -> None:
        """Stops serving (queued requests get 5.03) and wipes sessions,
        keeping the object; other calls then raise ClosedError."""
        check(lib.pqc_coap_server_close(self._h))

    def close(self) -> None:
        super().close()
        # Only now is the library surely done with the handlers.
        self._handlers.clear()


class Observation(Handle):
    """A running observation from :meth:`CoapClient.observe`."""

    _kind = "Observation"
    _free = lib.pqc_coap_observe_free

    def __init__(self, handle: int) -> None:
        self._handle = handle

    def recv(self, timeout: Optional[float] = None) -> Optional[Response]:
        """The first answer, then each verified notification, oldest first;
        None if none came within ``timeout`` seconds."""
        code, cf, n = c_uint32(), c_int(), c_size_t()
        sender = out_buffer(DEVICE_ID_MAX_BYTES)
        payload = out_buffer(4096)

        def take(ms: int) -> None:
            check(lib.pqc_coap_observe_recv(self._h, ms, ctypes.byref(code), ctypes.byref(cf),
                                            payload, len(payload), ctypes.byref(n), sender,
                                            len(sender)))

        try:
            take(_ms(timeout, "timeout"))
        except PqcTimeoutError:
            return None
        except BufferTooSmallError:
            payload = out_buffer(n.value)
            take(0)
        return Response(code.value, payload.raw[:n.value], cf.value,
                        sender.value.decode("utf-8"))

    def cancel(self) -> None:
        """Deregisters at the server; :meth:`recv` then raises ClosedError."""
        check(lib.pqc_coap_observe_cancel(self._h))


class CoapClient(Handle):
    """A client of the CoAP server at ``addr`` ("host:port") acting as
    ``identity`` (None in plain mode). Methods may be called from any
    thread."""

    _kind = "CoapClient"
    _free = lib.pqc_coap_client_free

    def __init__(self, identity: Optional[Identity], addr: str, *, mode: str = "session",
                 peer: Optional[str] = None, timeout: float = 0,
                 psk_identity: Optional[str] = None, psk: Optional[BytesLike] = None,
                 ack_timeout: float = 0, max_retransmit: int = 0,
                 dtls: Optional[DtlsCertificates] = None) -> None:
        """``peer`` is the server's device id (needed in session and OSCORE
        modes; in signed mode the required signer). ``timeout`` bounds one
        exchange including a handshake (0: 30 s)."""
        self._handle = None
        o, _keep = _options(mode, peer=peer, timeout=timeout, psk_identity=psk_identity,
                            psk=psk, ack_timeout=ack_timeout, max_retransmit=max_retransmit,
                            dtls=dtls)
        self._adopt(lib.pqc_coap_client_new, _identity_handle(identity), _text(addr, "addr"),
                    ctypes.byref(o))

    def add_peer(self, chain: BytesLike) -> None:
        """Makes the server's certificate chain known."""
        data = as_bytes(chain, "chain")
        check(lib.pqc_coap_client_add_peer(self._h, data, len(data)))

    def request(self, method: int, path: str, payload: BytesLike = b"",
                content_format: int = NO_FORMAT, timeout: Optional[float] = 0) -> Response:
        """One confirmable request; ``path`` may carry a query. Returns the
        verified response, whatever its code."""
        data = as_bytes(payload, "payload")
        code, cf, n = c_uint32(), c_int(), c_size_t()
        out = out_buffer(MAX_PAYLOAD)
        sender = out_buffer(DEVICE_ID_MAX_BYTES)
        check(lib.pqc_coap_client_request(self._h, method, _text(path, "path"), content_format,
                                          data, len(data), _ms(timeout, "timeout"),
                                          ctypes.byref(code), ctypes.byref(cf), out, len(out),
                                          ctypes.byref(n), sender, len(sender)))
        return Response(code.value, out.raw[:n.value], cf.value, sender.value.decode("utf-8"))

    def get(self, path: str, timeout: Optional[float] = 0) -> Response:
        return self.request(GET, path, timeout=timeout)

    def post(self, path: str, payload: BytesLike, content_format: int = NO_FORMAT,
             timeout: Optional[float] = 0) -> Response:
        return self.request(POST, path, payload, content_format, timeout)

    def put(self, path: str, payload: BytesLike, content_format: int = NO_FORMAT,
            timeout: Optional[float] = 0) -> Response:
        return self.request(PUT, path, payload, content_format, timeout)

    def delete(self, path: str, timeout: Optional[float] = 0) -> Response:
        return self.request(DELETE, path, timeout=timeout)

    def observe(self, path: str, timeout: Optional[float] = 0) -> Observation:
        """Registers an observation of ``path``; its first answer is the
        first :meth:`Observation.recv`."""
        out = c_void_p()
        check(lib.pqc_coap_client_observe(self._h, _text(path, "path"), _ms(timeout, "timeout"),
                                          ctypes.byref(out)))
        return Observation(out.value)

    def disconnect(self) -> None:
        """Ends the client and its observations, keeping the object; other
        calls then raise ClosedError."""
        check(lib.pqc_coap_client_close(self._h))
