"""Fitting ``L(N, D) = E + A N^-alpha + B D^-beta`` to training runs, the way the Chinchilla paper does.

Hoffmann et al. 2022, section 3.3 (approach 3) and appendix D.2: minimise the Huber loss
(``delta = 1e-3``) between the predicted and the observed log-loss, with the prediction in
log-sum-exp form ``LSE(a - alpha ln N, b - beta ln D, e)`` (``A = e^a``, ``B = e^b``,
``E = e^e``), by L-BFGS from every point of a grid of initialisations, keeping the best.
Besiroglu, Erdil, Barnett, You 2024 ("Chinchilla Scaling: A replication attempt") refit
Hoffmann's published runs this way, drop the 5 highest-loss runs first, and bound the
estimates by bootstrapping the runs.

* :func:`fit_chinchilla`: the fit, with bootstrap confidence intervals (:class:`ScalingFit`).
* :func:`load_runs`: a CSV of runs (``N``, ``loss`` and ``D`` or ``C``).
* :func:`planted_runs`: synthetic runs from known parameters (for recovery checks).
* :func:`iso_flop_figure`, :func:`optimal_size_band_figure`: the handout's figures.

numpy / scipy / matplotlib only; never SymPy.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares, minimize
from threadpoolctl import threadpool_limits

PARAMETERS = ("A", "B", "E", "alpha", "beta")
HUBER_DELTA = 1e-3

# Hoffmann et al. 2022, appendix D.2: the grid of initialisations (a, b, e, alpha, beta), 6 x 6 x 5 x 5 x 5 = 4500 starts.
HOFFMANN_GRID = np.array(
    list(
        itertools.product(
            np.arange(0.0, 30.0, 5.0),
            np.arange(0.0, 30.0, 5.0),
            np.arange(-1.0, 1.5, 0.5),
            np.arange(0.0, 2.5, 0.5),
            np.arange(0.0, 2.5, 0.5),
        )
    )
)

# L-BFGS stops on the gradient alone. Its default relative decrease test, scaled by max(|f|, 1), ends a
# fit whose objective is far below 1 long before it converges: the premature stop Besiroglu et al.
# found in Hoffmann et al.'s estimates.
LBFGS_OPTIONS = {"ftol": 0.0, "gtol": 1e-12, "maxiter": 2000, "maxcor": 20}
# L-BFGS stops once each component of the gradient in centred coordinates is <= gtol; back in
# (a, b, e, alpha, beta) the exponents' components grow by |mean ln N|, |mean ln D| <= 31 (sizes
# below 3e13) times the intercepts' ones: at most 32 gtol.
GRADIENT_SLACK = 32 * LBFGS_OPTIONS["gtol"]

# Column aliases accepted by :func:`load_runs`: Epoch AI's extraction names N and C this way.
_ALIASES = {"Model Size": "N", "Training FLOP": "C", "Training Tokens": "D"}


@dataclass(frozen=True)
class ScalingFit:
    """A fitted law ``L = E + A N^-alpha + B D^-beta`` with its Huber objective and bootstrap intervals.

    ``intervals`` maps each of ``A, B, E, alpha, beta`` to the ``(lo, hi)`` percentile interval at
    ``level`` over ``samples`` (bootstrap estimates, one row ``(A, B, E, alpha, beta)`` per
    resample); both are empty when no resample was drawn.
    """

    A: float
    B: float
    E: float
    alpha: float
    beta: float
    objective: float
    level: float = 0.95
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    samples: np.ndarray = field(default_factory=lambda: np.empty((0, 5)), repr=False, compare=False)

    def parameters(self) -> np.ndarray:
        """``(A, B, E, alpha, beta)``."""
        return np.array([self.A, self.B, self.E, self.alpha, self.beta])

    def loss(self, N, D) -> np.ndarray:
        """The fitted law at ``(N, D)``."""
        return self.E + self.A * np.asarray(N, dtype=float) ** -self.alpha + self.B * np.asarray(D, dtype=float) ** -self.beta


def one_blas_thread():
    """A context in which BLAS runs on one thread (threadpoolctl restores the counts afterwards).

    L-BFGS-B calls BLAS on vectors of 5 parameters; OpenBLAS's worker threads only add their
    wake-up latency there, which made each fit 30 times slower on a busy 2-core machine.
    """
    return threadpool_limits(limits=1, user_api="blas")


def huber(residual, delta: float = HUBER_DELTA) -> np.ndarray:
    """Huber's loss: ``r^2/2`` for ``|r| <= delta``, ``delta (|r| - delta/2)`` beyond (Huber 1964)."""
    size = np.abs(residual)
    return np.where(size <= delta, 0.5 * residual**2, delta * (size - 0.5 * delta))


