"""Torch, and BLAS, on one CPU thread, for the project's tiny models and matrices."""

from __future__ import annotations

import contextlib


@contextlib.contextmanager
def one_torch_thread():
    """Run torch with one intra-op thread inside the block, then restore the caller's setting.

    Every torch computation here is tiny (matrices of tens of rows, toy models of a few hundred
    weights): a second thread has nothing to share and only waits for the first, and on a loaded
    machine each wait costs a scheduler slice. On the project's 2-core machine under load, a batched
    12 x 65 x 65 product took 8 to 60 ms on two threads against 2 ms on one, and 300 training steps
    of the superposition toy model 29 s against 0.6 s (a 50x slowdown). One thread also makes the
    results independent of the machine's core count (the order of a reduction's sums is fixed).
    """
    import torch  # imported here: listing theorems must stay fast

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def one_blas_thread():
    """A context in which BLAS (numpy's and scipy's OpenBLAS) runs on one thread; threadpoolctl restores the counts.

    The project's matrices are small and batched (SVDs of 272 x 64, 5 x 5 solves, L-BFGS on 5
    parameters): OpenBLAS's worker threads only add their wake-up and spin costs. On the
    project's 2-core machine under load, 32 SVDs of 272 x 64 took 1.4 to 9 s of CPU on two
    threads against 0.03 s on one, and each Chinchilla fit 30 times longer. Every check runs in
    one (:func:`checkers.engine.run_check`); numpy and scipy load their OpenBLAS when imported,
    before any check, so every check sees the same setting.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
