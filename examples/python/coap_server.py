#!/usr/bin/env python3
"""A PLC exposing two CoAP resources, protected end to end (the Python twin
of examples/c/coap_server.c, with the same command line and output).

    PQC_PASSPHRASE=... coap_server.py KEYSTORE MODE CLIENT_ID CLIENT_CHAIN [COUNT]

GET /hello is answered by a function on a library thread; PUT /setpoint
through the polling queue on this thread. Prints "listening ADDR", then one
line per setpoint. After COUNT setpoints (default 1) it serves on until its
standard input closes (an answer leaves on a library thread after respond()
returns; closing at once could drop it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pqc_iiot
from pqc_iiot.coap import CHANGED, CONTENT, CoapServer, Request, Response


def main(argv: list) -> int:
    passphrase = os.environ.get("PQC_PASSPHRASE")
    if len(argv) < 5 or passphrase is None:
        print(f"usage: PQC_PASSPHRASE=... {argv[0]} KEYSTORE session|signed|oscore "
              "CLIENT_ID CLIENT_CHAIN [COUNT]", file=sys.stderr)
        return 2
    store, mode, client_id, chain_file = argv[1:5]
    count = int(argv[5]) if len(argv) > 5 else 1

    def hello(req: Request) -> Response:
        return Response(CONTENT, f"hello {req.sender}".encode(), content_format=0)

    # The ACL is checked against the sender the library authenticated.
    acl = f"{client_id} GET /hello; {client_id} PUT /setpoint"
    with pqc_iiot.Identity.open(store, passphrase=passphrase) as dev, \
            CoapServer(dev, mode=mode, acl=acl, answer_timeout=10) as srv:
        srv.add_peer(Path(chain_file).read_bytes())
        srv.route("/hello", hello)
        srv.handle("/setpoint")
        print(f"listening {srv.listen('127.0.0.1:0')}", flush=True)
        for _ in range(count):
            req = srv.recv(timeout=60)
            if req is None:
                print("coap_server.py: no setpoint within 60 s", file=sys.stderr)
                return 1
            value = req.payload.decode("utf-8", "replace")
            print(f"setpoint from {req.sender}: {value}", flush=True)
            srv.respond(req, CHANGED, f"ok {value}".encode(), content_format=0)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
