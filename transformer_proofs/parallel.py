"""Checks in worker processes (``--workers N``), or on a Dask cluster (``--scheduler``).

A task is a pure function of picklable arguments: a theorem's id and the modules that define
user theorems, the seed, the instance count. A worker loads the modules, finds the theorem and
runs the same :func:`~checkers.engine.run_check` as one process would, so a result does not
depend on which process ran it or when; results are put back in the order of the tasks. The
JSON and the table of ``--workers N`` are therefore byte-identical to ``--workers 1`` (timings
aside).

The unit of work is a theorem (a theorem at one seed in a sweep). A ``verify`` of more than
:data:`~checkers.sampling.BLOCK_INSTANCES` instances is split further, as the engine checks it
in blocks: a task per theorem runs its derivation, block 0, anchors and the plan of the rest
(:func:`~checkers.engine.begin_check`), then tasks of :data:`BLOCKS_PER_TASK` later blocks each
(:func:`~checkers.engine.check_block`), and this process merges their tallies in block order
(:func:`~checkers.engine.finish_check`): the same arithmetic in the same order as one process.
``--timeout`` limits the first task and each later block, as it does in one process.

Local workers are forked from a server that has imported :mod:`transformer_proofs.preload` (the
built-in theorems, SciPy, torch) once; the command line starts it before it loads the theorems
itself (:func:`start_worker_server`), so the two imports overlap and no worker repeats them.

A worker that dies (a crash in native code, the out-of-memory killer, ``os._exit`` in a
theorem) is replaced, and the task it was running is reported as that task's error; the other
tasks go on. Ctrl-C stops every worker.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Callable, Sequence


WORKERS_VARIABLE = "TRANSFORMER_PROOFS_WORKERS"
"""The default of ``--workers`` where it is set (a CI job's, a test suite's); else the CPU count."""


def cpu_count() -> int:
    """The CPUs this process may run on (a container's or ``taskset``'s share, not the machine's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- theorems as workers find them -----------------------------------------------------------


@dataclass(frozen=True)
class TheoremRef:
    """A theorem by id, with the modules a worker imports to find it (user theorems)."""

    id: str
    modules: tuple[str, ...] = ()

    def theorem(self):
        from transformer_proofs import api

        for module in self.modules:
            api.load_module(module)
        return api.get(self.id)


def reference(theorem, modules: Sequence[str] = ()) -> TheoremRef | None:
    """How a worker finds ``theorem``: the ``--module`` modules and the one that defines it; None
    for a theorem the registry does not hold (built in a script or a test), which only this
    process can check."""
    from checkers.registry import REGISTRY

    if not REGISTRY.holds(theorem) or theorem.defined_in == "__main__":
        return None
    own = () if theorem.defined_in.split(".")[0] == "checkers" else (theorem.defined_in,)
    return TheoremRef(theorem.id, tuple(dict.fromkeys((*modules, *own))))


def verify_task(task: tuple[TheoremRef, dict]):
    """One theorem's check (``run_check``'s keyword arguments in ``task``), in a worker."""
    from checkers.engine import run_check

    ref, options = task
    return run_check(ref.theorem(), **options)


def mutants_task(task: tuple[TheoremRef, dict]):
    """One theorem's mutants (``mutant_outcome``'s keyword arguments in ``task``), in a worker."""
    from checkers.engine import mutant_outcome

    ref, options = task
    return mutant_outcome(ref.theorem(), **options)


BLOCKS_PER_TASK = 8
"""Later blocks of a large ``verify`` handed to a worker at once (32768 instances: a task of seconds
to minutes, few enough results to merge)."""


def begin_task(task: tuple[TheoremRef, dict]):
    """A theorem's check up to its later blocks (``begin_within``), in a worker."""
    from checkers.engine import begin_within

    ref, options = task
    theorem = ref.theorem()
    return begin_within(theorem, options["instances"], options["seed"], options["device"], False, options.get("timeout"), options["block_size"])


def blocks_task(task: tuple[TheoremRef, Any, range, float | None]):
    """Later blocks of a theorem's check (``checked_blocks``): their tallies in order and the seconds they
    took; or the error's message."""
    from checkers.engine import checked_blocks
    from checkers.results import TheoremError

    ref, plan, blocks, timeout = task
    start = time.perf_counter()
    try:
        tallies = list(checked_blocks(ref.theorem(), plan, blocks, timeout))
    except TheoremError as error:
        return str(error)
    return tallies, time.perf_counter() - start


def check_theorems(
    kind: str,
    theorems: Sequence,
    options: dict,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    modules: Sequence[str] = (),
    progress: Callable[[str, bool], None] = lambda theorem_id, finished: None,
) -> tuple:
    """``run_check`` (``kind="verify"``) or ``mutant_outcome`` (``"mutants"``) of each theorem with
    ``options``, in the order given: in this process (one worker), in ``workers`` processes, or on
    the Dask cluster at ``scheduler``. ``progress(id, finished)`` is told of each theorem started
    (in this process only) and finished. A theorem the registry does not hold is checked here."""
    from checkers.engine import mutant_outcome, run_check

    local = {"verify": run_check, "mutants": mutant_outcome}[kind]
    remote = {"verify": verify_task, "mutants": mutants_task}[kind]
    refs = [reference(t, modules) if workers > 1 or scheduler else None for t in theorems]
    shipped = [i for i, ref in enumerate(refs) if ref is not None]
    results: list[Any] = [None] * len(theorems)
    if kind == "verify" and shipped and _in_blocks(options["instances"]):
        outcomes = _verify_in_blocks([theorems[i] for i in shipped], [refs[i] for i in shipped], options, workers, scheduler, progress)
        for i, outcome in zip(shipped, outcomes):
            results[i] = outcome
    elif len(shipped) > 1 or (shipped and scheduler):
        tasks = [(refs[i], options) for i in shipped]
        keys = [task_key(kind, refs[i].id, options, refs[i].modules) for i in shipped]
        failed = lambda index, message: _error_result(kind, theorems[shipped[index]], options, message)
        finished = lambda index: progress(refs[shipped[index]].id, True)
        outcomes = run_tasks(remote, tasks, keys=keys, workers=workers, scheduler=scheduler, finished=finished, failed=failed)
        for i, outcome in zip(shipped, outcomes):
            results[i] = outcome
    for i, theorem in enumerate(theorems):
        if results[i] is None:
            progress(theorem.id, False)
            blocks = {"on_block": lambda share, name=theorem.id: progress(name, share)} if kind == "verify" else {}
            results[i] = local(theorem, **options, **blocks)
            progress(theorem.id, True)
    return tuple(results)


def _in_blocks(instances: int) -> bool:
    from checkers.sampling import block_sizes

    return len(block_sizes(instances)) > 1


def _verify_in_blocks(theorems, refs, options, workers, scheduler, progress) -> list:
    """``run_check`` of each theorem as begin, later blocks and finish (see the module's docstring)."""
    from checkers.engine import CheckStart, finish_check, merge_blocks
    from checkers.sampling import block_instances

    begin = {**options, "block_size": block_instances()}  # this process's, wherever the workers run
    keys = [task_key("begin", ref.id, begin, ref.modules) for ref in refs]
    failed_begin = lambda index, message: _error_result("verify", theorems[index], options, message)
    begun = run_tasks(begin_task, [(ref, begin) for ref in refs], keys=keys, workers=workers, scheduler=scheduler, failed=failed_begin)
    tasks, owners = [], []
    for index, (ref, start) in enumerate(zip(refs, begun)):
        if isinstance(start, CheckStart):
            for first in range(1, start.plan.blocks, BLOCKS_PER_TASK):
                tasks.append((ref, start.plan, range(first, min(first + BLOCKS_PER_TASK, start.plan.blocks)), options.get("timeout")))
                owners.append(index)
    keys = [task_key("blocks", ref.id, begin, ref.modules, blocks.start) for ref, _, blocks, _ in tasks]
    failed = lambda index, message: f"{refs[owners[index]].id}: {message}"
    done = [1] * len(refs)  # blocks done per theorem: block 0 in its begin task

    def finished(index: int) -> None:
        owner, blocks = owners[index], tasks[index][2]
        done[owner] += len(blocks)
        progress(refs[owner].id, done[owner] / begun[owner].plan.blocks)

    outcomes = run_tasks(blocks_task, tasks, keys=keys, workers=workers, scheduler=scheduler, finished=finished, failed=failed)
    owned: list[list] = [[] for _ in refs]
    for owner, outcome in zip(owners, outcomes):
        owned[owner].append(outcome)
    results = []
    for theorem, start, mine in zip(theorems, begun, owned):
        if isinstance(start, CheckStart):
            error = next((outcome for outcome in mine if isinstance(outcome, str)), None)
            if error is None:
                total = merge_blocks(theorem, start, [tally for chunk, _ in mine for tally in chunk])
                start = finish_check(theorem, start, total, sum(start.timings.values()) + sum(seconds for _, seconds in mine))
            else:
                start = _error_result("verify", theorem, options, error.removeprefix(f"{theorem.id}: "))
        progress(theorem.id, True)
        results.append(start)
    return results


def _error_result(kind: str, theorem, options: dict, message: str):
    """The result of a theorem whose task could not finish (its worker died, or it raised there)."""
    from checkers.results import CheckResult, MutantOutcome

    text = f"{theorem.id}: {message}"
    if kind == "verify":
        return CheckResult(theorem.id, "error", text, None, None, 0.0, options.get("seed", 0), basis=theorem.basis)
    return MutantOutcome(theorem.id, (), "error", text)


def task_key(kind: str, name: str, *parts) -> str:
    """A task's name on a Dask cluster: readable, and the same for the same work (so a rerun of a
    lost worker's task, or another client asking for it, gets the one result)."""
    from checkers.results import package_version

    digest = hashlib.sha256(repr((package_version(), kind, name, parts)).encode()).hexdigest()[:16]
    return f"transformer-proofs-{kind}-{name}-{digest}"


# --- running tasks ---------------------------------------------------------------------------


def run_tasks(
    function: Callable[[Any], Any],
    tasks: Sequence[Any],
    *,
    keys: Sequence[str],
    workers: int = 1,
    scheduler: str | None = None,
    finished: Callable[[int], None] = lambda index: None,
    failed: Callable[[int, str], Any],
) -> list:
    """``function(task)`` for each task, in task order: on the Dask cluster at ``scheduler``, else
    in ``workers`` processes (in this process for one worker or one task). ``finished(index)`` is
    called as each task ends; a task whose worker died or that raised there gets ``failed(index,
    message)`` as its result. ``keys`` name the tasks on a cluster (one per task, unique)."""
    if scheduler is not None:
        from transformer_proofs.distributed import run_on_cluster

        return run_on_cluster(scheduler, function, tasks, keys, workers=workers, finished=finished, failed=failed)
    if workers <= 1 or len(tasks) <= 1:
        results = []
        for index, task in enumerate(tasks):
            results.append(function(task))
            finished(index)
        return results
    return run_in_processes(function, tasks, workers=workers, finished=finished, failed=failed)


class _Worker:
    """A worker process and the pipe to it; ``index`` is the task it is running (None: idle)."""

    def __init__(self, context, function):
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, function, dict(os.environ)), name="transformer-proofs worker")
        self.process.start()
        child.close()  # only the worker holds its end now, so its death reads as the end of the pipe
        self.index: int | None = None

    def give(self, index: int, task) -> None:
        self.index = index
        try:
            self.connection.send((index, task))
        except OSError:  # it has died already: the end of its pipe reports it as this task's error
            pass

    def stop(self) -> None:
        if self.process.is_alive() and self.index is None:
            try:
                self.connection.send(None)
            except OSError:
                pass
            self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.connection.close()


