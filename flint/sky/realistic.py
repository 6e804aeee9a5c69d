"""Realistic random skies: source counts, measured sizes, doubles and triples, bright sources.

A sky like the real one at ASKAP's resolution has, besides the counts of
:func:`flint.sky.random_sky`:

- **sizes** from the measured distribution of Windhorst, Mathis & Neuschaefer (1990,
  ApJS 72, 1): the median largest angular size is 2" (S_1.4GHz / 1 mJy)^0.30 and the
  fraction larger than θ is exp(-ln 2 (θ / θ_med)^0.62) (the relation used for the
  LoTSS and RACS completeness simulations);
- **morphology**: sources smaller than ``POINT_BELOW_ARCSEC`` are points; larger ones are
  single Gaussians (FWHM = the size, axis ratio 0.4-1), except that half of those larger
  than ``MULTI_ABOVE_ARCSEC`` are radio galaxies: two Gaussian lobes spanning the size
  (lobes 15-35 % of it, flux ratio up to 2), half of them with a flat-spectrum core
  (5-30 % of the flux, spectral index -0.1 ± 0.2): doubles and triples;
- **bright sources** of a few Jy from the counts anywhere, and a wide annulus of sources
  beyond the main lobes (the first sidelobe and past it) where only brighter sources
  matter;
- optionally **placed bright sources** (``bright_sources``): e.g. from
  :func:`bright_source_positions`, one inside a beam's image, one just outside the image
  and one in the primary beam's first sidelobe.

Everything is drawn from one seeded generator: the same seed gives the same sky.
Component names are ``<prefix><number>`` for single components and ``..._a`` / ``_b``
(lobes) / ``_c`` (core) for the parts of one radio galaxy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from numpy.typing import ArrayLike, NDArray

from flint.errors import InputError
from flint.primary_beam import first_sidelobe_offset_rad, primary_beam
from flint.sky.model import SkyModel
from flint.sky.random_sky import random_sky
from flint.sky.source_counts import COUNTS_FREQUENCY_HZ

SIZE_MEDIAN_ARCSEC_AT_1MJY = 2.0
SIZE_FLUX_INDEX = 0.30
SIZE_SHAPE = 0.62
MAX_SIZE_ARCSEC = 300.0
POINT_BELOW_ARCSEC = 3.0
MULTI_ABOVE_ARCSEC = 20.0
MULTI_FRACTION = 0.5
TRIPLE_FRACTION = 0.5


def angular_sizes(
    flux_1400_jy: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.float64]:
    """Largest angular sizes [arcsec] drawn from the Windhorst et al. (1990) distribution."""
    flux = np.asarray(flux_1400_jy, dtype=float)
    median = SIZE_MEDIAN_ARCSEC_AT_1MJY * (flux / 1e-3) ** SIZE_FLUX_INDEX
    fraction_larger = rng.uniform(np.finfo(float).tiny, 1.0, flux.shape)
    sizes = median * (-np.log2(fraction_larger)) ** (1.0 / SIZE_SHAPE)
    return np.minimum(sizes, MAX_SIZE_ARCSEC)


@dataclass(frozen=True)
class _Sources:
    """Sources before their morphology: position, flux at the reference and spectral index."""

    ra_deg: NDArray[np.float64]
    dec_deg: NDArray[np.float64]
    flux_jy: NDArray[np.float64]
    alpha: NDArray[np.float64]

    @classmethod
    def of(cls, sky: SkyModel) -> _Sources:
        alpha = sky.spectral_terms[:, 0] if sky.nterms else np.zeros(len(sky))
        return cls(sky.ra_deg, sky.dec_deg, sky.flux_jy, alpha)

    @classmethod
    def join(cls, parts: Sequence[_Sources]) -> _Sources:
        names = [item.name for item in fields(cls)]
        return cls(*(np.concatenate([getattr(part, name) for part in parts]) for name in names))


def _offset(ra_deg, dec_deg, position_angle_deg, distance_arcsec):
    coord = SkyCoord(np.asarray(ra_deg) * u.deg, np.asarray(dec_deg) * u.deg)
    moved = coord.directional_offset_by(
        np.asarray(position_angle_deg) * u.deg, np.asarray(distance_arcsec) * u.arcsec
    )
    return moved.ra.deg, moved.dec.deg


def _morphology(
    sources: _Sources, reference_hz: float, rng: np.random.Generator, prefix: str
) -> SkyModel:
    """Components of ``sources``: points, Gaussians, doubles and triples (module docstring)."""
    count = len(sources.flux_jy)
    flux_1400 = sources.flux_jy * (COUNTS_FREQUENCY_HZ / reference_hz) ** sources.alpha
    size = angular_sizes(flux_1400, rng)
    axis_pa = rng.uniform(0.0, 180.0, count)
    roll = rng.uniform(size=count)
    multi = (size >= MULTI_ABOVE_ARCSEC) & (roll < MULTI_FRACTION)
    triple = multi & (roll < MULTI_FRACTION * TRIPLE_FRACTION)
    single = ~multi
    width = max(5, len(str(count)))
    names = np.array([f"{prefix}{index:0{width}d}" for index in range(count)])

    # single components: points below POINT_BELOW_ARCSEC, Gaussians above
    gaussian = single & (size >= POINT_BELOW_ARCSEC)
    major = np.where(gaussian, size, 0.0)
    minor = major * rng.uniform(0.4, 1.0, count)
    parts = [
        dict(
            ra_deg=sources.ra_deg[single],
            dec_deg=sources.dec_deg[single],
            flux_jy=sources.flux_jy[single],
            alpha=sources.alpha[single],
            major=major[single],
            minor=minor[single],
            pa=np.where(gaussian, axis_pa, 0.0)[single],
            names=names[single],
        )
    ]

    # radio galaxies: two lobes spanning the size, and a core for the triples
    lobe_major = size * rng.uniform(0.15, 0.35, count)
    lobe_minor = lobe_major * rng.uniform(0.5, 1.0, count)
    separation = size - lobe_major
    ratio = 10.0 ** rng.uniform(-0.3, 0.3, count)
    core_fraction = np.where(triple, rng.uniform(0.05, 0.3, count), 0.0)
    core_alpha = rng.normal(-0.1, 0.2, count)
    lobes_flux = sources.flux_jy * (1.0 - core_fraction)
    for suffix, turn, share in (("_a", 0.0, ratio / (1 + ratio)), ("_b", 180.0, 1 / (1 + ratio))):
        ra, dec = _offset(
            sources.ra_deg[multi],
            sources.dec_deg[multi],
            axis_pa[multi] + turn,
            separation[multi] / 2.0,
        )
        parts.append(
            dict(
                ra_deg=ra,
                dec_deg=dec,
                flux_jy=(lobes_flux * share)[multi],
                alpha=sources.alpha[multi],
                major=lobe_major[multi],
                minor=lobe_minor[multi],
                pa=axis_pa[multi],
                names=np.char.add(names[multi], suffix),
            )
        )
    parts.append(
        dict(
            ra_deg=sources.ra_deg[triple],
            dec_deg=sources.dec_deg[triple],
            flux_jy=(sources.flux_jy * core_fraction)[triple],
            alpha=core_alpha[triple],
            major=np.zeros(int(triple.sum())),
            minor=np.zeros(int(triple.sum())),
            pa=np.zeros(int(triple.sum())),
            names=np.char.add(names[triple], "_c"),
        )
    )
    joined = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    order = np.argsort(joined["names"], kind="stable")
    joined = {key: value[order] for key, value in joined.items()}
    return SkyModel(
        ra_deg=joined["ra_deg"],
        dec_deg=joined["dec_deg"],
        flux_jy=joined["flux_jy"],
        reference_hz=reference_hz,
        spectral_terms=joined["alpha"][:, np.newaxis],
        logarithmic=True,
        major_arcsec=joined["major"],
        minor_arcsec=joined["minor"],
        pa_deg=joined["pa"],
        names=joined["names"],
    )


def realistic_sky(
    centre_ra_deg: float,
    centre_dec_deg: float,
    radius_deg: float,
    min_flux_jy: float,
    reference_hz: float = 888e6,
    seed: int | np.random.Generator | None = None,
    max_flux_jy: float = 2.0,
    wide_radius_deg: float | None = None,
    wide_min_flux_jy: float = 0.02,
    bright_sources: Sequence[tuple[float, float, float]] = (),
    counts: str = "skads",
    spectral_index: float = -0.8,
    spectral_index_scatter: float = 0.2,
) -> SkyModel:
    """A realistic random sky (see the module docstring).

    Sources from the counts ``counts`` with ``min_flux_jy <= S < max_flux_jy`` at
    ``reference_hz`` inside ``radius_deg`` of the centre; between ``radius_deg`` and
    ``wide_radius_deg`` only those above ``wide_min_flux_jy``. ``bright_sources`` are
    (RA, Dec, flux at ``reference_hz``) added with the same morphology rules.
    """
    problems = []
    if wide_radius_deg is not None and wide_radius_deg <= radius_deg:
        problems.append(f"wide_radius_deg {wide_radius_deg} is not beyond radius_deg {radius_deg}")
    if wide_radius_deg is not None and not min_flux_jy <= wide_min_flux_jy < max_flux_jy:
        problems.append(
            f"need min_flux_jy <= wide_min_flux_jy < max_flux_jy, got {min_flux_jy}, "
            f"{wide_min_flux_jy}, {max_flux_jy}"
        )
    if problems:
        raise InputError("realistic_sky: " + "; ".join(problems))
    rng = np.random.default_rng(seed)
    draw = dict(
        reference_hz=reference_hz,
        max_flux_jy=max_flux_jy,
        seed=rng,
        counts=counts,
        spectral_index=spectral_index,
        spectral_index_scatter=spectral_index_scatter,
    )
    parts = [
        _Sources.of(random_sky(centre_ra_deg, centre_dec_deg, radius_deg, min_flux_jy, **draw))
    ]
    if wide_radius_deg is not None:
        wide = random_sky(centre_ra_deg, centre_dec_deg, wide_radius_deg, wide_min_flux_jy, **draw)
        parts.append(
            _Sources.of(
                wide.select(wide.separation_deg(centre_ra_deg, centre_dec_deg) > radius_deg)
            )
        )
    if len(bright_sources):
        ra, dec, flux = (
            np.asarray(column, dtype=float) for column in zip(*bright_sources, strict=True)
        )
        alpha = rng.normal(spectral_index, spectral_index_scatter, len(flux))
        parts.append(_Sources(ra, dec, flux, alpha))
    return _morphology(_Sources.join(parts), reference_hz, rng, prefix="src")


def lm_offsets(
    ra_deg: ArrayLike, dec_deg: ArrayLike, centre_ra_deg: float, centre_dec_deg: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Direction cosines (l east, m north) of directions around a centre: the SIN image plane."""
    ra, dec = np.deg2rad(np.asarray(ra_deg, float)), np.deg2rad(np.asarray(dec_deg, float))
    ra0, dec0 = math.radians(centre_ra_deg), math.radians(centre_dec_deg)
    east = np.cos(dec) * np.sin(ra - ra0)
    north = np.sin(dec) * math.cos(dec0) - np.cos(dec) * math.sin(dec0) * np.cos(ra - ra0)
    return east, north


