"""Sessions and sealed messages (pqc_session_* and pqc_seal / pqc_open of
include/pqc_iiot.h).

A :class:`SessionManager` works for one open :class:`~pqc_iiot.Identity`:
it runs handshakes, holds the established :class:`Session` objects and
seals or opens one-shot messages. Nothing here does I/O: every method turns
bytes into bytes, and the caller moves them over its transport (MQTT, CoAP,
a pipe, a serial line).

Example (``plc`` and ``scada`` are provisioned identities that know each
other's chains)::

    with SessionManager(plc) as a, SessionManager(scada) as b:
        a.add_peer(scada.chain)
        b.add_peer(plc.chain)
        reply, sb = b.handle_handshake(a.initiate("scada-1", "plant/cmd"))
        _, sa = a.handle_handshake(reply)
        with sa, sb:
            assert sb.unprotect(sa.protect(b"open valve")) == b"open valve"

Keys stay inside the library. Both classes may be shared between threads:
the library serializes each session.
"""

from __future__ import annotations

import ctypes
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

from ._common import BytesLike, Handle, as_bytes, check, out_buffer
from ._native import (DEVICE_ID_MAX_BYTES, HANDSHAKE_MAX_BYTES, SESSION_ID_BYTES,
                      SESSION_RESUME, last_error, lib, strerror)
from .errors import PqcError, Status, error_for_status
from .identity import Identity, _text

__all__ = [
    "Opened",
    "Session",
    "SessionManager",
    "frame_overhead_max",
    "seal_overhead_max",
]


def frame_overhead_max() -> int:
    """Bytes a session frame adds to its plaintext at most, for any suite."""
    return int(lib.pqc_session_frame_overhead_max())


def seal_overhead_max() -> int:
    """Bytes a sealed frame adds to its plaintext at most."""
    return int(lib.pqc_seal_overhead_max())


class Opened(NamedTuple):
    """An authenticated sealed message."""

    sender: str
    plaintext: bytes


def _adopted(cls: type, handle: Optional[int]) -> "Session":
    obj = cls.__new__(cls)
    obj._handle = handle
    return obj


def _arrays(items: Sequence[BytesLike], what: str) -> Tuple[List[bytes], ctypes.Array, ctypes.Array, int]:
    """The pointer and length arrays a batch call takes. The bytes objects
    are returned too: they must stay alive while C reads them."""
    data = [as_bytes(x, f"{what}[{i}]") for i, x in enumerate(items)]
    ptrs = (ctypes.c_char_p * len(data))(*data)
    lens = (ctypes.c_size_t * len(data))(*(len(d) for d in data))
    return data, ptrs, lens, sum(len(d) for d in data)


