"""Joining or starting Ray for one stage run, and Ray's failures as one-line errors.

A stage either finishes with its whole output set written or stops before
writing anything: every Ray failure (cluster unreachable, a worker lost beyond
Ray's task retries, the object store full and unable to spill) surfaces here as
an ``EngineError``, which the stage runner prints as one line (exit 2) like any
other ``InputError``, while the previous outputs stay in place.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import warnings
from collections.abc import Iterator

from jinstruct.engine.settings import EngineSettings
from jinstruct.records import InputError

log = logging.getLogger("jinstruct")

# Ray's own retry of a task whose worker died (its default is 3 as well); beyond
# it the stage fails with an EngineError rather than writing a partial result.
TASK_RETRIES = 3


class EngineError(InputError):
    """The cluster failed in a way the user must look at (one line, no traceback)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _found(exc: BaseException, kinds: tuple[type, ...]) -> BaseException | None:
    """``exc`` or the first of its causes of one of ``kinds`` (a task's error wraps its cause)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or getattr(seen, "cause", None)
    return None


def explain(exc: BaseException) -> InputError:
    """The one-line error for an exception raised by Ray (an ``InputError`` raised
    inside a task comes back as itself, so the user sees the same message as in-process)."""
    import ray.exceptions as rex

    own = _found(exc, (InputError,))
    if own is not None:
        return own
    full = _found(exc, (rex.ObjectStoreFullError, rex.OutOfDiskError))
    if full is not None:
        # Ray spills to JINSTRUCT_RAY_SPILL_DIR (and allocates there beyond the store) until
        # that disk is 95% full: then the store is full for good (OutOfDiskError)
        return EngineError("ray: the object store is full and could not spill; raise "
                           "JINSTRUCT_RAY_OBJECT_STORE_MEMORY or give JINSTRUCT_RAY_SPILL_DIR a disk with room "
                           f"({'OutOfDiskError' if isinstance(full, rex.OutOfDiskError) else 'ObjectStoreFullError'}); "
                           "the previous outputs are untouched")
    lost = _found(exc, (rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError,
                        rex.ActorDiedError, rex.OutOfMemoryError))
    if lost is not None:
        return EngineError(f"ray: a worker was lost and its task failed after {TASK_RETRIES} retries "
                           f"({type(lost).__name__}: {_first_line(lost)}); the previous outputs are untouched")
    return EngineError(f"ray: the stage failed on the cluster ({type(exc).__name__}: {_first_line(exc)}); "
                       "the previous outputs are untouched")


def _init_arguments(settings: EngineSettings) -> dict:
    arguments: dict = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if settings.address:
        arguments["address"] = settings.address
        return arguments  # the cluster's own resources and store apply
    # a new instance for this run, never whichever `ray start` cluster this machine happens to run
    arguments["address"] = "local"
    if settings.cpus:
        arguments["num_cpus"] = settings.cpus
    if settings.object_store_memory:
        arguments["object_store_memory"] = settings.object_store_memory
    if settings.spill_dir:
        # also where Ray allocates objects beyond the store ("fallback allocation") once spilling lags
        arguments["object_spilling_directory"] = settings.spill_dir
    return arguments


def _check_reachable(address: str, seconds: float = 5.0) -> None:
    """Fail in seconds, not after Ray's minute of reconnecting, when nothing listens at ``address``."""
    host_port = address.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local" or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as exc:
        raise EngineError(f"ray: cannot reach the cluster at {address} ({exc.strerror or exc}); "
                          "check RAY_ADDRESS and that `ray status` works on the head node") from None


@contextlib.contextmanager
def ray_session(settings: EngineSettings) -> Iterator[None]:
    """Ray connected for the duration of the block (a session already open is reused and left
    open); any Ray failure inside the block becomes a one-line error."""
    try:
        import ray
    except ImportError:
        raise EngineError("JINSTRUCT_ENGINE=ray needs Ray: pip install 'jinstruct[ray]'") from None
    started_here = False
    quiet = _RayQuiet()
    if not ray.is_initialized():
        if settings.address:
            _check_reachable(settings.address)
        try:
            ray.init(**_init_arguments(settings))
        except (ConnectionError, TimeoutError, ValueError, RuntimeError) as exc:
            where = settings.address or "a local instance"
            raise EngineError(f"ray: cannot reach the cluster at {where} ({_first_line(exc)}); "
                              "check RAY_ADDRESS and that `ray status` works there") from None
        started_here = True
    import ray.data

    context = ray.data.DataContext.get_current()
    # Blocks come back in input order: what the stage writes must not depend on
    # which worker finished first.
    context.execution_options.preserve_order = True
    # Ray 2.60's Parquet reader (DataSource V2) packs row groups into read units online and emits a
    # unit when it fills, so the file's first units can come back last whatever preserve_order says
    # (at 2.5M records the first 250k went to the end). The V1 reader reads in file order.
    context.use_datasource_v2 = False
    context.enable_progress_bars = False  # ours count blocks; Ray's would print to DVC's log
    quiet.more()  # ray.data configures its own logger on import
    try:
        yield
    except InputError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("ray"):
            raise explain(exc) from None
        raise
    finally:
        if started_here:
            ray.shutdown()
        quiet.restore()


class _RayQuiet:
    """Ray's own log lines and warnings kept off the stage's stderr while Ray runs: a failure
    is our one line (the details stay in Ray's session logs, /tmp/ray/session_latest/logs)."""

    NAMES = ("ray", "ray.data", "ray.data._internal")

    def __init__(self):
        self.levels: dict[str, int] = {}
        self.more()
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        # map_batches(max_retries=…) still works in 2.60 but warns that it moves in 2.64
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")

    def more(self) -> None:
        for name in self.NAMES:
            logger = logging.getLogger(name)
            self.levels.setdefault(name, logger.level)
            logger.setLevel(logging.CRITICAL)

    def restore(self) -> None:
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)
        self.warnings.__exit__(None, None, None)
