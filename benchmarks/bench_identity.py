"""Benchmark the rerun rule's identity checks on a full-size measurement set; writes JSON.

Measures, on one beam's MS (default: simulated with ``flint simulate field``: 288 channels,
90 integrations, 666 baselines with autocorrelations, ~1 GB):

- ``fingerprint_first_s``: the first content fingerprint (SHA-256 of every file, cached);
- ``fingerprint_cached_s``: the same MS again (a ``stat`` per file, nothing read);
- ``product_identity_s``: the identity of a product flint made (sidecar + ``stat``s);
- ``recipe_made_s``: a whole reuse check (:meth:`Recipe.made`) of a product made from it;
- ``stat_signature_s``: one stat walk of the MS.

The page cache is not dropped (a shared machine): ``fingerprint_first_s`` reads from memory
when the MS was just written, so it is a lower bound of a cold read.

Usage: python benchmarks/bench_identity.py [--ms MS] [--workdir DIR]
       [--out benchmarks/results/identity.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(function, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def _simulate(workdir: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "flint.cli", "simulate", "field", "--output", str(workdir),
         "--beams", "0", "--random-sky-min-jy", "0.05", "--include-autos"],
        check=True,
    )  # fmt: skip
    (ms,) = workdir.glob("*/*.ms")
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ms", type=Path, help="measurement set (default: simulate one)")
    parser.add_argument("--workdir", type=Path, help="where to simulate (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/identity.json")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flint-bench-identity-"))
    os.environ["FLINT_FINGERPRINT_CACHE"] = str(workdir / "fingerprints")
    from flint.identity import Recipe, fingerprint, identity, stat_signature
    from flint.ms import summarise_ms

    ms = args.ms or _simulate(workdir)
    summary = summarise_ms(ms)
    size = sum(f.stat().st_size for f in ms.rglob("*") if f.is_file())
    shutil.rmtree(workdir / "fingerprints", ignore_errors=True)
    first = _timed(lambda: fingerprint(ms))
    cached = _timed(lambda: fingerprint(ms), repeat=5)
    product = workdir / "product.txt"
    product.write_text("a product made from the MS")
    recipe = Recipe.of("bench", {"ms": ms}, {"option": 1})
    recipe.record(product)
    made = _timed(lambda: Recipe.of("bench", {"ms": ms}, {"option": 1}).made(product), repeat=5)
    result = {
        "ms": str(ms),
        "ms_bytes": size,
        "rows": summary.n_rows,
        "channels": summary.n_channels,
        "fingerprint_first_s": round(first, 3),
        "fingerprint_first_mb_per_s": round(size / 1e6 / first, 1),
        "fingerprint_cached_s": round(cached, 4),
        "product_identity_s": round(_timed(lambda: identity(product), repeat=5), 6),
        "recipe_made_s": round(made, 4),
        "stat_signature_s": round(_timed(lambda: stat_signature(ms), repeat=5), 4),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min": os.getloadavg()[0]},
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
