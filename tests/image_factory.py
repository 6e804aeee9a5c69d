"""Build small restored FITS images of a known sky for the image-domain tests.

Point sources of known flux and position are convolved with a known restoring
beam (so their peak in Jy/beam equals their flux), optionally attenuated by a
primary beam, and Gaussian noise with a known rms (correlated on the beam scale,
as in a real restored image) is added. The WCS is SIN, as wsclean writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))


@dataclass(frozen=True)
class Restoring:
    """A restoring beam: FWHM major and minor axes (arcsec) and position angle (deg, N through E)."""

    bmaj_arcsec: float
    bmin_arcsec: float
    bpa_deg: float = 0.0

    @property
    def area_arcsec2(self) -> float:
        return 2.0 * np.pi * self.bmaj_arcsec * self.bmin_arcsec * FWHM_TO_SIGMA**2


@dataclass(frozen=True)
class ImageSpec:
    """Geometry and content of one synthetic image."""

    ra_deg: float = 150.0
    dec_deg: float = -30.0
    size: int = 256
    cell_arcsec: float = 2.5
    frequency_hz: float = 1.4e9
    beam: Restoring = field(default_factory=lambda: Restoring(12.0, 10.0, 30.0))
    noise_jy: float = 1e-4
    seed: int = 0
    four_d: bool = False


def make_wcs(spec: ImageSpec) -> WCS:
    """A celestial SIN WCS centred on the spec's pointing (reference pixel at the centre)."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---SIN", "DEC--SIN"]
    wcs.wcs.crval = [spec.ra_deg, spec.dec_deg]
    wcs.wcs.crpix = [spec.size / 2 + 1, spec.size / 2 + 1]
    wcs.wcs.cdelt = [-spec.cell_arcsec / 3600.0, spec.cell_arcsec / 3600.0]
    wcs.wcs.cunit = ["deg", "deg"]
    return wcs


def gaussian_beam_image(
    shape: tuple[int, int], x0: float, y0: float, beam: Restoring, cell_arcsec: float
) -> np.ndarray:
    """Unit-peak elliptical Gaussian at pixel (x0, y0); PA from north (+y) through east (-x)."""
    y, x = np.indices(shape, dtype=float)
    east = -(x - x0) * cell_arcsec
    north = (y - y0) * cell_arcsec
    pa = np.deg2rad(beam.bpa_deg)
    along = east * np.sin(pa) + north * np.cos(pa)
    across = east * np.cos(pa) - north * np.sin(pa)
    smaj = beam.bmaj_arcsec * FWHM_TO_SIGMA
    smin = beam.bmin_arcsec * FWHM_TO_SIGMA
    return np.exp(-0.5 * ((along / smaj) ** 2 + (across / smin) ** 2))