def _from_lm(
    east: float, north: float, centre_ra_deg: float, centre_dec_deg: float
) -> tuple[float, float]:
    """The direction at (l, m) of the SIN plane around a centre (inverse of :func:`lm_offsets`)."""
    ra0, dec0 = math.radians(centre_ra_deg), math.radians(centre_dec_deg)
    n = math.sqrt(1.0 - east * east - north * north)
    dec = math.asin(north * math.cos(dec0) + n * math.sin(dec0))
    ra = ra0 + math.atan2(east, n * math.cos(dec0) - north * math.sin(dec0))
    return math.degrees(ra) % 360.0, math.degrees(dec)


def outside_images(
    ra_deg: float,
    dec_deg: float,
    beam_centres_deg: Sequence[tuple[float, float]],
    image_half_width_deg: float,
) -> bool:
    """True when a direction falls outside the square (SIN) image of every beam."""
    half = math.sin(math.radians(image_half_width_deg))
    for centre in beam_centres_deg:
        east, north = lm_offsets(ra_deg, dec_deg, *centre)
        if abs(float(east)) <= half and abs(float(north)) <= half:
            return False
    return True


def bright_source_positions(
    beam_centres_deg: Sequence[tuple[float, float]],
    image_half_width_deg: float,
    frequency_hz: float,
    seed: int | np.random.Generator | None = None,
    flux_range_jy: tuple[float, float] = (1.0, 1.5),
) -> list[tuple[float, float, float]]:
    """Three bright sources (RA, Dec, flux) placed where they test an imaging strategy.

    - inside: 0.1-0.5 deg from a beam's centre, bright enough that its attenuated
      (apparent) flux at ``frequency_hz`` is in ``flux_range_jy``;
    - just outside: 2-5 arcmin beyond the edge of the outermost beam's image (square,
      half-width ``image_half_width_deg``), on the side facing away from the other beams;
    - first sidelobe: at the peak of the primary beam's first sidelobe at ``frequency_hz``
      (:func:`flint.primary_beam.first_sidelobe_offset_rad`) from that beam, along the
      image's other axis, also away from the other beams.

    Both outer sources have fluxes in ``flux_range_jy``. The first lies outside every beam's
    image; the second lies outside them only when the images end before the first sidelobe
    (an image that covers the main lobe to its first null at the bottom of the band, as
    the demo's final image does, reaches past the sidelobe's peak at ``frequency_hz``).
    """
    rng = np.random.default_rng(seed)
    centres = [(float(ra), float(dec)) for ra, dec in beam_centres_deg]
    if not centres:
        raise InputError("bright_source_positions: no beam centres")
    low, high = flux_range_jy
    coords = SkyCoord([c[0] for c in centres] * u.deg, [c[1] for c in centres] * u.deg)
    middle = SkyCoord(*_mean_direction(coords), unit="deg")
    # inside: near a random beam's centre, apparent flux in the range
    inner = centres[int(rng.integers(len(centres)))]
    offset_deg = rng.uniform(0.1, 0.5)
    ra, dec = _offset(inner[0], inner[1], rng.uniform(0, 360), offset_deg * 3600.0)
    gain = float(primary_beam(math.radians(offset_deg), frequency_hz))
    placed = [(float(ra), float(dec), rng.uniform(low, high) / gain)]

    # outside: the beam farthest from the middle of the footprint, pointing away from it
    distances = [middle.separation(SkyCoord(*c, unit="deg")).deg for c in centres]
    outer = centres[int(np.argmax(distances))]
    if max(distances) > 1e-6:
        away = np.array([float(v) for v in lm_offsets(*outer, middle.ra.deg, middle.dec.deg)])
    else:
        angle = rng.uniform(0, 2 * np.pi)
        away = np.array([math.sin(angle), math.cos(angle)])
    axes = [
        np.array([math.copysign(1.0, away[0]), 0.0]),
        np.array([0.0, math.copysign(1.0, away[1])]),
    ]
    axes.sort(key=lambda axis: -abs(float(axis @ away)))  # the axis facing away first
    sidelobe = math.degrees(float(first_sidelobe_offset_rad(frequency_hz)))
    wanted = (
        (axes[0], image_half_width_deg + rng.uniform(2.0, 5.0) / 60.0),
        (axes[1], sidelobe),
    )
    for (axis, distance), must_be_outside in zip(wanted, (True, False), strict=True):
        across = rng.uniform(-0.3, 0.3)
        along = math.sin(math.radians(distance))
        lm = axis * along + np.array([axis[1], axis[0]]) * math.sin(math.radians(across))
        ra, dec = _from_lm(float(lm[0]), float(lm[1]), *outer)
        if must_be_outside and not outside_images(ra, dec, centres, image_half_width_deg):
            raise InputError(
                f"bright_source_positions: no place {distance:.2f} deg from beam centre "
                f"({outer[0]:.3f}, {outer[1]:.3f}) lies outside every image; the beams are "
                "too spread for the image size"
            )
        placed.append((ra, dec, float(rng.uniform(low, high))))
    return placed


