"""The multi-panel validation figure (matplotlib, Agg backend, no pyplot state)."""

from __future__ import annotations

import os

import numpy as np
from astropy.table import Table
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse
from matplotlib.ticker import NullFormatter

from flint.validation.summary import ValidationSummary


def plot_validation(
    path: str | os.PathLike[str],
    matches: Table,
    completeness: Table,
    counts: Table,
    psf: Table,
    rms: np.ndarray,
    summary: ValidationSummary,
) -> None:
    """Write the six-panel PNG: completeness, flux ratio, offsets, rms map, counts, PSFs."""
    figure = Figure(figsize=(15, 9.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 3)
    found = np.asarray(matches["matched"], dtype=bool)

    ax = axes[0, 0]
    if len(completeness):
        mid = np.sqrt(completeness["flux_lo_jy"] * completeness["flux_hi_jy"]) * 1e3
        ax.step(mid, completeness["completeness"], where="mid", color="C0")
        ax.plot(mid, completeness["completeness"], "o", color="C0")
        ax.set_xscale("log")
    ax.set_ylim(-0.05, 1.05)
    ax.set(xlabel="true flux [mJy]", ylabel="completeness", title="Completeness")
    ax.axhline(0.95, color="grey", ls=":")

    ax = axes[0, 1]
    snr = np.asarray(matches["snr"], dtype=float)
    ratio = np.asarray(matches["flux_cat"], dtype=float) / np.asarray(
        matches["flux_jy"], dtype=float
    )
    ax.plot(snr[found], ratio[found], ".", color="C1")
    ax.axhline(1.0, color="grey")
    ax.axhline(summary.median_flux_ratio, color="C3", ls="--", label="median above threshold")
    ax.axvline(summary.snr_threshold, color="grey", ls=":")
    if found.any():
        ax.set_xscale("log")
    ax.set(xlabel="true S/N", ylabel="measured / true flux", title="Flux ratio")
    ax.legend(loc="best", fontsize="small")

    ax = axes[0, 2]
    ax.plot(
        matches["ra_offset_arcsec"][found], matches["dec_offset_arcsec"][found], ".", color="C2"
    )
    half_beam = summary.beam_major_arcsec / 2.0
    if np.isfinite(half_beam):
        ax.add_patch(Circle((0, 0), half_beam * 0.2, fill=False, color="grey", ls=":"))
        ax.set_xlim(-half_beam, half_beam)
        ax.set_ylim(-half_beam, half_beam)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_aspect("equal")
    ax.set(
        xlabel="ΔRA cos δ [arcsec]",
        ylabel="ΔDec [arcsec]",
        title=f"Astrometry (median {summary.median_offset_beams:.3f} beam; circle 0.1 beam)",
    )

    ax = axes[1, 0]
    finite = rms[np.isfinite(rms)]
    if finite.size:
        image = ax.imshow(rms * 1e6, origin="lower", cmap="viridis")
        figure.colorbar(image, ax=ax, label="rms [µJy/beam]")
    ax.set(
        title=f"rms map (median {summary.rms_median_jy * 1e6:.1f} µJy/beam)", xlabel="x", ylabel="y"
    )

    ax = axes[1, 1]
    if len(counts):
        populated = np.asarray(counts["n"]) > 0
        ax.errorbar(
            counts["flux_mid_jy"][populated],
            counts["euclidean"][populated],
            yerr=counts["error"][populated],
            fmt="o",
            color="k",
            label="this catalogue",
        )
        for name, style in (("skads", "-"), ("de_zotti", "--")):
            ax.plot(counts["flux_mid_jy"], counts[name], style, label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(loc="best", fontsize="small")
    ax.set(
        xlabel="S(1.4 GHz) [Jy]",
        ylabel="S$^{2.5}$ dN/dS [Jy$^{1.5}$ sr$^{-1}$]",
        title="Source counts",
    )

    ax = axes[1, 2]
    if len(psf):
        size = float(np.nanmax(psf["bmaj_arcsec"]))
        for i, row in enumerate(psf):
            ax.add_patch(
                Ellipse(
                    (i * 1.2 * size, 0),
                    row["bmin_arcsec"],
                    row["bmaj_arcsec"],
                    angle=-row["bpa_deg"],  # x is inverted: east (left) of north
                    fill=False,
                    color=f"C{i % 10}",
                )
            )
            ax.annotate(str(i), (i * 1.2 * size, -0.75 * size), ha="center")
        ax.set_xlim(-size, len(psf) * 1.2 * size)
        ax.set_ylim(-size, size)
        ax.set_aspect("equal")
    ax.set(title="Restoring beam per image (N up, E left)", xlabel="arcsec", ylabel="arcsec")
    if len(psf):
        ax.invert_xaxis()

    for ax in axes.flat:
        ax.xaxis.set_minor_formatter(NullFormatter())
    figure.suptitle(summary.describe().splitlines()[1], fontsize="medium")
    figure.savefig(path, dpi=90, format="png")
