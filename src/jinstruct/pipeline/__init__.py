"""The data stages as plain transforms ``transform(frame, run) -> StageResult``.

One module per stage (``pipeline/normalize.py``, ``dedup.py``, ``filter.py``)
holds its transform, so that a stage imports only its own library code (and
dvc.yaml re-runs it only when that changes). ``run`` (``RunSettings``) carries
the stage's typed params section and what a run adds to it: the text columns
and, for the filter, the eval sets. The DVC stage scripts (``stages/<name>.py``,
through ``main``) and the standalone commands (``jinstruct normalize|dedup|filter``)
hand these same functions to ``stage.run_stage``; only how the input is read differs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from jinstruct.engine.settings import EngineSettings, engine_settings
from jinstruct.outputs import OutputSet
from jinstruct.params import stage_settings
from jinstruct.records import TEXT_FIELDS
from jinstruct.settings import ParamsModel
from jinstruct.stage import Engine, Transform, in_process, read_input, run_stage, stage_main


@dataclass(frozen=True)
class RunSettings:
    """What a data-stage transform gets."""

    params: ParamsModel                          # the stage's params section
    text_fields: tuple[str, ...] = TEXT_FIELDS   # the columns holding text
    fields_given: bool = False                   # text_fields came from --text-field (dedup: overrides dedup.fields)
    eval_dir: Path | None = None                 # filter: fetched eval sets to decontaminate against
    eval_sets: dict | None = None                # filter: the eval_sets section (None: every folder of eval_dir)


def _stage_arguments(stage: str, artifacts: tuple[str, ...]) -> argparse.Namespace:
    """The paths dvc.yaml passes through ``cmd:`` (defined once there, in ``vars:``)."""
    parser = argparse.ArgumentParser(prog=f"stages/{stage}.py")
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--rejects", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    for name in artifacts:
        parser.add_argument(f"--{name}", type=Path, required=True)
    if stage == "filter":
        parser.add_argument("--eval-dir", type=Path, required=True)
    return parser.parse_args()


# A stage's Ray form: (its RunSettings, its input file, the engine settings) → an engine for run_stage.
OnRay = Callable[[RunSettings, Path, EngineSettings], Engine]


def pipeline_stage(stage: str, transform: Transform, artifacts: tuple[str, ...] = (),
                   on_ray: OnRay | None = None) -> Callable[[], object]:
    """The body of ``stages/<stage>.py``: params.yaml's section, the paths of ``cmd:``, one run.

    The engine is the environment's choice (JINSTRUCT_ENGINE, docs/cluster.md), never a param:
    in this process, or ``on_ray`` when the environment selects Ray and the stage has that form.
    """
    def body() -> dict:
        args = _stage_arguments(stage, artifacts)
        run = RunSettings(stage_settings(stage))
        if stage == "filter":
            run = replace(run, eval_dir=args.eval_dir, eval_sets=stage_settings("eval_sets").as_params())
        outputs = OutputSet(args.output, args.rejects, args.stats,
                            {name: getattr(args, name) for name in artifacts})
        engine = engine_settings()
        chosen = on_ray(run, args.input, engine) if on_ray is not None and engine.on_ray else in_process
        return run_stage(stage, transform, run, read_input(args.input), outputs, engine=chosen)
    return body


def main(stage: str, transform: Transform, artifacts: tuple[str, ...] = (), on_ray: OnRay | None = None) -> None:
    stage_main(stage, pipeline_stage(stage, transform, artifacts, on_ray))
