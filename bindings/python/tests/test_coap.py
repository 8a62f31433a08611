"""CoapServer and CoapClient: protected round trips in every mode, handler
and queue resources, the ACL, observe, refusals an attacker on the path
provokes (tampered and replayed datagrams through a UDP relay), and the C
and Python examples talking to each other across languages."""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

import pqc_iiot
from pqc_iiot import (CertificateAuthority, ClosedError, Identity, InvalidArgumentError,
                      StateError, VerificationError)
from pqc_iiot.coap import (CHANGED, CONTENT, FORBIDDEN, DtlsCertificates, GET, INTERNAL_SERVER_ERROR, NOT_FOUND,
                           SERVICE_UNAVAILABLE, CoapClient, CoapServer, Request, Response,
                           code_text)

from conftest import INCLUDE_DIR, REPO_ROOT, _gcc, make_test_pki

MODES = ["session", "signed", "oscore"]


@dataclass
class Fleet:
    plc: Identity
    hmi: Identity
    viewer: Identity


def _enrol(ca: CertificateAuthority, path: Path, name: str, policy: bytes, revocations: bytes,
           **key) -> Identity:
    dev = Identity.create(path, name, **key)
    ca.allow(name, dev.factory_public_key)
    dev.install(ca.enroll(dev.join_request()), anchor=ca.certificate)
    dev.apply_policy(policy)
    dev.apply_revocation(revocations)
    return dev


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    d = tmp_path_factory.mktemp("coap")
    ca = CertificateAuthority.create(d / "ca.store", "root", raw_key=pqc_iiot.random_bytes(32))
    policy, revocations = ca.sign_policy(ttl_seconds=3600), ca.revoke([])
    devs = [_enrol(ca, d / f"{n}.store", n, policy, revocations,
                   raw_key=pqc_iiot.random_bytes(32)) for n in ("plc-1", "hmi-1", "viewer-1")]
    ca.close()
    yield Fleet(*devs)
    for dev in devs:
        dev.close()


def echo(req: Request) -> Response:
    body = f"{req.sender}|{req.query}|".encode() + req.payload
    return Response(CONTENT if req.method == GET else CHANGED, body, 0)


@dataclass
class Pair:
    srv: CoapServer
    cl: CoapClient
    mode: str


@pytest.fixture(params=MODES)
def pair(request: pytest.FixtureRequest, fleet: Fleet) -> Iterator[Pair]:
    mode = request.param
    srv = CoapServer(fleet.plc, mode=mode, acl="hmi-1 * /#; viewer-1 GET /echo")
    srv.add_peer(fleet.hmi.chain)
    srv.add_peer(fleet.viewer.chain)
    srv.route("/echo", echo)
    addr = srv.listen()
    cl = CoapClient(fleet.hmi, addr, mode=mode, peer="plc-1", timeout=20)
    cl.add_peer(fleet.plc.chain)
    yield Pair(srv, cl, mode)
    cl.close()
    srv.close()


def test_handler_round_trip(pair: Pair) -> None:
    srv, cl = pair.srv, pair.cl
    assert srv.address.startswith("127.0.0.1:") and not srv.address.endswith(":0")
    r = cl.post("/echo?a=1&b=2", b"\x00binary\xff")
    assert (r.code, r.payload, r.sender) == (CHANGED, b"hmi-1|a=1&b=2|\x00binary\xff", "plc-1")
    assert r.content_format == 0
    assert cl.get("/missing").code == NOT_FOUND


def test_handler_failures_answer_5_00(pair: Pair) -> None:
    srv, cl = pair.srv, pair.cl

    def broken(req: Request) -> Response:
        raise RuntimeError("handler bug")

    srv.route("/broken", broken)
    srv.route("/huge", lambda req: b"x" * 70000)
    assert cl.get("/broken").code == INTERNAL_SERVER_ERROR
    assert cl.get("/huge").code == INTERNAL_SERVER_ERROR
    srv.route("/broken", None)
    assert cl.get("/broken").code == NOT_FOUND


