"""Torch on one CPU thread, for the project's tiny models and matrices."""

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