def log_sum_exp_prediction(theta, log_N, log_D) -> tuple[np.ndarray, np.ndarray]:
    """The predicted log-loss ``LSE(a - alpha ln N, b - beta ln D, e)`` and its Jacobian in ``theta``.

    ``theta = (a, b, e, alpha, beta)``. The Jacobian ``(n, 5)`` is the softmax weight ``w_k`` of
    each term for ``a, b, e`` and ``-ln N w_1``, ``-ln D w_2`` for the exponents.
    """
    a, b, e, alpha, beta = theta
    size_term, data_term = a - alpha * log_N, b - beta * log_D
    # Shift by the largest term so no exponential overflows (scipy.special.logsumexp does the same, slower;
    # this runs once per L-BFGS iteration, so the three terms are kept as separate arrays).
    largest = np.maximum(np.maximum(size_term, data_term), e)
    size_share, data_share, floor_share = np.exp(size_term - largest), np.exp(data_term - largest), np.exp(e - largest)
    total = size_share + data_share + floor_share
    jacobian = np.empty((len(total), 5))
    jacobian[:, 0] = size_share / total
    jacobian[:, 1] = data_share / total
    jacobian[:, 2] = floor_share / total
    jacobian[:, 3] = -log_N * jacobian[:, 0]
    jacobian[:, 4] = -log_D * jacobian[:, 1]
    return largest + np.log(total), jacobian


def huber_objective(theta, log_N, log_D, log_L, counts, delta: float = HUBER_DELTA) -> tuple[float, np.ndarray]:
    """``sum_i c_i Huber(LSE_i(theta) - ln L_i)`` and its gradient; ``c_i`` counts run ``i`` (bootstrap weights)."""
    prediction, jacobian = log_sum_exp_prediction(theta, log_N, log_D)
    residual = prediction - log_L
    value = float(np.sum(counts * huber(residual, delta)))
    # Huber's derivative is the residual clipped to [-delta, delta].
    gradient = (counts * np.clip(residual, -delta, delta)) @ jacobian
    return value, gradient


def _minimise(start, log_N, log_D, log_L, counts, delta, objective=huber_objective) -> tuple[np.ndarray, float]:
    """L-BFGS on ``objective`` from ``start``, in coordinates with ``ln N`` and ``ln D`` centred on their means.

    ``a - alpha ln N = (a - alpha m) - alpha (ln N - m)``: a linear change of variables, so the
    minimiser is the same, but the intercepts no longer move with the exponents. Uncentred,
    L-BFGS's first steps overshoot an exponent into the region where its term's softmax weight
    (and with it the gradient) vanishes, and the fit stalls on that plateau.
    """
    shift = np.array([log_N.mean(), log_D.mean()])
    centred = np.array(start, dtype=float)
    centred[:2] -= centred[3:] * shift
    arguments = (log_N - shift[0], log_D - shift[1], log_L, counts, delta)
    result = minimize(objective, centred, args=arguments, jac=True, method="L-BFGS-B", options=LBFGS_OPTIONS)
    theta = result.x.copy()
    theta[:2] += theta[3:] * shift
    return theta, float(result.fun)


def best_of_starts(
    starts, log_N, log_D, log_L, counts=None, delta: float = HUBER_DELTA, objective=huber_objective
) -> tuple[np.ndarray, float]:
    """L-BFGS from every start (a loop: scipy's L-BFGS solves one problem at a time); the lowest objective wins.

    ``objective(theta, log_N, log_D, log_L, counts, delta)`` returns the value and the gradient
    (default :func:`huber_objective`).
    """
    counts = np.ones_like(log_L) if counts is None else counts
    best, best_value = None, np.inf
    with one_blas_thread():
        for start in np.atleast_2d(starts):
            theta, value = _minimise(start, log_N, log_D, log_L, counts, delta, objective)
            if value < best_value:
                best, best_value = theta, value
    return best, best_value


