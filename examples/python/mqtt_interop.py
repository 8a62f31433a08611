#!/usr/bin/env python3
"""Three languages, one broker: a C sensor publishes telemetry; a C++ SCADA
server and a Python historian each receive every reading, verified as
coming from sensor-1; the SCADA server answers with a setpoint that the
sensor and the historian receive verified as from scada-1, and the
historian sends the SCADA server a report, verified as from historian-1.

    python3 mqtt_interop.py --sensor build/.../mqtt_sensor --scada build/.../scada

It provisions a CA and three devices in a temporary directory (sensor-1 may
publish plant/+/telemetry and read plant/+/setpoint; scada-1 may read
plant/# and publish plant/+/setpoint; historian-1 may read plant/# and
publish plant/+/report), starts an in-process broker, runs the three
programs and checks what each printed. Exit status 0 when every message
arrived. tests/interop/mqtt runs the same three programs through Mosquitto.
"""

from __future__ import annotations

import argparse
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import List

import pqc_iiot
from pqc_iiot import CertificateAuthority, Identity, MqttBroker, allow_topics

HERE = Path(__file__).resolve().parent
PASSPHRASE = "interop demo passphrase"  # a demo: real devices unseal a key


def provision(workdir: Path) -> None:
    with CertificateAuthority.create(workdir / "ca.store", "plant-root",
                                     passphrase=PASSPHRASE) as ca:
        policy = ca.sign_policy(ttl_seconds=3600)
        revocations = ca.revoke([])
        for name, pub, sub in (("sensor-1", "plant/+/telemetry", "plant/+/setpoint"),
                               ("scada-1", "plant/+/setpoint", "plant/#"),
                               ("historian-1", "plant/+/report", "plant/#")):
            with Identity.create(workdir / f"{name}.store", name,
                                 passphrase=PASSPHRASE) as dev:
                allow_topics(ca, name, dev.factory_public_key, publish=pub, subscribe=sub)
                dev.install(ca.enroll(dev.join_request()), anchor=ca.certificate)
                dev.apply_policy(policy)
                dev.apply_revocation(revocations)


class Program:
    """A subprocess whose stdout lines are collected by a thread, so the
    driver can wait for one line without blocking on the pipe."""

    def __init__(self, name: str, argv: List[str]) -> None:
        self.name = name
        self.lines: List[str] = []
        self._q: "queue.Queue[str]" = queue.Queue()
        env = dict(os.environ, PQC_PASSPHRASE=PASSPHRASE)
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._q.put(line)

    def wait_for(self, text: str, timeout: float) -> bool:
        while True:
            try:
                if text in self._q.get(timeout=timeout):
                    return True
            except queue.Empty:
                return False

    def finish(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def run(sensor: str, scada: str, subscriber: str, count: int) -> int:
    with tempfile.TemporaryDirectory() as tmp, MqttBroker() as broker:
        work = Path(tmp)
        provision(work)
        url = broker.url
        print(f"broker {url}; keystores in {work}")
        readers = [
            Program("C++ scada", [scada, url, str(work / "scada-1.store"), str(count),
                                  "--exchange"]),
            Program("Python subscriber", [sys.executable, subscriber, url,
                                          str(work / "historian-1.store"), str(count),
                                          "--exchange"]),
        ]
        for r in readers:
            if not r.wait_for("ready", 60):
                print(f"{r.name} did not start:\n" + "\n".join(r.lines), file=sys.stderr)
                for other in readers:
                    other.proc.kill()
                return 1
        pub = Program("C sensor", [sensor, url, str(work / "sensor-1.store"), str(count),
                                   str(len(readers)), "60"])
        ok = pub.finish(120) == 0
        for r in [pub] + readers:
            status = r.finish(60) if r is not pub else pub.proc.returncode
            print(f"--- {r.name} (exit {status})")
            print("\n".join(r.lines))
            ok = ok and status == 0
        want = [f"verified reading from sensor-1 on plant/line1/telemetry: reading {i}:"
                for i in range(1, count + 1)]
        setpoint = "verified setpoint from scada-1 on plant/line1/setpoint: setpoint:"
        report = "verified report from historian-1 on plant/line1/report: report:"
        for r, expected in ((readers[0], want + [report]), (readers[1], want + [setpoint]),
                            (pub, [setpoint])):
            for w in expected:
                if not any(line.startswith(w) for line in r.lines):
                    print(f"{r.name} lacks {w!r}", file=sys.stderr)
                    ok = False
        print("interop OK" if ok else "interop FAILED")
        return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sensor", required=True, help="the built examples/c/mqtt_sensor")
    ap.add_argument("--scada", required=True, help="the built examples/cpp/scada")
    ap.add_argument("--subscriber", default=str(HERE / "scada_subscriber.py"))
    ap.add_argument("--count", type=int, default=5)
    args = ap.parse_args()
    print(f"pqc_iiot {pqc_iiot.version()}")
    return run(args.sensor, args.scada, args.subscriber, args.count)


if __name__ == "__main__":
    sys.exit(main())
