"""Products by run: flint.products on real flow products, and the results panel showing them.

The products are real (wsclean, Aegean, linmos, validation, bandpass repair; see
tests/products_factory.py); the panel must show exactly their data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS, FITSFixedWarning
from fixtures_workbench import UNCLOSED_API_SOCKET, run_to_end, sync, wait_for

from flint.errors import InputError
from flint.prefect.submit import submit
from flint.products import Kind, find_products, image_statistics
from flint_widgets import ResultsPanel

pytestmark = [pytest.mark.slow, UNCLOSED_API_SOCKET]


def _plane(path) -> np.ndarray:
    return np.asarray(fits.getdata(path), dtype=float).squeeze()


def _wcs(path) -> WCS:
    with warnings.catch_warnings():  # wsclean headers: astropy's harmless DATE fix-up
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(fits.getheader(path)).celestial


def _rms(path) -> float:
    data = _plane(path)
    data = data[np.isfinite(data)]
    return float(np.sqrt(np.mean(data**2)))


def test_products_by_kind_beam_and_round(real_products, tmp_path):
    products = find_products(real_products.root)  # holds bandpass/ and continuum/
    assert products.beams == [0]
    assert products.rounds(0) == [0, 1] and products.rounds(None) == [1]
    for (round_number, kind), path in real_products.images.items():
        assert products.find(kind, 0, round_number) == path
    # only the MFS images: channel images, PSFs, dirty and noise maps are not products here
    assert len(products.select(Kind.IMAGE)) == len(products.select(Kind.RESIDUAL)) == 2
    assert products.find(Kind.IMAGE, None, 1) == real_products.mosaic  # the mosaic of round 1
    assert products.find(Kind.CATALOGUE, 0, 1) == real_products.catalogue
    assert products.find(Kind.CATALOGUE, 0, 0) is None
    assert [p.path for p in products.plots] == [
        real_products.bandpass_plot,
        real_products.validation_plot,
    ]
    assert products.select(Kind.BANDPASS_PLOT)[0].beam == 0  # from the MS name (flint.naming)
    assert find_products(real_products.continuum).items == tuple(
        p for p in products.items if p.kind != Kind.BANDPASS_PLOT
    )
    stats = image_statistics(real_products.images[1, "residual"])
    assert stats.rms == pytest.approx(_rms(real_products.images[1, "residual"]), rel=1e-12)
    assert image_statistics(real_products.images[1, "image"]).peak == pytest.approx(
        np.nanmax(_plane(real_products.images[1, "image"])), rel=1e-6
    )
    with pytest.raises(InputError, match="does not exist"):
        find_products(tmp_path / "missing")
    assert find_products(tmp_path).items == ()


def test_results_panel_shows_a_directorys_products(real_products):
    panel = ResultsPanel(max_pixels=4096)
    panel.open_directory(real_products.root)
    assert panel.message_level == "success"
    assert panel.source_picker.options == (("mosaic", "mosaic"), ("beam 00", 0))
    # the mosaic of the last round is shown first, the kind switch is off for it
    assert panel.round_picker.value == 1 and panel.kind_picker.disabled
    np.testing.assert_array_equal(panel.data, _plane(real_products.mosaic))

    panel.source_picker.value = 0
    assert [v for _, v in panel.round_picker.options] == [0, 1] and panel.round_picker.value == 1
    assert not panel.kind_picker.disabled
    np.testing.assert_array_equal(panel.data, _plane(real_products.images[1, "image"]))
    assert panel.view.figure.xaxis[0].axis_label == "RA"
    assert panel.image_path == real_products.images[1, "image"]

    # the catalogue of that image: its rows in the table, its sources overlaid at their pixels
    catalogue = Table.read(real_products.catalogue)
    assert len(catalogue) >= 1
    for column in ("ra", "dec", "peak_flux", "int_flux"):
        assert panel.view.table_source.data[column] == np.asarray(catalogue[column]).tolist()
    wcs = _wcs(real_products.images[1, "image"])
    x, y = wcs.world_to_pixel_values(catalogue["ra"], catalogue["dec"])
    np.testing.assert_allclose(panel.view.points.data["x"], x)
    np.testing.assert_allclose(panel.view.points.data["y"], y)
    true_x, true_y = wcs.world_to_pixel_values(*real_products.source_deg)
    brightest = int(np.argmax(catalogue["peak_flux"]))
    assert np.hypot(x[brightest] - true_x, y[brightest] - true_y) < 1.0  # on the 2 Jy source

    panel.kind_picker.value = "residual"
    np.testing.assert_array_equal(panel.data, _plane(real_products.images[1, "residual"]))
    panel.kind_picker.value = "model"
    np.testing.assert_array_equal(panel.data, _plane(real_products.images[1, "model"]))
    panel.round_picker.value = 0  # round 0 has no catalogue: the table empties
    np.testing.assert_array_equal(panel.data, _plane(real_products.images[0, "model"]))
    assert panel.view.table_source.data == {} and panel.view.points.data["x"] == []
    assert panel.view.table_view not in panel.view.children  # no empty table drawn

    # PNG figures: the validation first, then the bandpass solutions
    assert [v for _, v in panel.plot_picker.options] == [
        str(real_products.validation_plot),
        str(real_products.bandpass_plot),
    ]
    assert panel.plot_view.value == real_products.validation_plot.read_bytes()
    panel.plot_picker.value = str(real_products.bandpass_plot)
    assert panel.plot_view.value == real_products.bandpass_plot.read_bytes()
    # the validation's headline numbers, as the validation wrote them
    from flint.validation import read_summary

    (summary,) = (real_products.continuum / "validation").glob("*.summary.json")
    assert panel.validation.summary.value.startswith("<pre>sources:")
    assert f"{read_summary(summary).n_matched} matched" in panel.validation.summary.value
    assert panel.validation.thermal.layout.display == "none"  # no noise image: nothing drawn

    # two self-calibration rounds side by side, with each round's peak and residual rms
    compared = {image.round: image for image in panel.compare(0, 1)}
    for round_number in (0, 1):
        residual = real_products.images[round_number, "residual"]
        image = real_products.images[round_number, "image"]
        stats = compared[round_number].statistics
        assert stats.rms == pytest.approx(_rms(residual), rel=1e-12)
        assert stats.peak == pytest.approx(np.nanmax(_plane(image)), rel=1e-6)
        assert f"{1e3 * _rms(residual):.3f}" in panel.compared.table.value
    # cleaning the 2 Jy source removed its sidelobes
    assert compared[1].statistics.rms < 0.5 * compared[0].statistics.rms
    assert panel.compared.data[1].shape == _plane(real_products.images[1, "image"]).shape
    figures = panel.compared.figures
    assert figures[0].x_range is figures[1].x_range  # zoom together

    panel.open_directory(real_products.root / "nowhere")
    assert panel.message_level == "error" and "nowhere" in panel.message


def test_results_panel_opens_a_runs_output_directory(real_products, demo_runner, demo_spec):
    deployment = demo_spec.deployment_names()[0]
    with_output = sync(
        submit(deployment, {"beams": 1, "output_dir": str(real_products.continuum)}, tags=["rp"])
    )
    without = sync(submit(deployment, {"beams": 1}, tags=["rp"]))
    run_to_end(with_output.id)
    panel = ResultsPanel()
    listed = panel.list_runs().result(60)
    ids = {s.id for s in listed}
    assert with_output.id in ids and without.id not in ids
    panel.run_picker.value = with_output.id  # picking a run opens its output directory
    wait_for(lambda: panel.products is not None and not panel.busy, 60)
    assert panel.directory.value == str(real_products.continuum)
    assert with_output.name in panel.message
    np.testing.assert_array_equal(panel.data, _plane(real_products.mosaic))
    assert panel.source_picker.options == (("mosaic", "mosaic"), ("beam 00", 0))
    # no bandpass plot in the continuum output, only the validation plot
    assert [v for _, v in panel.plot_picker.options] == [str(real_products.validation_plot)]
    panel.open_run(without.id).result(30)
    assert panel.message_level == "warning" and "no output_dir" in panel.message
