"""Self-calibration: gains against the model of the previous image."""

from flint.selfcal.gains import SelfcalGains, solve_selfcal_gains

__all__ = ["SelfcalGains", "solve_selfcal_gains"]