def screened_starts(starts, log_N, log_D, log_L, keep: int, delta: float = HUBER_DELTA) -> np.ndarray:
    """The ``keep`` rows of ``starts`` with the lowest Huber objective, all evaluated in one vectorised pass."""
    a, b, e, alpha, beta = (starts[:, k : k + 1] for k in range(5))
    terms = np.stack([a - alpha * log_N, b - beta * log_D, np.broadcast_to(e, (len(starts), len(log_N)))], axis=-1)
    largest = terms.max(axis=-1)
    prediction = largest + np.log(np.exp(terms - largest[..., None]).sum(axis=-1))
    objective = huber(prediction - log_L, delta).sum(axis=1)
    return starts[np.argsort(objective, kind="stable")[:keep]]


def natural_parameters(theta) -> np.ndarray:
    """``(a, b, e, alpha, beta)`` to ``(A, B, E, alpha, beta)``."""
    return np.concatenate([np.exp(theta[..., :3]), theta[..., 3:]], axis=-1)


def _validated(N, D, L) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = {name: np.asarray(value, dtype=float) for name, value in (("N", N), ("D", D), ("L", L))}
    for name, array in arrays.items():
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{name} must be a non-empty one-dimensional array, got shape {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} holds NaN or infinite values")
        if np.any(array <= 0):
            raise ValueError(f"{name} must be positive (its logarithm is fitted)")
    sizes = {name: array.size for name, array in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"N, D and L must have the same length, got {sizes}")
    if sizes["N"] < len(PARAMETERS):
        raise ValueError(f"N: at least {len(PARAMETERS)} runs are needed to fit 5 parameters, got {sizes['N']}")
    return arrays["N"], arrays["D"], arrays["L"]


def fit_chinchilla(
    N,
    D,
    L,
    *,
    starts=None,
    polish: int | None = 16,
    resamples: int = 0,
    level: float = 0.95,
    seed: int = 0,
    delta: float = HUBER_DELTA,
) -> ScalingFit:
    """Fit ``L = E + A N^-alpha + B D^-beta`` to runs ``(N_i, D_i, L_i)`` (Hoffmann et al. 2022, approach 3).

    Minimises ``sum_i Huber_delta(LSE(a - alpha ln N_i, b - beta ln D_i, e) - ln L_i)`` by L-BFGS
    and keeps the lowest objective. ``starts`` are initialisations ``(a, b, e, alpha, beta)``
    (default :data:`HOFFMANN_GRID`, the paper's 4500). All of them are scored in one vectorised
    pass and L-BFGS runs from the ``polish`` best (``None``: from every start, as Hoffmann et al.
    and Besiroglu et al. do; minutes instead of a second on 240 runs).

    With ``resamples > 0`` the runs are bootstrapped (drawn with replacement, as multinomial
    counts, from ``seed``), each resample refitted by L-BFGS from the full-data optimum (not the
    grid: a few ms each), and ``intervals`` holds the central percentile interval at ``level``.
    """
    N, D, L = _validated(N, D, L)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if resamples < 0:
        raise ValueError(f"resamples must be non-negative, got {resamples}")
    if polish is not None and polish < 1:
        raise ValueError(f"polish must be a positive number of starts or None, got {polish}")
    starts = HOFFMANN_GRID if starts is None else np.atleast_2d(np.asarray(starts, dtype=float))
    if starts.ndim != 2 or starts.shape[1] != 5 or not np.all(np.isfinite(starts)):
        raise ValueError(f"starts must be finite rows (a, b, e, alpha, beta), got shape {starts.shape}")
    log_N, log_D, log_L = np.log(N), np.log(D), np.log(L)
    if polish is not None and polish < len(starts):
        starts = screened_starts(starts, log_N, log_D, log_L, polish, delta)
    theta, objective = best_of_starts(starts, log_N, log_D, log_L, delta=delta)
    samples = bootstrap(theta, log_N, log_D, log_L, resamples, seed, delta)
    intervals = {}
    if resamples:
        tails = 100 * (1 - level) / 2
        low, high = np.percentile(samples, [tails, 100 - tails], axis=0)
        intervals = {name: (float(lo), float(hi)) for name, lo, hi in zip(PARAMETERS, low, high)}
    A, B, E, alpha, beta = (float(x) for x in natural_parameters(theta))
    return ScalingFit(A, B, E, alpha, beta, objective, level, intervals, samples)


