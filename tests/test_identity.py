"""The one rerun rule (flint.identity): content-derived identities, recipes, amendments."""

from __future__ import annotations

import os
import shutil

import pytest

from flint.identity import (
    FINGERPRINT_STATS,
    MISSING,
    Recipe,
    amend,
    identity,
    intact,
    read_sidecar,
)


@pytest.fixture(autouse=True)
def private_fingerprint_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FLINT_FINGERPRINT_CACHE", str(tmp_path / "cache"))


def _ms(path, data=b"visibilities"):
    path.mkdir()
    (path / "table.dat").write_bytes(b"table")
    (path / "table.f0").write_bytes(data)
    (path / "ANTENNA").mkdir()
    (path / "ANTENNA" / "table.dat").write_bytes(b"antennas")
    return path


def test_raw_identity_follows_content_not_times_and_is_read_once(tmp_path):
    ms = _ms(tmp_path / "raw.ms")
    first = identity(ms)
    assert first.startswith("content:")
    read = FINGERPRINT_STATS["hashed_bytes"]
    assert identity(ms) == first  # cached: nothing read again
    assert FINGERPRINT_STATS["hashed_bytes"] == read
    (ms / "table.lock").write_bytes(b"lock")  # casacore's lock file: reading is no change
    os.utime(ms / "table.f0", (1_000, 1_000))  # touched, same content: same identity
    assert identity(ms) == first
    assert FINGERPRINT_STATS["hashed_bytes"] == read + len(b"visibilities")
    (ms / "table.f0").write_bytes(b"visibilitieZ")  # same size, new content
    os.utime(ms / "table.f0", (1_000, 1_000))  # ...dated back: ctime still changed
    assert identity(ms) != first
    (ms / "ANTENNA" / "table.dat").write_bytes(b"antennaZ")  # a subtable counts too
    assert len({first, identity(ms)}) == 2
    assert identity(tmp_path / "nothing") == MISSING


def test_recipe_reuse_needs_same_inputs_options_and_an_untouched_product(tmp_path):
    raw = _ms(tmp_path / "raw.ms")
    product = tmp_path / "product.fits"
    recipe = Recipe.of("step", {"ms": raw}, {"niter": 10})
    assert not recipe.made(product)
    product.write_bytes(b"image")
    assert not recipe.made(product)  # complete only once recorded (written last)
    recipe.record(product)
    assert Recipe.of("step", {"ms": raw}, {"niter": 10}).made(product)
    assert not Recipe.of("step", {"ms": raw}, {"niter": 11}).made(product)  # option changed
    assert identity(product) == identity(product) and identity(product).startswith("made:")
    copy = tmp_path / "copy.ms"
    shutil.copytree(raw, copy)
    assert identity(copy) == identity(raw)  # identity is content: a copy is the same data
    (raw / "table.f0").write_bytes(b"other data")  # input changed
    assert not Recipe.of("step", {"ms": raw}, {"niter": 10}).made(product)
    (raw / "table.f0").write_bytes(b"visibilities")  # and back: reusable again
    assert Recipe.of("step", {"ms": raw}, {"niter": 10}).made(product)
    product.write_bytes(b"edited by hand")  # a product changed behind flint's back
    assert not intact(product) and read_sidecar(product) is None
    assert identity(product).startswith("content:")
    assert not Recipe.of("step", {"ms": raw}, {"niter": 10}).made(product)


def test_amendments_change_readers_of_the_column_not_the_writer(tmp_path):
    raw = _ms(tmp_path / "raw.ms")
    ms = _ms(tmp_path / "round0.ms", b"calibrated")
    split = Recipe.of("split", {"ms": raw})
    split.record(ms)
    made = identity(ms)
    before = read_sidecar(ms), identity(ms, ignore=("MODEL_DATA",))
    (ms / "table.f1").write_bytes(b"model")  # wsclean writes MODEL_DATA
    amend(ms, "MODEL_DATA", "image-recipe-1", *before)
    assert split.made(ms)  # the split step still finds its product finished
    assert identity(ms, ignore=("MODEL_DATA",)) == made  # the imager sees what it saw
    amended = identity(ms)
    assert amended != made  # a reader of MODEL_DATA (self-calibration) sees the change
    before = read_sidecar(ms), identity(ms, ignore=("MODEL_DATA",))
    (ms / "table.f1").write_bytes(b"model 2")
    amend(ms, "MODEL_DATA", "image-recipe-2", *before)
    assert identity(ms) not in (made, amended)
    assert identity(ms, ignore=("MODEL_DATA",)) == made
