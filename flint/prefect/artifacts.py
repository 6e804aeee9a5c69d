"""Key results as Prefect artifacts, so the Prefect UI shows them beside the run: the
validation summary, each beam's distance from the thermal limit, and where the products are.

The markdown and tables are built by pure functions (tested without a server); the task
publishes them in the flow run that submitted it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from flint.validation import ValidationResult
from flint.validation.thermal import ThermalLimit


def thermal_rows(limits: Sequence[ThermalLimit]) -> list[dict[str, Any]]:
    """One row per beam image: residual and noise-alone rms (uJy) and their ratio (pure)."""
    return [
        {
            "image": limit.residual.name,
            "residual rms (uJy)": round(1e6 * limit.residual_rms_jy, 2),
            "noise alone (uJy)": round(1e6 * limit.noise_rms_jy, 2),
            "ratio": round(limit.ratio, 4),
            "clean floor": None if limit.clean_floor is None else round(limit.clean_floor, 4),
        }
        for limit in limits
    ]


def validation_markdown(result: ValidationResult) -> str:
    """The validation's headline numbers and files as markdown (pure)."""
    lines = ["## Validation against the truth", ""]
    lines += [f"- {line}" for line in result.summary.describe().splitlines()]
    lines += ["", f"Figure: `{result.figure}`", f"Matches: `{result.matches}`"]
    return "\n".join(lines)


def products_markdown(title: str, output_dir: Path, paths: Sequence[Path]) -> str:
    """Where a flow's products are (pure)."""
    lines = [f"## {title}", "", f"Output directory: `{output_dir}`", ""]
    lines += [f"- `{path}`" for path in paths]
    return "\n".join(lines)


@task(name="publish", cache_policy=NO_CACHE, persist_result=False)
def publish_results(
    output_dir: Path,
    results: list[Any],
    products: list[Path],
    title: str = "Products",
) -> list[str]:
    """Publish thermal ratios, the validation and product paths as artifacts of this run;
    returns the artifact keys made."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    keys = []
    limits = [r for r in results if isinstance(r, ThermalLimit)]
    if limits:
        create_table_artifact(
            thermal_rows(limits),
            key="thermal-ratios",
            description="Residual rms over the rms of the noise imaged alone (1 = thermal limit)",
        )
        keys.append("thermal-ratios")
    for result in results:
        if isinstance(result, ValidationResult):
            create_markdown_artifact(
                validation_markdown(result), key="validation", description="Validation summary"
            )
            keys.append("validation")
    existing = [Path(p) for p in products if Path(p).exists()]
    create_markdown_artifact(
        products_markdown(title, Path(output_dir), existing),
        key="products",
        description=f"{title} in {output_dir}",
    )
    keys.append("products")
    return keys
