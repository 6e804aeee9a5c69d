"""Random skies drawn from measured source counts, for simulated observations."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from flint.errors import InputError
from flint.sky.model import SkyModel
from flint.sky.source_counts import COUNTS_FREQUENCY_HZ, load_source_counts

_SCATTER_SIGMAS = 5.0


def cap_solid_angle_sr(radius_deg: float) -> float:
    """Solid angle of a spherical cap of angular radius ``radius_deg``."""
    return float(2.0 * np.pi * (1.0 - np.cos(np.deg2rad(radius_deg))))


def expected_source_count(
    radius_deg: float,
    min_flux_jy: float,
    max_flux_jy: float = 1.0,
    reference_hz: float = 888e6,
    spectral_index: float = -0.8,
    counts: str = "skads",
) -> float:
    """Mean number of sources with min < S(reference_hz) < max in a cap (no index scatter)."""
    scale = (COUNTS_FREQUENCY_HZ / reference_hz) ** spectral_index
    per_sr = load_source_counts(counts).number_per_sr(min_flux_jy * scale, max_flux_jy * scale)
    return per_sr * cap_solid_angle_sr(radius_deg)


def _random_positions(
    rng: np.random.Generator, centre: SkyCoord, radius_deg: float, count: int
) -> SkyCoord:
    """``count`` directions uniform on the cap of ``radius_deg`` around ``centre``."""
    cos_radius = np.cos(np.deg2rad(radius_deg))
    separation = np.arccos(rng.uniform(cos_radius, 1.0, count))
    position_angle = rng.uniform(0.0, 2.0 * np.pi, count)
    return centre.directional_offset_by(position_angle * u.rad, separation * u.rad)


def random_sky(
    centre_ra_deg: float,
    centre_dec_deg: float,
    radius_deg: float,
    min_flux_jy: float,
    reference_hz: float = 888e6,
    max_flux_jy: float = 1.0,
    seed: int | np.random.Generator | None = None,
    counts: str = "skads",
    spectral_index: float = -0.8,
    spectral_index_scatter: float = 0.2,
    gaussian_fraction: float = 0.0,
    gaussian_major_arcsec: tuple[float, float] = (5.0, 60.0),
) -> SkyModel:
    """Draw a random sky of point (and optionally Gaussian) sources.

    The number of sources is Poisson with the mean set by the 1.4 GHz
    Euclidean-normalised counts ``counts`` (see :mod:`flint.sky.source_counts`)
    over the spherical cap. Each source gets a spectral index from
    N(``spectral_index``, ``spectral_index_scatter``) and its 1.4 GHz flux is
    scaled to ``reference_hz``; only sources with ``min_flux_jy <= S < max_flux_jy``
    at ``reference_hz`` are kept (a thinned Poisson draw, so still Poisson).
    Positions are uniform on the cap. A fraction ``gaussian_fraction`` become
    Gaussians with FWHM major axis log-uniform in ``gaussian_major_arcsec``, axis
    ratio uniform in [0.3, 1] and a uniform position angle.
    """
    problems = []
    if not 0 < radius_deg <= 180:
        problems.append(f"radius_deg {radius_deg} not in (0, 180]")
    if not 0 < min_flux_jy < max_flux_jy:
        problems.append(f"need 0 < min_flux_jy < max_flux_jy, got {min_flux_jy}, {max_flux_jy}")
    if not 0 <= gaussian_fraction <= 1:
        problems.append(f"gaussian_fraction {gaussian_fraction} not in [0, 1]")
    if spectral_index_scatter < 0:
        problems.append(f"spectral_index_scatter {spectral_index_scatter} is negative")
    if problems:
        raise InputError("random_sky: " + "; ".join(problems))
    rng = np.random.default_rng(seed)
    source_counts = load_source_counts(counts)

    # 1.4 GHz flux range wide enough for any index within _SCATTER_SIGMAS of the mean
    ratio = COUNTS_FREQUENCY_HZ / reference_hz
    extreme = spectral_index + _SCATTER_SIGMAS * spectral_index_scatter * np.array([-1.0, 1.0])
    low = min_flux_jy * np.min(ratio**extreme)
    high = max_flux_jy * np.max(ratio**extreme)
    flux_grid, cumulative = source_counts.cumulative_grid(low, high)
    mean = cumulative[-1] * cap_solid_angle_sr(radius_deg)
    drawn = rng.poisson(mean)
    flux_1400 = np.interp(rng.uniform(0.0, cumulative[-1], drawn), cumulative, flux_grid)
    alpha = rng.normal(spectral_index, spectral_index_scatter, drawn)
    flux = flux_1400 * (reference_hz / COUNTS_FREQUENCY_HZ) ** alpha
    keep = (flux >= min_flux_jy) & (flux < max_flux_jy)
    flux, alpha, count = flux[keep], alpha[keep], int(np.count_nonzero(keep))

    centre = SkyCoord(centre_ra_deg * u.deg, centre_dec_deg * u.deg)
    positions = _random_positions(rng, centre, radius_deg, count)
    gaussian = rng.uniform(size=count) < gaussian_fraction
    log_major = rng.uniform(*np.log(gaussian_major_arcsec), count)
    major = np.where(gaussian, np.exp(log_major), 0.0)
    minor = major * rng.uniform(0.3, 1.0, count)
    pa = np.where(gaussian, rng.uniform(0.0, 180.0, count), 0.0)
    width = max(4, len(str(count)))
    return SkyModel(
        ra_deg=positions.ra.deg,
        dec_deg=positions.dec.deg,
        flux_jy=flux,
        reference_hz=reference_hz,
        spectral_terms=alpha[:, np.newaxis],
        logarithmic=True,
        kinds=np.where(gaussian, "gaussian", "point"),
        major_arcsec=major,
        minor_arcsec=minor,
        pa_deg=pa,
        names=np.array([f"rand{index:0{width}d}" for index in range(count)]),
    )
