"""What the final clean's spectral polynomial cannot follow: the residual it leaves for good.

wsclean's ``-fit-spectral-pol N`` with ``-deconvolution-channels M`` forces each clean
component's fluxes in the M deconvolution channels onto a polynomial of N terms in
frequency. Where a source's apparent spectrum (its own times the primary beam's, which
falls fast with frequency beyond the half-power point) is not such a polynomial, the
weighted mean over a deconvolution channel of true flux less polynomial stays in that
channel's residual after every major cycle: clean removes it in the minor loop, the next
prediction puts it back, and the clean runs to its ``nmiter`` limit.

Takes a finished demo run and, per beam, evaluates the simulated apparent spectrum of every
component inside the final image in the final round's output channels (each the mean of its
data channels: an output channel's model is flat), fits the polynomial as wsclean does
(output channels grouped into deconvolution channels by ``floor(i * M / channels_out)``,
weighted by the images' ``WSCIMGWG``), and reports per setting:

- the MFS residual the fit leaves at the worst sources (blended components, within 2.5
  pixels, summed), and for the run's own setting the final residual image there;
- ``rms_cost_ujy``: those residuals as PSF-shaped holes, added in quadrature over the image
  (their direct cost; a clean that cannot converge may cost more);
- ``worst_deconvolution_channel_ujy``: the largest persistent residual in one deconvolution
  channel (what keeps the minor loop's peak up).

Usage: python benchmarks/bench_spectral_fit.py RUN_DIR [--beams 20 14 15]
[--settings 3:4 4:6 4:9 5:18] [--out benchmarks/results/spectral_fit.json] [--note TEXT]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
from pathlib import Path

import numpy as np
from _fidelity import output_channel_flux, phase_centre_deg, truth_sky_path

ROOT = Path(__file__).resolve().parents[1]


def persistent_residuals(
    out_flux: np.ndarray, out_freq: np.ndarray, weights: np.ndarray, n_terms: int, n_deconv: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per component, the residual a converged clean leaves: in the MFS image ([comp]) and in
    each deconvolution channel ([comp, n_deconv]) (pure)."""
    n_out = len(out_freq)
    group = np.arange(n_out) * n_deconv // n_out
    in_group = [group == k for k in range(n_deconv)]
    deconv_flux = np.stack(
        [np.average(out_flux[:, g], weights=weights[g], axis=1) for g in in_group], axis=1
    )
    deconv_freq = np.array([np.average(out_freq[g], weights=weights[g]) for g in in_group])
    deconv_weight = np.array([weights[g].sum() for g in in_group])
    x = deconv_freq / deconv_freq.mean()
    design = np.vander(x, n_terms, increasing=True) * np.sqrt(deconv_weight)[:, np.newaxis]
    coefficients = np.linalg.lstsq(design, (deconv_flux * np.sqrt(deconv_weight)).T, rcond=None)[0]
    fitted = (np.vander(out_freq / deconv_freq.mean(), n_terms, increasing=True) @ coefficients).T
    left = out_flux - fitted
    mfs = np.average(left, weights=weights, axis=1)
    per_deconv = np.stack(
        [np.average(left[:, g], weights=weights[g], axis=1) for g in in_group], axis=1
    )
    return mfs, per_deconv


def spectral_fit_beam(run_dir: Path, beam: int, settings: list[tuple[int, int]]) -> dict:
    from astropy.io import fits
    from astropy.wcs import WCS

    from flint.demo import demo_strategy_path
    from flint.imaging.options import image_width_deg
    from flint.sky.io import read_sky
    from flint.sky.realistic import lm_offsets
    from flint.strategy import load_strategy, options_for_round

    strategy = load_strategy(demo_strategy_path())
    final = strategy.selfcal_rounds
    imaging = options_for_round(strategy, "imaging", final)
    tag = f"round{final}"
    sky = read_sky(truth_sky_path(run_dir, beam))
    ra0, dec0 = phase_centre_deg(run_dir, beam)
    images = run_dir / "continuum" / f"beam{beam}" / "images"

    east, north = lm_offsets(sky.ra_deg, sky.dec_deg, ra0 % 360.0, dec0)
    half = math.sin(math.radians(image_width_deg(imaging) / 2))
    inside = (np.abs(east) <= half) & (np.abs(north) <= half)
    sky = sky.select(inside)
    offsets = sky.separation_deg(ra0, dec0)
    out_freq, weights, out_flux = output_channel_flux(run_dir, beam, sky, images, tag)
    n_out = len(out_freq)
    apparent = np.average(out_flux, weights=weights, axis=1)

    residual_path = next(images.glob(f"*{tag}-MFS-residual.fits"))
    residual = np.squeeze(fits.getdata(residual_path))
    wcs = WCS(fits.getheader(residual_path)).celestial
    x, y = wcs.world_to_pixel_values(sky.ra_deg, sky.dec_deg)
    psf = np.squeeze(fits.getdata(next(images.glob(f"*{tag}-MFS-psf.fits"))))
    psf_power = float((psf**2).sum())  # a PSF-shaped hole's summed square, per Jy²
    own = (imaging.fit_spectral_pol, imaging.deconvolution_channels)

    result: dict = {"components_inside": int(inside.sum()), "output_channels": n_out}
    for n_terms, n_deconv in settings:
        mfs, per_deconv = persistent_residuals(out_flux, out_freq, weights, n_terms, n_deconv)
        rms_cost = math.sqrt(float((mfs**2).sum()) * psf_power / residual.size)
        worst = []
        taken = np.zeros(len(mfs), dtype=bool)
        for index in np.argsort(np.abs(mfs))[::-1]:
            if taken[index] or len(worst) >= 8:
                continue
            blend = np.hypot(x - x[index], y - y[index]) < 2.5
            taken |= blend
            row = {
                "pixel": [int(np.rint(x[index])), int(np.rint(y[index]))],
                "offset_deg": round(float(offsets[index]), 2),
                "apparent_mjy": round(float(apparent[blend].sum()) * 1e3, 1),
                "components": int(blend.sum()),
                "left_ujy": round(float(mfs[blend].sum()) * 1e6),
            }
            if (n_terms, n_deconv) == own:
                px, py = row["pixel"]
                box = residual[max(py - 2, 0) : py + 3, max(px - 2, 0) : px + 3]
                row["residual_image_min_max_ujy"] = [
                    round(float(box.min()) * 1e6),
                    round(float(box.max()) * 1e6),
                ]
            worst.append(row)
        result[f"order {n_terms} over {n_deconv}"] = {
            "rms_cost_ujy": round(rms_cost * 1e6, 1),
            "worst_deconvolution_channel_ujy": round(float(np.abs(per_deconv).max()) * 1e6),
            "worst": worst,
        }
        print(f"beam {beam} order {n_terms} over {n_deconv}: rms cost {rms_cost * 1e6:.1f} uJy, "
              f"worst {worst[0]['left_ujy']} uJy at {worst[0]['pixel']}", flush=True)  # fmt: skip
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--beams", type=int, nargs="+", default=[20, 14, 15])
    parser.add_argument("--settings", nargs="+", default=["3:4", "4:6", "4:9", "5:18"],
                        help="ORDER:DECONVOLUTION_CHANNELS")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/spectral_fit.json")
    parser.add_argument("--note", default="", help="what the run is (recorded)")
    args = parser.parse_args()
    settings = [tuple(int(part) for part in item.split(":")) for item in args.settings]
    record = {
        "run_dir": str(args.run_dir),
        "note": args.note,
        "machine": platform.node(),
        "beams": {str(b): spectral_fit_beam(args.run_dir, b, settings) for b in args.beams},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
