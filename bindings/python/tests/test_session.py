"""SessionManager and Session: handshake, messages both ways, batches,
sealed messages, every refusal with its own exception, resume after a
restart, and a session between Python and C (tests/c_session_peer.c over
a subprocess's pipes)."""

from __future__ import annotations

import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Tuple

import pytest

import pqc_iiot
from pqc_iiot import (DAY, CertificateAuthority, ClosedError, Identity,
                      InvalidArgumentError, ReplayError, RevokedError, Session,
                      SessionManager, StateError, Status, UntrustedError,
                      VerificationError)

from conftest import INCLUDE_DIR, TESTS_DIR

CONTEXT = "plant/line4/cmd"


@dataclass
class Fleet:
    """A CA and two enrolled devices, plc-1 (a) and scada-1 (b)."""

    tmp: Path
    ca: CertificateAuthority
    keys: dict
    a: Identity
    b: Identity
    chain_a: bytes
    chain_b: bytes
    policy: bytes
    revocations: bytes


def _device(tmp: Path, ca: CertificateAuthority, name: str, policy: bytes,
            revocations: bytes, keys: dict) -> Tuple[Identity, bytes]:
    keys[name] = pqc_iiot.random_bytes(32)
    dev = Identity.create(tmp / f"{name}.store", name, raw_key=keys[name])
    ca.allow(name, dev.factory_public_key)
    chain = ca.enroll(dev.join_request(), DAY)
    dev.install(chain, anchor=ca.certificate)
    dev.apply_policy(policy)
    dev.apply_revocation(revocations)
    return dev, chain


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    ca = CertificateAuthority.create(tmp_path / "ca.store", "plant-root",
                                     raw_key=pqc_iiot.random_bytes(32))
    # No post-quantum step falls due on its own in these tests.
    policy = ca.sign_policy(ttl_seconds=3600, rekey_messages=0, rekey_seconds=0)
    revocations = ca.revoke([])
    keys: dict = {}
    a, chain_a = _device(tmp_path, ca, "plc-1", policy, revocations, keys)
    b, chain_b = _device(tmp_path, ca, "scada-1", policy, revocations, keys)
    f = Fleet(tmp_path, ca, keys, a, b, chain_a, chain_b, policy, revocations)
    yield f
    for obj in (a, b, ca):
        obj.close()


def _connect(ma: SessionManager, mb: SessionManager) -> Tuple[Session, Session]:
    reply, sb = mb.handle_handshake(ma.initiate("scada-1", CONTEXT))
    done, sa = ma.handle_handshake(reply)
    assert done == b"" and sa is not None and sb is not None
    return sa, sb


@pytest.fixture
def managers(fleet: Fleet) -> Iterator[Tuple[SessionManager, SessionManager]]:
    with SessionManager(fleet.a) as ma, SessionManager(fleet.b) as mb:
        assert ma.add_peer(fleet.chain_b) == "scada-1"
        assert mb.add_peer(fleet.chain_a) == "plc-1"
        yield ma, mb


def test_handshake_and_messages(managers: Tuple[SessionManager, SessionManager]) -> None:
    ma, mb = managers
    sa, sb = _connect(ma, mb)
    with sa, sb:
        assert sa.id == sb.id and len(sa.id) == 16
        assert (sa.peer_id, sb.peer_id) == ("scada-1", "plc-1")
        frame = sa.protect(b"open valve 3")
        assert len(frame) == 12 + 59 + 16
        assert sb.unprotect(frame) == b"open valve 3"
        with pytest.raises(ReplayError):
            sb.unprotect(frame)
        assert sa.unprotect(sb.protect(b"")) == b""
        assert sa.needs_reply is False
        assert "scada-1" in repr(sa)

        frame = sa.protect(bytearray(b"close valve 3"))
        forged = bytearray(frame)
        forged[-1] ^= 1
        with pytest.raises(VerificationError) as exc:
            sb.unprotect(forged)
        assert exc.value.status == Status.VERIFY
        with pytest.raises(VerificationError):
            mb.unprotect(frame, "plant/elsewhere")
        sid, pt = mb.unprotect(frame, CONTEXT)
        assert (sid, pt) == (sb.id, b"close valve 3")

        with mb.find(sb.id) as again:
            assert again.peer_id == "plc-1"
        assert sb.peer_id == "plc-1"  # other handles stay usable
        with pytest.raises(StateError):
            mb.find(bytes(16))
        with pytest.raises(InvalidArgumentError):
            mb.find(b"short")
        with pytest.raises(UntrustedError):
            ma.initiate("nobody", CONTEXT)

        sa.save()
        ma.enforce_policy()
        assert ma.resumed == []
        sa.end()
        with pytest.raises(ClosedError):
            sa.protect(b"x")
    with pytest.raises(ClosedError):
        sb.protect(b"x")  # the handle was released by the with block


