"""Shared fixtures. The suite tests whichever pqc_iiot is importable, so run
it from outside the source tree to test the installed wheel."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, List, Optional

import pytest

import pqc_iiot

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parents[2]
INCLUDE_DIR = Path(os.environ.get("PQC_IIOT_INCLUDE_DIR", REPO_ROOT / "include"))

KEM_NAMES: List[str] = pqc_iiot.Kem.algorithms()
SIG_NAMES: List[str] = pqc_iiot.Signature.algorithms()


def pytest_report_header(config: pytest.Config) -> List[str]:
    return [
        f"pqc_iiot {pqc_iiot.__version__} from {Path(pqc_iiot.__file__).parent}",
        f"library {pqc_iiot.library_path} (version {pqc_iiot.version()}, "
        f"ABI {pqc_iiot.abi_version()})",
        f"KEMs: {', '.join(KEM_NAMES)}",
        f"signatures: {', '.join(SIG_NAMES)}",
    ]


@pytest.fixture(params=KEM_NAMES)
def kem(request: pytest.FixtureRequest):
    with pqc_iiot.Kem(request.param) as k:
        yield k


@pytest.fixture(params=SIG_NAMES)
def sig(request: pytest.FixtureRequest):
    with pqc_iiot.Signature(request.param) as s:
        yield s


@functools.lru_cache(maxsize=None)
def sign_abort_reason(name: str) -> Optional[str]:
    """Why signing with ``name`` kills the process, or None if it does not.

    A library fault that aborts the process (a Go fatal error, which no
    recover() can catch) would take the whole pytest run down with it, so
    it is probed once in a child process.
    """
    code = ("import pqc_iiot\n"
            f"s = pqc_iiot.Signature({name!r})\n"
            "pk, sk = s.keypair()\n"
            "assert s.verify(pk, b'probe', s.sign(sk, b'probe'))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, timeout=120)
    if result.returncode == 0:
        return None
    first = next((ln for ln in result.stderr.splitlines() if ln.strip()), "")
    return (f"signing with {name} aborts the process "
            f"(exit {result.returncode}): {first}")



def _gcc() -> str:
    gcc = shutil.which(os.environ.get("CC", "gcc")) or shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: the C side of this test cannot be compiled")
    return gcc


@pytest.fixture(scope="session")
def compile_c(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Compiles a C program with gcc (skipping the test without gcc)."""
    gcc = _gcc()
    out_dir = tmp_path_factory.mktemp("c")

    def build(source: Path, name: str, *args: str) -> Path:
        exe = out_dir / name
        cmd = [gcc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(exe),
               str(source), *args]
        result = subprocess.run(cmd, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stderr}"
        return exe

    return build


@pytest.fixture(scope="session")
def c_peer(compile_c: Callable[..., Path]) -> Path:
    """tests/c_peer.c built against include/pqc_iiot.h and the very library
    file this Python process loaded."""
    header = INCLUDE_DIR / "pqc_iiot.h"
    if not header.is_file():
        pytest.skip(f"{header} not found; set PQC_IIOT_INCLUDE_DIR")
    lib = Path(pqc_iiot.library_path)
    # Linking the file by path (the Go library has no SONAME) records that
    # path in the executable, so it cannot pick up another copy at run time.
    return compile_c(TESTS_DIR / "c_peer.c", "c_peer", f"-I{INCLUDE_DIR}",
                     str(lib), f"-Wl,-rpath,{lib.parent}")


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"openssl {' '.join(args)}\n{result.stderr}"


def make_test_pki(d: Path, server_cn: str, server_ext: str, client_cn: str) -> Path:
    """Two CAs (ca, other-ca) and, from ca, a server and a client
    certificate, EC P-256, one day, made with the openssl CLI in d:
    <name>.pem beside <name>.key. server_ext is the server certificate's
    extensions (openssl -extfile lines); Go checks only the
    subjectAltName, never the common name."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "1",
                 "-subj", f"/CN=test {ca}", cwd=d)
    for name, cn, ext in (("server", server_cn, server_ext),
                          ("client", client_cn, "extendedKeyUsage=clientAuth")):
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "1",
                 "-extfile", f"{name}.ext", cwd=d)
    return d
