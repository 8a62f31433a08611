#!/usr/bin/env python3
"""Provisioning a sensor into a plant's fleet, end to end:

1. the plant's root CA is created in its own encrypted keystore;
2. the sensor is made at the factory with a factory key in its keystore;
3. the CA allow-lists that factory key, the sensor sends a join request and
   installs the certificate chain the CA issues;
4. a SCADA server holding only the CA certificate verifies the sensor;
5. the CA publishes a fleet policy; the sensor rotates to fresh keys;
6. the CA revokes the sensor's key and the SCADA server refuses it.

Run after `pip install ./bindings/python` (or with PQC_IIOT_LIBRARY set):

    python3 examples/python/provision.py [DIR]

Keystores go to DIR (default: a temporary directory, removed afterwards).
The CA uses a passphrase, as an operator would type; the sensor a raw
32-byte key, as a TPM or secure element would unseal.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pqc_iiot
from pqc_iiot import CertificateAuthority, Identity, RevokedError, Trust

DAY = pqc_iiot.DAY


def provision(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    # In production the passphrase comes from the operator and the device
    # key from hardware; a fixed passphrase keeps the example self-contained.
    ca_passphrase = "plant-root example passphrase"
    device_key = os.urandom(32)

    with CertificateAuthority.create(workdir / "ca.store", "plant-root",
                                     passphrase=ca_passphrase) as ca, \
            Identity.create(workdir / "sensor-1.store", "sensor-1",
                            raw_key=device_key) as sensor:
        anchor = ca.certificate
        print(f"CA plant-root created: certificate {len(anchor)} bytes")
        print(f"sensor-1 made at the factory: factory key "
              f"{len(sensor.factory_public_key)} bytes")

        # The factory key reaches the CA out of band (e.g. a manifest from
        # the production line); only allow-listed devices may join.
        ca.allow("sensor-1", sensor.factory_public_key, roles=["sensor"])
        chain = ca.enroll(sensor.join_request(), validity_seconds=365 * DAY)
        sensor.install(chain, anchor=anchor)
        print(f"sensor-1 joined: epoch {sensor.epoch}, key id {sensor.key_id.hex()}")

        scada = Trust(anchor)
        print(f"SCADA verified {scada.verify_chain(sensor.chain)}")

        policy = ca.sign_policy(ttl_seconds=7 * DAY)
        scada.apply_policy(policy)
        sensor.apply_policy(policy)
        scada.check_policy()
        print("policy installed on the SCADA server and sensor-1")

        # Rotation: the renewal is signed by the current key, so the CA needs
        # no factory key for it. The old keys stay usable for the overlap.
        sensor.install(ca.enroll(sensor.renewal_request()), overlap_seconds=DAY)
        print(f"sensor-1 rotated: epoch {sensor.epoch}, key id {sensor.key_id.hex()}")

        revocation = ca.revoke([sensor.key_id])
        scada.apply_revocation(revocation)
        try:
            scada.verify_chain(sensor.chain)
        except RevokedError as exc:
            print(f"revoked key refused: {exc.detail}")
        else:
            raise SystemExit("a revoked key was accepted")
        scada.close()


def main() -> int:
    print(f"pqc_iiot {pqc_iiot.version()}")
    if len(sys.argv) > 1:
        provision(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            provision(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
