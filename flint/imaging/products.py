"""The record of what one wsclean run produced."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from flint.imaging.options import WSCleanOptions, polarisations


class ImageProducts(BaseModel):
    """Paths of a finished wsclean run; main products are the MFS (or only) first polarisation."""

    model_config = ConfigDict(frozen=True)

    prefix: Path
    """Common prefix of every product (``output_dir/name``)."""
    image: Path
    """Restored image."""
    residual: Path | None = None
    """Residual image (None without cleaning)."""
    model: Path | None = None
    """Clean-component model image (None without cleaning)."""
    psf: Path | None = None
    """Point-spread function."""
    dirty: Path | None = None
    """Dirty image."""
    channel_images: list[Path] = []
    """Restored sub-band images, one per output channel (empty with one channel)."""
    source_list: Path | None = None
    """Clean components as a text sky model, when ``save_source_list`` was set."""
    files: dict[str, Path]
    """Every product keyed by its name suffix, e.g. ``0001-residual`` or ``MFS-image``."""
    log: Path | None = None
    """wsclean's full output."""
    options: WSCleanOptions
    """The options of the run that produced these files (after any retries)."""
    attempts: int = 1
    """Runs needed: more than 1 when a diverging clean was retried with safer settings."""

    @classmethod
    def from_files(
        cls, prefix: Path, files: dict[str, Path], options: WSCleanOptions, **extra: object
    ) -> ImageProducts:
        """Pick the main products out of ``files`` as named by :func:`expected_products`."""
        pols = polarisations(options.pol)
        pol = f"-{pols[0]}" if len(pols) > 1 else ""
        mfs = "MFS-" if options.channels_out > 1 else ""
        key = mfs + (f"{pols[0]}-" if pol else "")

        def pick(kind: str) -> Path | None:
            return files.get(f"{key}{kind}")

        # none with one channel (its image has no index) or when sub-band images were not kept
        names = (f"{index:04d}{pol}-image" for index in range(options.channels_out))
        channels = [files[name] for name in names if name in files]
        return cls(
            prefix=prefix,
            image=pick("image"),
            residual=pick("residual"),
            model=pick("model"),
            psf=files.get(f"{mfs}psf"),
            dirty=pick("dirty"),
            channel_images=channels,
            source_list=files.get("sources"),
            files=files,
            options=options,
            **extra,
        )