def test_queue_round_trip_and_large_payload(pair: Pair) -> None:
    srv, cl = pair.srv, pair.cl
    srv.handle("/queue")
    body = bytes(range(256)) * 40  # block-wise in every mode
    seen: List[Request] = []

    def responder() -> None:
        req = srv.recv(timeout=20)
        assert req is not None
        seen.append(req)
        srv.respond(req, CHANGED, req.payload[::-1])

    t = threading.Thread(target=responder)
    t.start()
    r = cl.put("/queue?x=y", body)
    t.join()
    assert r.code == CHANGED and r.payload == body[::-1]
    assert seen[0].sender == "hmi-1" and seen[0].query == "x=y" and seen[0].method_name == "PUT"
    with pytest.raises(StateError):
        srv.respond(seen[0], CONTENT)
    assert srv.recv(timeout=0) is None


def test_acl_refusal_is_a_protected_answer(pair: Pair, fleet: Fleet) -> None:
    with CoapClient(fleet.viewer, pair.srv.address, mode=pair.mode, peer="plc-1",
                    timeout=20) as viewer:
        viewer.add_peer(fleet.plc.chain)
        assert viewer.get("/echo").payload == b"viewer-1||"
        denied = viewer.post("/echo", b"write")
        # 4.03 is the server's protected answer, not an exception.
        assert (denied.code, denied.sender) == (FORBIDDEN, "plc-1")


def test_observe(pair: Pair) -> None:
    srv, cl = pair.srv, pair.cl
    with cl.observe("/echo", timeout=20) as obs:
        first = obs.recv(timeout=10)
        assert first is not None and first.code == CONTENT and first.payload == b"hmi-1||"
        assert obs.recv(timeout=0) is None
        assert srv.notify("/echo", b"21.5", 0) == 1
        # Signed notifications exceed one datagram and arrive block-wise.
        n = obs.recv(timeout=20)
        assert n is not None and (n.payload, n.sender) == (b"21.5", "plc-1")
        obs.cancel()
        with pytest.raises(ClosedError):
            obs.recv(timeout=0)


def test_unanswered_queue_request_gets_5_03(fleet: Fleet) -> None:
    with CoapServer(fleet.plc, mode="signed", answer_timeout=0.2) as srv:
        srv.add_peer(fleet.hmi.chain)
        srv.handle("/slow")
        with CoapClient(fleet.hmi, srv.listen(), mode="signed", peer="plc-1") as cl:
            cl.add_peer(fleet.plc.chain)
            r = cl.post("/slow", b"late")
            assert (r.code, r.sender) == (SERVICE_UNAVAILABLE, "plc-1")
            assert code_text(r.code) == "5.03"
            # It expired: nothing to take, nothing to answer.
            assert srv.recv(timeout=0) is None


def test_bad_arguments(fleet: Fleet) -> None:
    with pytest.raises(ValueError):
        CoapServer(fleet.plc, mode="tls")
    with pytest.raises(InvalidArgumentError):
        CoapServer(fleet.plc, acl="hmi-1 GET")
    with pytest.raises(InvalidArgumentError):
        CoapClient(fleet.hmi, "127.0.0.1:1")  # session mode needs peer
    with pytest.raises(ClosedError):
        CoapServer(None, mode="session")
    srv = CoapServer(fleet.plc, mode="signed")
    with pytest.raises(StateError):
        srv.address
    with pytest.raises(InvalidArgumentError):
        srv.handle("relative")
    with pytest.raises(InvalidArgumentError):
        srv.add_peer(b"junk")
    srv.stop()
    with pytest.raises(ClosedError):
        srv.listen()
    srv.close()
    with pytest.raises(ClosedError):
        srv.listen()


def test_plain_mode_over_dtls_psk() -> None:
    psk = pqc_iiot.random_bytes(16)
    with CoapServer(None, mode="plain", psk_identity="gw-1", psk=psk,
                    acl="gw-1 GET /echo") as srv:
        srv.route("/echo", echo)
        addr = srv.listen()
        with CoapClient(None, addr, mode="plain", psk_identity="gw-1", psk=psk,
                        timeout=5) as cl:
            r = cl.get("/echo?k=v")
            assert (r.code, r.payload, r.sender) == (CONTENT, b"gw-1|k=v|", "")
            assert cl.put("/echo", b"x").code == FORBIDDEN