def test_retransmitted_init(managers: Tuple[SessionManager, SessionManager]) -> None:
    ma, mb = managers
    init = ma.initiate("scada-1", CONTEXT)
    reply, sb = mb.handle_handshake(init)
    again, none = mb.handle_handshake(init)
    assert again == reply and none is None
    _, sa = ma.handle_handshake(reply)
    assert sa is not None and sb is not None
    assert sb.unprotect(sa.protect(b"hi")) == b"hi"
    sa.close()
    sb.close()


def test_batches(managers: Tuple[SessionManager, SessionManager]) -> None:
    ma, mb = managers
    sa, sb = _connect(ma, mb)
    with sa, sb:
        msgs = [f"sample {i}".encode() for i in range(64)]
        frames = sa.protect_batch(msgs)
        assert len(frames) == 64
        results = sb.unprotect_batch(frames + [frames[5], b"\x01\x30" + bytes(80)])
        assert results[:64] == msgs
        assert isinstance(results[64], ReplayError)
        assert isinstance(results[65], pqc_iiot.PqcError)
        assert sa.protect_batch([]) == [] and sb.unprotect_batch([]) == []


def test_threads_share_a_session(managers: Tuple[SessionManager, SessionManager]) -> None:
    ma, mb = managers
    sa, sb = _connect(ma, mb)
    frames: List[bytes] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(25):
            f = sa.protect(f"{k}:{i}".encode())
            with lock:
                frames.append(f)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = {sb.unprotect(f) for f in frames}
    assert got == {f"{k}:{i}".encode() for k in range(4) for i in range(25)}
    sa.close()
    sb.close()


def test_sealed(managers: Tuple[SessionManager, SessionManager]) -> None:
    ma, mb = managers
    frame = ma.seal("scada-1", "plant/alarm", b"overpressure")
    assert len(frame) <= 12 + pqc_iiot.seal_overhead_max()
    with pytest.raises(VerificationError):
        mb.open(frame, "plant/other")
    opened = mb.open(frame, "plant/alarm")
    assert opened == ("plc-1", b"overpressure")
    assert opened.sender == "plc-1"
    with pytest.raises(ReplayError):
        mb.open(frame, "plant/alarm")
    with pytest.raises(UntrustedError):
        ma.open(frame, "plant/alarm")  # addressed to scada-1
    with pytest.raises(UntrustedError):
        ma.seal("nobody", "plant/alarm", b"x")


def test_revoked_peer(fleet: Fleet, managers: Tuple[SessionManager, SessionManager]) -> None:
    ma, mb = managers
    sa, sb = _connect(ma, mb)
    fleet.b.apply_revocation(fleet.ca.revoke([fleet.a.key_id]))
    with pytest.raises(ClosedError):
        sb.protect(b"x")
    with pytest.raises(RevokedError):
        mb.handle_handshake(ma.initiate("scada-1", CONTEXT))
    with pytest.raises(RevokedError):
        mb.seal("plc-1", CONTEXT, b"x")
    sa.close()
    sb.close()


