"""Self-calibration strategy files: merging, validation with every problem reported, CLI."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from flint.cli import config as config_cli
from flint.errors import ConfigError, InputError
from flint.imaging import WSCleanOptions
from flint.strategy import (
    check_strategy,
    load_strategy,
    options_for_round,
    strategy_json_schema,
    write_default_strategy,
)


def _strategy(**changes) -> dict:
    data = {
        "version": 1,
        "selfcal_rounds": 2,
        "defaults": {
            "imaging": {"size": 512, "mgain": 0.7, "channels_out": 4, "join_channels": True}
        },
        "rounds": {
            1: {"gain_solve": {"solint_s": 30.0}, "imaging": {"mgain": 0.5}},
            2: {"gain_solve": {"mode": "amplitude+phase"}},
        },
    }
    data.update(changes)
    return data


def test_round_overrides_merge_over_defaults() -> None:
    strategy = check_strategy(_strategy())
    first = options_for_round(strategy, "imaging", 0)
    assert isinstance(first, WSCleanOptions)
    assert (first.size, first.mgain, first.channels_out) == (512, 0.7, 4)
    assert options_for_round(strategy, "imaging", 1).mgain == 0.5
    assert options_for_round(strategy, "imaging", 1).size == 512
    assert options_for_round(strategy, "imaging", 2).mgain == 0.7  # round 1's change does not leak
    assert options_for_round(strategy, "gain_solve", 1).model_dump()["solint_s"] == 30.0
    assert options_for_round(strategy, "gain_solve", 1).mode == "phase"
    solve = options_for_round(strategy, "gain_solve", 2)
    assert (solve.mode, solve.solint_s) == ("amplitude+phase", 60.0)
    with pytest.raises(InputError, match=r"round 3 is outside 0\.\.2"):
        options_for_round(strategy, "imaging", 3)
    with pytest.raises(InputError, match="round 0 only images"):
        options_for_round(strategy, "gain_solve", 0)


def test_every_problem_is_reported_with_its_key_path() -> None:
    data = _strategy(
        selfcal_rounds=2,
        colour="red",
        rounds={
            0: {"gain_solve": {"solint_s": 10.0}},
            1: {"imaging": {"mgain": "lots", "sizee": 10}, "masking": {"floor_snr": 99.0}},
            5: {"imaging": {"niter": 10}},
            "two": {},
            2: {"imagin": {}, "imaging": {"join_channels": False}},
        },
    )
    data["defaults"]["gain_solve"] = {"mode": "amplitude"}
    with pytest.raises(ConfigError) as error:
        check_strategy(data, "bad.yaml")
    problems = error.value.problems
    text = "\n".join(problems)
    expected = [
        "colour: Extra inputs are not permitted",
        "defaults.gain_solve.mode:",
        "rounds.two: round numbers are integers",
        "rounds.0.gain_solve: round 0 only images",
        "rounds.1.imaging.mgain:",
        "rounds.1.imaging.sizee: Extra inputs are not permitted",
        "rounds.1.masking: Value error, floor_snr must not exceed seed_snr",
        "rounds.5: no such round",
        "rounds.2.imagin: unknown stage",
    ]
    for start in expected:
        assert any(problem.startswith(start) for problem in problems), (start, text)
    assert "bad.yaml" in str(error.value)
    # with the defaults fixed, a round's change that breaks a cross-field rule is reported too
    data = _strategy(rounds={2: {"imaging": {"join_channels": False, "fit_spectral_pol": 2}}})
    with pytest.raises(ConfigError) as error:
        check_strategy(data)
    assert error.value.problems == [
        "rounds.2.imaging: Value error, fit_spectral_pol needs join_channels: true"
    ]
    with pytest.raises(ConfigError, match="version 1, not 7"):
        check_strategy(_strategy(version=7))
    with pytest.raises(ConfigError, match="version: Field required"):
        check_strategy({"selfcal_rounds": 1})


def test_packaged_default_strategy_follows_the_plan(tmp_path: Path) -> None:
    strategy = load_strategy()
    assert strategy.selfcal_rounds == 3
    solints = [options_for_round(strategy, "gain_solve", r).solint_s for r in (1, 2)]
    assert solints[1] < solints[0]
    assert [options_for_round(strategy, "gain_solve", r).mode for r in (1, 2, 3)] == [
        "phase",
        "phase",
        "amplitude+phase",
    ]
    written = write_default_strategy(tmp_path / "s.yaml")
    assert "# flint self-calibration strategy" in written.read_text()
    assert load_strategy(written) == strategy
    with pytest.raises(InputError, match="already exists"):
        write_default_strategy(written)
    schema = strategy_json_schema()
    imaging = schema["$defs"]["WSCleanOptions"]["properties"]
    assert imaging["mgain"]["description"].startswith("Major-loop gain")
    rounds_imaging = schema["$defs"]["RoundOverrides"]["properties"]["imaging"]
    assert "auto_mask" in rounds_imaging["properties"]


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    config_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.handler(args)


def test_config_cli_creates_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "strategy.yaml"
    assert _cli("config", "create", str(path)) == 0
    assert _cli("config", "verify", str(path)) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"OK: {path}")

    data = yaml.safe_load(path.read_text())
    data["defaults"]["imaging"]["mgain"] = 3
    data["rounds"][7] = {"masking": {"grow_pixels": -1}}
    path.write_text(yaml.safe_dump(data))
    assert _cli("config", "verify", str(path)) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err or "3 problem(s)" in err
    assert "defaults.imaging.mgain" in err and "rounds.7: no such round" in err
    assert "rounds.7.masking.grow_pixels" in err