class Session(Handle):
    """An established session. Closing the object releases its handle only;
    the session stays with its manager (see :meth:`end`)."""

    _kind = "Session"
    _free = lib.pqc_session_free

    def __init__(self) -> None:
        self._handle = None
        raise TypeError("sessions come from SessionManager.handle_handshake() or .find()")

    @property
    def id(self) -> bytes:
        buf = out_buffer(SESSION_ID_BYTES)
        check(lib.pqc_session_id(self._h, buf, len(buf)))
        return buf.raw

    @property
    def peer_id(self) -> str:
        buf = out_buffer(DEVICE_ID_MAX_BYTES)
        n = ctypes.c_size_t(0)
        check(lib.pqc_session_peer_id(self._h, buf, len(buf), ctypes.byref(n)))
        return buf.raw[: max(n.value - 1, 0)].decode("utf-8")

    @property
    def needs_reply(self) -> bool:
        """The peer asked for a reply so the ratchet can step: send
        something soon (an empty message will do)."""
        needs = ctypes.c_int(0)
        check(lib.pqc_session_needs_reply(self._h, ctypes.byref(needs)))
        return bool(needs.value)

    def save(self) -> None:
        """Writes the session's snapshot to the keystore now."""
        check(lib.pqc_session_save(self._h))

    def end(self) -> None:
        """Ends the session for good (keys wiped, snapshot deleted); later
        calls raise :class:`ClosedError`. The object still needs closing."""
        check(lib.pqc_session_close(self._h))

    def protect(self, plaintext: BytesLike) -> bytes:
        pt = as_bytes(plaintext, "plaintext")
        buf = out_buffer(len(pt) + frame_overhead_max())
        n = ctypes.c_size_t(0)
        check(lib.pqc_session_protect(self._h, pt, len(pt), buf, len(buf), ctypes.byref(n)))
        return ctypes.string_at(buf, n.value)

    def unprotect(self, frame: BytesLike) -> bytes:
        """The plaintext of a frame for this session; raises
        :class:`VerificationError` for a forged frame and
        :class:`ReplayError` for one accepted before."""
        f = as_bytes(frame, "frame")
        buf = out_buffer(max(len(f), 1))
        n = ctypes.c_size_t(0)
        check(lib.pqc_session_unprotect(self._h, f, len(f), buf, len(buf), ctypes.byref(n)))
        out = ctypes.string_at(buf, n.value)
        ctypes.memset(buf, 0, len(buf))
        return out

    def protect_batch(self, messages: Sequence[BytesLike]) -> List[bytes]:
        """Frames for messages, in order, in one library call. If message i
        fails, the frames before it were made and must be sent: they are
        returned (fewer than asked); only when none was made does it
        raise."""
        if not messages:
            return []
        _keep, ptrs, lens, total = _arrays(messages, "messages")
        count = len(lens)
        buf = out_buffer(total + count * frame_overhead_max())
        frame_lens = (ctypes.c_size_t * count)()
        n = ctypes.c_size_t(0)
        status = lib.pqc_session_protect_batch(
            self._h, ptrs, lens, count, buf, len(buf), frame_lens, ctypes.byref(n))
        frames: List[bytes] = []
        off = 0
        for length in frame_lens:
            if length == 0:
                break
            frames.append(buf.raw[off:off + length])
            off += length
        if status != Status.OK and not frames:
            check(status)
        return frames

    def unprotect_batch(self, frames: Sequence[BytesLike]) -> List[Union[bytes, PqcError]]:
        """Plaintexts of frames, in order, in one library call; a frame
        that fails is given as its exception (not raised) and does not stop
        the others."""
        if not frames:
            return []
        _keep, ptrs, lens, total = _arrays(frames, "frames")
        count = len(lens)
        buf = out_buffer(max(total, 1))
        pt_lens = (ctypes.c_size_t * count)()
        statuses = (ctypes.c_int * count)()
        n = ctypes.c_size_t(0)
        check(lib.pqc_session_unprotect_batch(
            self._h, ptrs, lens, count, buf, len(buf), pt_lens, statuses, ctypes.byref(n)))
        first_detail = last_error()
        out: List[Union[bytes, PqcError]] = []
        off, first = 0, True
        raw = buf.raw
        ctypes.memset(buf, 0, len(buf))
        for status, length in zip(statuses, pt_lens):
            if status != Status.OK:
                # The library keeps the detail of the first failure only.
                detail = first_detail if first else strerror(status)
                first = False
                out.append(error_for_status(status, detail, strerror(status)))
                continue
            out.append(raw[off:off + length])
            off += length
        return out

    def __repr__(self) -> str:
        if self.closed:
            return "<pqc_iiot.Session closed>"
        try:
            return f"<pqc_iiot.Session {self.id.hex()} with {self.peer_id!r}>"
        except PqcError:
            return "<pqc_iiot.Session ended>"


