"""UVW coordinates of an array tracking a J2000 phase centre.

Per integration, casacore measures give the 3×3 matrix that maps an ITRF baseline
to (u, v, w) in metres for the J2000 phase centre (precession, nutation, Earth
rotation, polar motion and the aberration rotation that casacore applies); every
baseline of that integration is then one vectorised matrix product. The result
agrees with casacore's own per-row UVW (``mscal.uvwj2000``) to far below 1 mm.

Convention (the measurement-set one, as casacore and CASA compute it): the UVW of
a row is that of the baseline ANTENNA1 → ANTENNA2, i.e. X[ANTENNA2] − X[ANTENNA1].
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

SIDEREAL_RATE = 1.002737909350795  # sidereal days per solar (UT1) day


def _measures(centre_itrf_m: NDArray[np.float64]):
    from casacore import quanta
    from casacore.measures import measures

    dm = measures()
    dm.do_frame(dm.position("itrf", *[quanta.quantity(float(x), "m") for x in centre_itrf_m]))
    return dm, quanta


def uvw_matrices(
    times_mjd_s: NDArray[np.float64],
    centre_itrf_m: NDArray[np.float64],
    ra_rad: float,
    dec_rad: float,
) -> NDArray[np.float64]:
    """[ntime, 3, 3] matrices M with uvw = b_itrf @ M for each time (UTC MJD seconds)."""
    dm, qa = _measures(centre_itrf_m)
    dm.do_frame(dm.direction("j2000", qa.quantity(ra_rad, "rad"), qa.quantity(dec_rad, "rad")))
    unit = [qa.quantity([1.0, 0.0, 0.0], "m"), qa.quantity([0.0, 1.0, 0.0], "m")]
    unit.append(qa.quantity([0.0, 0.0, 1.0], "m"))
    baselines = dm.baseline("itrf", *unit)
    matrices = np.empty((len(times_mjd_s), 3, 3))
    for index, time in enumerate(np.asarray(times_mjd_s, dtype=float)):
        dm.do_frame(dm.epoch("utc", qa.quantity(time, "s")))
        values = dm.to_uvw(baselines)["xyz"].get_value()
        matrices[index] = np.asarray(values, dtype=float).reshape(3, 3)
    return matrices


def antenna_uvw(
    itrf_m: NDArray[np.float64],
    times_mjd_s: NDArray[np.float64],
    ra_rad: float,
    dec_rad: float,
    centre_itrf_m: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """[ntime, nant, 3] UVW of each antenna relative to the array centre."""
    centre = itrf_m.mean(axis=0) if centre_itrf_m is None else centre_itrf_m
    matrices = uvw_matrices(times_mjd_s, centre, ra_rad, dec_rad)
    return np.einsum("ai,tij->taj", itrf_m - centre, matrices)


def baseline_uvw(
    ant_uvw: NDArray[np.float64], ant1: NDArray[np.integer], ant2: NDArray[np.integer]
) -> NDArray[np.float64]:
    """[ntime * nbl, 3] row UVWs (time-major) from antenna UVWs: X[ant2] − X[ant1]."""
    return (ant_uvw[:, ant2, :] - ant_uvw[:, ant1, :]).reshape(-1, 3)


def utc_for_hour_angle(
    date_mjd: float, ra_rad: float, hour_angle_h: float, centre_itrf_m: NDArray[np.float64]
) -> float:
    """First UTC (MJD seconds) on or after ``date_mjd`` when the hour angle of ``ra_rad`` is given."""
    dm, qa = _measures(centre_itrf_m)
    target = (ra_rad / (2 * math.pi) + hour_angle_h / 24.0) % 1.0
    time_days = float(date_mjd)
    for _ in range(3):
        epoch = dm.epoch("utc", qa.quantity(time_days, "d"))
        last = dm.measure(epoch, "last")["m0"]["value"] % 1.0
        time_days += (
            (target - last) % 1.0 if _ == 0 else ((target - last + 0.5) % 1.0 - 0.5)
        ) / SIDEREAL_RATE
    return time_days * 86400.0
