"""Small real flow products, laid out as the bandpass and continuum flows write them.

A real 3-integration ASKAP MS holding a 2 Jy point source is imaged by wsclean twice (round 0
barely cleaned, round 1 cleaned), Aegean catalogues round 1, the one beam is mosaicked, the
catalogue is validated against the source, and real bandpass solutions are repaired and plotted.
About 30 s; the results panel tests look at these.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import test_wsclean as wsclean_helpers  # module import: its tests are not collected here
from casacore.tables import table

DATA = Path(__file__).parent / "data"
MS_ZIP = DATA / "SB39400.RACS_0635-31.beam0.small.ms.zip"
SOLUTIONS = DATA / "SB39433.B1934-638.beam0.calibrate.bin"
FLUX_JY = 2.0


@dataclass(frozen=True)
class RealProducts:
    root: Path
    """Holds ``bandpass/`` and ``continuum/`` (as ``flint demo`` lays them out)."""
    continuum: Path
    images: dict[tuple[int, str], Path]
    """(round, kind) -> the beam-0 MFS image of that kind."""
    catalogue: Path
    mosaic: Path
    bandpass_plot: Path
    validation_plot: Path
    source_deg: tuple[float, float]


def make_real_products(root: Path) -> RealProducts:
    from flint.calibration.repair import repair_solutions_file
    from flint.imaging import run_wsclean
    from flint.mosaic import mosaic_images
    from flint.sky import SkyModel
    from flint.sourcefind import find_sources
    from flint.validation import validate

    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(MS_ZIP) as archive:
        archive.extractall(root / "data")
    (ms,) = (root / "data").glob("*.ms")
    with table(f"{ms}/FIELD", ack=False) as field:
        ra0, dec0 = np.rad2deg(field.getcol("PHASE_DIR")[0, 0])
    ra, dec = ra0 + 1.5 / 60 / np.cos(np.deg2rad(dec0)), dec0 + 1.0 / 60
    wsclean_helpers.fill_point_source(ms, ra, dec, FLUX_JY, noise_jy=1.0)

    continuum = root / "continuum"
    images_dir = continuum / "beam00" / "images"
    small = wsclean_helpers.SMALL.with_options(save_source_list=False)
    images = {}
    for round_number, niter in ((0, 5), (1, small.niter)):
        made = run_wsclean(
            ms, small.with_options(niter=niter), images_dir, f"{ms.stem}.round{round_number}"
        )
        images[round_number, "image"] = made.image
        images[round_number, "residual"] = made.residual
        images[round_number, "model"] = made.model
    found = find_sources(images[1, "image"], continuum / "beam00" / "catalogues")
    mosaic = continuum / "mosaic" / "round1" / "mosaic.round1.fits"
    mosaic_images([images[1, "image"]], mosaic)
    sky = SkyModel(ra_deg=[ra], dec_deg=[dec], flux_jy=[FLUX_JY], reference_hz=[888e6])
    validated = validate(
        found.catalogue_fits, sky, images[1, "image"], found.rms, continuum / "validation"
    )
    bandpass = root / "bandpass"
    repaired = repair_solutions_file(SOLUTIONS, bandpass / f"{SOLUTIONS.stem}.repaired.bin")
    return RealProducts(
        root=root,
        continuum=continuum,
        images=images,
        catalogue=found.catalogue_fits,
        mosaic=mosaic,
        bandpass_plot=repaired.plot_path,
        validation_plot=validated.figure,
        source_deg=(float(ra), float(dec)),
    )
