"""Exact and near-duplicate removal (docs/dedup.md).

keys.py      the canonical dedup key of a record
minhash.py   datasketch-compatible MinHash signatures, vectorised and parallel
lsh.py       LSH banding → candidate pairs → similarity
edits.py     verify: edits — aligning a candidate pair's keys, and the guards on what changed
previous.py  verify_pairs (one chain for new-vs-new and new-vs-previous pairs), previous-release matches
clusters.py  union-find, the kept record of a cluster, group merging
index.py     the index a later release deduplicates against
run.py       dedup_records: all of the above over one frame
"""

from jinstruct.dedup.run import EXACT, NEAR, PREVIOUS, DedupOutcome, dedup_records
from jinstruct.dedup.settings import DedupSettings, resolve_settings

__all__ = ["EXACT", "NEAR", "PREVIOUS", "DedupOutcome", "DedupSettings", "dedup_records", "resolve_settings"]