def test_announcement_and_resume(fleet: Fleet) -> None:
    with SessionManager(fleet.a) as ma:
        ma.add_peer(fleet.chain_b)
        mb = SessionManager(fleet.b, resume=True)
        mb.accept_announcement(fleet.a.announcement("fleet/announce"), "fleet/announce")
        sa, sb = _connect(ma, mb)
        assert sb.unprotect(sa.protect(b"before")) == b"before"
        sid = sa.id
        sb.close()
        mb.close()  # a restart of scada-1
        with SessionManager(fleet.b, resume=True) as mb2:
            assert mb2.resumed == [sid]
            with mb2.find(sid) as sb2:
                assert sa.unprotect(sb2.protect(b"after")) == b"after"
                assert sa.needs_reply
                assert sb2.unprotect(sa.protect(b"ack")) == b"ack"
        sa.close()


def test_manager_of_closed_identity(fleet: Fleet) -> None:
    m = SessionManager(fleet.a)
    fleet.a.close()
    with pytest.raises(ClosedError):
        m.add_peer(fleet.chain_b)
    m.close()
    with pytest.raises(ClosedError):
        m.enforce_policy()
    with pytest.raises(TypeError):
        Session()


# ---- Python <-> C ----------------------------------------------------------------


@pytest.fixture(scope="module")
def c_session_peer(compile_c: Callable[..., Path]) -> Path:
    header = INCLUDE_DIR / "pqc_iiot.h"
    if not header.is_file():
        pytest.skip(f"{header} not found; set PQC_IIOT_INCLUDE_DIR")
    lib = Path(pqc_iiot.library_path)
    return compile_c(TESTS_DIR / "c_session_peer.c", "c_session_peer", f"-I{INCLUDE_DIR}",
                     str(lib), f"-Wl,-rpath,{lib.parent}")


class Peer:
    """The C process, spoken to in type-length-value records."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc

    def call(self, kind: bytes, payload: bytes) -> Tuple[bytes, bytes]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(kind + struct.pack(">I", len(payload)) + payload)
        self.proc.stdin.flush()
        head = self.proc.stdout.read(5)
        assert len(head) == 5, self.proc.stderr.read().decode() if self.proc.stderr else ""
        body = self.proc.stdout.read(struct.unpack(">I", head[1:])[0])
        return head[:1], body


def test_session_with_c(fleet: Fleet, c_session_peer: Path) -> None:
    # scada-1 runs in C: its keystore must be closed here first (it is locked).
    fleet.b.close()
    (fleet.tmp / "scada.key").write_bytes(fleet.keys["scada-1"])
    (fleet.tmp / "plc.chain").write_bytes(fleet.chain_a)
    proc = subprocess.Popen(
        [str(c_session_peer), str(fleet.tmp / "scada-1.store"), str(fleet.tmp / "scada.key"),
         str(fleet.tmp / "plc.chain"), CONTEXT],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peer = Peer(proc)
    try:
        with SessionManager(fleet.a) as ma:
            ma.add_peer(fleet.chain_b)
            kind, reply = peer.call(b"H", ma.initiate("scada-1", CONTEXT))
            assert kind == b"H"
            done, sa = ma.handle_handshake(reply)
            assert done == b"" and sa is not None
            with sa:
                for i in range(5):
                    kind, frame = peer.call(b"D", sa.protect(f"reading {i}".encode()))
                    assert kind == b"D"
                    assert sa.unprotect(frame) == f"echo:reading {i}".encode()
                # Frames from a Python batch, opened one by one in C.
                for i, f in enumerate(sa.protect_batch([b"b0", b"b1", b"b2"])):
                    kind, frame = peer.call(b"D", f)
                    assert sa.unprotect(frame) == f"echo:b{i}".encode()
                forged = bytearray(sa.protect(b"tampered"))
                forged[-1] ^= 1
                assert peer.call(b"D", bytes(forged)) == (b"E", b"verification failed")
                # Sealed both ways: C opens ours and seals its answer to us.
                kind, sealed = peer.call(b"S", ma.seal("scada-1", CONTEXT, b"alarm"))
                assert kind == b"S"
                assert ma.open(sealed, CONTEXT) == ("scada-1", b"sealed:alarm")
        assert proc.stdin is not None
        proc.stdin.write(b"Q\x00\x00\x00\x00")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