def _mean_direction(coords: SkyCoord) -> tuple[float, float]:
    """RA, Dec of the mean unit vector of ``coords``."""
    vector = coords.cartesian.xyz.value.mean(axis=1)
    ra = math.degrees(math.atan2(vector[1], vector[0])) % 360.0
    dec = math.degrees(math.atan2(vector[2], math.hypot(vector[0], vector[1])))
    return ra, dec


MAIN_MARGIN_DEG = 3.0
"""The counts reach ``min_flux_jy`` within this distance of every beam (the main lobes)."""
WIDE_MARGIN_DEG = 6.0
"""Beyond the main lobes, out to this distance, only sources above ``WIDE_MIN_FLUX_JY``."""
WIDE_MIN_FLUX_JY = 0.02


def realistic_field_sky(
    beam_centres_deg: Sequence[tuple[float, float]],
    image_half_width_deg: float,
    min_flux_jy: float = 2e-3,
    reference_hz: float = 888e6,
    seed: int | np.random.Generator | None = None,
) -> SkyModel:
    """The realistic sky of a set of beams whose images are ``image_half_width_deg`` wide.

    The counts down to ``min_flux_jy`` within ``MAIN_MARGIN_DEG`` of the beams (their main
    lobes and beyond the images), sources above ``WIDE_MIN_FLUX_JY`` out to
    ``WIDE_MARGIN_DEG`` (the first and second sidelobes), and the three placed bright
    sources of :func:`bright_source_positions`.
    """
    rng = np.random.default_rng(seed)
    centres = [(float(ra), float(dec)) for ra, dec in beam_centres_deg]
    coords = SkyCoord([c[0] for c in centres] * u.deg, [c[1] for c in centres] * u.deg)
    ra, dec = _mean_direction(coords)
    spread = float(coords.separation(SkyCoord(ra * u.deg, dec * u.deg)).deg.max())
    bright = bright_source_positions(centres, image_half_width_deg, reference_hz, rng)
    return realistic_sky(
        ra,
        dec,
        spread + MAIN_MARGIN_DEG,
        min_flux_jy,
        reference_hz=reference_hz,
        seed=rng,
        wide_radius_deg=spread + WIDE_MARGIN_DEG,
        wide_min_flux_jy=max(WIDE_MIN_FLUX_JY, min_flux_jy),
        bright_sources=bright,
    )
