"""Measure the image-plane stages (mask: BANE + flood fill; find: BANE + Aegean) at several
image sizes; writes benchmarks/results/image_stages.json for benchmarks/cost_table.py.

The full-beam benchmarks share the demo's image size, so they cannot tell a stage's fixed
cost from its cost per pixel. This one runs the two stages that work on images alone, as
the flows' tasks call them (flint.masking.make_clean_mask, flint.sourcefind.find_sources),
on images of a field of point sources in Gaussian noise with the header of a real wsclean
image (its restoring beam, 12 arcsec pixels), ``--sizes`` pixels a side. Each stage runs in
a process of its own with every core (``FLINT_TASK_CORES``), sampled every 0.2 s: CPU time
(the process and its tools), peak resident memory of the process tree, wall time; and the
load of the machine at the time.

Usage: python benchmarks/bench_image_stages.py [--sizes 1280 3072 6144]
       [--out benchmarks/results/image_stages.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _measure import GiB, Sampler

ROOT = Path(__file__).resolve().parents[1]
STAGE_CODE = {
    "mask": "from flint.masking import make_clean_mask\nmake_clean_mask({image!r}, {out!r})",
    "find": "from flint.sourcefind import find_sources\nfind_sources({image!r}, {out!r})",
}


def synthetic_image(path: Path, size: int, seed: int = 1) -> Path:
    """A restored image of point sources (1 per 10^4 pixels, 1-100 sigma) in unit noise."""
    from astropy.io import fits
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    noise_rms = 1e-4
    image = rng.normal(0.0, noise_rms, (size, size)).astype(np.float32)
    sigma_px = 45.0 / 12.0 / 2.3548  # a 45 arcsec beam on 12 arcsec pixels
    peaks = np.zeros_like(image)
    count = size * size // 10_000
    ys, xs = rng.integers(20, size - 20, (2, count))
    peaks[ys, xs] = noise_rms * 10 ** rng.uniform(0, 2, count)
    image += gaussian_filter(peaks, sigma_px) * (2 * np.pi * sigma_px**2)
    header = fits.Header()
    header.update(
        NAXIS=4, NAXIS1=size, NAXIS2=size, NAXIS3=1, NAXIS4=1,
        CTYPE1="RA---SIN", CRPIX1=size / 2 + 1, CRVAL1=98.75, CDELT1=-12 / 3600, CUNIT1="deg",
        CTYPE2="DEC--SIN", CRPIX2=size / 2 + 1, CRVAL2=-31.0, CDELT2=12 / 3600, CUNIT2="deg",
        CTYPE3="FREQ", CRPIX3=1, CRVAL3=887.5e6, CDELT3=288e6, CUNIT3="Hz",
        CTYPE4="STOKES", CRPIX4=1, CRVAL4=1, CDELT4=1,
        BMAJ=45 / 3600, BMIN=45 / 3600, BPA=0.0, BUNIT="JY/BEAM", EQUINOX=2000.0,
    )  # fmt: skip
    fits.PrimaryHDU(image[None, None], header).writeto(path, overwrite=True)
    return path


def _measure(stage: str, image: Path, out: Path) -> dict:
    code = STAGE_CODE[stage].format(image=str(image), out=str(out))
    started = time.time()
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    with Sampler([process.pid], {}, interval=0.2) as sampler:
        _, error = process.communicate()
    if process.returncode:
        raise SystemExit(f"{stage} on {image} failed:\n{error[-2000:]}")
    ended = time.time()
    return {
        "wall_s": ended - started,
        "cpu_s": max(s.cpu for s in sampler.samples),
        "peak_rss_gib": max(s.rss for s in sampler.samples) / GiB,
        "load": sampler.load(started, ended),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1280, 3072, 6144])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/image_stages.json")
    args = parser.parse_args()
    from flint.cores import available_cores

    os.environ.setdefault("FLINT_TASK_CORES", str(available_cores()))
    runs = []
    with tempfile.TemporaryDirectory(prefix="flint-bench-image-") as work:
        for size in args.sizes:
            image = synthetic_image(Path(work) / f"field{size}-MFS-image.fits", size)
            for stage in STAGE_CODE:
                out = Path(work) / f"{stage}{size}"
                out.mkdir()
                target = out / "mask.fits" if stage == "mask" else out
                result = {"stage": stage, "size": size, "mpix": size * size / 1e6,
                          **_measure(stage, image, target)}  # fmt: skip
                print(json.dumps({k: v for k, v in result.items() if k != "load"}))
                runs.append(result)
    report = {
        "benchmark": "image_stages",
        "cpus": os.cpu_count(),
        "task_cores": int(os.environ["FLINT_TASK_CORES"]),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