@pytest.fixture(scope="module")
def x509_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two CAs (EC P-256), a server certificate for plc-1.local and a
    client certificate for gw-cert-1 from the first, made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return make_test_pki(tmp_path_factory.mktemp("x509"), "plc-1.local",
                         "subjectAltName=DNS:plc-1.local", "gw-cert-1")


def test_plain_mode_over_dtls_certificates(x509_dir: Path) -> None:
    d = x509_dir
    server = DtlsCertificates(d / "server.pem", d / "server.key", d / "ca.pem")
    with CoapServer(None, mode="plain", dtls=server, acl="gw-cert-1 GET /echo") as srv:
        srv.route("/echo", echo)
        addr = srv.listen()
        good = DtlsCertificates(d / "client.pem", d / "client.key", d / "ca.pem", "plc-1.local")
        with CoapClient(None, addr, mode="plain", dtls=good, timeout=5) as cl:
            r = cl.get("/echo")
            # The sender is the common name of the verified client certificate.
            assert (r.code, r.payload) == (CONTENT, b"gw-cert-1||")
        for bad in (good._replace(ca_file=d / "other-ca.pem"),  # server not trusted
                    good._replace(server_name="other.local"),    # name mismatch
                    good._replace(cert_file=None, key_file=None)):  # no client certificate
            with pytest.raises(pqc_iiot.PqcError):
                with CoapClient(None, addr, mode="plain", dtls=bad, timeout=3) as cl:
                    cl.get("/echo")
    with pytest.raises(InvalidArgumentError):
        CoapServer(None, mode="plain", dtls=DtlsCertificates(d / "server.pem", d / "ca.key"))


# ---- An attacker on the path ------------------------------------------------

