"""One object shared between threads, as the C contract allows."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pqc_iiot
from pqc_iiot import ClosedError, InvalidArgumentError, Kem, Signature

THREADS = 8
ROUNDS = 25


def test_shared_kem() -> None:
    with Kem("ML-KEM-768") as kem:
        pk, sk = kem.keypair()
        start = threading.Barrier(THREADS)

        def work(_: int) -> int:
            start.wait()
            ok = 0
            for _ in range(ROUNDS):
                ct, ss = kem.encapsulate(pk)
                ok += kem.decapsulate(sk, ct) == ss
                own_pk, own_sk = kem.keypair()
                ct, ss = kem.encapsulate(own_pk)
                ok += kem.decapsulate(own_sk, ct) == ss
            return ok

        with ThreadPoolExecutor(THREADS) as pool:
            assert list(pool.map(work, range(THREADS))) == [2 * ROUNDS] * THREADS


def test_shared_signature() -> None:
    with Signature("ML-DSA-65") as sig:
        pk, sk = sig.keypair()
        start = threading.Barrier(THREADS)

        def work(i: int) -> int:
            start.wait()
            ok = 0
            for r in range(ROUNDS):
                msg = f"thread {i} round {r}".encode()
                s = sig.sign(sk, msg)
                ok += sig.verify(pk, msg, s)
                ok += not sig.verify(pk, msg + b"!", s)
            return ok

        with ThreadPoolExecutor(THREADS) as pool:
            assert list(pool.map(work, range(THREADS))) == [2 * ROUNDS] * THREADS


def test_error_detail_is_per_thread() -> None:
    # Each thread fails with its own length; the detail it reads must name
    # that length, not another thread's.
    with Kem("ML-KEM-768") as kem:
        start = threading.Barrier(THREADS)

        def work(i: int) -> bool:
            start.wait()
            bad_pk = bytes(100 + i)
            for _ in range(ROUNDS):
                try:
                    kem.encapsulate(bad_pk)
                except InvalidArgumentError as exc:
                    if f"{100 + i} bytes" not in exc.detail:
                        return False
                else:
                    return False
            return True

        with ThreadPoolExecutor(THREADS) as pool:
            assert all(pool.map(work, range(THREADS)))


def test_close_while_in_use() -> None:
    # Closing under other threads' feet gives them ClosedError (from the
    # Python guard or from the library's handle check), never a crash.
    kem = Kem("ML-KEM-768")
    pk, sk = kem.keypair()
    started = threading.Barrier(THREADS + 1)
    outcomes: list = []

    def work() -> None:
        started.wait()
        try:
            while True:
                ct, ss = kem.encapsulate(pk)
                assert kem.decapsulate(sk, ct) == ss
        except ClosedError as exc:
            outcomes.append(exc.status)
        except BaseException as exc:  # recorded for the assertion below
            outcomes.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    started.wait()
    kem.close()
    for t in threads:
        t.join(timeout=60)
    assert outcomes == [pqc_iiot.Status.CLOSED] * THREADS
