"""A beam's working copy: one measurement set changed in place, so a beam never takes more
than two copies of its visibilities on disk (the raw data, only read, and this one).

See :mod:`flint.working.record` for what the copy records about itself and how a run killed
while it changed is repaired.
"""

from flint.working.copy import (
    DROPPED_COLUMNS,
    WorkingCopy,
    calibrate_in_place,
    ensure_clean,
    flag_in_place,
    make_working_copy,
)
from flint.working.gains import AppliedGains, applied_solutions, apply_gains, fill_noise
from flint.working.peeling import find_outliers_in_place, refine_in_place, subtract_in_place
from flint.working.record import HeldColumns, steps_dir
from flint.working.rounds import image_round, keep_round_copy, noise_image, solve_round
from flint.working.summary import RunSummary, describe_summary, summarise_run

__all__ = [
    "DROPPED_COLUMNS",
    "AppliedGains",
    "HeldColumns",
    "RunSummary",
    "WorkingCopy",
    "applied_solutions",
    "apply_gains",
    "calibrate_in_place",
    "describe_summary",
    "ensure_clean",
    "fill_noise",
    "find_outliers_in_place",
    "flag_in_place",
    "image_round",
    "keep_round_copy",
    "make_working_copy",
    "noise_image",
    "refine_in_place",
    "solve_round",
    "steps_dir",
    "subtract_in_place",
    "summarise_run",
]