def correlated_noise(
    shape: tuple[int, int], rms: float, beam: Restoring, cell_arcsec: float, seed: int
) -> np.ndarray:
    """Gaussian noise of standard deviation ``rms`` correlated by the restoring beam."""
    rng = np.random.default_rng(seed)
    white = rng.normal(size=shape)
    kernel = gaussian_beam_image(shape, shape[1] // 2, shape[0] // 2, beam, cell_arcsec)
    smooth = np.real(np.fft.ifft2(np.fft.fft2(white) * np.fft.fft2(np.fft.ifftshift(kernel))))
    return smooth * rms / smooth.std()


def write_image(
    path: Path,
    spec: ImageSpec,
    sources: Table,
    primary_beam: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    noise: bool = True,
) -> Path:
    """Write the restored image of ``sources`` (columns ra_deg, dec_deg, flux_jy) to ``path``.

    ``primary_beam(ra_deg, dec_deg)`` (optional) returns the attenuation at each
    source; the written image is then the apparent (not primary-beam-corrected) sky.
    """
    wcs = make_wcs(spec)
    shape = (spec.size, spec.size)
    data = np.zeros(shape)
    ra = np.asarray(sources["ra_deg"], dtype=float)
    dec = np.asarray(sources["dec_deg"], dtype=float)
    flux = np.asarray(sources["flux_jy"], dtype=float)
    if primary_beam is not None:
        flux = flux * primary_beam(ra, dec)
    xs, ys = wcs.world_to_pixel(SkyCoord(ra * u.deg, dec * u.deg))
    for x0, y0, s in zip(xs, ys, flux, strict=True):
        data += s * gaussian_beam_image(shape, x0, y0, spec.beam, spec.cell_arcsec)
    if noise:
        data += correlated_noise(shape, spec.noise_jy, spec.beam, spec.cell_arcsec, spec.seed)
    header = wcs.to_header()
    header["BUNIT"] = "Jy/beam"
    header["BMAJ"] = spec.beam.bmaj_arcsec / 3600.0
    header["BMIN"] = spec.beam.bmin_arcsec / 3600.0
    header["BPA"] = spec.beam.bpa_deg
    if spec.four_d:
        header["NAXIS"] = 4
        header["CTYPE3"], header["CRVAL3"], header["CDELT3"] = "FREQ", spec.frequency_hz, 1e6
        header["CRPIX3"], header["CUNIT3"] = 1.0, "Hz"
        header["CTYPE4"], header["CRVAL4"], header["CDELT4"], header["CRPIX4"] = (
            "STOKES",
            1.0,
            1.0,
            1.0,
        )
        data = data[np.newaxis, np.newaxis]
    else:
        header["RESTFRQ"] = spec.frequency_hz
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(data.astype(np.float32), header=header).writeto(path, overwrite=True)
    return path


def grid_sources(
    spec: ImageSpec,
    fluxes_jy: np.ndarray,
    spacing_px: float,
    margin_px: float = 20.0,
    seed: int = 1,
) -> Table:
    """Sources on a jittered grid (separated by about ``spacing_px``) inside the image."""
    rng = np.random.default_rng(seed)
    steps = np.arange(margin_px, spec.size - margin_px, spacing_px)
    gx, gy = np.meshgrid(steps, steps)
    gx, gy = gx.ravel(), gy.ravel()
    order = rng.permutation(gx.size)[: len(fluxes_jy)]
    if order.size < len(fluxes_jy):
        raise ValueError("too many sources for the grid")
    jitter = rng.uniform(-0.25, 0.25, size=(2, order.size)) * spacing_px
    x, y = gx[order] + jitter[0], gy[order] + jitter[1]
    world = make_wcs(spec).pixel_to_world(x, y)
    return Table(
        {
            "ra_deg": world.ra.deg,
            "dec_deg": world.dec.deg,
            "flux_jy": np.asarray(fluxes_jy, dtype=float),
        }
    )


def fit_point_source(
    data: np.ndarray,
    wcs: WCS,
    ra_deg: float,
    dec_deg: float,
    beam: Restoring,
    cell_arcsec: float,
    half_width_px: int = 12,
) -> tuple[float, float, float]:
    """Fit a restoring-beam-shaped Gaussian near (ra, dec): (flux Jy, ra deg, dec deg)."""
    from scipy.optimize import curve_fit

    x0, y0 = (float(v) for v in wcs.world_to_pixel(SkyCoord(ra_deg * u.deg, dec_deg * u.deg)))
    col, row = round(x0), round(y0)
    cutout = data[
        row - half_width_px : row + half_width_px + 1, col - half_width_px : col + half_width_px + 1
    ]
    shape = cutout.shape

    good = np.isfinite(cutout).ravel()

    def model(_, amplitude, x, y):
        return (amplitude * gaussian_beam_image(shape, x, y, beam, cell_arcsec)).ravel()[good]

    start = (float(np.nanmax(cutout)), x0 - col + half_width_px, y0 - row + half_width_px)
    (amplitude, x, y), _ = curve_fit(model, np.arange(good.sum()), cutout.ravel()[good], p0=start)
    world = wcs.pixel_to_world(x + col - half_width_px, y + row - half_width_px)
    return float(amplitude), float(world.ra.deg), float(world.dec.deg)
