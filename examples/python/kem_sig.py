#!/usr/bin/env python3
"""A sensor and a gateway agree on a key with ML-KEM-768, and the gateway
signs a command with ML-DSA-65 that the sensor checks.

Run after `pip install ./bindings/python` (or with PQC_IIOT_LIBRARY set):

    python3 examples/python/kem_sig.py
"""

from __future__ import annotations

import sys

import pqc_iiot


def key_exchange() -> bytes:
    with pqc_iiot.Kem("ML-KEM-768") as kem:
        # The gateway publishes its public key; the sensor encapsulates to it.
        gateway_pk, gateway_sk = kem.keypair()
        print(f"{kem.name}: gateway key pair: public {len(gateway_pk)} bytes, "
              f"secret {len(gateway_sk)} bytes")
        ciphertext, sensor_secret = kem.encapsulate(gateway_pk)
        print(f"{kem.name}: sensor encapsulated: ciphertext {len(ciphertext)} bytes")
        gateway_secret = kem.decapsulate(gateway_sk, ciphertext)
        if gateway_secret != sensor_secret:
            raise SystemExit("ML-KEM-768: shared secrets differ")
        print(f"{kem.name}: shared secrets match ({len(gateway_secret)} bytes, "
              f"{gateway_secret[:4].hex()}...)")
        return gateway_secret


def signed_command() -> None:
    command = b"valve-7 open 40%"
    with pqc_iiot.Signature("ML-DSA-65") as sig:
        pk, sk = sig.keypair()
        signature = sig.sign(sk, command)
        print(f"{sig.name}: signed {command!r}: signature {len(signature)} bytes")
        if not sig.verify(pk, command, signature):
            raise SystemExit("ML-DSA-65: a genuine signature did not verify")
        print(f"{sig.name}: signature verified")
        if sig.verify(pk, b"valve-7 open 100%", signature):
            raise SystemExit("ML-DSA-65: a tampered message verified")
        print(f"{sig.name}: tampered message rejected")


def main() -> int:
    print(f"pqc_iiot {pqc_iiot.version()} (ABI {pqc_iiot.abi_version()})")
    key_exchange()
    signed_command()
    return 0


if __name__ == "__main__":
    sys.exit(main())