def bootstrap(theta, log_N, log_D, log_L, resamples: int, seed: int, delta: float = HUBER_DELTA) -> np.ndarray:
    """``(resamples, 5)`` estimates ``(A, B, E, alpha, beta)``, each refitted from ``theta`` on runs drawn with replacement."""
    rng = np.random.default_rng(seed)
    n = len(log_L)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)
    with one_blas_thread():
        estimates = [_minimise(theta, log_N, log_D, log_L, c, delta)[0] for c in counts]
    return natural_parameters(np.array(estimates).reshape(resamples, 5))


# --- data ---------------------------------------------------------------------------------------


def load_runs(path) -> dict[str, np.ndarray]:
    """Runs ``{"N", "D", "L"}`` from a CSV whose header names ``N``, ``loss`` and ``D`` or ``C``.

    Other columns are ignored. With ``C`` (training FLOPs) and no ``D``, ``D = C / (6 N)``
    (Kaplan et al. 2020; Besiroglu et al. 2024 derive tokens this way). Epoch AI's column
    names ``Model Size`` and ``Training FLOP`` are read as ``N`` and ``C``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no such file {str(path)!r}")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = {_ALIASES.get(name, name): name for name in (reader.fieldnames or [])}
        missing = [name for name in ("N", "loss") if name not in header]
        if "D" not in header and "C" not in header:
            missing.append("D or C")
        if missing:
            raise ValueError(f"path: {path.name} lacks the column(s) {', '.join(missing)} (has {list(header.values())})")
        rows = list(reader)
    if not rows:
        raise ValueError(f"path: {path.name} holds no runs")

    def column(name: str) -> np.ndarray:
        try:
            return np.array([float(row[header[name]]) for row in rows])
        except (TypeError, ValueError):
            raise ValueError(f"path: column {header[name]!r} of {path.name} holds a non-numeric value") from None

    N, L = column("N"), column("loss")
    D = column("D") if "D" in header else column("C") / (6 * N)
    return {"N": N, "D": D, "L": L}


def drop_highest_losses(runs: dict[str, np.ndarray], count: int = 5) -> dict[str, np.ndarray]:
    """Besiroglu et al. 2024's preprocessing: keep the runs with loss below the ``count``-th highest."""
    keep = runs["L"] < np.sort(runs["L"])[-count]
    return {name: values[keep] for name, values in runs.items()}


# The runs of the synthetic design that diverge first: every 8th, starting with the 4th.
DIVERGED_RUNS = np.arange(3, 48, 8)


def planted_runs(A, B, E, alpha, beta, diverged: int = 0, inflation: float = 1.5):
    """Synthetic runs on a fixed design, their losses exactly ``E + A N^-alpha + B D^-beta``, but ``diverged`` runs.

    The design: 8 model sizes ``N`` from 5e7 to 1.6e10 (the range of Hoffmann et al.'s runs) times
    6 token counts per parameter ``D/N`` from 1 to 300, 48 runs. The noise model: the losses are
    exact except for ``diverged`` runs (every 8th, starting with the 4th) whose loss is multiplied
    by ``inflation`` (a training run that went wrong). Returns ``(N, D, L)``.
    """
    if not 0 <= diverged <= len(DIVERGED_RUNS):
        raise ValueError(f"diverged must be between 0 and {len(DIVERGED_RUNS)}, got {diverged}")
    N, ratio = np.meshgrid(np.geomspace(5e7, 1.6e10, 8), np.geomspace(1.0, 300.0, 6), indexing="ij")
    N, D = N.ravel(), (N * ratio).ravel()
    L = E + A * N**-alpha + B * D**-beta
    bad = DIVERGED_RUNS[:diverged]
    L[bad] = L[bad] * inflation
    return N, D, L



# --- figures ------------------------------------------------------------------------------------


