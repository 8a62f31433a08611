"""Signature, table-driven over every algorithm the library reports."""

from __future__ import annotations

import pytest

import pqc_iiot
from pqc_iiot import (ClosedError, InvalidArgumentError, Signature,
                      UnsupportedAlgorithmError)

from conftest import SIG_NAMES, sign_abort_reason

MSG = b"valve 7: open to 40% at 2026-11-24T00:00:00Z"


def test_algorithms_listed() -> None:
    assert "ML-DSA-65" in SIG_NAMES
    assert len(set(SIG_NAMES)) == len(SIG_NAMES)


@pytest.mark.parametrize(
    "name, sizes",
    [
        ("ML-DSA-65", (1952, 4032, 3309)),
        ("Falcon-512", (897, 1281, 752)),
    ],
)
def test_header_sizes(name: str, sizes: tuple) -> None:
    if name not in SIG_NAMES:
        pytest.skip(f"{name} not in this library")
    with Signature(name) as s:
        assert (s.public_key_size, s.secret_key_size, s.signature_max_size) == sizes


@pytest.mark.parametrize("name", SIG_NAMES)
def test_sign_does_not_abort_process(name: str) -> None:
    # Run in a child process so a crash is reported here as a failure of one
    # algorithm instead of ending the test session.
    assert sign_abort_reason(name) is None


def test_sizes_and_name(sig: Signature) -> None:
    assert sig.name in SIG_NAMES
    for size in (sig.public_key_size, sig.secret_key_size,
                 sig.signature_max_size, sig.seed_size):
        assert isinstance(size, int) and size > 0


def test_name_is_case_insensitive(sig: Signature) -> None:
    with Signature(sig.name.lower()) as s:
        assert s.name == sig.name


@pytest.mark.parametrize("message", [MSG, b"", bytes(range(256)) * 4096])
def test_round_trip(sig: Signature, message: bytes) -> None:
    pk, sk = sig.keypair()
    assert (len(pk), len(sk)) == (sig.public_key_size, sig.secret_key_size)
    s = sig.sign(sk, message)
    assert isinstance(s, bytes)
    # Trimmed to the actual length, which for Falcon is below the maximum.
    assert 0 < len(s) <= sig.signature_max_size
    assert sig.verify(pk, message, s) is True


def test_flipped_bits_fail(sig: Signature) -> None:
    pk, sk = sig.keypair()
    s = sig.sign(sk, MSG)
    for pos in (0, len(s) // 2, len(s) - 1):
        for bit in (0x01, 0x80):
            bad = bytearray(s)
            bad[pos] ^= bit
            assert sig.verify(pk, MSG, bad) is False
    flipped_msg = bytearray(MSG)
    flipped_msg[0] ^= 0x01
    assert sig.verify(pk, flipped_msg, s) is False


def test_wrong_key_fails(sig: Signature) -> None:
    _, sk = sig.keypair()
    other_pk, _ = sig.keypair()
    assert sig.verify(other_pk, MSG, sig.sign(sk, MSG)) is False


def test_signature_of_wrong_length_is_invalid_not_error(sig: Signature) -> None:
    # The library treats a mis-sized signature as a forgery (PQC_ERR_VERIFY).
    pk, sk = sig.keypair()
    s = sig.sign(sk, MSG)
    assert sig.verify(pk, MSG, s[:-1]) is False
    assert sig.verify(pk, MSG, s + b"\x00" * (sig.signature_max_size + 1 - len(s))) is False
    assert sig.verify(pk, MSG, b"") is False


def test_keypair_from_seed_deterministic(sig: Signature) -> None:
    seed = bytes(range(sig.seed_size))
    pk, sk = sig.keypair_from_seed(seed)
    assert sig.keypair_from_seed(memoryview(seed)) == (pk, sk)
    assert sig.keypair_from_seed(bytes([0xFF]) + seed[1:])[0] != pk
    assert sig.verify(pk, MSG, sig.sign(sk, MSG))


def test_bytes_like_inputs(sig: Signature) -> None:
    pk, sk = sig.keypair()
    s = sig.sign(bytearray(sk), memoryview(MSG))
    assert sig.verify(memoryview(pk), bytearray(MSG), memoryview(s))


def test_wrong_lengths(sig: Signature) -> None:
    pk, sk = sig.keypair()
    s = sig.sign(sk, MSG)
    seed = bytes(sig.seed_size)
    calls = [
        lambda: sig.sign(sk[:-1], MSG),
        lambda: sig.sign(sk + b"\x00", MSG),
        lambda: sig.sign(b"", MSG),
        lambda: sig.verify(pk[:-1], MSG, s),
        lambda: sig.verify(pk + b"\x00", MSG, s),
        lambda: sig.keypair_from_seed(seed[:-1]),
        lambda: sig.keypair_from_seed(seed + b"\x00"),
    ]
    for call in calls:
        with pytest.raises(InvalidArgumentError) as info:
            call()
        assert isinstance(info.value, ValueError)
        assert info.value.status == pqc_iiot.Status.INVALID_ARGUMENT
        assert info.value.detail


@pytest.mark.parametrize("name", ["nope", "", "ML-DSA-66", "ML-KEM-768"])
def test_unknown_names(name: str) -> None:
    with pytest.raises(UnsupportedAlgorithmError) as info:
        Signature(name)
    assert isinstance(info.value, ValueError)
    assert info.value.status == pqc_iiot.Status.UNSUPPORTED


def test_closed_object_raises() -> None:
    s = Signature("ML-DSA-65")
    pk, sk = s.keypair()
    signature = s.sign(sk, MSG)
    s.close()
    assert s.closed
    uses = [
        lambda: s.keypair(),
        lambda: s.keypair_from_seed(bytes(32)),
        lambda: s.sign(sk, MSG),
        lambda: s.verify(pk, MSG, signature),
        lambda: s.name,
        lambda: s.public_key_size,
        lambda: s.secret_key_size,
        lambda: s.signature_max_size,
        lambda: s.seed_size,
    ]
    for use in uses:
        with pytest.raises(ClosedError):
            use()


def test_library_reports_closed_handle() -> None:
    s = Signature("ML-DSA-65")
    pk, sk = s.keypair()
    signature = s.sign(sk, MSG)
    stale = s._handle
    s.close()
    s._handle = stale
    try:
        # verify must raise, not answer False, for a closed handle.
        with pytest.raises(ClosedError):
            s.verify(pk, MSG, signature)
        with pytest.raises(ClosedError):
            s.sign(sk, MSG)
    finally:
        s._handle = None


def test_handle_of_other_type_is_closed() -> None:
    # A Kem handle given to a pqc_sig function is "of another type".
    with pqc_iiot.Kem("ML-KEM-768") as k, Signature("ML-DSA-65") as s:
        own = s._handle
        s._handle = k._handle
        try:
            with pytest.raises(ClosedError):
                s.keypair()
        finally:
            s._handle = own


def test_context_manager_closes() -> None:
    with Signature("ML-DSA-65") as s:
        pk, sk = s.keypair()
    assert s.closed
    with pytest.raises(ClosedError):
        s.sign(sk, MSG)


@pytest.mark.parametrize("name", SIG_NAMES)
def test_library_rejects_wrong_seed_length(name: str) -> None:
    # Calls the C function directly, past the binding's own seed check.
    import ctypes

    from pqc_iiot._native import lib
    with Signature(name) as sig:
        seed = bytes(sig.seed_size - 1)
        pk = ctypes.create_string_buffer(sig.public_key_size)
        sk = ctypes.create_string_buffer(sig.secret_key_size)
        status = lib.pqc_sig_keypair_from_seed(sig._h, seed, len(seed), pk, len(pk),
                                               sk, len(sk))
    assert status == pqc_iiot.Status.INVALID_ARGUMENT
