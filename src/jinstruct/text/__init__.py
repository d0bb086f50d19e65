"""Japanese text utilities: normalisation, character classes, PII masking."""
