"""A vectorised sky model: one array entry per component, wsclean spectral conventions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np
from astropy.coordinates import angular_separation
from numpy.typing import ArrayLike, NDArray

from flint.errors import SkyModelError

if TYPE_CHECKING:
    from astropy.table import Table

KINDS = ("point", "gaussian")


def _vector(values: ArrayLike | None, count: int, default, dtype) -> NDArray:
    """Broadcast ``values`` (or ``default``) to a read-only 1-D array of ``count`` entries."""
    array = np.asarray(default if values is None else values, dtype=dtype)
    if array.ndim == 0:
        array = np.full(count, array, dtype=dtype)
    return array


@dataclass(frozen=True, eq=False)
class SkyModel:
    """Components of a sky model, stored as parallel numpy arrays (read-only).

    Positions are J2000 degrees; ``flux_jy`` is Stokes I at ``reference_hz``;
    ``spectral_terms`` [ncomp, nterms] are wsclean's ``SpectralIndex`` polynomial
    (zero-padded), interpreted per ``logarithmic`` (see :meth:`flux_at`). Gaussian
    axes are FWHM in arcsec and ``pa_deg`` is east of north; both are 0 for points.
    Scalars given for per-component fields are broadcast. Without ``kinds`` a
    component is a Gaussian when either axis is > 0; without ``names`` they are
    ``c0, c1, ...``; RA is wrapped into [0, 360).
    """

    ra_deg: NDArray[np.float64]
    dec_deg: NDArray[np.float64]
    flux_jy: NDArray[np.float64]
    reference_hz: NDArray[np.float64]
    spectral_terms: NDArray[np.float64] | None = None
    logarithmic: NDArray[np.bool_] | None = True
    kinds: NDArray[np.str_] | None = None
    major_arcsec: NDArray[np.float64] | None = None
    minor_arcsec: NDArray[np.float64] | None = None
    pa_deg: NDArray[np.float64] | None = None
    names: NDArray[np.str_] | None = field(default=None)

    def __post_init__(self) -> None:
        ra = np.atleast_1d(np.asarray(self.ra_deg, dtype=float))
        count = ra.size
        values = {
            "ra_deg": np.mod(ra, 360.0),
            "dec_deg": _vector(self.dec_deg, count, None, float),
            "flux_jy": _vector(self.flux_jy, count, None, float),
            "reference_hz": _vector(self.reference_hz, count, None, float),
            "logarithmic": _vector(self.logarithmic, count, True, bool),
            "major_arcsec": _vector(self.major_arcsec, count, 0.0, float),
            "minor_arcsec": _vector(self.minor_arcsec, count, 0.0, float),
            "pa_deg": _vector(self.pa_deg, count, 0.0, float),
            "names": _vector(self.names, count, None, str)
            if self.names is not None
            else np.array([f"c{index}" for index in range(count)], dtype=str),
        }
        if self.kinds is None:
            gaussian = (values["major_arcsec"] > 0) | (values["minor_arcsec"] > 0)
            values["kinds"] = np.where(gaussian, "gaussian", "point").astype("<U8")
        else:
            values["kinds"] = np.char.lower(_vector(self.kinds, count, None, str)).astype("<U8")
        terms = np.zeros((count, 0)) if self.spectral_terms is None else self.spectral_terms
        terms = np.asarray(terms, dtype=float)
        if terms.ndim == 1 and count == 1:
            terms = terms[np.newaxis, :]
        elif terms.ndim == 1:
            terms = np.broadcast_to(terms, (count, terms.size))
        values["spectral_terms"] = np.array(terms, dtype=float)
        self._check(values, count)
        for name, array in values.items():
            array = np.array(array)
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @staticmethod
    def _check(values: dict[str, NDArray], count: int) -> None:
        """Raise one :class:`SkyModelError` listing every inconsistency."""
        problems = [
            f"{name} has {array.shape[0] if array.ndim else 1} entries, expected {count}"
            for name, array in values.items()
            if array.ndim == 0 or array.shape[0] != count
        ]
        if values["spectral_terms"].ndim != 2:
            problems.append("spectral_terms must be 2-D [ncomp, nterms]")
        if problems:
            raise SkyModelError("; ".join(problems))
        unknown = sorted(set(values["kinds"]) - set(KINDS))
        if unknown:
            problems.append(f"unknown component kind(s) {unknown}; expected one of {list(KINDS)}")
        for name in ("ra_deg", "dec_deg", "flux_jy", "reference_hz", "spectral_terms"):
            if not np.all(np.isfinite(values[name])):
                problems.append(f"{name} has non-finite values")
        if np.any(np.abs(values["dec_deg"]) > 90):
            problems.append("dec_deg outside [-90, 90]")
        if np.any(values["reference_hz"] <= 0):
            problems.append("reference_hz must be positive")
        gaussian = values["kinds"] == "gaussian"
        if np.any(
            ~(values["major_arcsec"][gaussian] > 0) | ~(values["minor_arcsec"][gaussian] > 0)
        ):
            problems.append("gaussian components need major_arcsec and minor_arcsec > 0")
        if problems:
            raise SkyModelError("; ".join(problems))

    def __len__(self) -> int:
        return int(self.ra_deg.size)

    def __repr__(self) -> str:
        gaussians = int(np.count_nonzero(self.kinds == "gaussian"))
        total = float(np.sum(self.flux_jy))
        return f"SkyModel({len(self)} components, {gaussians} gaussian, total {total:.4g} Jy)"

    @property
    def nterms(self) -> int:
        """Number of spectral polynomial terms (after zero-padding)."""
        return int(self.spectral_terms.shape[1])

    def flux_at(self, frequencies_hz: ArrayLike) -> NDArray[np.float64]:
        """Stokes I of every component at ``frequencies_hz``: shape [ncomp, nfreq].

        Follows wsclean's component-list conventions (schaapcommon's
        ``NonLinearPowerLawFitter::Evaluate`` for the logarithmic case), with
        x = ν/ν0 and terms c0, c1, ...:

        - ``logarithmic``: S = S0 · 10^(Σ c_k · log10(x)^(k+1)), i.e.
          log10 S = log10 S0 + c0·log10 x + c1·(log10 x)² + ...;
        - otherwise an ordinary polynomial: S = S0 + Σ c_k · (x − 1)^(k+1).
        """
        frequencies = np.atleast_1d(np.asarray(frequencies_hz, dtype=float))
        ratio = frequencies[np.newaxis, :] / self.reference_hz[:, np.newaxis]
        powers = np.arange(1, self.nterms + 1)
        log_x = np.log10(ratio)[..., np.newaxis] ** powers
        linear_x = (ratio - 1.0)[..., np.newaxis] ** powers
        terms = self.spectral_terms[:, np.newaxis, :]
        logarithmic = self.flux_jy[:, np.newaxis] * 10.0 ** np.sum(terms * log_x, axis=-1)
        ordinary = self.flux_jy[:, np.newaxis] + np.sum(terms * linear_x, axis=-1)
        return np.where(self.logarithmic[:, np.newaxis], logarithmic, ordinary)

    def separation_deg(self, ra_deg: float, dec_deg: float) -> NDArray[np.float64]:
        """Angular distance (deg) of every component from the direction (ra_deg, dec_deg)."""
        return np.rad2deg(
            angular_separation(
                np.deg2rad(self.ra_deg),
                np.deg2rad(self.dec_deg),
                np.deg2rad(ra_deg),
                np.deg2rad(dec_deg),
            )
        )

    def select(self, mask_or_indices: ArrayLike) -> SkyModel:
        """The components picked by a boolean mask or an index array, as a new model."""
        pick = np.asarray(mask_or_indices)
        if pick.dtype == bool and pick.shape != (len(self),):
            raise SkyModelError(f"selection mask has shape {pick.shape}, expected ({len(self)},)")
        return SkyModel(**{item.name: getattr(self, item.name)[pick] for item in fields(self)})

    @classmethod
    def concatenate(cls, models: Iterable[SkyModel]) -> SkyModel:
        """Join models into one; spectral terms are zero-padded to the longest."""
        models = list(models)
        if not models:
            raise SkyModelError("cannot concatenate an empty list of sky models")
        nterms = max(model.nterms for model in models)
        padded = [
            np.pad(model.spectral_terms, ((0, 0), (0, nterms - model.nterms))) for model in models
        ]
        joined = {
            item.name: np.concatenate([getattr(model, item.name) for model in models])
            for item in fields(cls)
            if item.name != "spectral_terms"
        }
        return cls(spectral_terms=np.concatenate(padded, axis=0), **joined)

    def to_table(self) -> Table:
        """An astropy Table with Aegean column names (see :func:`flint.sky.tables.sky_to_table`)."""
        from flint.sky.tables import sky_to_table

        return sky_to_table(self)


def concatenate(models: Sequence[SkyModel]) -> SkyModel:
    """Join sky models into one (see :meth:`SkyModel.concatenate`)."""
    return SkyModel.concatenate(models)
