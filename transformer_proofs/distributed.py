"""Tasks on a Dask cluster (``--scheduler ADDRESS`` or ``--scheduler local``): the optional extra
``transformer-proofs[distributed]``, imported only when a scheduler is given.

Each task is submitted under a key that names its work (:func:`~transformer_proofs.parallel.task_key`)
and is pure: it reads its arguments and the installed package and returns its result, writing
nothing. When a worker is lost, the scheduler runs its tasks again on another worker; the result
is the same, and since results are collected by key and put back in the order of the tasks,
nothing is lost or counted twice. A task whose workers die every time it runs (the scheduler's
``allowed-failures``, 3 by default) is reported as that task's error.

Identical results need workers that compute as this machine does: the same versions of the
package and its numeric libraries, and the same BLAS and torch thread counts (a sum split over
a different number of threads can differ in the last bit: ``modular-addition-fourier``'s
anchor does between one and two threads). The workers of ``--scheduler local`` keep this
process's settings; ``dask worker`` sets one thread (``OMP_NUM_THREADS=1``) unless told otherwise.

Time limits are not enforced on a cluster: a worker runs tasks in threads, which the engine's
time limit (a signal) cannot reach. Neither ``--timeout`` nor the second each generated mutant
gets applies there, so a generated mutant that crawls is run to its end instead of skipped.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, Callable, Sequence

LOCAL = "local"
INSTALL = "pip install 'transformer-proofs[distributed]'"


class ClusterUnavailable(ValueError):
    """Dask is not installed, or the scheduler cannot be reached: bad input, one line."""


def require() -> None:
    """Refuse ``--scheduler`` at once when Dask distributed is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ClusterUnavailable(f"--scheduler needs Dask distributed: {INSTALL}") from None


@contextlib.contextmanager
def client_for(scheduler: str, workers: int):
    """A Dask client: of a new ``LocalCluster`` of ``workers`` single-threaded processes for
    ``"local"``, else of the running scheduler at ``scheduler`` (``tcp://host:8786``)."""
    require()
    from distributed import Client

    if scheduler == LOCAL:
        with local_cluster(workers) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterUnavailable(f"--scheduler: cannot reach the Dask scheduler at {scheduler}: {error}") from None
    with client:
        yield client


@contextlib.contextmanager
def local_cluster(workers: int):
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes that inherit this process's
    environment. Dask would set one BLAS and OpenMP thread in theirs (``pre-spawn-environ``), so
    that they would not compute what a local worker computes; and it writes those settings into
    this process's environment before it spawns a worker, so they are put back afterwards."""
    import dask
    from distributed import LocalCluster

    saved = dict(os.environ)
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": {}}):
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
            )
        with cluster:
            yield cluster
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_on_cluster(
    scheduler: str,
    function: Callable[[Any], Any],
    tasks: Sequence[Any],
    keys: Sequence[str],
    *,
    workers: int,
    finished: Callable[[int], None],
    failed: Callable[[int, str], Any],
) -> list:
    """``function(task)`` for each task on the cluster, in task order (see :func:`~transformer_proofs.parallel.run_tasks`)."""
    with client_for(scheduler, workers) as client:
        return gather_in_order(client, function, tasks, keys, finished=finished, failed=failed)


def gather_in_order(client, function, tasks, keys, *, finished, failed) -> list:
    """Submit each task under its key and collect the results by key, in task order. Tasks with the
    same key are one task (the same work), run once."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    indices: dict[str, list[int]] = {}
    for index, key in enumerate(keys):
        indices.setdefault(key, []).append(index)
    futures = [client.submit(function, tasks[positions[0]], key=key, pure=False) for key, positions in indices.items()]
    results: list[Any] = [None] * len(tasks)
    for future in as_completed(futures):
        for index in indices[future.key]:
            try:
                results[index] = future.result()
            except KilledWorker as error:
                results[index] = failed(index, f"the Dask workers running it died each time it ran ({error})")
            except Exception as error:
                results[index] = failed(index, f"{type(error).__name__}: {' '.join(str(error).split())} (on the Dask cluster)")
            finished(index)
        future.release()
    return results
