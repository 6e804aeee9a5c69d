"""Bad observation directories and solutions: one-line errors naming the file, non-zero exit,
nothing written, before any flow run starts."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from flint.calibration.solutions import AOSolutions, write_solutions
from flint.cli import main
from flint.errors import InputError
from flint.ms import find_observation
from flint.simulation import SimulationOptions, simulate_calibrator, simulate_field
from flint.sky import SkyModel

TINY = {"n_antennas": 6, "n_channels": 8, "channel_width_hz": 4e6, "duration_s": 60.0}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """A raw calibrator block, and the same field in the raw and CASDA layouts (beams 0, 1)."""
    root = tmp_path_factory.mktemp("layouts")
    calibrator = simulate_calibrator(
        root / "raw", SimulationOptions(**TINY, sbid=10, beams=[0, 1], phase_rms_deg=0)
    )
    options = SimulationOptions(**TINY, sbid=11, beams=[0, 1])
    centre = (options.ra_deg, options.dec_deg)
    sky = SkyModel(ra_deg=[centre[0]], dec_deg=[centre[1]], flux_jy=[1.0], reference_hz=[9e8])
    raw = simulate_field(root / "raw", sky, options)
    casda = simulate_field(root / "casda", sky, options.with_options(layout="casda"))
    return {
        "calibrator": calibrator.sbid_dir,
        "raw": raw.sbid_dir,
        "casda": casda.sbid_dir,
        "root": root,
    }


@pytest.fixture
def flint(capsys):
    """``flint ARGS`` in this process (Prefect is imported once per session): returns the
    exit code and stderr."""
    saved = logging.getLogger("flint").handlers[:]

    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().err

    yield run
    logging.getLogger("flint").handlers[:] = saved
    logging.getLogger("flint").propagate = True


def assert_refused(result: tuple[int, str], message: str, output: Path) -> None:
    code, stderr = result
    assert code == 1, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("flint ") and ": error: " in last and message in last, stderr
    assert not output.exists()


def test_observations_are_found_with_their_layout(tiny):
    raw = find_observation(tiny["raw"])
    assert (raw.layout, raw.sbid, list(raw.beams)) == ("raw", 11, [0, 1])
    assert raw.beams[1].stem == "SB11.SIM_FIELD.beam01" and not raw.calibrated
    casda = find_observation(tiny["casda"], beams=[1])
    assert (casda.layout, list(casda.beams), casda.calibrated) == ("casda", [1], True)
    block = find_observation(tiny["calibrator"])
    assert block.beams[0].calibrator_fields == {0: "B1934-638_beam0", 1: "B1934-638_beam1"}


def test_directories_mixing_layouts_or_scheduling_blocks_are_refused(tiny, tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for sbid_dir in (tiny["raw"], tiny["casda"]):
        ms = next(sbid_dir.glob("*.ms"))
        shutil.copytree(ms, mixed / ms.name)
    with pytest.raises(InputError, match=r"mixed: mixes naming styles \(raw: .*; casda: "):
        find_observation(mixed)
    two = tmp_path / "two"
    two.mkdir()
    casda_ms = next(tiny["casda"].glob("*beam00*.ms"))
    shutil.copytree(casda_ms, two / casda_ms.name)
    other = casda_ms.name.replace("SB11", "SB12").replace("beam00", "beam01")
    shutil.copytree(casda_ms, two / other)
    with pytest.raises(InputError, match=r"two: mixes scheduling blocks \(SB11: .*; SB12: "):
        find_observation(two)


def test_bad_inputs_to_the_flows_fail_at_once_naming_the_file(tiny, tmp_path, flint):
    out = tmp_path / "out"
    assert_refused(
        flint("continuum", str(tiny["raw"]), "--beams", "1", "7", "--output", str(out),
              "--bandpass", str(tmp_path)),
        f"{tiny['raw']}: beam(s) 7 requested but not found (found beams 0, 1)",
        out,
    )  # fmt: skip
    assert_refused(
        flint("continuum", str(tiny["raw"]), "--output", str(out)),
        "raw data need bandpass solutions: give --bandpass",
        out,
    )
    assert_refused(
        flint("continuum", str(tiny["casda"]), "--bandpass", str(tmp_path), "--output", str(out)),
        f"{tmp_path}: calibrated (CASDA) data take no bandpass: leave out --bandpass",
        out,
    )  # fmt: skip
    assert_refused(
        flint("bandpass", str(tiny["casda"]), "--output", str(out)),
        "calibrated (CASDA) science data, not a calibrator scan",
        out,
    )
    # solutions that do not match the data: wrong channels, wrong antennas
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    for beam, (n_ant, n_chan) in enumerate([(6, 5), (4, 8)]):
        gains = np.ones((1, n_ant, n_chan, 4), complex)
        write_solutions(
            AOSolutions(gains=gains, start_time=0.0, end_time=1.0),
            solutions / f"SB10.B1934-638.beam{beam:02d}.calibrate.repaired.bin",
        )
    for beam, problem in [(0, "5 channels in the solutions, 8 in"), (1, "4 antennas in the")]:
        assert_refused(
            flint("continuum", str(tiny["raw"]), "--beams", str(beam), "--bandpass",
                  str(solutions), "--output", str(out)),
            f"beam{beam:02d}.calibrate.repaired.bin: {problem}",
            out,
        )  # fmt: skip


def test_a_calibrator_block_without_the_field_of_a_beam_is_refused(tiny, tmp_path, flint):
    from casacore.tables import table

    block = tmp_path / "SB10"
    shutil.copytree(tiny["calibrator"], block)
    ms = next(block.glob("*_1.ms"))
    with table(f"{ms}/FIELD", readonly=False, ack=False) as tab:
        tab.putcell("NAME", 1, "B1934-638_beam5")
    out = tmp_path / "out"
    assert_refused(
        flint("bandpass", str(block), "--output", str(out)),
        f"{ms}: calibrator block without the field B1934-638_beam1 for its beam 1",
        out,
    )
    # a calibrator block is not science data
    assert_refused(
        flint("continuum", str(tiny["calibrator"]), "--bandpass", str(tmp_path), "--output",
              str(out)),
        "a calibrator block (one field per beam position): give it to flint bandpass",
        out,
    )  # fmt: skip
