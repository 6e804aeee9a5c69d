"""The Binder files agree with the project (repo2docker itself cannot run here)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_binder_check_passes():
    result = subprocess.run(
        ["bash", str(ROOT / "binder" / "check.sh")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
