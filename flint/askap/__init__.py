"""ASKAP specifics: preprocessing of raw and CASDA measurement sets."""

from flint.askap.preprocess import PreprocessResult, is_casda_name, preprocess_askap_ms

__all__ = ["PreprocessResult", "is_casda_name", "preprocess_askap_ms"]
