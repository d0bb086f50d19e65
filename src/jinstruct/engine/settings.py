"""The engine settings, read from the environment only.

They say where a stage runs, not what it produces, so they are never DVC
params: ``dvc repro`` on a cluster reuses what a laptop built and vice versa.

- ``JINSTRUCT_ENGINE``: ``inprocess`` (default) or ``ray``.
- ``RAY_ADDRESS``: the cluster to join (``ray start --head`` prints it); unset:
  a local Ray instance is started for the run.
- ``JINSTRUCT_RAY_OBJECT_STORE_MEMORY``: bytes (suffixes k, M, G) for the object
  store of a local instance; Ray's default is 30% of RAM.
- ``JINSTRUCT_RAY_SPILL_DIR``: where a local instance spills objects when the
  store is full (Ray's default: its session folder under /tmp).
- ``JINSTRUCT_RAY_BLOCK_RECORDS``: records per block (default 20,000): the unit
  of work, of retries and of the progress bar.
- ``JINSTRUCT_RAY_CPUS``: CPUs of a local instance (default: all).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from jinstruct.records import InputError

ENGINES = ("inprocess", "ray")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


@dataclass(frozen=True)
class EngineSettings:
    engine: str = "inprocess"
    address: str | None = None
    object_store_memory: int | None = None
    spill_dir: str | None = None
    block_records: int = 20_000
    cpus: int | None = None

    @property
    def on_ray(self) -> bool:
        return self.engine == "ray"


def _size(name: str, text: str | None) -> int | None:
    if not text:
        return None
    text = text.strip()
    unit = text[-1].lower() if text[-1].isalpha() else ""
    number = text[:-1] if unit else text
    if unit not in _UNITS or not number.isdigit() or int(number) <= 0:
        raise InputError(f"{name}={text!r}: expected a positive byte count such as 4000000000 or 4G")
    return int(number) * _UNITS[unit]


def _count(name: str, text: str | None, default: int | None) -> int | None:
    if not text:
        return default
    if not text.strip().isdigit() or int(text) <= 0:
        raise InputError(f"{name}={text!r}: expected a positive whole number")
    return int(text)


def engine_settings(environ: dict[str, str] | None = None) -> EngineSettings:
    """The settings of this run; a bad value is a one-line ``InputError``."""
    env = os.environ if environ is None else environ
    engine = (env.get("JINSTRUCT_ENGINE") or "inprocess").strip().lower()
    if engine not in ENGINES:
        raise InputError(f"JINSTRUCT_ENGINE={engine!r}: expected one of {', '.join(ENGINES)}")
    return EngineSettings(
        engine=engine,
        address=env.get("RAY_ADDRESS") or None,
        object_store_memory=_size("JINSTRUCT_RAY_OBJECT_STORE_MEMORY", env.get("JINSTRUCT_RAY_OBJECT_STORE_MEMORY")),
        spill_dir=env.get("JINSTRUCT_RAY_SPILL_DIR") or None,
        block_records=_count("JINSTRUCT_RAY_BLOCK_RECORDS", env.get("JINSTRUCT_RAY_BLOCK_RECORDS"), 20_000),
        cpus=_count("JINSTRUCT_RAY_CPUS", env.get("JINSTRUCT_RAY_CPUS"), None),
    )
