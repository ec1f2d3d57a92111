"""What every local worker process needs, imported once by the fork server that starts them.

:func:`transformer_proofs.parallel.run_in_processes` forks its workers from a server that has
imported this module, so a worker begins with the built-in theorems, SciPy and torch loaded
instead of importing them itself: about 3 s of CPU per worker on a two-core machine, and
torch's compiler package (``torch._dynamo``) another second in each worker that counts FLOPs
(``FlopCounterMode``) or builds an optimiser, which import it on first use. The server imports
only: a fork of a process that has run torch or OpenMP code can hang.
"""

import scipy.linalg
import scipy.optimize
import scipy.special
import scipy.stats
import torch
import torch._dynamo

from checkers.registry import REGISTRY

try:
    REGISTRY.theorems()
except Exception:  # a broken plugin module: the command line reports it before it starts any worker
    pass
