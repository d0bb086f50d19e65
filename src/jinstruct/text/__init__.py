"""Japanese-aware text processing: the normalisation rule table and PII masking.

``normalize_records(df, params, text_fields)`` is the normalize stage on any
frame; ``normalize_texts(list)`` does the same for plain strings.
"""

from jinstruct.text.normalizer import NormalizeConfig, normalize_records, normalize_texts

__all__ = ["NormalizeConfig", "normalize_records", "normalize_texts"]
