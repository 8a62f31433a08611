"""Kem, table-driven over every algorithm the library reports."""

from __future__ import annotations

import pytest

import pqc_iiot
from pqc_iiot import ClosedError, InvalidArgumentError, Kem, UnsupportedAlgorithmError

from conftest import KEM_NAMES


def test_algorithms_listed() -> None:
    assert "ML-KEM-768" in KEM_NAMES
    assert len(set(KEM_NAMES)) == len(KEM_NAMES)
    assert all(isinstance(n, str) and n for n in KEM_NAMES)


# Sizes pinned by macros in include/pqc_iiot.h.
@pytest.mark.parametrize(
    "name, sizes",
    [
        ("ML-KEM-768", (1184, 2400, 1088, 32, 64)),
        ("X25519-ML-KEM-768", (1216, 32, 1120, 32, None)),
    ],
)
def test_header_sizes(name: str, sizes: tuple) -> None:
    if name not in KEM_NAMES:
        pytest.skip(f"{name} not in this library")
    with Kem(name) as k:
        got = (k.public_key_size, k.secret_key_size, k.ciphertext_size,
               k.shared_secret_size, k.seed_size)
    assert got[:4] == sizes[:4]
    if sizes[4] is not None:
        assert got[4] == sizes[4]


def test_sizes_and_name(kem: Kem) -> None:
    assert kem.name in KEM_NAMES
    for size in (kem.public_key_size, kem.secret_key_size, kem.ciphertext_size,
                 kem.shared_secret_size, kem.seed_size):
        assert isinstance(size, int) and size > 0


def test_name_is_case_insensitive(kem: Kem) -> None:
    with Kem(kem.name.lower()) as lower, Kem(kem.name.upper()) as upper:
        assert lower.name == upper.name == kem.name


def test_round_trip(kem: Kem) -> None:
    pk, sk = kem.keypair()
    assert (len(pk), len(sk)) == (kem.public_key_size, kem.secret_key_size)
    ct, ss = kem.encapsulate(pk)
    assert (len(ct), len(ss)) == (kem.ciphertext_size, kem.shared_secret_size)
    assert kem.decapsulate(sk, ct) == ss
    assert isinstance(pk, bytes) and isinstance(ss, bytes)


def test_fresh_randomness(kem: Kem) -> None:
    pk1, _ = kem.keypair()
    pk2, sk2 = kem.keypair()
    assert pk1 != pk2
    ct1, ss1 = kem.encapsulate(pk2)
    ct2, ss2 = kem.encapsulate(pk2)
    assert ct1 != ct2 and ss1 != ss2


