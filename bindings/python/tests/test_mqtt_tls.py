"""MqttClient over TLS to a real Mosquitto: the tls_ca_file, tls_cert_file,
tls_key_file and tls_server_name options. Protected messages cross a TLS
listener when the client trusts the broker's CA; an untrusted broker, a
certificate without the expected name and a missing client certificate
(where the broker demands one) stop the connection; misconfigured options
are refused by the constructor, before any connection is attempted.

The certificates are made with the openssl CLI for each run: a CA, a server
certificate for 127.0.0.1 and localhost and a client certificate signed by
it, and an unrelated second CA. Without Mosquitto (or openssl) these tests
skip, unless the environment variable CI is set: then they fail, so a CI job
cannot pass by skipping them. The refusals before dialling need no broker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, NoReturn, Optional

import pytest

from pqc_iiot import (Identity, InvalidArgumentError, KeystoreIOError, Message, MqttClient,
                      PqcError)

from conftest import make_test_pki
from test_mqtt import TOPIC, provision, publish_when_ready

# Short enough that the refused connections keep the suite quick, long
# enough for a TLS handshake on a loaded machine.
CONNECT_TIMEOUT = 5


def _missing(why: str) -> NoReturn:
    """A missing tool skips locally but fails when CI is set, as in
    core/mqtt/brokertest."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {why}")
    pytest.skip(f"{why}; set CI=1 to make this a failure")


