"""flint's tasks in Prefect: labels, cache keys from content identity, JSON-only results."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import pytest
from prefect import flow
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.asyncutils import run_coro_as_sync

from flint.identity import Recipe
from flint.prefect.cache import (
    FlintJSONSerializer,
    InputIdentity,
    UnsafeResultError,
    check_record,
)
from flint.prefect.runs import parse_task_label, read_settled_task_runs
from flint.prefect.tasks import RESULTS_DIRECTORY, bind, flint_task, image_task, labelled


@dataclass(frozen=True)
class Doubled:
    """A result type (JSON-able: paths and numbers)."""

    output: Path
    size: int


def double(source: Path, output: Path, factor: int = 2) -> Doubled:
    """A core function in flint's shape: reuse by recipe, write, record last."""
    recipe = Recipe.of("double", {"source": source}, {"factor": factor})
    if not recipe.made(output):
        output.write_bytes(source.read_bytes() * factor)
        recipe.record(output)
    return Doubled(output, output.stat().st_size)


double_task = flint_task(double, "double", reads=("source",))


@flow(name="double-flow", task_runner=ThreadPoolTaskRunner(max_workers=1))
def double_flow(source: Path, output_dir: Path, factor: int = 2):
    return [bind(double_task, output_dir).submit(source, output_dir / "out.bin", factor)]


def _run(source: Path, output_dir: Path, factor: int = 2) -> str:
    state = double_flow(source, output_dir, factor, return_state=True)
    assert state.is_completed(), state
    (run,) = run_coro_as_sync(read_settled_task_runs(state.state_details.flow_run_id, expected=1))
    return run.state.name


def test_cache_key_follows_content_of_what_a_task_reads_not_its_outputs(tmp_path):
    policy = InputIdentity(reads=("ms",))
    ms, output = tmp_path / "beam00.ms", tmp_path / "beam00.image.fits"
    ms.mkdir()
    (ms / "table.dat").write_text("table")
    key = policy.compute_key(None, {"ms": ms, "output": output}, {})
    output.write_text("image")  # an output appearing does not change the key
    (ms / "table.lock").write_text("lock")  # nor does reading the MS (casacore's lock file)
    os.utime(ms / "table.dat", (2_000, 2_000))  # nor touching it: identity is content
    assert policy.compute_key(None, {"ms": ms, "output": output}, {}) == key
    (ms / "table.dat").write_text("tablE")  # the MS was written again
    assert policy.compute_key(None, {"ms": ms, "output": output}, {}) != key
    other = policy.compute_key(None, {"ms": ms, "output": tmp_path / "elsewhere.fits"}, {})
    assert other != policy.compute_key(None, {"ms": ms, "output": output}, {})


def test_results_are_json_and_only_flint_records_are_read():
    serializer = FlintJSONSerializer()
    result = Doubled(Path("/data/out.bin"), 12)
    blob = serializer.dumps(result)
    assert b'"paths": ["/data/out.bin"]' in blob
    assert serializer.loads(blob) == result
    with pytest.raises(UnsafeResultError, match="not one flint's tasks return"):
        serializer.loads(blob.replace(b"test_prefect_tasks.Doubled", b"os.system"))
    record = b'{"metadata": {"serializer": {"type": "pickle"}}, "result": "gASV"}'
    with pytest.raises(UnsafeResultError, match="'pickle' serializer"):
        check_record(record, "record")


def test_flow_cache_reruns_for_changed_content_options_or_lost_products(tmp_path, prefect_env):
    source, output_dir = tmp_path / "source.bin", tmp_path / "out"
    source.write_bytes(b"abc")
    assert _run(source, output_dir) == "Completed"
    assert _run(source, output_dir) == "Cached"
    os.utime(source, (1_000, 1_000))  # touched, same content
    assert _run(source, output_dir) == "Cached"
    assert _run(source, output_dir, factor=3) == "Completed"  # option changed
    assert (output_dir / "out.bin").read_bytes() == b"abc" * 3
    source.write_bytes(b"xyz")  # input changed
    assert _run(source, output_dir, factor=3) == "Completed"
    assert (output_dir / "out.bin").read_bytes() == b"xyz" * 3
    (output_dir / "out.bin").unlink()  # product lost: the cached result is not trusted
    assert _run(source, output_dir, factor=3) == "Completed"
    assert (output_dir / "out.bin").read_bytes() == b"xyz" * 3
    records = [p for p in (output_dir / RESULTS_DIRECTORY).iterdir() if p.is_file()]
    assert records and all(check_record(p.read_bytes(), p) for p in records)


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["FLINT_TEST_PWNED"]),))


def test_a_planted_pickle_in_the_output_directory_is_never_loaded(
    tmp_path, prefect_env, monkeypatch
):
    source, output_dir = tmp_path / "source.bin", tmp_path / "out"
    source.write_bytes(b"abc")
    assert _run(source, output_dir) == "Completed"
    pwned = tmp_path / "pwned"
    monkeypatch.setenv("FLINT_TEST_PWNED", str(pwned))
    (record,) = [p for p in (output_dir / RESULTS_DIRECTORY).iterdir() if p.is_file()]
    import base64

    planted = {
        "metadata": {"serializer": {"type": "pickle"}, "storage_key": str(record)},
        "result": base64.b64encode(pickle.dumps(_Payload())).decode(),
    }
    import json

    record.write_text(json.dumps(planted))
    assert _run(source, output_dir) == "Completed"  # run again, not read
    assert not pwned.exists()
    check_record(record.read_bytes(), record)  # and overwritten with a JSON record


def test_labelled_names_runs_for_the_grid(tmp_path, prefect_env):
    with labelled("image", beam=3, round_number=2):
        named = bind(image_task, tmp_path)
    assert named.result_storage.basepath == str(tmp_path / RESULTS_DIRECTORY)
    label = parse_task_label(named.task_run_name, [])
    assert (label.stage, label.beam, label.round) == ("image", "03", 2)
