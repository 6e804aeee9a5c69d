"""Analytic primary beams: widths, nulls, normalisation and broadcasting."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.constants import c
from scipy.optimize import brentq

from flint.errors import InputError
from flint.primary_beam import band_primary_beam, primary_beam, primary_beam_fwhm_rad

FREQUENCIES = np.array([744e6, 888e6, 1032e6, 1400e6])


def test_fwhm_is_1p09_lambda_over_d():
    fwhm = primary_beam_fwhm_rad(FREQUENCIES)
    np.testing.assert_allclose(fwhm, 1.09 * (c / FREQUENCIES) / 12.0)
    # about 1.76 deg at 888 MHz for a 12 m ASKAP dish
    assert np.rad2deg(primary_beam_fwhm_rad(888e6)) == pytest.approx(1.757, abs=1e-3)
    assert primary_beam_fwhm_rad(888e6, dish_diameter_m=24.0) == pytest.approx(
        primary_beam_fwhm_rad(888e6) / 2
    )


@pytest.mark.parametrize("model", ["gaussian", "airy"])
def test_unity_on_axis(model):
    np.testing.assert_array_equal(primary_beam(0.0, FREQUENCIES, model=model), 1.0)


def test_gaussian_is_half_at_half_the_fwhm():
    half_width = primary_beam_fwhm_rad(FREQUENCIES) / 2
    np.testing.assert_allclose(primary_beam(half_width, FREQUENCIES), 0.5, rtol=1e-12)
    np.testing.assert_allclose(primary_beam(2 * half_width, FREQUENCIES), 0.5**4, rtol=1e-12)


def test_airy_first_null_and_half_power():
    frequency = 888e6
    wavelength = c / frequency
    null = np.arcsin(1.2196698912665045 * wavelength / 12.0)  # first zero of J1 / π
    assert primary_beam(null, frequency, model="airy") == pytest.approx(0.0, abs=1e-20)
    # the response falls monotonically to the first null, then has a ~1.75 % sidelobe
    offsets = np.linspace(0, null, 200)
    assert np.all(np.diff(primary_beam(offsets, frequency, model="airy")) < 0)
    sidelobe = primary_beam(np.linspace(null, 2 * null, 400), frequency, model="airy").max()
    assert sidelobe == pytest.approx(0.0175, abs=5e-4)
    # an Airy disc's FWHM is 1.029 λ/D
    half = brentq(lambda x: primary_beam(x, frequency, model="airy") - 0.5, 0, null)
    assert 2 * half == pytest.approx(1.029 * wavelength / 12.0, rel=1e-3)


def test_broadcasting_offsets_against_frequencies():
    offsets = np.deg2rad(np.linspace(0, 1, 12)).reshape(3, 4, 1)  # inside the main lobe
    for model in ("gaussian", "airy"):
        response = primary_beam(offsets, FREQUENCIES, model=model)
        assert response.shape == (3, 4, len(FREQUENCIES))
        # each column equals the scalar-frequency evaluation
        np.testing.assert_allclose(
            response[..., 2], primary_beam(offsets[..., 0], FREQUENCIES[2], model=model)
        )
        # a wider beam at lower frequency: response falls with frequency off axis
        assert np.all(np.diff(response[-1, -1]) < 0)


def test_unknown_model_is_an_input_error():
    with pytest.raises(InputError, match="airy"):
        primary_beam(0.0, 1e9, model="cosine")


def test_band_primary_beam_is_the_spectrum_weighted_average_over_the_band():
    centre, bandwidth = 887.5e6, 288e6
    offsets = np.deg2rad(np.array([0.0, 0.4, 0.8, 1.2, 1.6]))  # beam 1, 0.87, 0.56, 0.27, 0.1
    np.testing.assert_allclose(band_primary_beam(offsets, centre), primary_beam(offsets, centre))
    fine = np.linspace(centre - bandwidth / 2, centre + bandwidth / 2, 4001)
    spectrum = (fine / centre) ** -0.7
    expected = (primary_beam(offsets[:, None], fine) * spectrum).sum(1) / spectrum.sum()
    band = band_primary_beam(offsets, centre, bandwidth, -0.7)
    np.testing.assert_allclose(band, expected, rtol=2e-3)
    assert band[0] == pytest.approx(1.0)
    # where the beam is 0.1 the band average is 10 % above the beam at the centre frequency
    single = primary_beam(offsets, centre)
    assert band[-1] / single[-1] > 1.05


def test_gaussian_with_sidelobes_is_the_gaussian_main_lobe_then_airy_sidelobes():
    from flint.primary_beam import first_sidelobe_offset_rad

    frequency = 888e6
    main_lobe = np.deg2rad(np.linspace(0, 2.0, 50))  # down to ~1.5 %
    np.testing.assert_array_equal(
        primary_beam(main_lobe, frequency, model="gaussian_sidelobes"),
        primary_beam(main_lobe, frequency),
    )
    peak = first_sidelobe_offset_rad(frequency)
    assert np.rad2deg(peak) == pytest.approx(2.636, abs=1e-3)  # 1.635 λ/D
    assert primary_beam(peak, frequency, model="gaussian_sidelobes") == pytest.approx(
        0.0175, abs=2e-4
    )
    far = np.deg2rad(np.linspace(2.3, 5.0, 200))
    np.testing.assert_allclose(
        primary_beam(far, frequency, model="gaussian_sidelobes"),
        primary_beam(far, frequency, model="airy"),
        atol=2e-5,  # the Gaussian's tail, above the Airy pattern only at its second null
    )
