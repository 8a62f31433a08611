#!/usr/bin/env python3
"""A Python SCADA subscriber: prints plant telemetry with the sender the
library verified (the device id in the sender's certificate).

    PQC_PASSPHRASE=... python3 scada_subscriber.py BROKER_URL KEYSTORE [COUNT]

Exits after COUNT readings (default 5), or with status 1 after 60 s.
"""

from __future__ import annotations

import os
import sys
import time

from pqc_iiot import Identity, MqttClient


def main() -> int:
    if len(sys.argv) < 3 or "PQC_PASSPHRASE" not in os.environ:
        print(__doc__, file=sys.stderr)
        return 2
    url, keystore = sys.argv[1], sys.argv[2]
    want = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    got = 0
    with Identity.open(keystore, passphrase=os.environ["PQC_PASSPHRASE"]) as me, \
            MqttClient(me, url) as client:
        client.subscribe("plant/+/telemetry")
        client.connect(timeout=10)
        print("python subscriber ready", flush=True)
        deadline = time.monotonic() + 60
        # Short waits keep Ctrl-C responsive; recv itself blocks in C.
        while got < want and time.monotonic() < deadline:
            msg = client.recv(timeout=0.5)
            if msg is None:
                continue
            got += 1
            print(f"verified reading from {msg.sender} on {msg.topic}: "
                  f"{msg.payload.decode()}", flush=True)
    return 0 if got >= want else 1


if __name__ == "__main__":
    sys.exit(main())