class SessionManager(Handle):
    """Runs handshakes and holds the sessions of one identity, which must
    stay open while the manager is used.

    ``resume=True`` keeps sessions across restarts: their snapshots live in
    the keystore and a new manager restores them (:attr:`resumed`). Without
    it, snapshots an earlier process left are deleted. Peers must be made
    known (:meth:`add_peer`, :meth:`accept_announcement`) in every process.
    """

    _kind = "SessionManager"
    _free = lib.pqc_session_manager_free

    def __init__(self, identity: Identity, *, resume: bool = False) -> None:
        self._handle = None
        if not isinstance(identity, Identity):
            raise TypeError(f"identity must be an Identity, not {type(identity).__name__}")
        if not isinstance(resume, bool):
            raise TypeError(f"resume must be a bool, not {type(resume).__name__}")
        self._identity = identity  # keeps the keystore open as long as we are
        self._adopt(lib.pqc_session_manager_new, identity._h,
                    SESSION_RESUME if resume else 0)

    def add_peer(self, chain: BytesLike) -> str:
        """Verifies a peer's certificate chain, records its keys and
        returns its device id."""
        c = as_bytes(chain, "chain")
        buf = out_buffer(DEVICE_ID_MAX_BYTES)
        n = ctypes.c_size_t(0)
        check(lib.pqc_session_manager_add_peer(self._h, c, len(c), buf, len(buf),
                                               ctypes.byref(n)))
        return buf.raw[: max(n.value - 1, 0)].decode("utf-8")

    def accept_announcement(self, announcement: BytesLike, topic: str) -> None:
        a = as_bytes(announcement, "announcement")
        check(lib.pqc_session_manager_accept_announcement(self._h, a, len(a),
                                                          _text(topic, "topic")))

    def enforce_policy(self) -> None:
        """Closes sessions the installed policy no longer allows."""
        check(lib.pqc_session_manager_enforce_policy(self._h))

    @property
    def resumed(self) -> List[bytes]:
        """Ids of the sessions restored when the manager was made."""
        n = ctypes.c_size_t(0)
        status = lib.pqc_session_manager_resumed(self._h, None, 0, ctypes.byref(n))
        if status == Status.OK or n.value == 0:
            check(status)
            return []
        buf = out_buffer(n.value)
        check(lib.pqc_session_manager_resumed(self._h, buf, len(buf), ctypes.byref(n)))
        raw = buf.raw[: n.value]
        return [raw[i:i + SESSION_ID_BYTES] for i in range(0, len(raw), SESSION_ID_BYTES)]

    def find(self, session_id: BytesLike) -> Session:
        """A new :class:`Session` object for an established session."""
        sid = as_bytes(session_id, "session_id")
        out = ctypes.c_void_p()
        check(lib.pqc_session_manager_find(self._h, sid, len(sid), ctypes.byref(out)))
        return _adopted(Session, out.value)

    def initiate(self, peer_id: str, context: str) -> bytes:
        """The Init frame to send to ``peer_id``; ``context`` (topic, path)
        binds the session and must be the same on both sides."""
        buf = out_buffer(HANDSHAKE_MAX_BYTES)
        n = ctypes.c_size_t(0)
        check(lib.pqc_session_initiate(self._h, _text(peer_id, "peer_id"),
                                       _text(context, "context"), buf, len(buf),
                                       ctypes.byref(n)))
        return ctypes.string_at(buf, n.value)

    def handle_handshake(self, frame: BytesLike) -> Tuple[bytes, Optional[Session]]:
        """Handles a peer's handshake frame: returns the reply to send
        (empty for none) and the new session, which appears once: a
        retransmitted Init gets the same reply again and None."""
        f = as_bytes(frame, "frame")
        buf = out_buffer(HANDSHAKE_MAX_BYTES)
        n = ctypes.c_size_t(0)
        out = ctypes.c_void_p()
        check(lib.pqc_session_handle_handshake(self._h, f, len(f), buf, len(buf),
                                               ctypes.byref(n), ctypes.byref(out)))
        session = _adopted(Session, out.value) if out.value else None
        return ctypes.string_at(buf, n.value), session

    def unprotect(self, frame: BytesLike, context: str) -> Tuple[bytes, bytes]:
        """A data frame received on ``context``, routed to its session:
        returns (session id, plaintext)."""
        f = as_bytes(frame, "frame")
        buf = out_buffer(max(len(f), 1))
        sid = out_buffer(SESSION_ID_BYTES)
        n = ctypes.c_size_t(0)
        check(lib.pqc_session_manager_unprotect(self._h, f, len(f), _text(context, "context"),
                                                buf, len(buf), ctypes.byref(n), sid))
        out = ctypes.string_at(buf, n.value)
        ctypes.memset(buf, 0, len(buf))
        return sid.raw, out

    def seal(self, recipient_id: str, context: str, plaintext: BytesLike) -> bytes:
        """A one-shot message for ``recipient_id``, signed by this identity
        and encrypted to the recipient's certified KEM key."""
        pt = as_bytes(plaintext, "plaintext")
        buf = out_buffer(len(pt) + seal_overhead_max())
        n = ctypes.c_size_t(0)
        check(lib.pqc_seal(self._h, _text(recipient_id, "recipient_id"),
                           _text(context, "context"), pt, len(pt), buf, len(buf),
                           ctypes.byref(n)))
        return ctypes.string_at(buf, n.value)

    def open(self, frame: BytesLike, context: str) -> Opened:
        """Checks and decrypts a sealed frame received on ``context``; each
        frame is accepted once (:class:`ReplayError` after)."""
        f = as_bytes(frame, "frame")
        buf = out_buffer(max(len(f), 1))
        sender = out_buffer(DEVICE_ID_MAX_BYTES)
        n = ctypes.c_size_t(0)
        check(lib.pqc_open(self._h, f, len(f), _text(context, "context"), buf, len(buf),
                           ctypes.byref(n), sender, len(sender)))
        out = ctypes.string_at(buf, n.value)
        ctypes.memset(buf, 0, len(buf))
        return Opened(sender.value.decode("utf-8"), out)

    def __repr__(self) -> str:
        return "<pqc_iiot.SessionManager closed>" if self.closed else "<pqc_iiot.SessionManager>"
