"""flint's flows: bandpass calibration, continuum imaging and the demo."""