def test_tampered_ciphertext_implicit_rejection(kem: Kem) -> None:
    pk, sk = kem.keypair()
    ct, ss = kem.encapsulate(pk)
    for pos in (0, len(ct) // 2):
        bad = bytearray(ct)
        bad[pos] ^= 0x01
        rejected = kem.decapsulate(sk, bad)  # no exception
        assert len(rejected) == kem.shared_secret_size
        assert rejected != ss
        # Implicit rejection is a function of (sk, ct), not fresh noise.
        assert kem.decapsulate(sk, bytes(bad)) == rejected


def test_wrong_secret_key(kem: Kem) -> None:
    pk, _ = kem.keypair()
    _, other_sk = kem.keypair()
    ct, ss = kem.encapsulate(pk)
    assert kem.decapsulate(other_sk, ct) != ss


def test_keypair_from_seed_deterministic(kem: Kem) -> None:
    seed = bytes(range(kem.seed_size))
    a = kem.keypair_from_seed(seed)
    b = kem.keypair_from_seed(bytearray(seed))
    assert a == b
    other = kem.keypair_from_seed(bytes([0xFF]) + seed[1:])
    assert other[0] != a[0]
    ct, ss = kem.encapsulate(a[0])
    assert kem.decapsulate(a[1], ct) == ss


def test_bytes_like_inputs(kem: Kem) -> None:
    pk, sk = kem.keypair()
    ct, ss = kem.encapsulate(bytearray(pk))
    assert kem.decapsulate(memoryview(sk), bytearray(ct)) == ss
    # A slice of a larger buffer, and a non-contiguous view.
    padded = b"\xAA" + ct + b"\xBB"
    assert kem.decapsulate(sk, memoryview(padded)[1:-1]) == ss
    doubled = bytes(b for c in ct for b in (c, 0))
    assert kem.decapsulate(sk, memoryview(doubled)[::2]) == ss


@pytest.mark.parametrize("bad", ["text", 123, None, [1, 2]])
def test_non_bytes_rejected(kem: Kem, bad: object) -> None:
    with pytest.raises(TypeError):
        kem.encapsulate(bad)  # type: ignore[arg-type]


def test_wrong_lengths(kem: Kem) -> None:
    pk, sk = kem.keypair()
    ct, _ = kem.encapsulate(pk)
    seed = bytes(kem.seed_size)
    calls = [
        lambda: kem.encapsulate(pk[:-1]),
        lambda: kem.encapsulate(pk + b"\x00"),
        lambda: kem.encapsulate(b""),
        lambda: kem.decapsulate(sk[:-1], ct),
        lambda: kem.decapsulate(sk, ct[:-1]),
        lambda: kem.decapsulate(sk, ct + b"\x00"),
        lambda: kem.keypair_from_seed(seed[:-1]),
        lambda: kem.keypair_from_seed(seed + b"\x00"),
    ]
    for call in calls:
        with pytest.raises(InvalidArgumentError) as info:
            call()
        err = info.value
        assert isinstance(err, ValueError)
        assert err.status == pqc_iiot.Status.INVALID_ARGUMENT == -1
        assert err.detail and err.detail in str(err)


@pytest.mark.parametrize("name", ["nope", "", "ML-KEM-769", "ML-DSA-65", " ML-KEM-768"])
def test_unknown_names(name: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError) as info:
        Kem(name)
    assert isinstance(info.value, ValueError)
    assert info.value.status == pqc_iiot.Status.UNSUPPORTED
    assert info.value.detail


def test_bad_name_types() -> None:
    with pytest.raises(TypeError):
        Kem(b"ML-KEM-768")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Kem("ML-KEM-768\x00trailing")


def test_closed_object_raises() -> None:
    k = Kem("ML-KEM-768")
    pk, sk = k.keypair()
    ct, _ = k.encapsulate(pk)
    k.close()
    assert k.closed
    k.close()  # closing twice is allowed
    uses = [
        lambda: k.keypair(),
        lambda: k.keypair_from_seed(bytes(64)),
        lambda: k.encapsulate(pk),
        lambda: k.decapsulate(sk, ct),
        lambda: k.name,
        lambda: k.public_key_size,
        lambda: k.secret_key_size,
        lambda: k.ciphertext_size,
        lambda: k.shared_secret_size,
        lambda: k.seed_size,
    ]
    for use in uses:
        with pytest.raises(ClosedError) as info:
            use()
        assert info.value.status == pqc_iiot.Status.CLOSED
    assert "closed" in repr(k)


def test_library_reports_closed_handle() -> None:
    # Bypass the Python-side guard: a freed handle must be caught by the
    # library itself (PQC_ERR_CLOSED), not crash.
    k = Kem("ML-KEM-768")
    pk, _ = k.keypair()
    stale = k._handle
    k.close()
    k._handle = stale
    try:
        with pytest.raises(ClosedError) as info:
            k.encapsulate(pk)
        assert info.value.status == -5
        assert "handle" in info.value.detail
    finally:
        k._handle = None


def test_context_manager_closes() -> None:
    with Kem("ML-KEM-768") as k:
        assert not k.closed
        pk, _ = k.keypair()
    assert k.closed
    with pytest.raises(ClosedError):
        k.encapsulate(pk)
    with pytest.raises(ClosedError):
        with k:
            pass


def test_context_manager_closes_on_exception() -> None:
    with pytest.raises(RuntimeError):
        with Kem("ML-KEM-768") as k:
            raise RuntimeError("boom")
    assert k.closed


@pytest.mark.parametrize("name", KEM_NAMES)
def test_library_rejects_wrong_seed_length(name: str) -> None:
    # Calls the C function directly, past the binding's own seed check.
    import ctypes

    from pqc_iiot._native import lib
    with Kem(name) as kem:
        seed = bytes(kem.seed_size - 1)
        pk = ctypes.create_string_buffer(kem.public_key_size)
        sk = ctypes.create_string_buffer(kem.secret_key_size)
        status = lib.pqc_kem_keypair_from_seed(kem._h, seed, len(seed), pk, len(pk),
                                               sk, len(sk))
    assert status == pqc_iiot.Status.INVALID_ARGUMENT


@pytest.mark.parametrize("name", [n for n in KEM_NAMES if n.startswith("ML-KEM-")])
def test_malformed_public_key(name: str) -> None:
    # FIPS 203 requires rejecting encapsulation keys with coefficients >= q;
    # all-0xFF bytes decode to such coefficients.
    with Kem(name) as kem:
        with pytest.raises(InvalidArgumentError) as info:
            kem.encapsulate(b"\xff" * kem.public_key_size)
        assert "public key" in info.value.detail
