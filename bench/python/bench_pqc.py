"""Wall-clock cost of each scheme through the Python binding (pqc_iiot over
ctypes), as a Python caller sees it: argument conversion, output buffers and
bytes copies included.

    python bench/python/bench_pqc.py [-t SECONDS] [NAME...]

Prints the same table as bench/c/pqc_bench (algorithm, op, median ns/op,
ops/s, best ns/op, iterations) so scripts/bench_report.py reads both the
same way: each operation runs for SECONDS (default 0.5) in 5 timed batches
after one untimed call; ns/op is the median batch, "best" the fastest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Tuple

import pqc_iiot
from pqc_iiot import (DAY, CertificateAuthority, Identity, Kem, Session,
                      SessionManager, Signature)

BATCHES = 5
MESSAGE = b"\x5a" * 64  # the 64-byte telemetry frame the C and Go benches sign


def measure(fn: Callable[[], object], seconds: float, per_call: int = 1) -> Tuple[float, float, int]:
    """Median and best ns per operation over BATCHES batches, and the count."""
    fn()  # warm-up: first-use allocations, the Go runtime's thread setup
    per_batch: List[float] = []
    total = 0
    for _ in range(BATCHES):
        n = 0
        start = time.perf_counter_ns()
        deadline = start + seconds * 1e9 / BATCHES
        while True:
            fn()
            n += 1
            now = time.perf_counter_ns()
            if now >= deadline:
                break
        per_batch.append((now - start) / (n * per_call))
        total += n * per_call
    return statistics.median(per_batch), min(per_batch), total


def row(alg: str, op: str, result: Tuple[float, float, int]) -> None:
    med, best, n = result
    print(f"{alg:<20} {op:<12} {med:12.1f} {1e9 / med:12.1f} {best:12.1f} {n:10d}", flush=True)


def bench_kem(name: str, seconds: float) -> None:
    with Kem(name) as kem:
        pk, sk = kem.keypair()
        ct, _ = kem.encapsulate(pk)
        row(name, "keygen", measure(kem.keypair, seconds))
        row(name, "encaps", measure(lambda: kem.encapsulate(pk), seconds))
        row(name, "decaps", measure(lambda: kem.decapsulate(sk, ct), seconds))


def bench_sig(name: str, seconds: float) -> None:
    with Signature(name) as sig:
        pk, sk = sig.keypair()
        s = sig.sign(sk, MESSAGE)
        row(name, "keygen", measure(sig.keypair, seconds))
        row(name, "sign", measure(lambda: sig.sign(sk, MESSAGE), seconds))

        def verify() -> None:
            if not sig.verify(pk, MESSAGE, s):
                raise SystemExit(f"{name}: a valid signature did not verify")

        row(name, "verify", measure(verify, seconds))


def _device(tmp: Path, ca: CertificateAuthority, name: str, policy: bytes,
            revocations: bytes) -> Tuple[Identity, bytes]:
    dev = Identity.create(tmp / f"{name}.store", name, raw_key=pqc_iiot.random_bytes(32))
    ca.allow(name, dev.factory_public_key)
    chain = ca.enroll(dev.join_request(), DAY)
    dev.install(chain, anchor=ca.certificate)
    dev.apply_policy(policy)
    dev.apply_revocation(revocations)
    return dev, chain


def bench_session(seconds: float) -> None:
    """Protect on one device and unprotect on the other, 64-byte messages,
    one pair per operation; the handshake is not timed."""
    with tempfile.TemporaryDirectory(prefix="pqc_bench_py.") as d:
        tmp = Path(d)
        ca = CertificateAuthority.create(tmp / "ca.store", "root", raw_key=pqc_iiot.random_bytes(32))
        # No post-quantum step falls due: this measures the data path.
        policy = ca.sign_policy(ttl_seconds=3600, rekey_messages=0, rekey_seconds=0)
        revocations = ca.revoke([])
        a, chain_a = _device(tmp, ca, "plc-1", policy, revocations)
        b, chain_b = _device(tmp, ca, "scada-1", policy, revocations)
        with SessionManager(a) as ma, SessionManager(b) as mb:
            ma.add_peer(chain_b)
            mb.add_peer(chain_a)
            reply, sb = mb.handle_handshake(ma.initiate("scada-1", "bench"))
            _, sa = ma.handle_handshake(reply)
            assert isinstance(sa, Session) and isinstance(sb, Session)

            def pair() -> None:
                if sb.unprotect(sa.protect(MESSAGE)) != MESSAGE:
                    raise SystemExit("session: the message came back different")

            row("session 64 B", "pair", measure(pair, seconds))
            batch = [MESSAGE] * 64

            def pair_batch() -> None:
                for got in sb.unprotect_batch(sa.protect_batch(batch)):
                    if got != MESSAGE:
                        raise SystemExit(f"session batch: {got!r}")

            row("session 64 B", "pair/batch64", measure(pair_batch, seconds, per_call=64))
            sa.close()
            sb.close()
        for obj in (a, b, ca):
            obj.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-t", type=float, default=0.5, help="seconds per operation")
    ap.add_argument("names", nargs="*", help="only these algorithms (and 'session')")
    args = ap.parse_args()
    wanted = {n.lower() for n in args.names}

    def selected(name: str) -> bool:
        return not wanted or name.lower() in wanted

    print(f"pqc_iiot {pqc_iiot.version()} (Python {sys.version.split()[0]}, ctypes), "
          f"{args.t:.2f} s per operation in {BATCHES} batches, perf_counter_ns\n"
          "ns/op and ops/s: median batch; best ns/op: fastest batch\n")
    print(f"{'algorithm':<20} {'op':<12} {'ns/op':>12} {'ops/s':>12} {'best ns/op':>12} {'iterations':>10}")
    if selected("session"):
        bench_session(args.t)
    for name in Kem.algorithms():
        if selected(name):
            bench_kem(name, args.t)
    for name in Signature.algorithms():
        if selected(name):
            bench_sig(name, args.t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
