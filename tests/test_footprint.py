"""ASKAP footprints: geometry of the 36 beams in the tangent plane and on the sky."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord

from flint.errors import ConfigError, InputError
from flint.footprint import Footprint


def nearest_neighbour(points: np.ndarray) -> np.ndarray:
    distance = np.hypot(*(points[:, np.newaxis, :] - points[np.newaxis, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distance, np.inf)
    return distance


def neighbour_counts(offsets: np.ndarray, pitch: float) -> np.ndarray:
    return np.sum(np.isclose(nearest_neighbour(offsets), pitch, rtol=1e-9), axis=1)


@pytest.mark.parametrize("name", ["closepack36", "square_6x6"])
def test_offsets_are_36_centred_at_pitch(name):
    footprint = Footprint(name=name, pitch_deg=0.9)
    offsets = footprint.offsets_deg()
    assert offsets.shape == (36, 2)
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(nearest_neighbour(offsets).min(axis=1), 0.9, rtol=1e-12)


def test_square_and_hexagonal_geometry_differ():
    square = Footprint(name="square_6x6", pitch_deg=1.0).offsets_deg()
    hexagonal = Footprint(name="closepack36", pitch_deg=1.0).offsets_deg()
    # interior beams have 4 neighbours on a square grid and 6 on a hexagonal one
    assert neighbour_counts(square, 1.0).max() == 4
    assert neighbour_counts(hexagonal, 1.0).max() == 6
    # square rows are 1 pitch apart, close-packed rows √3/2 pitch
    assert np.ptp(square[:, 1]) == pytest.approx(5.0)
    assert np.ptp(hexagonal[:, 1]) == pytest.approx(5 * np.sqrt(3) / 2)


def test_numbering_is_row_major_from_the_north_east_corner():
    offsets = Footprint(name="square_6x6", pitch_deg=1.0).offsets_deg()
    np.testing.assert_allclose(offsets[0], [2.5, 2.5])  # north-east: top-left on the sky
    np.testing.assert_allclose(offsets[5], [-2.5, 2.5])
    np.testing.assert_allclose(offsets[6], [2.5, 1.5])
    np.testing.assert_allclose(offsets[35], [-2.5, -2.5])
    hexagonal = Footprint(name="closepack36", pitch_deg=1.0).offsets_deg()
    np.testing.assert_allclose(hexagonal[0], [2.75, 2.5 * np.sqrt(3) / 2])
    np.testing.assert_allclose(hexagonal[6], [2.25, 1.5 * np.sqrt(3) / 2])


def test_position_angle_rotates_north_through_east():
    base = Footprint(name="square_6x6", pitch_deg=1.0)
    rotated = base.with_options(pa_deg=90.0).offsets_deg()
    # a north-east corner beam (x=+2.5, y=+2.5) at PA 45 deg moves to PA 135 deg (south-east)
    np.testing.assert_allclose(rotated[0], [2.5, -2.5], atol=1e-12)
    at_45 = base.with_options(pa_deg=45.0).offsets_deg()
    np.testing.assert_allclose(np.hypot(*at_45.T), np.hypot(*base.offsets_deg().T))
    np.testing.assert_allclose(at_45[0], [2.5 * np.sqrt(2), 0.0], atol=1e-12)


@pytest.mark.parametrize("name", ["closepack36", "square_6x6"])
@pytest.mark.parametrize(("ra", "dec"), [(98.2, -30.9), (0.1, -75.0), (359.9, 10.0)])
def test_beam_centres_on_the_sky(name, ra, dec):
    pitch = 0.1
    footprint = Footprint(name=name, pitch_deg=pitch, pa_deg=30.0)
    beam_ra, beam_dec = footprint.beam_centres(ra, dec)
    assert beam_ra.shape == beam_dec.shape == (36,)
    centres = SkyCoord(beam_ra, beam_dec, unit="deg")
    boresight = SkyCoord(ra, dec, unit="deg")
    # each beam's distance from boresight is the length of its offset
    np.testing.assert_allclose(
        centres.separation(boresight).deg, np.hypot(*footprint.offsets_deg().T), rtol=1e-9
    )
    separations = centres[:, np.newaxis].separation(centres[np.newaxis, :]).deg
    np.fill_diagonal(separations, np.inf)
    np.testing.assert_allclose(separations.min(axis=1), pitch, atol=1e-3 * pitch)
    # the centroid of the beam centres (unit vectors) is the boresight
    mean = np.mean(centres.cartesian.xyz.value, axis=1)
    centroid = SkyCoord(*mean, representation_type="cartesian").spherical
    assert SkyCoord(centroid.lon, centroid.lat).separation(boresight).deg < 1e-3 * pitch


def test_full_size_footprint_keeps_pitch_on_the_sky():
    ra, dec = Footprint(pitch_deg=0.9).beam_centres(150.0, -45.0)
    centres = SkyCoord(ra, dec, unit="deg")
    separations = centres[:, np.newaxis].separation(centres[np.newaxis, :]).deg
    np.fill_diagonal(separations, np.inf)
    np.testing.assert_allclose(separations.min(axis=1), 0.9, rtol=0.01)


def test_beam_selection_and_validation():
    footprint = Footprint()
    all_ra, all_dec = footprint.beam_centres(10.0, -20.0)
    ra, dec = footprint.beam_centres(10.0, -20.0, beams=[35, 0])
    np.testing.assert_array_equal(ra, all_ra[[35, 0]])
    np.testing.assert_array_equal(dec, all_dec[[35, 0]])
    with pytest.raises(InputError, match="36"):
        footprint.beam_centres(10.0, -20.0, beams=[36])
    with pytest.raises(ConfigError, match="name"):
        footprint.with_options(name="hexagon", pitch_deg=-1.0)
