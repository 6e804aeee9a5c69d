"""ASKAP measurement-set names: build, parse, reject."""

from __future__ import annotations

from datetime import datetime

import pytest

from flint.errors import InputError
from flint.naming import (
    askap_ms_name,
    casda_ms_name,
    flint_ms_name,
    flint_stem,
    parse_ms_name,
    raw_ms_name,
    sbid_directory_name,
    sbid_of_directory,
)


def test_askap_name_round_trips() -> None:
    name = askap_ms_name(51234, "RACS_0635-31", 7)
    assert name == "scienceData_SB51234_RACS_0635-31.beam07_averaged.ms"
    parsed = parse_ms_name(f"/data/51234/{name}")
    assert (parsed.sbid, parsed.field, parsed.beam, parsed.style) == (
        51234,
        "RACS_0635-31",
        7,
        "askap",
    )
    assert parsed.suffixes == ("averaged",)


def test_casda_and_flint_names_parse() -> None:
    casda = parse_ms_name(
        "scienceData.RACS_0012+00.SB45305.RACS_0012+00.beam00_averaged_cal.leakage.ms"
    )
    assert (casda.sbid, casda.field, casda.beam, casda.style) == (45305, "RACS_0012+00", 0, "casda")
    assert casda.suffixes == ("averaged", "cal", "leakage")
    assert casda_ms_name(45305, "RACS_0012+00", 0) == casda_ms_name(45305, "RACS_0012+00", 0)
    assert parse_ms_name(casda_ms_name(45305, "RACS_0012+00", 0)) == casda
    real = parse_ms_name("SB39400.RACS_0635-31.beam0.small.ms")
    assert (real.sbid, real.field, real.beam, real.style, real.suffixes) == (
        39400,
        "RACS_0635-31",
        0,
        "flint",
        ("small",),
    )
    assert parse_ms_name(flint_ms_name(39433, "B1934-638", 35)).beam == 35
    old = parse_ms_name("scienceData_SB13671_RACS_1237+00A.beam00_averaged_cal.ms")
    assert (old.field, old.suffixes) == ("RACS_1237+00A", ("averaged", "cal"))
    assert sbid_directory_name(39400) == "SB39400"


def test_raw_names_carry_time_and_beam_and_take_the_sbid_from_the_directory() -> None:
    name = raw_ms_name(datetime(2022, 5, 7, 12, 34, 56), 7)
    assert name == "2022-05-07_123456_7.ms"
    parsed = parse_ms_name(f"/data/SB39400/{name}")
    assert (parsed.sbid, parsed.field, parsed.beam, parsed.style) == (39400, None, 7, "raw")
    assert parse_ms_name(f"/data/39400/{name}").sbid == 39400
    assert parse_ms_name(f"/data/somewhere/{name}").sbid is None
    assert sbid_of_directory("SB50001") == sbid_of_directory("50001") == 50001
    assert sbid_of_directory("SBx") is None
    assert flint_stem(39400, "RACS_0635-31", 3) == "SB39400.RACS_0635-31.beam03"


@pytest.mark.parametrize(
    "name",
    [
        "data.ms",
        "SB12.beam1.ms",
        "scienceData.A.SB1.B.beam01_averaged.ms",
        "SBx.F.beam1.ms",
        "2022-05-07_1234_7.ms",
    ],
)
def test_bad_names_are_rejected(name: str) -> None:
    with pytest.raises(InputError, match="not an ASKAP"):
        parse_ms_name(name)


def test_bad_parts_are_rejected() -> None:
    with pytest.raises(InputError, match="field name"):
        askap_ms_name(1, "a.b", 0)
    with pytest.raises(InputError, match="beam"):
        flint_ms_name(1, "F", 100)
