"""MqttClient and MqttBroker: a protected round trip between two devices on
the in-process broker, the polling and callback forms, refusals, stats and
closing; and the three examples (C sensor, C++ SCADA, Python subscriber)
interoperating on one broker."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import pqc_iiot
from pqc_iiot import (CertificateAuthority, ClosedError, Identity, InvalidArgumentError,
                      KeystoreIOError, Message, MqttBroker, MqttClient, StateError,
                      allow_topics)

from conftest import INCLUDE_DIR, REPO_ROOT

TOPIC = "plant/line1/telemetry"


@dataclass
class Fleet:
    broker: MqttBroker
    sensor: Identity
    scada: Identity


def provision(tmp_path: Path) -> Tuple[Identity, Identity]:
    """sensor-1 may publish plant/+/telemetry, scada-1 read plant/#; both
    installed with a policy and an empty revocation list from one CA."""
    ca = CertificateAuthority.create(tmp_path / "ca.store", "root",
                                     raw_key=pqc_iiot.random_bytes(32))
    policy = ca.sign_policy(ttl_seconds=3600)
    revocations = ca.revoke([])
    devices = []
    for name, pub, sub in (("sensor-1", "plant/+/telemetry", None),
                           ("scada-1", None, ["plant/#"])):
        dev = Identity.create(tmp_path / f"{name}.store", name,
                              raw_key=pqc_iiot.random_bytes(32))
        allow_topics(ca, name, dev.factory_public_key, publish=pub, subscribe=sub)
        dev.install(ca.enroll(dev.join_request()), anchor=ca.certificate)
        dev.apply_policy(policy)
        dev.apply_revocation(revocations)
        devices.append(dev)
    ca.close()
    return devices[0], devices[1]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    sensor, scada = provision(tmp_path)
    with MqttBroker() as broker:
        yield Fleet(broker, sensor, scada)
    sensor.close()
    scada.close()


def publish_when_ready(c: MqttClient, topic: str, payload: bytes) -> None:
    """Retries while the reader's announcement has not arrived (StateError:
    nobody to encrypt to yet)."""
    for _ in range(100):
        try:
            c.publish(topic, payload, timeout=15)
            return
        except StateError:
            time.sleep(0.1)
    c.publish(topic, payload, timeout=15)


def test_round_trip_polling_and_callback(fleet: Fleet) -> None:
    assert fleet.broker.url.startswith("tcp://127.0.0.1:")
    with MqttClient(fleet.sensor, fleet.broker.url, connect_timeout=5) as pub, \
            MqttClient(fleet.scada, fleet.broker.url) as sub:
        with pytest.raises(StateError):
            pub.publish(TOPIC, b"before connect")
        sub.subscribe("plant/#")
        sub.connect(timeout=10)
        pub.connect()
        with pytest.raises(StateError):
            pub.connect()
        assert sub.recv(timeout=0.05) is None

        # Larger than recv's first buffer: kept queued, then taken whole.
        big = bytes(range(256)) * 40
        publish_when_ready(pub, TOPIC, big)
        m = sub.recv(timeout=10)
        assert m == Message(TOPIC, "sensor-1", big)

        got: List[Message] = []
        arrived = threading.Event()

        def on_message(msg: Message) -> None:
            got.append(msg)
            arrived.set()

        sub.set_callback(on_message)
        publish_when_ready(pub, "plant/line2/telemetry", b"temp=22.0")
        assert arrived.wait(10)
        sub.set_callback(None)
        assert got == [Message("plant/line2/telemetry", "sensor-1", b"temp=22.0")]
        assert threading.current_thread() is threading.main_thread()

        assert pub.stats()["published"] == 2
        st = sub.stats()
        assert st["delivered"] == 2 and st["dropped_unprotect"] == 0
        assert st["accepted_announcements"] >= 1

        sub.disconnect()
        with pytest.raises(ClosedError):
            sub.recv(timeout=0)
        assert sub.stats()["delivered"] == 2
    with pytest.raises(ClosedError):
        pub.publish(TOPIC, b"x")


def test_refusals(fleet: Fleet) -> None:
    url = fleet.broker.url
    with pytest.raises(ValueError):
        MqttClient(fleet.sensor, url, mode="fast")
    with pytest.raises(InvalidArgumentError):
        MqttClient(fleet.sensor, "udp://127.0.0.1:1")
    with MqttClient(fleet.sensor, url, mode="sealed", qos=0) as c:
        with pytest.raises(InvalidArgumentError):
            c.subscribe("plant/#/x")
        with pytest.raises(InvalidArgumentError):
            c.subscribe("pqc/v1/keys/+")
        c.connect()
        for topic in ("plant/+/telemetry", "pqc/v1/keys/sensor-1"):
            with pytest.raises(InvalidArgumentError):
                c.publish(topic, b"x")
        with pytest.raises(InvalidArgumentError):
            c.publish(TOPIC, bytes(pqc_iiot.mqtt.MAX_PAYLOAD + 1))
    with MqttClient(fleet.sensor, "tcp://127.0.0.1:1") as c:
        with pytest.raises(KeystoreIOError):
            c.connect(timeout=2)


def _compiler(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def test_examples_interoperate(tmp_path: Path) -> None:
    """The C sensor, the C++ SCADA server and the Python subscriber on one
    broker, run by examples/python/mqtt_interop.py."""
    header = INCLUDE_DIR / "pqc_iiot.h"
    if not header.is_file():
        pytest.skip(f"{header} not found; set PQC_IIOT_INCLUDE_DIR")
    lib = Path(pqc_iiot.library_path)
    link = [str(lib), f"-Wl,-rpath,{lib.parent}", "-lpthread"]
    examples = REPO_ROOT / "examples"
    sensor, scada = tmp_path / "mqtt_sensor", tmp_path / "scada"
    for cmd in ([_compiler("gcc"), "-std=c99", "-Wall", "-Wextra", "-Werror",
                 f"-I{INCLUDE_DIR}", "-o", str(sensor), str(examples / "c" / "mqtt_sensor.c")],
                [_compiler("g++"), "-std=c++17", "-Wall", "-Wextra", "-Werror",
                 f"-I{INCLUDE_DIR}", f"-I{REPO_ROOT / 'bindings' / 'c'}", "-o", str(scada),
                 str(examples / "cpp" / "scada.cpp")]):
        result = subprocess.run(cmd + link, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
    result = subprocess.run(
        [sys.executable, str(examples / "python" / "mqtt_interop.py"),
         "--sensor", str(sensor), "--scada", str(scada), "--count", "4"],
        capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "interop OK" in result.stdout
