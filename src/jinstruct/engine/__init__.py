"""Where the data stages run: in this process (default) or on a Ray cluster.

The engine is chosen by the environment, never by params.yaml, so switching it
does not invalidate DVC's cache: a laptop build and a cluster build of the same
inputs are the same bytes (docs/cluster.md).

settings.py   JINSTRUCT_ENGINE, RAY_ADDRESS, object store and spill settings
session.py    connecting to Ray; its failures as one-line errors
batches.py    per-batch stages (normalize, filter) over Ray Data blocks
plans.py      a stage's per-batch form and how its stats merge
filter_plan.py  the filter stage's per-batch form (normalize's is in pipeline/normalize.py)
dedup.py      the expensive halves of dedup (key features, LSH buckets) on Ray
"""

from jinstruct.engine.settings import EngineSettings, engine_settings

__all__ = ["EngineSettings", "engine_settings"]
