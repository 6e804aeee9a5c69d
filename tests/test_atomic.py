"""Atomic products and the rerun rule: skip only products newer than their inputs."""

from __future__ import annotations

import os

import pytest

from flint.atomic import atomic_path, up_to_date


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


def test_up_to_date_follows_input_times(tmp_path):
    image, catalogue = tmp_path / "image.fits", tmp_path / "image_comp.fits"
    image.write_text("image")
    assert not up_to_date([catalogue], [image])
    catalogue.write_text("catalogue")
    os.utime(image, (1_000, 1_000))
    os.utime(catalogue, (2_000, 2_000))
    assert up_to_date([catalogue], [image])
    os.utime(image, (3_000, 3_000))  # the image was made again: the catalogue is stale
    assert not up_to_date([catalogue], [image])
