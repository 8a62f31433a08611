#!/usr/bin/env python3
"""A Python SCADA subscriber (a historian): prints plant telemetry with the
sender the library verified (the device id in the sender's certificate).

    PQC_PASSPHRASE=... python3 scada_subscriber.py BROKER_URL KEYSTORE [COUNT [--exchange]]

Exits after COUNT readings (default 5), or with status 1 after 60 s. With
--exchange it reads all of plant/#: after the COUNT readings it also waits
for the SCADA server's setpoint, then publishes a report on
plant/line1/report for the SCADA server.
"""

from __future__ import annotations

import os
import sys
import time

from pqc_iiot import Identity, MqttClient, StateError


def publish_when_read(client: MqttClient, topic: str, text: str) -> None:
    """Publishes, retrying while no reader of the topic has announced keys."""
    for _ in range(50):
        try:
            client.publish(topic, text.encode(), timeout=10)
            return
        except StateError:
            time.sleep(0.2)
    client.publish(topic, text.encode(), timeout=10)


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--exchange"]
    exchange = len(args) != len(sys.argv) - 1
    if len(args) < 2 or "PQC_PASSPHRASE" not in os.environ:
        print(__doc__, file=sys.stderr)
        return 2
    url, keystore = args[0], args[1]
    want = int(args[2]) if len(args) > 2 else 5
    readings, setpoints = 0, 0
    with Identity.open(keystore, passphrase=os.environ["PQC_PASSPHRASE"]) as me, \
            MqttClient(me, url) as client:
        client.subscribe("plant/#" if exchange else "plant/+/telemetry")
        client.connect(timeout=10)
        print("python subscriber ready", flush=True)
        deadline = time.monotonic() + 60

        def done() -> bool:
            return readings >= want and (not exchange or setpoints > 0)

        # Short waits keep Ctrl-C responsive; recv itself blocks in C.
        while not done() and time.monotonic() < deadline:
            msg = client.recv(timeout=0.5)
            if msg is None:
                continue
            kind = msg.topic.rsplit("/", 1)[-1]
            if kind == "telemetry":
                readings += 1
                kind = "reading"
            elif kind == "setpoint":
                setpoints += 1
            print(f"verified {kind} from {msg.sender} on {msg.topic}: "
                  f"{msg.payload.decode()}", flush=True)
        if not done():
            return 1
        if exchange:
            report = f"report: {readings} readings, {setpoints} setpoint"
            publish_when_read(client, "plant/line1/report", report)
            print(f"sent {report}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
