"""Atomic products: nothing half-written is ever in place, and a killed run's debris goes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from flint.atomic import atomic_path, remove_stale_temporaries


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "product.txt"
    with pytest.raises(RuntimeError), atomic_path(final) as temporary:
        temporary.write_text("half")
        raise RuntimeError("tool died")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []
    with atomic_path(final) as temporary:
        temporary.write_text("whole")
    assert final.read_text() == "whole"
    with pytest.raises(FileExistsError), atomic_path(final) as temporary:
        temporary.write_text("again")
    assert final.read_text() == "whole"


def test_temporaries_of_killed_processes_are_removed(tmp_path):
    final = tmp_path / "beam00.flagged.ms"
    script = (
        "import os, sys; from flint.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as t:\n    t.mkdir(); os.kill(os.getpid(), 9)"
    )
    subprocess.run([sys.executable, "-c", script, str(final)], check=False)
    (left,) = tmp_path.iterdir()  # SIGKILL: no cleanup ran
    assert left.name.startswith(".beam00.flagged.ms.tmp-")
    with atomic_path(tmp_path / "other.ms") as mine:  # another product's debris is not touched
        mine.mkdir()
        assert remove_stale_temporaries(final) == [left]
        assert mine.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.ms"]
