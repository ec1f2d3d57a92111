"""Independent computations for the state-space-model theorems (numpy / scipy / torch; no closed forms).

The submodules, one per subject:

* :mod:`numerics.ssm.legs`: HiPPO-LegS, the Legendre projection of a signal's history by
  quadrature and the memory ODE integrated by ``solve_ivp`` (numpy / scipy);
* :mod:`numerics.ssm.hippo`: HiPPO-LegT and -LagT, sliding windows, Laguerre coefficients and
  online reconstructions (numpy / scipy / matplotlib);
* :mod:`numerics.ssm.zoh`: the zero-order-hold step by numerical integration;
* :mod:`numerics.ssm.scan`: linear recurrences by sequential and parallel scans;
* :mod:`numerics.ssm.selective`: Mamba's selective scan (torch), fast (``selective_scan``) and the
  reference loop (``selective_scan_ref``, as Mamba names it);
* :mod:`numerics.ssm.duality`: Mamba-2's state space duality, recurrent, quadratic and chunked (torch).

The public names are re-exported here; torch is imported inside the functions that need it,
so importing this package does not load it.
"""

from numerics.ssm.duality import ssd, ssd_minimal_discrete, ssd_quadratic, ssd_recurrent
from numerics.ssm.legs import (
    QUADRATURE_NODES,
    Signal,
    fourier_signal,
    integrate_memory,
    legendre_projection,
    residual_inner_products,
    scaled_legendre_basis,
)
from numerics.ssm.scan import linear_recurrence
from numerics.ssm.selective import selective_scan, selective_scan_ref

__all__ = [
    "QUADRATURE_NODES",
    "Signal",
    "fourier_signal",
    "integrate_memory",
    "legendre_projection",
    "linear_recurrence",
    "residual_inner_products",
    "scaled_legendre_basis",
    "selective_scan",
    "selective_scan_ref",
    "ssd",
    "ssd_minimal_discrete",
    "ssd_quadratic",
    "ssd_recurrent",
]
