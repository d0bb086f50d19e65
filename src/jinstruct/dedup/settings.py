"""The ``dedup`` params section, resolved and checked once.

Every number has its reason next to it in params.yaml; this module only fills
defaults, derives the LSH bands × rows, and turns a bad value into a one-line
``InputError`` instead of a traceback deep inside numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinstruct.records import InputError

DEFAULT_FIELDS = ("instruction", "input", "output")
VERIFY_MODES = ("edits", "signature", "exact")


@dataclass(frozen=True)
class DedupSettings:
    fields: tuple[str, ...] = DEFAULT_FIELDS
    ngram: int = 5
    num_perm: int = 128
    seed: int = 1
    threshold: float = 0.8
    containment: float = 0.95
    lsh_threshold: float = 0.4
    bands: int = 0
    rows: int = 0
    verify: str = "edits"
    edit_share: float = 0.85
    numbers_must_match: bool = True
    names_must_match: bool = True
    field_overlap: float = 0.5
    bucket_window: int = 32
    source_priority: tuple[str, ...] = ()
    n_jobs: int = 1
    chunk_records: int = 20_000
    previous_index: str | None = None

    def index_identity(self) -> dict:
        """What must match between two builds for their signatures to be comparable."""
        return {"fields": list(self.fields), "ngram": self.ngram, "num_perm": self.num_perm, "seed": self.seed,
                "field_sketch": [FIELD_NGRAM, FIELD_PERM], "key_version": KEY_VERSION}


# The per-field check (lsh.fields_agree) uses character bigrams, so that one
# typo in a ten-character question still leaves most of its n-grams, and 16
# permutations: enough to tell "the same question" (overlap near 1) from
# "another question on the same passage" (overlap near 0) at an eighth of
# the main signature's cost.
FIELD_NGRAM = 2
FIELD_PERM = 16

# Bumped whenever keys.canonical_texts or what the index stores changes, so an
# old index is refused rather than silently compared with differently normalised
# keys or read for columns it lacks (2: katakana words for names_must_match, one
# compiled fold pass, 16-bit sketch values; 3: shingles and field_sizes count
# distinct n-grams, not positions).
KEY_VERSION = 3


# datasketch's answers for the default LSH thresholds at 128 permutations (tests/dedup/test_minhash.py
# checks them against datasketch): importing datasketch pulls scipy.integrate and scipy.optimize,
# ~1 s of the standalone command's start-up, for a number that does not change
_KNOWN_SHAPES = {(0.4, 128): (32, 4), (0.6, 128): (18, 7)}


def lsh_shape(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) of datasketch.MinHashLSH(threshold, num_perm)."""
    known = _KNOWN_SHAPES.get((threshold, num_perm))
    if known is not None:
        return known
    from datasketch import MinHashLSH
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def _positive_int(params: dict, name: str, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"dedup.{name}: expected a positive integer, got {value!r}")
    return value


def _share(params: dict, name: str, default: float) -> float:
    value = params.get(name, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise InputError(f"dedup.{name}: expected a share in [0, 1], got {value!r}")
    return float(value)


def resolve_settings(params: dict | None, text_fields: list[str] | tuple[str, ...] | None = None) -> DedupSettings:
    """Settings from a ``dedup`` params section; ``text_fields`` (CLI) override ``fields``."""
    params = dict(params or {})
    fields = tuple(text_fields or params.get("fields") or DEFAULT_FIELDS)
    if isinstance(params.get("fields"), str):
        raise InputError("dedup.fields: expected a list of column names, e.g. [instruction, input, output]")
    ngram = _positive_int(params, "ngram", 5)
    num_perm = _positive_int(params, "num_perm", 128)
    if num_perm < 2:
        raise InputError("dedup.num_perm: at least 2 permutations are needed for LSH")
    threshold = params.get("threshold", 0.8)
    if not isinstance(threshold, (int, float)) or not 0.0 < float(threshold) <= 1.0:
        raise InputError(f"dedup.threshold: expected a Jaccard similarity in (0, 1], got {threshold!r}")
    threshold = float(threshold)
    bands, rows = params.get("bands"), params.get("rows")
    if (bands is None) != (rows is None):
        raise InputError("dedup.bands and dedup.rows: give both (explicit LSH shape) "
                         "or neither (derived from threshold)")
    containment = _share(params, "containment", 0.95)
    lsh_threshold = _share(params, "lsh_threshold", min(threshold, 0.4))
    if bands is None:
        # datasketch's optimiser: the b × r minimising equal-weighted false
        # positive and false negative probability mass around lsh_threshold.
        bands, rows = lsh_shape(lsh_threshold, num_perm)
    else:
        bands, rows = _positive_int(params, "bands", 1), _positive_int(params, "rows", 1)
        if bands * rows > num_perm:
            raise InputError(f"dedup.bands × dedup.rows = {bands * rows} exceeds dedup.num_perm = {num_perm}")
    verify = params.get("verify", "edits")
    if verify not in VERIFY_MODES:
        raise InputError(f"dedup.verify: expected one of {', '.join(VERIFY_MODES)}, got {verify!r}")
    field_overlap = _share(params, "field_overlap", 0.5)
    edit_share = _share(params, "edit_share", 0.85)
    priority = params.get("source_priority") or []
    if not isinstance(priority, list):
        raise InputError("dedup.source_priority: expected a list of source names")
    previous = params.get("previous_index") or None
    return DedupSettings(
        fields=fields, ngram=ngram, num_perm=num_perm, seed=int(params.get("seed", 1)), threshold=threshold,
        bands=bands, rows=rows, verify=verify, numbers_must_match=bool(params.get("numbers_must_match", True)),
        names_must_match=bool(params.get("names_must_match", True)),
        field_overlap=field_overlap, edit_share=edit_share, containment=containment, lsh_threshold=lsh_threshold,
        bucket_window=_positive_int(params, "bucket_window", 32), source_priority=tuple(priority),
        n_jobs=_positive_int(params, "n_jobs", 1), chunk_records=_positive_int(params, "chunk_records", 20_000),
        previous_index=str(previous) if previous else None,
    )