class Relay:
    """A UDP relay between one client and the server that can flip the last
    byte of datagrams in either direction and record the client's."""

    def __init__(self, server: str) -> None:
        host, port = server.rsplit(":", 1)
        self.server = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.client: Optional[Tuple[str, int]] = None
        self.tamper_requests = self.tamper_responses = self.recording = False
        self.recorded: List[bytes] = []
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.sock], [], [], 0.05)
            if not ready:
                continue
            data, src = self.sock.recvfrom(65536)
            if src == self.server:
                if self.client is None:
                    continue
                self.sock.sendto(self._flip(data) if self.tamper_responses else data, self.client)
            else:
                self.client = src
                if self.recording:
                    self.recorded.append(data)
                self.sock.sendto(self._flip(data) if self.tamper_requests else data, self.server)

    @staticmethod
    def _flip(data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if len(data) > 4 else data

    def replay(self) -> int:
        """Sends the recorded datagrams from another socket; returns the
        code of the last answer (0 if none came)."""
        code = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            for d in self.recorded:
                s.sendto(d, self.server)
                try:
                    code = s.recv(65536)[1]
                except socket.timeout:
                    break
        return code

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()


@pytest.mark.parametrize("mode", MODES)
def test_tampered_and_replayed_messages_are_refused(fleet: Fleet, mode: str) -> None:
    calls = []

    def counted(req: Request) -> Response:
        calls.append(req)
        return echo(req)

    with CoapServer(fleet.plc, mode=mode) as srv:
        srv.add_peer(fleet.hmi.chain)
        srv.route("/echo", counted)
        relay = Relay(srv.listen())
        try:
            with CoapClient(fleet.hmi, relay.addr, mode=mode, peer="plc-1", timeout=20) as cl:
                cl.add_peer(fleet.plc.chain)
                assert cl.post("/echo", b"clean").code == CHANGED
                relay.tamper_requests = True
                r = cl.post("/echo", b"tampered request")
                relay.tamper_requests = False
                assert r.code >> 5 == 4 and r.sender == ""  # unprotected refusal
                relay.tamper_responses = True
                with pytest.raises(VerificationError):
                    cl.post("/echo", b"tampered response")
                relay.tamper_responses = False
            # A fresh session, so only the data request is recorded.
            with CoapClient(fleet.hmi, relay.addr, mode=mode, peer="plc-1", timeout=20) as cl:
                assert cl.get("/echo").code == CONTENT
                relay.recording = True
                assert cl.post("/echo", b"once").code == CHANGED
                relay.recording = False
            before = len(calls)
            code = relay.replay()
            assert code >> 5 != 2, f"replay answered {code_text(code)}"
            assert len(calls) == before, "the handler ran for a replayed request"
        finally:
            relay.close()


# ---- Cross-language: the C and Python examples ------------------------------

PASSPHRASE = "coap example passphrase"


@dataclass
class ExampleFleet:
    dir: Path
    server_store: Path
    client_store: Path
    server_chain: Path
    client_chain: Path


@pytest.fixture(scope="module")
def example_fleet(tmp_path_factory: pytest.TempPathFactory) -> ExampleFleet:
    """Keystores for the example processes, closed here so they can open
    them (a keystore is opened by one process at a time)."""
    d = tmp_path_factory.mktemp("coap-examples")
    ca = CertificateAuthority.create(d / "ca.store", "root", raw_key=pqc_iiot.random_bytes(32))
    policy, revocations = ca.sign_policy(ttl_seconds=3600), ca.revoke([])
    for name in ("plc-1", "hmi-1"):
        with _enrol(ca, d / f"{name}.store", name, policy, revocations,
                    passphrase=PASSPHRASE) as dev:
            (d / f"{name}.chain").write_bytes(dev.chain)
    ca.close()
    return ExampleFleet(d, d / "plc-1.store", d / "hmi-1.store", d / "plc-1.chain",
                        d / "hmi-1.chain")


@pytest.fixture(scope="module")
def c_examples(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    header = INCLUDE_DIR / "pqc_iiot.h"
    if not header.is_file():
        pytest.skip(f"{header} not found; set PQC_IIOT_INCLUDE_DIR")
    gcc = _gcc()
    lib = Path(pqc_iiot.library_path)
    out = tmp_path_factory.mktemp("coap-c")
    exes = []
    for name in ("coap_server", "coap_client"):
        exe = out / name
        cmd = [gcc, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", f"-I{INCLUDE_DIR}",
               "-o", str(exe), str(REPO_ROOT / "examples" / "c" / f"{name}.c"), str(lib),
               f"-Wl,-rpath,{lib.parent}"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
        exes.append(exe)
    return exes[0], exes[1]


def _python_example(name: str) -> List[str]:
    return [sys.executable, str(REPO_ROOT / "examples" / "python" / f"{name}.py")]


def _run_pair(server_cmd: List[str], client_cmd: List[str], f: ExampleFleet, mode: str) -> str:
    env = dict(os.environ, PQC_PASSPHRASE=PASSPHRASE)
    srv = subprocess.Popen(server_cmd + [str(f.server_store), mode, "hmi-1", str(f.client_chain)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = srv.stdout.readline() if srv.stdout else ""
        assert line.startswith("listening "), f"server said {line!r}: {srv.stderr.read() if srv.stderr else ''}"
        addr = line.split()[1]
        client = subprocess.run(client_cmd + [str(f.client_store), mode, addr, "plc-1",
                                              str(f.server_chain), "17.5"],
                                capture_output=True, text=True, env=env, timeout=120)
        assert client.returncode == 0, client.stdout + client.stderr
        # Closing its stdin ends the server once the client is done.
        out, err = srv.communicate(input="", timeout=60)
        assert srv.returncode == 0, out + err
        assert "setpoint from hmi-1: 17.5" in out
        return client.stdout
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


@pytest.mark.parametrize("mode", MODES)
def test_c_server_python_client(c_examples: Tuple[Path, Path], example_fleet: ExampleFleet,
                                mode: str) -> None:
    out = _run_pair([str(c_examples[0])], _python_example("coap_client"), example_fleet, mode)
    assert "/hello 2.05 from plc-1: hello hmi-1" in out
    assert "/setpoint 2.04 from plc-1: ok 17.5" in out


@pytest.mark.parametrize("mode", MODES)
def test_python_server_c_client(c_examples: Tuple[Path, Path], example_fleet: ExampleFleet,
                                mode: str) -> None:
    out = _run_pair(_python_example("coap_server"), [str(c_examples[1])], example_fleet, mode)
    assert "/hello 2.05 from plc-1: hello hmi-1" in out
    assert "/setpoint 2.04 from plc-1: ok 17.5" in out
