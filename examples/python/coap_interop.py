#!/usr/bin/env python3
"""C and Python over secure CoAP: the C server (examples/c/coap_server.c)
answers the Python client (coap_client.py), and the Python server
(coap_server.py) answers the C client (coap_client.c), in each of the
session, signed and OSCORE modes.

    python3 coap_interop.py --server build/.../coap_server --client build/.../coap_client

It provisions a CA, plc-1 and hmi-1 in a temporary directory, writes their
certificate chains next to the keystores, runs each pair and checks what
both sides printed. Exit status 0 when every exchange verified.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List

import pqc_iiot
from pqc_iiot import CertificateAuthority, Identity

HERE = Path(__file__).resolve().parent
PASSPHRASE = "coap interop demo passphrase"  # a demo: real devices unseal a key


def provision(workdir: Path) -> None:
    with CertificateAuthority.create(workdir / "ca.store", "plant-root",
                                     raw_key=pqc_iiot.random_bytes(32)) as ca:
        policy, revocations = ca.sign_policy(ttl_seconds=3600), ca.revoke([])
        for name in ("plc-1", "hmi-1"):
            with Identity.create(workdir / f"{name}.store", name, passphrase=PASSPHRASE) as dev:
                ca.allow(name, dev.factory_public_key)
                dev.install(ca.enroll(dev.join_request()), anchor=ca.certificate)
                dev.apply_policy(policy)
                dev.apply_revocation(revocations)
                (workdir / f"{name}.chain").write_bytes(dev.chain)


def run_pair(server: List[str], client: List[str], workdir: Path, mode: str) -> bool:
    env = dict(os.environ, PQC_PASSPHRASE=PASSPHRASE)
    label = f"{Path(server[-1]).name} <- {Path(client[-1]).name} ({mode})"
    srv = subprocess.Popen(server + [str(workdir / "plc-1.store"), mode, "hmi-1",
                                     str(workdir / "hmi-1.chain")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = srv.stdout.readline() if srv.stdout else ""
        if not line.startswith("listening "):
            print(f"{label}: server did not start: {line!r}")
            return False
        out = subprocess.run(client + [str(workdir / "hmi-1.store"), mode, line.split()[1],
                                       "plc-1", str(workdir / "plc-1.chain"), "17.5"],
                             capture_output=True, text=True, env=env, timeout=120)
        # Closing its stdin ends the server once the client is done.
        srv_out, _ = srv.communicate(input="", timeout=60)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    ok = (out.returncode == 0 and srv.returncode == 0
          and "/hello 2.05 from plc-1: hello hmi-1" in out.stdout
          and "/setpoint 2.04 from plc-1: ok 17.5" in out.stdout
          and "setpoint from hmi-1: 17.5" in srv_out)
    print(f"{label}: {'OK' if ok else 'FAILED'}")
    if not ok:
        print(out.stdout + out.stderr + srv_out)
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True, help="the built examples/c/coap_server")
    ap.add_argument("--client", required=True, help="the built examples/c/coap_client")
    args = ap.parse_args()
    py = [sys.executable]
    with tempfile.TemporaryDirectory(prefix="coap-interop-") as tmp:
        workdir = Path(tmp)
        provision(workdir)
        results = []
        for mode in ("session", "signed", "oscore"):
            results.append(run_pair([args.server], py + [str(HERE / "coap_client.py")],
                                    workdir, mode))
            results.append(run_pair(py + [str(HERE / "coap_server.py")], [args.client],
                                    workdir, mode))
    if all(results):
        print("coap interop OK")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
