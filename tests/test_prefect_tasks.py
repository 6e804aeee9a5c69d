"""Task labels and cache keys of flint's Prefect tasks."""

from __future__ import annotations

import os

from flint.prefect.runs import parse_task_label
from flint.prefect.tasks import RESULTS_DIRECTORY, InputFileTimes, bind, image_task, labelled


def test_cache_key_follows_the_files_a_task_reads_not_its_outputs(tmp_path):
    policy = InputFileTimes(reads=("ms",))
    ms, output = tmp_path / "beam00.ms", tmp_path / "beam00.image.fits"
    ms.mkdir()
    (ms / "table.dat").write_text("table")
    os.utime(ms / "table.dat", (1_000, 1_000))
    key = policy.compute_key(None, {"ms": ms, "output": output}, {})
    output.write_text("image")  # an output appearing does not change the key
    (ms / "table.lock").write_text("lock")  # nor does reading the MS (casacore's lock file)
    assert policy.compute_key(None, {"ms": ms, "output": output}, {}) == key
    os.utime(ms / "table.dat", (2_000, 2_000))  # the MS was written again
    assert policy.compute_key(None, {"ms": ms, "output": output}, {}) != key


def test_labelled_names_runs_for_the_grid(tmp_path, prefect_env):
    with labelled("image", beam=3, round_number=2):
        named = bind(image_task, tmp_path)
    assert named.result_storage.basepath == str(tmp_path / RESULTS_DIRECTORY)
    label = parse_task_label(named.task_run_name, [])
    assert (label.stage, label.beam, label.round) == ("image", "03", 2)
