"""The example in examples/python runs and exits 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "python" / "kem_sig.py"


def test_kem_sig_example(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLE)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ML-KEM-768" in out and "ML-DSA-65" in out
    assert "shared secrets match" in out
    assert "signature verified" in out and "tampered message rejected" in out
