"""Build steps that pyproject.toml cannot express: compiling the Go library
into the package, and tagging the wheel for the platform it was built on.

Metadata lives in pyproject.toml. Environment variables:
  GO                    the go command (default: `go` on PATH, then
                        /usr/local/go/bin/go)
  PQC_IIOT_SOURCE_DIR   the pqc-iiot repository root (default: found by
                        walking up from this file to the go.mod next to capi/)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, NoReturn

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1 kept it in the wheel package
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
LIB_NAME = "libpqc_iiot.so"
MODULE_PATH = "github.com/pqc-iiot/pqc-iiot"


def fail(message: str) -> NoReturn:
    # SystemExit with a string prints just the message: pip shows it verbatim
    # under "error: subprocess-exited-with-error" instead of a traceback.
    raise SystemExit(f"\npqc-iiot build error: {message}\n")


def is_repo_root(path: Path) -> bool:
    gomod = path / "go.mod"
    if not (gomod.is_file() and (path / "capi").is_dir()):
        return False
    return f"module {MODULE_PATH}" in gomod.read_text(encoding="utf-8", errors="replace")


def find_repo_root() -> Path:
    override = os.environ.get("PQC_IIOT_SOURCE_DIR")
    if override:
        root = Path(override).expanduser().resolve()
        if not is_repo_root(root):
            fail(f"PQC_IIOT_SOURCE_DIR={override} is not the pqc-iiot repository "
                 "root (no go.mod for the module next to capi/)")
        return root
    # The package sits at bindings/python, so the root is normally two levels
    # up; walking up instead of counting keeps working if the directory moves.
    for candidate in [HERE, *HERE.parents]:
        if is_repo_root(candidate):
            return candidate
    fail(f"cannot find the pqc-iiot repository above {HERE}. The Go library "
         "is built from the repository's sources, so install from a checkout "
         "(pip install <repo>/bindings/python, which pip >= 21.3 builds in "
         "place) or set PQC_IIOT_SOURCE_DIR to the repository root. A copy "
         "of bindings/python on its own (such as an sdist) cannot be built.")


def find_go() -> str:
    requested = os.environ.get("GO")
    if requested:
        found = shutil.which(requested)
        if not found:
            fail(f"GO={requested} is not an executable")
        return found
    found = shutil.which("go")
    if found:
        return found
    # The official tarball's location, which sudo and some CI shells drop
    # from PATH.
    fallback = Path("/usr/local/go/bin/go")
    if os.access(fallback, os.X_OK):
        return str(fallback)
    fail("the Go toolchain is required to build libpqc_iiot but `go` is not on "
         "PATH (nor /usr/local/go/bin/go). Install Go (https://go.dev/dl) and "
         "retry, or set GO to the go binary.")


def check_c_compiler(go: str, env: dict) -> None:
    # -buildmode=c-shared needs cgo, and cgo needs the C compiler; without
    # one Go's error is an unhelpful "build constraints exclude all files".
    out = subprocess.run([go, "env", "CC"], env=env, capture_output=True, text=True)
    cc = (out.stdout.strip().split() or ["gcc"])[0]
    if not shutil.which(cc):
        fail(f"the C compiler `{cc}` that cgo uses is not installed; install gcc "
             "(or set CC) and retry")


def build_library(out: Path) -> None:
    root = find_repo_root()
    go = find_go()
    env = dict(os.environ, CGO_ENABLED="1")
    check_c_compiler(go, env)
    out.parent.mkdir(parents=True, exist_ok=True)
    # -buildvcs=false: a checkout without the git binary, or owned by another
    # user, would otherwise fail the build over version stamping.
    cmd = [go, "build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared",
           "-o", str(out), "./capi"]
    print(f"pqc-iiot: building {out} in {root}: {' '.join(cmd)}", file=sys.stderr)
    result = subprocess.run(cmd, cwd=root, env=env)
    if result.returncode != 0:
        fail(f"`{' '.join(cmd)}` failed in {root} with exit code {result.returncode} "
             "(its output is above)")
    # cgo writes a generated header next to the library; include/pqc_iiot.h
    # is the real contract, so this one must not ship.
    out.with_suffix(".h").unlink(missing_ok=True)


class BuildPyWithGo(build_py):
    """Copies the Python sources, then builds the Go library beside them."""

    def run(self) -> None:
        super().run()
        build_library(self._library_target())

    def _library_target(self) -> Path:
        if getattr(self, "editable_mode", False):
            # An editable install imports from src/, so the library goes there.
            return HERE / "src" / "pqc_iiot" / "_lib" / LIB_NAME
        # build_lib is relative to this directory, but go runs in the repo
        # root.
        return Path(self.build_lib).resolve() / "pqc_iiot" / "_lib" / LIB_NAME

    def get_outputs(self, include_bytecode: bool = True) -> List[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs.append(str(self._library_target()))
        return outputs


class PlatformWheel(bdist_wheel):
    """Tags the wheel py3-none-<platform>.

    The library is native code for one platform, but it is loaded with ctypes
    rather than linked against CPython, so any Python 3 on that platform can
    use the same wheel.
    """

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):  # type: ignore[no-untyped-def]
        _, _, platform = super().get_tag()
        return "py3", "none", platform


class NativeDistribution(Distribution):
    """Makes install place the package in platlib, where native code goes,
    instead of purelib (the wheel's .data/purelib) as for pure Python."""

    def has_ext_modules(self) -> bool:
        return True


setup(
    distclass=NativeDistribution,
    cmdclass={"build_py": BuildPyWithGo, "bdist_wheel": PlatformWheel},
)
