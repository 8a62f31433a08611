"""Keys, ciphertexts and signatures made in Python work from C and vice
versa. The C side is tests/c_peer.c, compiled with gcc against
include/pqc_iiot.h and the library file this process loaded."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable

import pytest

from pqc_iiot import Kem, Signature

from conftest import KEM_NAMES, SIG_NAMES

MSG = b"set-point 21.5C from controller-3"

Peer = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def peer(c_peer: Path, tmp_path: Path) -> Peer:
    def run(*args: str, expect: int = 0) -> subprocess.CompletedProcess:
        result = subprocess.run([str(c_peer), *args], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == expect, (
            f"c_peer {' '.join(args)} exited {result.returncode}, "
            f"want {expect}: {result.stderr}")
        return result
    return run


@pytest.mark.parametrize("name", KEM_NAMES)
def test_python_key_c_encapsulates(name: str, peer: Peer, tmp_path: Path) -> None:
    with Kem(name) as kem:
        pk, sk = kem.keypair()
        (tmp_path / "pk").write_bytes(pk)
        peer("kem-encap", name, "pk", "ct", "ss")
        ct = (tmp_path / "ct").read_bytes()
        assert len(ct) == kem.ciphertext_size
        assert kem.decapsulate(sk, ct) == (tmp_path / "ss").read_bytes()


@pytest.mark.parametrize("name", KEM_NAMES)
def test_c_key_python_encapsulates(name: str, peer: Peer, tmp_path: Path) -> None:
    peer("kem-keypair", name, "pk", "sk")
    with Kem(name) as kem:
        ct, ss = kem.encapsulate((tmp_path / "pk").read_bytes())
        (tmp_path / "ct").write_bytes(ct)
        peer("kem-decap", name, "sk", "ct", "ss")
        assert (tmp_path / "ss").read_bytes() == ss
        # And the C-made secret key decapsulates in Python too.
        assert kem.decapsulate((tmp_path / "sk").read_bytes(), ct) == ss


@pytest.mark.parametrize("name", SIG_NAMES)
def test_python_key_c_signs(name: str, peer: Peer, tmp_path: Path) -> None:
    with Signature(name) as sig:
        pk, sk = sig.keypair()
        (tmp_path / "sk").write_bytes(sk)
        (tmp_path / "msg").write_bytes(MSG)
        peer("sig-sign", name, "sk", "msg", "sig")
        signature = (tmp_path / "sig").read_bytes()
        assert sig.verify(pk, MSG, signature) is True
        assert sig.verify(pk, MSG + b".", signature) is False


@pytest.mark.parametrize("name", SIG_NAMES)
def test_python_signs_c_verifies(name: str, peer: Peer, tmp_path: Path) -> None:
    with Signature(name) as sig:
        pk, sk = sig.keypair()
        signature = sig.sign(sk, MSG)
    (tmp_path / "pk").write_bytes(pk)
    (tmp_path / "msg").write_bytes(MSG)
    (tmp_path / "sig").write_bytes(signature)
    peer("sig-verify", name, "pk", "msg", "sig", expect=0)
    tampered = bytearray(signature)
    tampered[len(tampered) // 2] ^= 0x04
    (tmp_path / "sig").write_bytes(tampered)
    peer("sig-verify", name, "pk", "msg", "sig", expect=1)


@pytest.mark.parametrize("name", SIG_NAMES)
def test_c_key_python_signs(name: str, peer: Peer, tmp_path: Path) -> None:
    peer("sig-keypair", name, "pk", "sk")
    with Signature(name) as sig:
        signature = sig.sign((tmp_path / "sk").read_bytes(), MSG)
        assert sig.verify((tmp_path / "pk").read_bytes(), MSG, signature)
    (tmp_path / "msg").write_bytes(MSG)
    (tmp_path / "sig").write_bytes(signature)
    peer("sig-verify", name, "pk", "msg", "sig", expect=0)


def test_c_reports_library_errors(peer: Peer, tmp_path: Path) -> None:
    (tmp_path / "pk").write_bytes(b"\x00" * 10)
    result = peer("kem-encap", "ML-KEM-768", "pk", "ct", "ss", expect=2)
    assert "invalid argument" in result.stderr and "10 bytes" in result.stderr
