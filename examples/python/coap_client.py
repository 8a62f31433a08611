#!/usr/bin/env python3
"""An HMI reading a PLC's CoAP resource and writing a setpoint (the Python
twin of examples/c/coap_client.c, with the same command line and output).

    PQC_PASSPHRASE=... coap_client.py KEYSTORE MODE ADDR SERVER_ID SERVER_CHAIN [VALUE]

Exits 0 only if GET /hello answered 2.05 and PUT /setpoint 2.04.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pqc_iiot
from pqc_iiot.coap import CHANGED, CONTENT, CoapClient, Response, code_text


def show(path: str, r: Response) -> None:
    sender = r.sender or "(unauthenticated)"
    print(f"{path} {code_text(r.code)} from {sender}: {r.payload.decode('utf-8', 'replace')}",
          flush=True)


def main(argv: list) -> int:
    passphrase = os.environ.get("PQC_PASSPHRASE")
    if len(argv) < 6 or passphrase is None:
        print(f"usage: PQC_PASSPHRASE=... {argv[0]} KEYSTORE session|signed|oscore ADDR "
              "SERVER_ID SERVER_CHAIN [VALUE]", file=sys.stderr)
        return 2
    store, mode, addr, server_id, chain_file = argv[1:6]
    value = argv[6] if len(argv) > 6 else "42"
    with pqc_iiot.Identity.open(store, passphrase=passphrase) as dev, \
            CoapClient(dev, addr, mode=mode, peer=server_id, timeout=30) as cl:
        cl.add_peer(Path(chain_file).read_bytes())
        # 4.xx and 5.xx answers are answers: the codes decide success.
        hello = cl.get("/hello")
        show("/hello", hello)
        if hello.code != CONTENT:
            return 1
        setpoint = cl.put("/setpoint", value.encode(), content_format=0)
        show("/setpoint", setpoint)
        return 0 if setpoint.code == CHANGED else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
