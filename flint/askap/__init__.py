"""ASKAP specifics: correlation frames (:mod:`.frames`), beam pointings (:mod:`.pointing`)
and preprocessing of raw and CASDA measurement sets (:mod:`.preprocess`)."""
