"""Validate a source catalogue against the truth: tables, a figure and a summary."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table

from flint.atomic import atomic_path
from flint.errors import InputError
from flint.mosaic.headers import (
    bandwidth_hz,
    frequency_hz,
    offsets_rad,
    read_plane,
    separation_rad,
)
from flint.primary_beam import band_primary_beam
from flint.sky import SkyModel
from flint.validation.crossmatch import crossmatch
from flint.validation.grouping import blend_groups, group_table
from flint.validation.metrics import (
    completeness_table,
    euclidean_counts,
    psf_table,
    rms_statistics,
    robust_scatter,
    sample_map,
    to_1p4ghz,
    visibility_area,
)
from flint.validation.options import ValidationOptions
from flint.validation.plot import plot_validation
from flint.validation.summary import ValidationSummary
from flint.validation.truth import expected_truth

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationResult:
    """The summary and the files a validation wrote."""

    summary: ValidationSummary
    figure: Path
    matches: Path
    groups: Path
    """The true sources made of several blended components (members by name)."""
    completeness: Path
    counts: Path
    psf: Path
    summary_json: Path


def _median(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def _write_table(table: Table, path: Path) -> None:
    with atomic_path(path, overwrite=True) as temporary:
        table.write(temporary, format="ascii.csv")


def _read_catalogue(catalogue: Table | str | os.PathLike[str], flux_column: str) -> Table:
    table = catalogue if isinstance(catalogue, Table) else Table.read(catalogue)
    missing = [name for name in ("ra", "dec", flux_column) if name not in table.colnames]
    if missing:
        where = None if isinstance(catalogue, Table) else catalogue
        raise InputError(f"catalogue lacks Aegean column(s) {', '.join(missing)}", where)
    return table


def _truth_groups(components: Table, beam_major: float, beam_minor: float) -> Table:
    """Truth components grouped where they blend, with each group's expected peak [Jy/beam].

    The peak is the brightest member's: its flux times the beam area over its area as the
    image shows it (intrinsic size convolved with the beam).
    """
    major = np.asarray(components["major_arcsec"], dtype=float)
    minor = np.asarray(components["minor_arcsec"], dtype=float)
    shown_major = np.hypot(major, beam_major)
    shown_minor = np.hypot(minor, beam_minor)
    labels = blend_groups(components["ra_deg"], components["dec_deg"], shown_major)
    groups = group_table(components, labels, "ra_deg", "dec_deg", "flux_jy", "major_arcsec", "name")
    peak = (
        np.asarray(components["flux_jy"], dtype=float)
        * beam_major
        * beam_minor
        / (shown_major * shown_minor)
    )
    groups["peak_jy"] = [float(peak[labels == group].max()) for group in groups["group"]]
    return groups


def _catalogue_groups(table: Table, flux_column: str, beam_major: float) -> Table:
    """Catalogue components grouped by the same rule, with their fitted (convolved) sizes."""
    fitted = np.asarray(table["a"], dtype=float) if "a" in table.colnames else np.zeros(len(table))
    shown = np.where(np.isfinite(fitted) & (fitted > 0), fitted, beam_major)
    labels = blend_groups(np.asarray(table["ra"]), np.asarray(table["dec"]), shown)
    return group_table(table, labels, "ra", "dec", flux_column, None)


def validate(
    catalogue: Table | str | os.PathLike[str],
    truth: SkyModel | str | os.PathLike[str],
    image: str | os.PathLike[str],
    rms_image: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    psf_images: Sequence[str | os.PathLike[str]] = (),
    pointing_deg: tuple[float, float] | None = None,
    options: ValidationOptions | None = None,
    prefix: str = "validation",
) -> ValidationResult:
    """Compare an Aegean catalogue of ``image`` with the truth; write CSVs, a PNG and JSON.

    ``truth`` is a simulated sky model or a reference catalogue file (never
    downloaded). ``rms_image`` is the noise map (BANE's ``_rms.fits``) on the
    image's grid. ``pointing_deg`` marks ``image`` as a beam image that is not
    primary-beam corrected (fluxes are compared with the attenuated truth, and
    corrected for the source counts). ``psf_images`` are the per-beam images
    whose restoring beams are tabulated.
    """
    options = options or ValidationOptions()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    table = _read_catalogue(catalogue, options.flux_column)
    if not Path(image).is_file():
        raise InputError("image does not exist", image)
    header = fits.getheader(image)
    rms, rms_wcs, _ = read_plane(rms_image)
    frequency = frequency_hz(header, image)
    if "BMAJ" not in header:
        raise InputError("image has no restoring beam (BMAJ) to set the match radius", image)
    beam_major = float(header["BMAJ"]) * 3600.0

    beam_minor = float(header.get("BMIN", header["BMAJ"])) * 3600.0

    bandwidth = bandwidth_hz(header)
    components = expected_truth(truth, frequency, pointing_deg, options.pb_model, bandwidth)
    component_rms = sample_map(rms, rms_wcs, components["ra_deg"], components["dec_deg"])
    components = components[np.isfinite(component_rms) & (component_rms > 0)]
    expected = _truth_groups(components, beam_major, beam_minor)
    local_rms = sample_map(rms, rms_wcs, expected["ra_deg"], expected["dec_deg"])
    local_rms = np.where(np.isfinite(local_rms) & (local_rms > 0), local_rms, np.nan)
    expected["local_rms_jy"] = local_rms
    expected["snr"] = expected["peak_jy"] / expected["local_rms_jy"]
    expected["resolved"] = expected["extent_arcsec"] >= options.resolved_beams * beam_major
    found_groups = _catalogue_groups(table, options.flux_column, beam_major)
    matches = crossmatch(
        expected, found_groups, options.match_radius_beams * beam_major, options.flux_column
    )
    found = np.asarray(matches["matched"], dtype=bool)
    bright = np.asarray(matches["snr"]) >= options.snr_threshold
    ratio = np.asarray(matches["flux_cat"]) / np.asarray(matches["flux_jy"])
    resolved = np.asarray(matches["resolved"], dtype=bool)

    completeness = completeness_table(matches["flux_jy"], found, options.completeness_bins)

    measured = np.asarray(table[options.flux_column], dtype=float)
    rms_for_area = rms
    if pointing_deg is not None:
        band = (frequency, bandwidth, options.pb_spectral_index)
        pb_at_sources = band_primary_beam(
            separation_rad(np.asarray(table["ra"]), np.asarray(table["dec"]), pointing_deg),
            *band,
            model=options.pb_model,
        )
        measured = measured / pb_at_sources
        rms_for_area = rms / band_primary_beam(
            offsets_rad(rms_wcs, rms.shape, pointing_deg), *band, model=options.pb_model
        )
    scale = to_1p4ghz(1.0, frequency, options.counts_spectral_index)
    area = visibility_area(rms_for_area * scale, rms_wcs, options.counts_detection_snr)
    counts = euclidean_counts(
        to_1p4ghz(measured, frequency, options.counts_spectral_index), area, options.counts_bins
    )
    psf = psf_table(psf_images)
    rms_stats = rms_statistics(rms)
    populated = np.asarray(counts["n"]) >= 5 if len(counts) else np.zeros(0, bool)
    counts_ratio = (
        _median(np.asarray(counts["euclidean"])[populated] / np.asarray(counts["skads"])[populated])
        if populated.any()
        else float("nan")
    )

    good = found & bright
    summary = ValidationSummary(
        n_truth=len(matches),
        n_truth_components=len(components),
        n_blended=int(np.count_nonzero(np.asarray(matches["n_components"]) > 1)),
        n_catalogue=len(table),
        n_matched=int(found.sum()),
        n_unmatched_components=len(table) - int(found.sum()),
        snr_threshold=options.snr_threshold,
        n_truth_above_snr=int(bright.sum()),
        completeness_above_snr=float(good.sum() / bright.sum()) if bright.any() else float("nan"),
        median_flux_ratio=_median(ratio[good]),
        flux_ratio_scatter=robust_scatter(ratio[good]),
        n_resolved_above_snr=int(np.count_nonzero(good & resolved)),
        median_flux_ratio_resolved=_median(ratio[good & resolved]),
        median_offset_beams=_median(np.asarray(matches["separation_arcsec"])[good]) / beam_major,
        median_ra_offset_arcsec=_median(np.asarray(matches["ra_offset_arcsec"])[good]),
        median_dec_offset_arcsec=_median(np.asarray(matches["dec_offset_arcsec"])[good]),
        beam_major_arcsec=beam_major,
        rms_median_jy=rms_stats["median"],
        rms_min_jy=rms_stats["min"],
        counts_ratio_skads=counts_ratio,
    )
    logger.info("Validation of %s:\n%s", image, summary.describe())

    paths = {
        "figure": output_dir / f"{prefix}.png",
        "matches": output_dir / f"{prefix}.matches.csv",
        "groups": output_dir / f"{prefix}.groups.csv",
        "completeness": output_dir / f"{prefix}.completeness.csv",
        "counts": output_dir / f"{prefix}.counts.csv",
        "psf": output_dir / f"{prefix}.psf.csv",
        "summary_json": output_dir / f"{prefix}.summary.json",
    }
    _write_table(matches, paths["matches"])
    _write_table(matches[np.asarray(matches["n_components"]) > 1], paths["groups"])
    _write_table(completeness, paths["completeness"])
    _write_table(counts, paths["counts"])
    _write_table(psf, paths["psf"])
    with atomic_path(paths["summary_json"], overwrite=True) as temporary:
        temporary.write_text(summary.model_dump_json(indent=2))
    with atomic_path(paths["figure"], overwrite=True) as temporary:
        plot_validation(temporary, matches, completeness, counts, psf, rms, summary)
    return ValidationResult(summary=summary, **paths)


def read_summary(path: str | os.PathLike[str]) -> ValidationSummary:
    """Load a summary written by :func:`validate`."""
    return ValidationSummary.model_validate_json(Path(path).read_text())
