"""The small record of a validation that flows print and store."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ValidationSummary(BaseModel):
    """Headline numbers of one catalogue's validation (NaN when not measurable)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True, ser_json_inf_nan="constants"
    )

    n_truth: int
    """Truth sources inside the image (finite rms): groups of components that blend at the
    image's resolution (see :mod:`flint.validation.grouping`)."""
    n_truth_components: int = 0
    """Truth components in those sources."""
    n_blended: int = 0
    """Sources made of more than one blended component (listed in ``*.groups.csv``)."""
    n_catalogue: int
    """Components in the catalogue."""
    n_matched: int
    """Truth sources with a matching component."""
    n_unmatched_components: int
    """Components with no truth source nearby (spurious, or missing from the truth)."""
    snr_threshold: float
    """Signal-to-noise above which the headline numbers are measured."""
    n_truth_above_snr: int
    """Truth sources whose expected flux is above ``snr_threshold`` × the local rms."""
    completeness_above_snr: float
    """Fraction of those that were found."""
    median_flux_ratio: float
    """Median of measured / true integrated flux for matched sources above the threshold."""
    flux_ratio_scatter: float
    """Robust (MAD-based) scatter of that ratio."""
    n_resolved_above_snr: int = 0
    """Matched sources above the threshold that are resolved (``resolved_beams``)."""
    median_flux_ratio_resolved: float = float("nan")
    """Median of measured / true integrated flux for those resolved sources alone."""
    median_offset_beams: float
    """Median distance catalogue − truth in units of the restoring beam's major axis."""
    median_ra_offset_arcsec: float
    """Median ΔRA·cos δ (catalogue − truth)."""
    median_dec_offset_arcsec: float
    """Median ΔDec (catalogue − truth)."""
    beam_major_arcsec: float
    """Restoring beam major axis used for the match radius and offsets."""
    rms_median_jy: float
    """Median of the rms map [Jy/beam]."""
    rms_min_jy: float
    """Minimum of the rms map [Jy/beam]."""
    counts_ratio_skads: float
    """Median over populated bins of measured / SKADS Euclidean-normalised counts."""

    def describe(self) -> str:
        """A few lines for a terminal or log."""
        return "\n".join(
            [
                f"sources: {self.n_catalogue} found, {self.n_truth} true, {self.n_matched} matched, "
                f"{self.n_unmatched_components} unmatched components",
                f"completeness above {self.snr_threshold:g} sigma: {self.completeness_above_snr:.1%} "
                f"of {self.n_truth_above_snr}",
                f"grouped: {self.n_truth_components} true components blend into "
                f"{self.n_truth} sources ({self.n_blended} of several components)",
                f"flux ratio (measured/true, integrated): median {self.median_flux_ratio:.3f}, "
                f"scatter {self.flux_ratio_scatter:.3f}; resolved sources "
                f"{self.median_flux_ratio_resolved:.3f} (of {self.n_resolved_above_snr})",
                f"astrometry: median offset {self.median_offset_beams:.3f} beam "
                f'(dRA {self.median_ra_offset_arcsec:+.2f}", dDec {self.median_dec_offset_arcsec:+.2f}")',
                f"rms: median {self.rms_median_jy * 1e6:.1f} uJy/beam, min {self.rms_min_jy * 1e6:.1f}",
                f"source counts / SKADS: {self.counts_ratio_skads:.2f}",
            ]
        )