# ---- Certificates -----------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem signs server.pem (127.0.0.1 and localhost, the broker's) and
    client.pem (a device's); other-ca.pem signs nothing used here. Keys are
    EC P-256 beside their certificates (<name>.key)."""
    if shutil.which("openssl") is None:
        _missing("the openssl CLI (which makes the test certificates) is not installed")
    # The broker's certificate carries the address clients dial.
    return make_test_pki(tmp_path_factory.mktemp("mqtt-pki"), "broker",
                         "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth",
                         "sensor-1")


# ---- Mosquitto --------------------------------------------------------------

def _mosquitto_binary() -> str:
    """$MOSQUITTO, PATH, then the sbin directories (often not on PATH).
    Missing: a skip locally, a failure when CI is set."""
    explicit = os.environ.get("MOSQUITTO")
    found: Optional[str]
    if explicit:
        found = explicit if os.path.isfile(explicit) else None
    else:
        found = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
             if os.path.isfile(p)), None)
    if found is None:
        why = (f"MOSQUITTO={explicit} is not a file" if explicit else
               "mosquitto not found (Debian/Ubuntu: apt-get install -y mosquitto)")
        _missing(why)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@dataclass
class Broker:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"ssl://127.0.0.1:{self.port}"


@pytest.fixture
def start_broker(tmp_path: Path, pki: Path) -> Iterator[Callable[..., Broker]]:
    """Starts Mosquitto with one TLS listener on a free loopback port, using
    the pki fixture's server certificate; require_certificate=True demands
    a client certificate signed by ca.pem. Brokers stop at teardown."""
    binary = _mosquitto_binary()
    procs: List[subprocess.Popen] = []

    def start(require_certificate: bool = False) -> Broker:
        d = tmp_path / f"broker{len(procs)}"
        d.mkdir()
        port = _free_port()
        log = d / "mosquitto.log"
        conf = [f"listener {port} 127.0.0.1",
                f"cafile {pki / 'ca.pem'}",
                f"certfile {pki / 'server.pem'}",
                f"keyfile {pki / 'server.key'}",
                f"require_certificate {'true' if require_certificate else 'false'}",
                # The certificate vouches for the client; the MQTT username
                # stays whatever the client sends.
                "use_identity_as_username false",
                "allow_anonymous true",
                "persistence false",
                f"log_dest file {log}",
                "log_type error", "log_type warning", "log_type notice"]
        if os.geteuid() == 0:
            # As root Mosquitto switches to a user that cannot read tmp_path.
            conf.append("user root")
        (d / "mosquitto.conf").write_text("\n".join(conf) + "\n")
        proc = subprocess.Popen([binary, "-c", str(d / "mosquitto.conf")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        procs.append(proc)
        deadline = time.monotonic() + 10
        while not _accepts(port):
            if proc.poll() is not None:
                pytest.fail(f"mosquitto exited with {proc.returncode}: {_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"mosquitto not accepting on {port} after 10 s: {_tail(log)}")
            time.sleep(0.02)
        return Broker(port, log)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(log: Path) -> str:
    return log.read_text()[-2000:] if log.is_file() else "(no log)"


# ---- Devices ----------------------------------------------------------------

@dataclass
class Devices:
    sensor: Identity
    scada: Identity


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[Devices]:
    """tests/test_mqtt.py's provisioning, without its in-process broker."""
    sensor, scada = provision(tmp_path)
    yield Devices(sensor, scada)
    sensor.close()
    scada.close()


def exchange(devs: Devices, url: str, payload: bytes, **tls) -> None:
    """scada-1 subscribes, sensor-1 publishes, both with the same TLS
    options; scada-1 must receive the payload as sent by sensor-1."""
    with MqttClient(devs.scada, url, connect_timeout=CONNECT_TIMEOUT, **tls) as sub, \
            MqttClient(devs.sensor, url, connect_timeout=CONNECT_TIMEOUT, **tls) as pub:
        sub.subscribe("plant/#")
        sub.connect()
        pub.connect()
        publish_when_ready(pub, TOPIC, payload)
        assert sub.recv(timeout=10) == Message(TOPIC, "sensor-1", payload)
        assert sub.stats()["dropped_unprotect"] == 0


def refused_connect(devs: Devices, url: str, **tls) -> PqcError:
    """Connects sensor-1 with these options, which must fail; returns the
    error so the caller can check its class."""
    with MqttClient(devs.sensor, url, connect_timeout=CONNECT_TIMEOUT, **tls) as c:
        with pytest.raises(PqcError) as info:
            c.connect()
    return info.value


# ---- Through a TLS listener -------------------------------------------------

def test_protected_message_crosses_tls_listener(start_broker, devices: Devices,
                                                pki: Path) -> None:
    broker = start_broker()
    exchange(devices, broker.url, b"temp=21.5", tls_ca_file=pki / "ca.pem")
    # str paths work like os.PathLike ones.
    exchange(devices, broker.url, b"temp=21.6", tls_ca_file=str(pki / "ca.pem"))


def test_plain_tcp_to_tls_listener_fails(start_broker, devices: Devices) -> None:
    """The listener really is TLS: an MQTT CONNECT in the clear gets no
    CONNACK."""
    broker = start_broker()
    err = refused_connect(devices, f"tcp://127.0.0.1:{broker.port}")
    assert isinstance(err, KeystoreIOError), err


def test_untrusted_broker_is_refused(start_broker, devices: Devices, pki: Path) -> None:
    """A failed verification is PQC_ERR_IO (KeystoreIOError), reported at
    once rather than after the connect timeout."""
    broker = start_broker()
    # The system's roots know nothing of the test CA, nor does the other CA.
    for tls in ({"tls_ca_file": pki / "other-ca.pem"}, {}):
        started = time.monotonic()
        err = refused_connect(devices, broker.url, **tls)
        assert isinstance(err, KeystoreIOError), err
        assert "certificate signed by unknown authority" in err.detail
        assert time.monotonic() - started < CONNECT_TIMEOUT
    # The broker still serves clients that trust its CA.
    exchange(devices, broker.url, b"after refusals", tls_ca_file=pki / "ca.pem")


def test_server_name_must_be_in_certificate(start_broker, devices: Devices, pki: Path) -> None:
    broker = start_broker()
    err = refused_connect(devices, broker.url, tls_ca_file=pki / "ca.pem",
                          tls_server_name="broker.example")
    assert isinstance(err, KeystoreIOError), err
    assert "not broker.example" in err.detail
    # The certificate carries DNS:localhost: verifying that name instead of
    # the URL's 127.0.0.1 succeeds.
    exchange(devices, broker.url, b"by name", tls_ca_file=pki / "ca.pem",
             tls_server_name="localhost")


def test_broker_requiring_client_certificate(start_broker, devices: Devices, pki: Path) -> None:
    broker = start_broker(require_certificate=True)
    exchange(devices, broker.url, b"mutual TLS", tls_ca_file=pki / "ca.pem",
             tls_cert_file=pki / "client.pem", tls_key_file=pki / "client.key")
    # Mosquitto ends the handshake (with TLS 1.3 the client learns it only
    # from the reset connection, so the detail is not checked).
    err = refused_connect(devices, broker.url, tls_ca_file=pki / "ca.pem")
    assert isinstance(err, KeystoreIOError), err


# ---- Refused before dialling --------------------------------------------------
# Port 1 on loopback has no listener: had the constructor accepted the
# options, nothing here would have connected anyway. The constructor alone
# decides, so no broker is needed.

NOWHERE = "ssl://127.0.0.1:1"


def test_usable_options_are_accepted_without_dialling(devices: Devices, pki: Path) -> None:
    """The counterpart of the refusals below: the same files, correctly
    combined, make a client."""
    for url in (NOWHERE, "tls://127.0.0.1:1", "mqtts://127.0.0.1:1", "tcps://127.0.0.1:1"):
        MqttClient(devices.sensor, url, tls_ca_file=pki / "ca.pem",
                   tls_cert_file=pki / "client.pem", tls_key_file=pki / "client.key",
                   tls_server_name="localhost").close()
    # Without any tls_ option an ssl:// URL verifies against the system's roots.
    MqttClient(devices.sensor, NOWHERE).close()


@pytest.mark.parametrize("url", ["tcp://127.0.0.1:1", "mqtt://127.0.0.1:1"])
@pytest.mark.parametrize("option", ["tls_ca_file", "tls_server_name"])
def test_tls_option_with_plain_url_is_refused(devices: Devices, pki: Path, url: str,
                                              option: str) -> None:
    value = {"tls_ca_file": str(pki / "ca.pem"), "tls_server_name": "localhost"}[option]
    with pytest.raises(InvalidArgumentError):
        MqttClient(devices.sensor, url, **{option: value})


def test_client_certificate_and_key_go_together(devices: Devices, pki: Path) -> None:
    with pytest.raises(InvalidArgumentError):
        MqttClient(devices.sensor, NOWHERE, tls_cert_file=pki / "client.pem")
    with pytest.raises(InvalidArgumentError):
        MqttClient(devices.sensor, NOWHERE, tls_key_file=pki / "client.key")


def test_unusable_file_contents_are_refused(devices: Devices, pki: Path, tmp_path: Path) -> None:
    not_pem = tmp_path / "not-a-certificate.pem"
    not_pem.write_text("this file holds no PEM block\n")
    with pytest.raises(InvalidArgumentError):
        MqttClient(devices.sensor, NOWHERE, tls_ca_file=not_pem)
    # A key file is no CA bundle: it holds PEM, but no certificate.
    with pytest.raises(InvalidArgumentError):
        MqttClient(devices.sensor, NOWHERE, tls_ca_file=pki / "ca.key")
    with pytest.raises(InvalidArgumentError):
        MqttClient(devices.sensor, NOWHERE, tls_cert_file=not_pem,
                   tls_key_file=pki / "client.key")
    # Both files are fine on their own, but the key is the server's.
    with pytest.raises(InvalidArgumentError):
        MqttClient(devices.sensor, NOWHERE, tls_cert_file=pki / "client.pem",
                   tls_key_file=pki / "server.key")


def test_missing_files_are_refused(devices: Devices, pki: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(KeystoreIOError):
        MqttClient(devices.sensor, NOWHERE, tls_ca_file=missing)
    with pytest.raises(KeystoreIOError):
        MqttClient(devices.sensor, NOWHERE, tls_cert_file=missing,
                   tls_key_file=pki / "client.key")
    with pytest.raises(KeystoreIOError):
        MqttClient(devices.sensor, NOWHERE, tls_cert_file=pki / "client.pem",
                   tls_key_file=missing)


def test_option_types_are_checked_in_python(devices: Devices) -> None:
    with pytest.raises(TypeError):
        MqttClient(devices.sensor, NOWHERE, tls_ca_file=42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MqttClient(devices.sensor, NOWHERE, tls_server_name=b"localhost")  # type: ignore[arg-type]
    # A NUL would cut the path short in C and name another file.
    with pytest.raises(InvalidArgumentError):
        MqttClient(devices.sensor, NOWHERE, tls_ca_file="ca.pem\x00.txt")
