"""flint plan: the cost model's arithmetic against a case worked by hand, the cluster configs
it reads, the packaged cost table, and bad input (one line naming the file)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from flint.cli import main
from flint.errors import InputError
from flint.planning import (
    BeamShape,
    CostTable,
    Resources,
    continuum_tasks,
    load_cost_table,
    plan_block,
)
from flint.prefect.cluster import load_cluster_config
from flint.prefect.plan import cluster_resources
from flint.strategy.load import check_strategy

ROOT = Path(__file__).resolve().parents[1]

STRATEGY = check_strategy(
    {
        "version": 1,
        "selfcal_rounds": 0,
        "defaults": {"imaging": {"size": 1000, "scale": "10asec", "channels_out": 2}},
    }
)
COSTS = CostTable(
    stages={
        "preprocess": {"cpu_s_per_mvis": 10.0, "rss_gib": 0.5},
        "apply": {"cpu_s_per_mvis": 5.0},
        "flag": {"cpu_s_per_mvis": 20.0, "rss_gib_per_mvis": 10.0},
        "image": {
            "cpu_s": 10.0,
            "cpu_s_per_mvis": 500.0,
            "cpu_s_per_mpix": 25.0,
            "parallel_fraction": 1.0,
            "rss_gib": 1.0,
            "rss_gib_per_mpix": 0.5,
        },
        "convolve": {"cpu_s_per_mpix": 1.0},
        "mosaic": {"cpu_s_per_mpix": 2.0},
        "find": {"cpu_s_per_mpix": 3.0, "parallel_fraction": 0.5},
        "validate": {"cpu_s": 4.0},
        "publish": {},
        "summary": {},
    },
    disk={
        "working_copy_bytes": 1e6,
        "working_copy_bytes_per_vis": 10.0,
        "products_bytes_per_mpix": 4e6,
    },
    worker_rss_gib=0.25,
)
# two beams of 1000 rows x 100 channels: 0.1 M visibilities each, a 1000-pixel image in
# 2 sub-bands (2 M pixels)
BEAMS = [BeamShape(b, rows=1000, channels=100, correlations=4, raw_bytes=10**9) for b in (0, 1)]


def test_a_block_costs_what_the_model_says_worked_by_hand():
    tasks = continuum_tasks(BEAMS, STRATEGY)
    assert [t.name for t in tasks] == [
        "preprocess-beam00", "apply-beam00", "flag-beam00", "image-beam00-r0",
        "preprocess-beam01", "apply-beam01", "flag-beam01", "image-beam01-r0",
        "convolve-r0", "mosaic-r0",
        "find-beam00", "find-beam01", "find-mosaic", "validate", "publish", "summary",
    ]  # fmt: skip
    # per beam: preprocess 1 s, apply 0.5 s, flag 2 s; image 10 + 50 + 50 = 110 cpu s, all
    # of it parallel: 55 s on 2 cores. convolve 2 (field of 2 beams x 1 M pixels) -> 2 s,
    # mosaic 4 s, find per beam 3 cpu s -> 2.25 s on 2 cores (p = 0.5), on the mosaic
    # 6 -> 4.5 s, validate 4 s.
    one = plan_block(BEAMS, STRATEGY, Resources(workers=1, threads=1, cores=2), COSTS)
    serial = 2 * (1 + 0.5 + 2) + 2 * 55 + 2 + 4 + 2 * 2.25 + 4.5 + 4
    assert one.wall_s == pytest.approx(serial)
    busy = 2 * 3.5 + 2 * 110 + 2 + 4 + 2 * 3 + 6 + 4
    assert one.busy_core_hours == pytest.approx(busy / 3600)
    assert one.core_hours == pytest.approx(2 * serial / 3600)
    assert one.idle_fraction == pytest.approx(1 - busy / (2 * serial))
    # two workers: the beams side by side to their images (3.5 + 55 = 58.5 s); then convolve
    # and find beam 0 start, mosaic follows convolve (60.5-64.5), find beam 1 the other
    # find (60.75-63), the mosaic's find 64.5-69, validate 69-73
    two = plan_block(BEAMS, STRATEGY, Resources(workers=2, threads=1, cores=2), COSTS)
    assert two.wall_s == pytest.approx(73.0)
    assert two.core_hours == pytest.approx(2 * 2 * 73.0 / 3600)
    assert (one.workers_used, two.workers_used) == (1, 2)
    # ten adaptive workers: after the images, convolve and both finds run at once (3 busy
    # workers, the most ever); the same 73 s; only the busy ones are paid for
    adaptive = Resources(workers=10, threads=1, cores=2, adaptive=True)
    many = plan_block(BEAMS, STRATEGY, adaptive, COSTS)
    assert many.wall_s == pytest.approx(73.0) and many.workers_used == 3
    assert many.core_hours == pytest.approx(3 * 2 * 73.0 / 3600)
    fixed = plan_block(BEAMS, STRATEGY, Resources(workers=10, threads=1, cores=2), COSTS)
    assert fixed.core_hours == pytest.approx(10 * 2 * 73.0 / 3600)
    assert two.stages["image"].tasks == 2 and two.stages["image"].cpu_s == pytest.approx(220)
    # memory: the worker's own 0.25 GiB and, per thread, the largest task: the image's
    # 1 + 0.5 x 2 M pixels = 2 GiB (flag: 10 x 0.1 = 1 GiB)
    assert two.peak_rss_gib_per_worker == pytest.approx(0.25 + 2.0)
    threads = plan_block(BEAMS, STRATEGY, Resources(workers=1, threads=2, cores=2), COSTS)
    assert threads.peak_rss_gib_per_worker == pytest.approx(0.25 + 2 * 2.0)
    assert threads.wall_s > two.wall_s  # two tasks share 2 cores: the images take 110 s
    # disk: raw 2 GB; working copies 1e6 + 10 x 0.4 M = 5 MB each; products 4 MB per M
    # pixel of (2 sub-bands + MFS) x 1 M pixels; MODEL_DATA of both beams at once, 8 bytes
    # per visibility and correlation (3.2 MB each)
    copies, products, model = 2 * 5e6, 2 * 4e6 * 3, 2 * 3.2e6
    assert two.raw_bytes == 2 * 10**9
    assert two.peak_disk_bytes == pytest.approx(2e9 + copies + products + model, abs=2)
    assert one.peak_disk_bytes == pytest.approx(2e9 + copies + products + model / 2, abs=2)
    assert two.kept_bytes == pytest.approx(copies + products, abs=2)


def test_warnings_and_bandpass():
    small = Resources(workers=1, threads=2, cores=2, memory_gib=3.0, walltime_s=60.0)
    calibrators = [BeamShape(b, 500, 100) for b in (0, 1)]
    costs = COSTS.model_copy(
        update={
            "stages": {**COSTS.stages, **{s: COSTS.stages["apply"] for s in ("solve", "repair")}}
        }
    )
    plan = plan_block(BEAMS, STRATEGY, small, costs, calibrators)
    assert plan.stages["solve"].tasks == 2 and plan.stages["preprocess"].tasks == 4
    assert any("4.2 GiB, more than its 3.0 GiB" in w for w in plan.warnings), plan.warnings
    assert any("walltime" in w for w in plan.warnings), plan.warnings
    text = "\n".join(plan.describe())
    assert "warning:" in text and "2 beams, 0.20 M visibilities" in text


def test_cluster_configs_give_workers_threads_and_cores(tmp_path):
    slurm = tmp_path / "slurm.yaml"
    slurm.write_text(yaml.safe_dump({
        "cluster_class": "dask_jobqueue.SLURMCluster",
        "cluster_kwargs": {"cores": 2, "processes": 1, "job_cpu": 8, "memory": "16GiB",
                           "walltime": "1-02:00:00"},
        "adapt_kwargs": {"minimum": 0, "maximum": 12},
    }))  # fmt: skip
    resources = cluster_resources(load_cluster_config(slurm))
    assert (resources.workers, resources.threads, resources.cores) == (12, 2, 8)
    assert resources.task_cores == 4 and resources.memory_gib == pytest.approx(16)
    assert resources.walltime_s == 26 * 3600
    assert resources.adaptive and resources.minimum == 0
    packaged = cluster_resources(load_cluster_config("slurm"))  # the example: 1..38 jobs of 8
    assert (packaged.workers, packaged.threads, packaged.cores) == (38, 1, 8)


def test_the_packaged_cost_table_covers_every_stage_of_both_strategies():
    from flint.demo import demo_strategy_path
    from flint.planning import bandpass_tasks
    from flint.strategy import load_strategy

    table = load_cost_table()
    assert table.measured, "the table says which benchmarks it was fitted to"
    beams = [BeamShape(b, 666 * 90, 288, noise=True) for b in range(36)]
    for strategy in (load_strategy(None), load_strategy(demo_strategy_path())):
        stages = {t.stage for t in continuum_tasks(beams, strategy) + bandpass_tasks(beams)}
        assert stages <= set(table.stages), stages - set(table.stages)


def _observation(real_ms: Path, where: Path) -> Path:
    where.mkdir()
    shutil.copytree(real_ms, where / "SB39400.RACS_0635-31.beam0.ms")
    return where


def test_flint_plan_on_a_block(real_ms_readonly, tmp_path, capsys):
    block = _observation(real_ms_readonly, tmp_path / "SB39400")
    assert main(["plan", str(block), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["beams"] == 1 and plan["wall_s"] > 0 and plan["peak_disk_bytes"] > plan["raw_bytes"]
    assert main(["plan", str(block), "--cluster", "slurm"]) == 0
    assert "on 38 worker(s) x 1 thread(s) x 8 core(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("costs.json", "{not json", "not JSON"),
        ("costs.json", json.dumps({"stages": {}}), "not a cost table: disk"),
        ("costs.json", json.dumps({**COSTS.model_dump(), "stages": {"image": {"cpu_s": -1}}}),
         "not a cost table: stages.image.cpu_s"),
    ],
)  # fmt: skip
def test_bad_cost_tables_fail_in_one_line_naming_the_file(tmp_path, name, text, problem):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as error:
        load_cost_table(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_flint_plan_bad_input_is_one_line_and_non_zero(real_ms_readonly, tmp_path, capsys):
    missing = tmp_path / "nothing"
    assert main(["plan", str(missing)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(missing) in error, error
    block = _observation(real_ms_readonly, tmp_path / "SB39400")
    costs = tmp_path / "costs.json"
    for text in ("[]", json.dumps({**COSTS.model_dump(), "stages": {}})):
        costs.write_text(text)
        assert main(["plan", str(block), "--costs", str(costs)]) == 1
        error = capsys.readouterr().err.strip()
        assert error.count("\n") == 0 and str(costs) in error, error
    assert "no stage 'preprocess'" in error
    assert not list(tmp_path.glob("*.tmp*"))  # nothing written


def test_the_mosaic_spans_the_beams_pointings():
    from flint.planning import mosaic_megapixels

    # two beams 1 deg apart in Dec, 1000-pixel images of 12 arcsec: 300 + 1000 rows
    apart = [BeamShape(b, 1, 1, pointing_deg=(0.0, -30.0 - b)) for b in (0, 1)]
    assert mosaic_megapixels(apart, 1000, "12asec") == pytest.approx(1.3)
    # across RA 0: 0.5 deg apart at Dec 60 (0.25 deg on the sky, 75 pixels), not 359.5 deg
    wrapped = [BeamShape(b, 1, 1, pointing_deg=(ra, 60.0)) for b, ra in ((0, 359.75), (1, 0.25))]
    assert mosaic_megapixels(wrapped, 1000, "12asec") == pytest.approx(1.075)
    assert mosaic_megapixels(BEAMS, 1000, "12asec") == 2.0  # no pointings: one image each


def test_overheads_and_shared_cores_worked_by_hand():
    from flint.planning import PlannedTask, schedule

    # two independent tasks of 10 s and 4 s of work, then one of 2 s after both, on two
    # one-core workers; every task first holds its slot 1 s (overhead, no core)
    tasks = [
        PlannedTask("a", "work", mvis=10.0),
        PlannedTask("b", "work", mvis=4.0),
        PlannedTask("c", "work", mvis=2.0, after=("a", "b")),
    ]
    costs = CostTable.model_validate(
        {**COSTS.model_dump(), "stages": {"work": {"cpu_s_per_mvis": 1.0}}, "task_overhead_s": 1}
    )

    def times(resources):
        runs = sorted(schedule(tasks, costs, resources), key=lambda r: r.task.name)
        return [time for r in runs for time in (r.start_s, r.end_s)]

    assert times(Resources(workers=2, threads=1, cores=1)) == pytest.approx([0, 11, 0, 5, 11, 14])
    # the two workers on one core: from 1 s both work at half speed, b's 4 s end at 9 s,
    # a's last 6 s at full speed end at 15 s, then c
    shared = Resources(workers=2, threads=1, cores=1, host_cores=1)
    assert times(shared) == pytest.approx([0, 15, 0, 9, 15, 18])
    # a flow's own overhead follows its tasks; CPU is the work alone
    plan = plan_block(BEAMS, STRATEGY, Resources(workers=1, threads=1, cores=2),
                      COSTS.model_copy(update={"task_overhead_s": 0.5, "flow_overhead_s": 3.0}))  # fmt: skip
    base = plan_block(BEAMS, STRATEGY, Resources(workers=1, threads=1, cores=2), COSTS)
    assert plan.wall_s == pytest.approx(base.wall_s + 16 * 0.5 + 3.0)
    assert plan.busy_core_hours == pytest.approx(base.busy_core_hours)


def test_a_shared_node_slows_tasks_and_gives_cores_to_the_orchestration_worked_by_hand():
    from flint.planning import PlannedTask, schedule

    # two independent tasks of 10 s of work on two one-core workers of a two-core node
    tasks = [PlannedTask("a", "work", mvis=10.0), PlannedTask("b", "work", mvis=10.0)]
    costs = CostTable.model_validate(
        {**COSTS.model_dump(), "stages": {"work": {"cpu_s_per_mvis": 1.0}},
         "shared_node_slowdown": 0.25}
    )  # fmt: skip
    node = Resources(workers=2, threads=1, cores=1, host_cores=2)
    # both cores busy: each task needs 25 % more CPU, so 12.5 s of wall and of CPU
    runs = schedule(tasks, costs, node)
    assert [r.end_s for r in runs] == pytest.approx([12.5, 12.5])
    assert [r.cpu_s for r in runs] == pytest.approx([12.5, 12.5])
    # one worker: one core busy, no slowdown; nor without a shared node
    alone = schedule(tasks, costs, Resources(workers=1, threads=1, cores=1, host_cores=2))
    assert sorted(r.end_s for r in alone) == pytest.approx([10, 20])
    own = schedule(tasks, costs, Resources(workers=2, threads=1, cores=1))
    assert [r.end_s for r in own] == pytest.approx([10, 10])
    # other processes taking half a core leave 1.5 for the two tasks, 0.75 each: their
    # 12.5 s of CPU take 16.7 s
    taken = schedule(tasks, costs, node, taken_cores=0.5)
    assert [r.end_s for r in taken] == pytest.approx([12.5 / 0.75] * 2)
    assert [r.cpu_s for r in taken] == pytest.approx([12.5, 12.5])
    # one task and that half core: 1.5 cores busy, half the slowdown (11.25 s of CPU)
    one = schedule(tasks[:1], costs, Resources(workers=1, threads=1, cores=1, host_cores=2),
                   taken_cores=0.5)  # fmt: skip
    assert [value for r in one for value in (r.end_s, r.cpu_s)] == pytest.approx([11.25, 11.25])


def test_imaging_costs_more_on_deeper_data():
    from flint.planning import StageCost

    # the same observation averaged 8 channels into one: 1/8 the visibilities, as deep
    full = BeamShape(0, rows=1000, channels=288, integration_s=10.0, channel_mhz=1.0)
    averaged = BeamShape(0, rows=1000, channels=36, integration_s=10.0, channel_mhz=8.0)
    assert averaged.depth == pytest.approx(full.depth) == pytest.approx(0.288)
    images = [t for t in continuum_tasks([averaged], STRATEGY) if t.stage == "image"]
    assert [t.depth for t in images] == pytest.approx([0.288])
    image = StageCost(cpu_s=1.0, cpu_s_per_mvis=2.0, cpu_s_per_mpix=3.0, cpu_s_per_mpix_depth=4.0)
    assert image.cpu(mvis=0.5, mpix=2.0, depth=0.25) == pytest.approx(1 + 1 + 6 + 2)


@pytest.mark.parametrize("size", ["tiny", "reduced"])
def test_the_packaged_table_images_both_arrays_it_was_measured_on(size):
    """The image stage's CPU for the 12-antenna and the 36-antenna benchmark (the table had
    given the 12-antenna one 4.5 times what it used, from a fit to the full array alone)."""
    from flint.demo import demo_strategy_path
    from flint.strategy import load_strategy

    result = json.loads((ROOT / f"benchmarks/results/fullbeam-{size}.json").read_text())
    beam, simulation = result["beam"], result["simulation"]
    shape = BeamShape(15, beam["rows"], beam["channels"], noise=True,
                      integration_s=simulation["integration_s"],
                      channel_mhz=288.0 / simulation["channels"])  # fmt: skip
    images = [t for t in continuum_tasks([shape], load_strategy(demo_strategy_path()))
              if t.stage == "image"]  # fmt: skip
    image = load_cost_table().stages["image"]
    planned = sum(image.cpu(t.mvis, t.mpix, t.depth) for t in images)
    assert planned == pytest.approx(result["stages"]["image"]["cpu_s"], rel=0.2)


def test_constant_phases_from_components_plan_the_previous_image_s_source_finding():
    strategy = check_strategy(
        {
            "version": 1,
            "selfcal_rounds": 1,
            "defaults": {"imaging": {"size": 1000, "scale": "10asec"}},
            "rounds": {1: {"gain_solve": {"constant_from_components": True}}},
        }
    )
    tasks = {t.name: t for t in continuum_tasks(BEAMS[:1], strategy)}
    assert tasks["find-beam00-r0"].after == ("image-beam00-r0",)
    assert "find-beam00-r0" in tasks["selfcal-beam00-r1"].after
    assert "find-beam00" in tasks  # the last image's, as always
