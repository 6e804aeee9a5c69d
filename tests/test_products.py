"""Finding a continuum run's products by name (no file is opened)."""

from __future__ import annotations

from pathlib import Path

from flint.products import Kind, find_products

STEM = "scienceData_SB50001_DEMO_0635-31.beam{beam:02d}_averaged"


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_beam_and_mosaic_products_sort_together(tmp_path: Path):
    """Beam catalogues (beam 14, 15) and the mosaic's (no beam) are listed side by side."""
    for beam in (15, 14):
        stem = STEM.format(beam=beam)
        for round_number in (0, 1):
            for kind in ("image", "residual", "model"):
                _touch(tmp_path / f"beam{beam}/images/{stem}.round{round_number}-MFS-{kind}.fits")
        _touch(tmp_path / f"beam{beam}/catalogues/{stem}.round1-MFS-image_comp.fits")
    for round_number in (0, 1):
        _touch(tmp_path / f"mosaic/round{round_number}/mosaic.round{round_number}.fits")
    _touch(tmp_path / "mosaic/round1/catalogues/mosaic.round1_comp.fits")
    _touch(tmp_path / "validation/validation.png")

    products = find_products(tmp_path)

    assert products.beams == [14, 15]
    assert products.rounds(None) == [0, 1] and products.rounds(14) == [0, 1]
    catalogues = products.select(Kind.CATALOGUE)
    assert [(p.beam, p.round) for p in catalogues] == [(None, 1), (14, 1), (15, 1)]
    assert products.find(Kind.RESIDUAL, 15, 0).name.endswith("round0-MFS-residual.fits")
    assert products.find(Kind.IMAGE, None, 1).name == "mosaic.round1.fits"
    assert [p.kind for p in products.plots] == [Kind.VALIDATION_PLOT]