def _serve(connection, function, environment: dict[str, str]) -> None:
    """A worker's loop: run each task sent and send back ``(index, ok, result or message)``. The
    worker takes its parent's ``environment`` of now (the fork server's is that of its start)."""
    os.environ.clear()
    os.environ.update(environment)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the workers
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stdout may carry the parent's JSON document
    while True:
        try:
            message = connection.recv()
        except EOFError:  # the parent has gone
            return
        if message is None:
            return
        index, task = message
        try:
            reply = (index, True, function(task))
        except Exception as error:
            reply = (index, False, f"{type(error).__name__}: {' '.join(str(error).split())} (in a worker process)")
        try:
            connection.send(reply)
        except Exception as error:  # a result that does not pickle; send() pickles before it writes
            connection.send((index, False, f"its result could not be sent back: {type(error).__name__}: {error}"))


PRELOAD = "transformer_proofs.preload"
"""The module the workers' fork server imports before it forks any."""


def _worker_context():
    """The local workers' multiprocessing context: forks of the server that imports :data:`PRELOAD`, or
    spawned processes where there is no fork server (Windows)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    return context


def start_worker_server(workers: int, scheduler: str | None) -> None:
    """Start the local workers' fork server now (for ``workers`` processes and no cluster), so that its
    imports run while this process loads the theorems, not after."""
    if workers > 1 and scheduler is None and _worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def run_in_processes(function, tasks, *, workers: int, finished, failed) -> list:
    """``function(task)`` for each task in ``workers`` fresh processes, each task handed to the next
    idle worker. They are forked from a server that has only imported :mod:`transformer_proofs.preload`
    (a fork of this process, which may have run torch or OpenMP code, can hang), or spawned where
    there is no fork server."""
    context = _worker_context()
    queue = deque(range(len(tasks)))
    results: list[Any] = [None] * len(tasks)
    pool = [_Worker(context, function) for _ in range(min(workers, len(tasks)))]
    try:
        while True:
            for worker in pool:
                if worker.index is None and queue:
                    index = queue.popleft()
                    worker.give(index, tasks[index])
            busy = [worker for worker in pool if worker.index is not None]
            if not busy:
                return results
            ready = set(wait([w.connection for w in busy] + [w.process.sentinel for w in busy]))
            for worker in busy:
                if worker.connection not in ready and worker.process.sentinel not in ready:
                    continue
                index = worker.index
                try:
                    _, ok, value = worker.connection.recv()
                except (EOFError, OSError):  # the worker died running this task
                    worker.process.join()
                    results[index] = failed(index, _death(worker.process.exitcode))
                    worker.index = None
                    worker.stop()
                    pool.remove(worker)
                    if queue:
                        pool.append(_Worker(context, function))
                else:
                    results[index] = value if ok else failed(index, value)
                    worker.index = None
                finished(index)
    finally:
        for worker in pool:
            if worker.index is not None:
                worker.index = None
                worker.process.kill()
            worker.stop()


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        cause = " (the out-of-memory killer?)" if name == "SIGKILL" else ""
        how = f"was killed by {name}{cause}"
    else:
        how = f"exited with status {exitcode}"
    return f"the worker process running it {how}; run it alone with --workers 1 to see more"
