"""ASKAP measurement-set names: build, parse, reject."""

from __future__ import annotations

import pytest

from flint.errors import InputError
from flint.naming import (
    askap_ms_name,
    casda_ms_name,
    flint_ms_name,
    parse_ms_name,
    sbid_directory_name,
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
    assert sbid_directory_name(39400) == "39400"


@pytest.mark.parametrize(
    "name",
    ["data.ms", "SB12.beam1.ms", "scienceData.A.SB1.B.beam01_averaged.ms", "SBx.F.beam1.ms"],
)
def test_bad_names_are_rejected(name: str) -> None:
    with pytest.raises(InputError, match="not an ASKAP"):
        parse_ms_name(name)


def test_bad_parts_are_rejected() -> None:
    with pytest.raises(InputError, match="field name"):
        askap_ms_name(1, "a.b", 0)
    with pytest.raises(InputError, match="beam"):
        flint_ms_name(1, "F", 100)
