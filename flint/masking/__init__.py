"""Clean masks from signal-to-noise maps (background and rms from BANE)."""

from flint.masking.bane import BackgroundMaps, build_bane_command, run_bane
from flint.masking.mask import flood_fill_mask, make_clean_mask, signal_to_noise, write_mask
from flint.masking.options import MaskingOptions

__all__ = [
    "BackgroundMaps",
    "MaskingOptions",
    "build_bane_command",
    "flood_fill_mask",
    "make_clean_mask",
    "run_bane",
    "signal_to_noise",
    "write_mask",
]