def iso_flop_figure(fit: ScalingFit, budgets, runs=None) -> Figure:
    """Loss against ``N`` along ``6 N D = C`` for each budget ``C`` (the fitted law), its minimum marked, runs overlaid.

    Each curve spans ``D/N`` from 1/100 to about 10^5 around the equal split ``N = D = sqrt(C/6)``;
    the loss axis shows ``E`` to ``E + 3.5``, where the runs of interest lie.
    """
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    figure = Figure(figsize=(6.0, 4.0))
    axes = figure.add_subplot()
    for C in budgets:
        equal_split = np.sqrt(C / 6)
        N = np.geomspace(equal_split / 300, equal_split * 10, 400)
        loss = fit.loss(N, C / (6 * N))
        (line,) = axes.plot(N, loss, lw=1.2, label=f"C = {C:.0e} FLOPs")
        best = np.argmin(loss)
        axes.plot(N[best], loss[best], "o", color=line.get_color(), ms=4)
    if runs is not None:
        axes.scatter(runs["N"], runs["L"], s=5, c="0.5", alpha=0.6, label="runs")
    axes.set_xscale("log")
    axes.set_ylim(fit.E - 0.05, fit.E + 3.5)
    axes.set_xlabel("parameters N")
    axes.set_ylabel("loss L")
    axes.legend(fontsize=7)
    figure.tight_layout()
    return figure


def optimal_size_band_figure(budgets, optimum, band, level: float) -> Figure:
    """``N_opt(C)`` from the fit, with the bootstrap band ``band = (lo, hi)`` at ``level``."""
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    figure = Figure(figsize=(6.0, 4.0))
    axes = figure.add_subplot()
    axes.fill_between(budgets, band[0], band[1], alpha=0.3, label=f"{level:.0%} bootstrap band")
    axes.plot(budgets, optimum, lw=1.5, label="fitted law")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("training compute C (FLOPs)")
    axes.set_ylabel("compute-optimal parameters N_opt")
    axes.legend(fontsize=7)
    figure.tight_layout()
    return figure


def huber_minimiser_near(A, B, E, alpha, beta, N, D, L, delta: float = HUBER_DELTA):
    """The minimiser of the Huber objective near ``(A, B, E, alpha, beta)`` per instance; ``(values, accuracy)``.

    The independent computation for ``scaling-law-fit``: scipy's trust-region least squares
    (``least_squares(loss="huber", f_scale=delta)``, whose cost is exactly ``sum Huber_delta(r_i)``)
    on residuals written in the original form ``ln(E + A N^-alpha + B D^-beta) - ln L``, not the
    log-sum-exp form, in variables ``(ln A, ln B, ln E, alpha, beta)``, started at the given
    (planted) parameters. Inputs are batches: ``A, ..., beta`` of shape ``(n,)``; ``N, D, L`` of
    shape ``(n, runs)``. A loop over instances (least squares solves one problem at a time).

    ``accuracy`` (per instance and component, in the returned units) bounds how far any point
    whose Huber gradient is within ``GRADIENT_SLACK`` of zero can lie from the minimiser, to
    first order: ``|H^-1| (|g| + GRADIENT_SLACK)`` with ``H = J_in^T J_in`` the Gauss-Newton
    Hessian over the runs inside the quadratic zone ``|r| <= delta`` and ``g`` this solver's
    final gradient. ``GRADIENT_SLACK`` covers the L-BFGS stopping rule (``gtol`` per component)
    and the rounding of a gradient summed over the runs.
    """
    with one_blas_thread():
        return _minimisers_near(A, B, E, alpha, beta, N, D, L, delta)


def _minimisers_near(A, B, E, alpha, beta, N, D, L, delta):
    values, accuracy = [], []
    for row in zip(A, B, E, alpha, beta, N, D, L):
        *planted, n, d, loss = (np.asarray(x, dtype=float) for x in row)
        log_loss = np.log(loss)

        def residual(x, n=n, d=d, log_loss=log_loss):
            return np.log(np.exp(x[2]) + np.exp(x[0]) * n ** -x[3] + np.exp(x[1]) * d ** -x[4]) - log_loss

        start = np.concatenate([np.log(planted[:3]), planted[3:]])
        result = least_squares(
            residual, start, loss="huber", f_scale=delta, method="trf", xtol=1e-15, ftol=1e-15, gtol=1e-15
        )
        inside = np.abs(result.fun) <= delta
        jacobian = result.jac[inside]
        spread = np.abs(np.linalg.pinv(jacobian.T @ jacobian)) @ (np.abs(result.grad) + GRADIENT_SLACK)
        x = result.x
        natural = np.concatenate([np.exp(x[:3]), x[3:]])
        values.append(natural)
        # (ln A) off by s means A off by A (e^s - 1); the exponents are off by s itself.
        accuracy.append(np.concatenate([natural[:3] * np.expm1(spread[:3]), spread[3:]]))
    return np.array(values), np.array(accuracy)
