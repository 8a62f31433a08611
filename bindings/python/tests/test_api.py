"""Module-level functions, exceptions, library loading and packaging."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import pqc_iiot
from pqc_iiot import (BufferTooSmallError, ClosedError, CorruptError,
                      ExpiredError, InternalError, InvalidArgumentError,
                      KeystoreIOError, PolicyError, PqcError, PqcTimeoutError,
                      RateLimitedError, ReplayError, RevokedError,
                      RollbackError, StateError, Status,
                      UnsupportedAlgorithmError, UntrustedError,
                      VerificationError, WrongKeyError)


def test_version() -> None:
    v = pqc_iiot.version()
    assert isinstance(v, str) and re.fullmatch(r"\d+\.\d+\.\d+.*", v)


def test_abi_version() -> None:
    assert pqc_iiot.ABI_VERSION == 1
    assert pqc_iiot.abi_version() == pqc_iiot.ABI_VERSION


def test_random_bytes() -> None:
    a, b = pqc_iiot.random_bytes(32), pqc_iiot.random_bytes(32)
    assert isinstance(a, bytes) and len(a) == 32 and a != b
    assert pqc_iiot.random_bytes(0) == b""
    assert len(pqc_iiot.random_bytes(100_000)) == 100_000
    with pytest.raises(InvalidArgumentError):
        pqc_iiot.random_bytes(-1)
    for bad in (1.5, "8", None, True):
        with pytest.raises(TypeError):
            pqc_iiot.random_bytes(bad)  # type: ignore[arg-type]


def test_status_values_match_header() -> None:
    assert [int(s) for s in Status] == list(range(0, -19, -1))


@pytest.mark.parametrize(
    "status, cls",
    [
        (-1, InvalidArgumentError),
        (-2, BufferTooSmallError),
        (-3, UnsupportedAlgorithmError),
        (-4, VerificationError),
        (-5, ClosedError),
        (-6, InternalError),
        (-7, ReplayError),
        (-8, PolicyError),
        (-9, PqcTimeoutError),
        (-10, KeystoreIOError),
        (-11, RateLimitedError),
        (-12, StateError),
        (-13, RevokedError),
        (-14, ExpiredError),
        (-15, UntrustedError),
        (-16, RollbackError),
        (-17, WrongKeyError),
        (-18, CorruptError),
    ],
)
def test_status_mapping(status: int, cls: type) -> None:
    assert pqc_iiot.STATUS_ERRORS[status] is cls
    err = pqc_iiot.error_for_status(status, "detail text")
    assert type(err) is cls and isinstance(err, PqcError)
    assert err.status == status and err.detail == "detail text"
    assert "detail text" in str(err)


def test_exception_hierarchy() -> None:
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(UnsupportedAlgorithmError, ValueError)
    for cls in (BufferTooSmallError, VerificationError, ClosedError, InternalError):
        assert issubclass(cls, PqcError) and not issubclass(cls, ValueError)
    assert issubclass(PqcError, Exception)
    # Security refusals must not be caught by handlers for builtin errors.
    for cls in (ReplayError, PolicyError, PqcTimeoutError, KeystoreIOError,
                RateLimitedError, StateError, RevokedError, ExpiredError,
                UntrustedError, RollbackError, WrongKeyError, CorruptError):
        assert issubclass(cls, PqcError)
        assert not issubclass(cls, (ValueError, OSError, TimeoutError))
    assert PqcTimeoutError is not TimeoutError


def test_strerror_names_match_library() -> None:
    # The names used for errors raised on the Python side are the library's.
    from pqc_iiot import _native
    from pqc_iiot.errors import _NAMES
    for status in Status:
        if status != Status.OK:
            assert _NAMES[status] == _native.strerror(status)


def test_unknown_status_is_internal_error() -> None:
    err = pqc_iiot.error_for_status(-99, "from the future")
    assert type(err) is InternalError and err.status == -99


def test_typed_package() -> None:
    pkg = Path(pqc_iiot.__file__).parent
    assert (pkg / "py.typed").is_file()
    hints = typing.get_type_hints(pqc_iiot.Signature.verify)
    assert hints["return"] is bool
    assert typing.get_type_hints(pqc_iiot.random_bytes)["return"] is bytes


def test_installed_wheel_layout() -> None:
    # scripts/test-python.sh sets this: the suite must be testing the wheel
    # pip built, with its bundled library, not the source tree.
    if os.environ.get("PQC_IIOT_EXPECT_INSTALLED") != "1":
        pytest.skip("only checked when run by scripts/test-python.sh")
    pkg = Path(pqc_iiot.__file__).resolve().parent
    assert "site-packages" in pkg.parts
    assert Path(pqc_iiot.library_path) == pkg / "_lib" / "libpqc_iiot.so"
    assert not (pkg / "_lib" / "libpqc_iiot.h").exists()


def _import_in_subprocess(env_value: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PQC_IIOT_LIBRARY=env_value)
    code = "import pqc_iiot; print(pqc_iiot.library_path); print(pqc_iiot.version())"
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_library_env_var_is_used(tmp_path: Path) -> None:
    # A copy, so the path proves the variable was honoured.
    copy = tmp_path / "libcopy.so"
    copy.write_bytes(Path(pqc_iiot.library_path).read_bytes())
    result = _import_in_subprocess(str(copy), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(copy)


def test_library_env_var_missing_file(tmp_path: Path) -> None:
    result = _import_in_subprocess(str(tmp_path / "nope.so"), tmp_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "PQC_IIOT_LIBRARY" in result.stderr


def test_library_env_var_not_a_library(tmp_path: Path) -> None:
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF file")
    result = _import_in_subprocess(str(junk), tmp_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr and "cannot load" in result.stderr


def test_abi_mismatch_refused(tmp_path: Path, compile_c) -> None:
    # A stand-in library exporting every symbol, with a future ABI version.
    from pqc_iiot import _native
    names = [n for n in _native._PROTOTYPES if n != "pqc_abi_version"]
    source = tmp_path / "fake.c"
    source.write_text(
        "int pqc_abi_version(void) { return 2; }\n"
        + "".join(f"int {n}(void) {{ return 0; }}\n" for n in names)
    )
    fake = compile_c(source, "libfake_abi2.so", "-shared", "-fPIC")
    result = _import_in_subprocess(str(fake), tmp_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "ABI version 2" in result.stderr and "ABI version 1" in result.stderr


def test_no_build_at_import(tmp_path: Path) -> None:
    # Importing must work with no Go toolchain or compiler anywhere on PATH.
    env = dict(os.environ, PATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", "import pqc_iiot; pqc_iiot.Kem('ML-KEM-768').keypair()"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr

