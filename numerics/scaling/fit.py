"""Fitting ``L(N, D) = E + A N^-alpha + B D^-beta`` to training runs, the way the Chinchilla paper does.

Hoffmann et al. 2022, section 3.3 (approach 3) and appendix D.2: minimise the Huber loss
(``delta = 1e-3``) between the predicted and the observed log-loss, with the prediction in
log-sum-exp form ``LSE(a - alpha ln N, b - beta ln D, e)`` (``A = e^a``, ``B = e^b``,
``E = e^e``), by L-BFGS from every point of a grid of initialisations, keeping the best.
Besiroglu, Erdil, Barnett, You 2024 ("Chinchilla Scaling: A replication attempt") refit
Hoffmann's published runs this way, drop the 5 highest-loss runs first, and bound the
estimates by bootstrapping the runs. Each L-BFGS optimum is then polished by Newton's method
on the first-order condition (:func:`newton_polish`): L-BFGS's line search stops where the
objective's changes fall below its rounding, which leaves the estimates 1e-7 to 1e-5 (relative)
short of the minimiser along the flat directions of the fit (``A`` against ``alpha``).

Many fits run at once (:func:`minimise`): the starts of one fit, the bootstrap resamples, a
batch of synthetic fits. The objective, its gradient and Hessian and the Newton polish take a
leading batch axis (``theta`` of shape ``(..., 5)``, runs ``(..., runs)``), and L-BFGS runs on
every problem in one vectorised pass per iteration (:func:`numerics.scaling.lbfgs.lbfgs`), each
problem with its own history and stopping test.

* :func:`fit_chinchilla`: the fit, with bootstrap confidence intervals (:class:`ScalingFit`).
* :func:`load_runs`: a CSV of runs (``N``, ``loss`` and ``D`` or ``C``).
* :func:`planted_runs`: synthetic runs from known parameters (for recovery checks).
* :func:`iso_flop_figure`, :func:`optimal_size_band_figure`: the handout's figures.

numpy / scipy / matplotlib only; never SymPy.
"""

from __future__ import annotations

import csv
import functools
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numerics.scaling.lbfgs import lbfgs
from numerics.threads import one_blas_thread

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

# L-BFGS stops on the gradient, or where a step no longer lowers the objective: a relative decrease test
# scaled by max(|f|, 1) (L-BFGS-B's default) ends a fit whose objective is far below 1 long before it
# converges, the premature stop Besiroglu et al. found in Hoffmann et al.'s estimates.
LBFGS_OPTIONS = {"gtol": 1e-12, "maxiter": 2000, "memory": 20}
# Newton's method after L-BFGS (newton_polish): at most this many steps, each at most POLISH_REACH in every
# centred coordinate (a polish of an optimum, not a search), and only while the gradient shrinks.
POLISH_STEPS = 10
POLISH_REACH = 1e-2

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


def huber(residual, delta: float = HUBER_DELTA) -> np.ndarray:
    """Huber's loss: ``r^2/2`` for ``|r| <= delta``, ``delta (|r| - delta/2)`` beyond (Huber 1964)."""
    size = np.abs(residual)
    return np.where(size <= delta, 0.5 * residual**2, delta * (size - 0.5 * delta))


def log_sum_exp_prediction(theta, log_N, log_D) -> tuple[np.ndarray, np.ndarray]:
    """The predicted log-loss ``LSE(a - alpha ln N, b - beta ln D, e)`` and its Jacobian in ``theta``.

    ``theta = (a, b, e, alpha, beta)``, or a batch ``(..., 5)`` with runs ``(..., runs)``. The
    Jacobian ``(..., runs, 5)`` is the softmax weight ``w_k`` of each term for ``a, b, e`` and
    ``-ln N w_1``, ``-ln D w_2`` for the exponents.
    """
    a, b, e, alpha, beta = (theta[..., k, None] for k in range(5))
    size_term, data_term = a - alpha * log_N, b - beta * log_D
    # Shift by the largest term so no exponential overflows (scipy.special.logsumexp does the same, slower;
    # this runs once per L-BFGS iteration, so the three terms are kept as separate arrays).
    largest = np.maximum(np.maximum(size_term, data_term), e)
    size_share, data_share, floor_share = np.exp(size_term - largest), np.exp(data_term - largest), np.exp(e - largest)
    total = size_share + data_share + floor_share
    jacobian = np.empty(total.shape + (5,))
    jacobian[..., 0] = size_share / total
    jacobian[..., 1] = data_share / total
    jacobian[..., 2] = floor_share / total
    jacobian[..., 3] = -log_N * jacobian[..., 0]
    jacobian[..., 4] = -log_D * jacobian[..., 1]
    return largest + np.log(total), jacobian


def huber_objective(
    theta, log_N, log_D, log_L, counts, delta: float = HUBER_DELTA, prediction=log_sum_exp_prediction
) -> tuple[float, np.ndarray]:
    """``sum_i c_i Huber(LSE_i(theta) - ln L_i)`` and its gradient; ``c_i`` counts run ``i`` (bootstrap weights).

    ``prediction(theta, log_N, log_D)`` returns the predicted log-loss and its Jacobian
    (default :func:`log_sum_exp_prediction`; ``scaling-law-fit`` passes the one compiled from its lemma).
    A batch ``theta (..., 5)`` gives values ``(...)`` and gradients ``(..., 5)``.
    """
    predicted, jacobian = prediction(theta, log_N, log_D)
    residual = predicted - log_L
    value = np.sum(counts * huber(residual, delta), axis=-1)
    # Huber's derivative is the residual clipped to [-delta, delta].
    gradient = _weighted_rows(counts * np.clip(residual, -delta, delta), jacobian)
    return value, gradient


def _weighted_rows(weights, jacobian):
    """``sum_i weights_i J_i``: ``weights (..., runs)`` against the Jacobian's rows ``(..., runs, 5)``."""
    return np.matmul(weights[..., None, :], jacobian)[..., 0, :]


def huber_gradient_and_hessian(
    theta, log_N, log_D, log_L, counts, delta: float = HUBER_DELTA, prediction=log_sum_exp_prediction
) -> tuple[np.ndarray, np.ndarray]:
    """The gradient and the Hessian of :func:`huber_objective` in ``theta = (a, b, e, alpha, beta)``.

    With ``t = (a - alpha ln N, b - beta ln D, e) = T theta`` (``T`` a fixed 3 x 5 map per run) the
    prediction is ``LSE(t)``, whose Hessian in ``t`` is ``diag(w) - w w^T`` (``w`` the softmax
    weights) and so ``T^T diag(w) T - J J^T`` in ``theta`` (``J = T^T w``, the Jacobian row). Huber's
    second derivative is 1 inside ``|r| <= delta`` and 0 beyond, so the Hessian is
    ``sum_inside c_i J_i J_i^T + sum_i c_i clip(r_i) (T_i^T diag(w_i) T_i - J_i J_i^T)``.
    ``prediction`` as in :func:`huber_objective`; the weights ``w`` are its first three Jacobian columns.
    A batch ``theta (..., 5)`` gives gradients ``(..., 5)`` and Hessians ``(..., 5, 5)``.
    """
    predicted, jacobian = prediction(theta, log_N, log_D)
    residual = predicted - log_L
    slope = counts * np.clip(residual, -delta, delta)
    inside = counts * (np.abs(residual) <= delta)
    maps = np.zeros(np.broadcast_shapes(np.shape(log_N), np.shape(log_D)) + (3, 5))
    maps[..., 0, 0], maps[..., 0, 3] = 1.0, -log_N
    maps[..., 1, 1], maps[..., 1, 4] = 1.0, -log_D
    maps[..., 2, 2] = 1.0
    # sum_i c_i clip(r_i) T_i^T diag(w_i) T_i, as one product of the stacked rows of every T_i.
    rows = maps.reshape(maps.shape[:-3] + (-1, 5))
    weights = (slope[..., None] * jacobian[..., :3]).reshape(slope.shape[:-1] + (-1, 1))
    weighted = np.matmul(np.swapaxes(rows * weights, -1, -2), rows)
    hessian = np.matmul(np.swapaxes(jacobian * (inside - slope)[..., None], -1, -2), jacobian) + weighted
    return _weighted_rows(slope, jacobian), hessian


def newton_polish(
    theta, log_N, log_D, log_L, counts, delta: float = HUBER_DELTA, prediction=log_sum_exp_prediction
) -> np.ndarray:
    """Newton's method on the first-order condition ``grad = 0`` of :func:`huber_objective`, from an optimum ``theta``.

    L-BFGS accepts a step only if the objective decreases, and near the optimum of a fit with
    diverged runs (objective ~1e-3) the decrease along the flat directions falls below the
    objective's rounding (~1e-19) while the gradient is still ~1e-12: the estimates stop 1e-7 to
    1e-5 (relative) short of the minimiser. The gradient itself is accurate to ~1e-17, so Newton's
    method on it resolves the minimiser to float64's limit. Steps are taken only where the Hessian
    is positive definite (near a minimum), each at most :data:`POLISH_REACH` in every coordinate,
    at most :data:`POLISH_STEPS` of them, and only while the largest gradient component shrinks;
    otherwise ``theta`` is returned as it came. A batch ``theta (..., 5)`` is polished problem by
    problem (each stops on its own), in one vectorised pass per step.
    """
    polished = np.array(theta, dtype=float).reshape(-1, 5)
    runs = [np.broadcast_to(x, (len(polished), np.shape(x)[-1])) for x in (log_N, log_D, log_L, counts)]
    gradient, hessian = huber_gradient_and_hessian(polished, *runs, delta, prediction)
    rows = np.arange(len(polished))
    for _ in range(POLISH_STEPS):
        step, steps = _newton_step(gradient[rows], hessian[rows])
        rows, step = rows[steps], step[steps]
        if not len(rows):
            break
        candidate = polished[rows] + step
        new_gradient, new_hessian = huber_gradient_and_hessian(candidate, *(x[rows] for x in runs), delta, prediction)
        shrinks = np.max(np.abs(new_gradient), axis=1) < np.max(np.abs(gradient[rows]), axis=1)
        rows = rows[shrinks]
        polished[rows], gradient[rows], hessian[rows] = candidate[shrinks], new_gradient[shrinks], new_hessian[shrinks]
    return polished.reshape(np.shape(theta))


def _newton_step(gradient, hessian) -> tuple[np.ndarray, np.ndarray]:
    """``-H^-1 g`` for each problem ``(n, 5)``, by a Jacobi-scaled solve, and where it is a polish step:
    ``H`` positive definite and the step finite and at most :data:`POLISH_REACH` in every coordinate."""
    step = np.zeros_like(gradient)
    scale = np.sqrt(np.abs(np.diagonal(hessian, axis1=1, axis2=2)))
    usable = np.all(scale > 0, axis=1) & np.all(np.isfinite(hessian), axis=(1, 2)) & np.all(np.isfinite(gradient), axis=1)
    scale = np.where(usable[:, None], scale, 1.0)
    scaled = hessian[usable] / (scale[usable, :, None] * scale[usable, None, :])
    definite = np.zeros(len(gradient), dtype=bool)
    definite[usable] = np.linalg.eigvalsh(scaled)[:, 0] > 0
    solved = definite[usable]
    scaled_gradient = (gradient[definite] / scale[definite])[..., None]
    step[definite] = -np.linalg.solve(scaled[solved], scaled_gradient)[..., 0] / scale[definite]
    steps = definite & np.all(np.isfinite(step), axis=1) & (np.max(np.abs(step), axis=1) <= POLISH_REACH)
    return step, steps


def minimise(
    starts, log_N, log_D, log_L, counts=None, delta: float = HUBER_DELTA, objective=None, prediction=log_sum_exp_prediction
) -> tuple[np.ndarray, np.ndarray]:
    """L-BFGS from each row of ``starts`` ``(n, 5)``, each on its runs, in coordinates with ``ln N``, ``ln D`` centred.

    The runs are rows ``(n, runs)`` (one set per start) or one set ``(runs,)`` shared by every
    start; ``counts`` likewise (default: every run once). Returns the optima ``(n, 5)`` in
    ``(a, b, e, alpha, beta)`` and their objective values ``(n,)``.

    ``a - alpha ln N = (a - alpha m) - alpha (ln N - m)``: a linear change of variables, so the
    minimiser is the same, but the intercepts no longer move with the exponents. Uncentred,
    L-BFGS's first steps overshoot an exponent into the region where its term's softmax weight
    (and with it the gradient) vanishes, and the fit stalls on that plateau. ``objective``
    defaults to the Huber objective with ``prediction`` (:func:`huber_objective`), whose optima
    are then polished by :func:`newton_polish` (in the same coordinates); another objective (a
    mutant's, batched the same way) is minimised as it is.
    """
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    n = len(starts)
    log_N, log_D, log_L = (np.broadcast_to(x, (n, np.shape(x)[-1])) for x in (log_N, log_D, log_L))
    counts = np.ones(log_L.shape) if counts is None else np.broadcast_to(counts, log_L.shape)
    shift = np.stack([log_N.mean(axis=1), log_D.mean(axis=1)], axis=1)
    centred = starts.copy()
    centred[:, :2] -= centred[:, 3:] * shift
    runs = (log_N - shift[:, :1], log_D - shift[:, 1:], log_L, counts)
    huber_fit = objective is None
    if huber_fit:
        objective = functools.partial(huber_objective, prediction=prediction)

    def evaluate(theta, rows):
        return objective(theta, *(x[rows] for x in runs), delta)

    with one_blas_thread():
        theta, value = lbfgs(evaluate, centred, **LBFGS_OPTIONS)
        if huber_fit:
            theta = newton_polish(theta, *runs, delta, prediction)
            value = huber_objective(theta, *runs, delta, prediction)[0]
    theta[:, :2] += theta[:, 3:] * shift
    return theta, value


def best_of_starts(
    starts,
    log_N,
    log_D,
    log_L,
    counts=None,
    delta: float = HUBER_DELTA,
    objective=None,
    prediction=log_sum_exp_prediction,
) -> tuple[np.ndarray, float]:
    """L-BFGS from every start at once (:func:`minimise`); the lowest objective wins (the first, on a tie).

    ``objective(theta, log_N, log_D, log_L, counts, delta)`` returns the values and the gradients
    (default: :func:`huber_objective` with ``prediction``, polished by Newton's method).
    """
    theta, values = minimise(starts, log_N, log_D, log_L, counts, delta, objective, prediction)
    best = int(np.argmin(values))
    return theta[best], float(values[best])


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
    prediction=log_sum_exp_prediction,
) -> ScalingFit:
    """Fit ``L = E + A N^-alpha + B D^-beta`` to runs ``(N_i, D_i, L_i)`` (Hoffmann et al. 2022, approach 3).

    Minimises ``sum_i Huber_delta(LSE(a - alpha ln N_i, b - beta ln D_i, e) - ln L_i)`` by L-BFGS
    and keeps the lowest objective. ``starts`` are initialisations ``(a, b, e, alpha, beta)``
    (default :data:`HOFFMANN_GRID`, the paper's 4500). All of them are scored in one vectorised
    pass and L-BFGS runs from the ``polish`` best, all at once (``None``: from every start, as
    Hoffmann et al. and Besiroglu et al. do).

    With ``resamples > 0`` the runs are bootstrapped (drawn with replacement, as multinomial
    counts, from ``seed``), every resample refitted at once by L-BFGS from the full-data optimum
    (not the grid), and ``intervals`` holds the central percentile interval at ``level``.
    ``prediction`` is the predicted log-loss and its Jacobian (see :func:`huber_objective`).
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
    theta, objective = best_of_starts(starts, log_N, log_D, log_L, delta=delta, prediction=prediction)
    samples = bootstrap(theta, log_N, log_D, log_L, resamples, seed, delta, prediction)
    intervals = {}
    if resamples:
        tails = 100 * (1 - level) / 2
        low, high = np.percentile(samples, [tails, 100 - tails], axis=0)
        intervals = {name: (float(lo), float(hi)) for name, lo, hi in zip(PARAMETERS, low, high)}
    A, B, E, alpha, beta = (float(x) for x in natural_parameters(theta))
    return ScalingFit(A, B, E, alpha, beta, objective, level, intervals, samples)


def bootstrap(
    theta, log_N, log_D, log_L, resamples: int, seed: int, delta: float = HUBER_DELTA, prediction=log_sum_exp_prediction
) -> np.ndarray:
    """``(resamples, 5)`` estimates ``(A, B, E, alpha, beta)``, each refitted from ``theta`` on runs drawn with replacement.

    The resamples are multinomial counts of the runs; all of them are refitted at once (:func:`minimise`).
    """
    rng = np.random.default_rng(seed)
    n = len(log_L)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(float)
    if not resamples:
        return np.empty((0, 5))
    estimates, _ = minimise(np.tile(theta, (resamples, 1)), log_N, log_D, log_L, counts, delta, prediction=prediction)
    return natural_parameters(estimates)


# --- data ---------------------------------------------------------------------------------------


MIN_RUNS = 10
"""Runs the fit needs: five are dropped as diverged (:func:`drop_highest_losses`), and the
fit of five parameters needs at least five more."""


def load_runs(path) -> dict[str, np.ndarray]:
    """Runs ``{"N", "D", "L"}`` from a CSV whose header names ``N``, ``loss`` and ``D`` or ``C``.

    Other columns are ignored. With ``C`` (training FLOPs) and no ``D``, ``D = C / (6 N)``
    (Kaplan et al. 2020; Besiroglu et al. 2024 derive tokens this way). Epoch AI's column
    names ``Model Size`` and ``Training FLOP`` are read as ``N`` and ``C``. A UTF-8 byte-order
    mark is accepted. Every value read must be a finite positive number: a ValueError names the
    file, the row (as a spreadsheet numbers it, the header being row 1) and the column otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no such file {str(path)!r}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = {_ALIASES.get(name, name): name for name in (reader.fieldnames or [])}
        missing = [name for name in ("N", "loss") if name not in header]
        if "D" not in header and "C" not in header:
            missing.append("D or C")
        if missing:
            raise ValueError(f"{path.name} lacks the column(s) {', '.join(missing)} (has {list(header.values())})")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path.name} holds no runs")

    def column(name: str) -> np.ndarray:
        return np.array([_positive_cell(path, row, header[name], number) for number, row in enumerate(rows, start=2)])

    N, L = column("N"), column("loss")
    D = column("D") if "D" in header else column("C") / (6 * N)
    return {"N": N, "D": D, "L": L}


def _positive_cell(path: Path, row: dict, column: str, number: int) -> float:
    text = (row.get(column) or "").strip()
    where = f"{path.name}, row {number}, column {column!r}"
    if not text:
        raise ValueError(f"{where}: the cell is empty")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{where}: {text} is not a finite positive number")
    return value


def drop_highest_losses(runs: dict[str, np.ndarray], count: int = 5) -> dict[str, np.ndarray]:
    """Besiroglu et al. 2024's preprocessing: keep the runs with loss below the ``count``-th highest.

    Refuses fewer than :data:`MIN_RUNS` runs, too few to fit after the drop.
    """
    if len(runs["L"]) < MIN_RUNS:
        raise ValueError(f"{len(runs['L'])} runs: the fit needs at least {MIN_RUNS} (the {count} highest losses are dropped as diverged)")
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

    The independent computation for ``scaling-law-fit``. It shares no code with the fit: the
    residuals are written in the original form ``ln(E + A N^-alpha + B D^-beta) - ln L`` (not the
    log-sum-exp form), in variables ``x = (ln A, ln B, ln E, alpha, beta)``, with their first and
    second derivatives differentiated here by hand. Levenberg-Marquardt (a trust-region
    Gauss-Newton method; Levenberg 1944, Marquardt 1963) on ``sum_i Huber_delta(r_i)`` starts at
    the given (planted) parameters; Newton's method on the first-order condition
    ``g(x) = sum_i psi(r_i) grad r_i = 0`` (``psi`` the residual clipped to ``[-delta, delta]``) then
    takes it to float64's limit. Inputs are batches: ``A, ..., beta`` of shape ``(n,)``; ``N, D, L``
    of shape ``(n, runs)``; every instance is solved at once (scipy's least squares solves one
    problem at a time), each with its own damping and stopping test.

    ``accuracy`` (per instance and component, in the returned units) bounds the distance from
    the returned point to the exact minimiser by the first-order condition, to first order:
    ``|x - x*| <= |H^-1 g| + |H^-1| gamma``, ``H`` the Hessian of the objective and ``g`` the
    gradient at the returned point, ``gamma`` a bound on the rounding error of ``g`` (each residual
    to ``4 eps (1 + |ln L_i|)``, each product and the sum over runs to ``(8 + runs) eps`` of its
    terms); the bound is doubled for the second-order remainder. Where ``H`` is not positive
    definite (no isolated minimum next to the start) the accuracy is infinite.
    """
    planted = np.stack([np.log(A), np.log(B), np.log(E), alpha, beta], axis=1).astype(float)
    N, D, L = (np.asarray(x, dtype=float) for x in (N, D, L))
    runs = (N, D, np.log(N), np.log(D), np.log(L))
    with one_blas_thread():
        x = _newton(_levenberg_marquardt(planted, runs, delta), runs, delta)
        return _with_accuracy(x, runs, delta)


_EPS = np.finfo(float).eps
LM_STEPS = 100
"""Levenberg-Marquardt steps at most (tried or taken); a start at the planted law needs a few."""
LM_STEP_TOLERANCE = 1e-12
"""Levenberg-Marquardt stops once a step moves no coordinate by more than this (relative): Newton's method finishes."""
NEWTON_STEPS = 8


def _original_form(x, N, D, log_N, log_D, log_L, curvature: bool = True):
    """Residuals ``ln(E + A N^-alpha + B D^-beta) - ln L`` ``(n, runs)``, their Jacobian ``(n, runs, 5)`` and
    (with ``curvature``) second derivatives ``(n, runs, 5, 5)``, at ``x (n, 5)``."""
    A, B, E = (np.exp(x[:, k, None]) for k in range(3))
    size_term, data_term = A * N ** -x[:, 3, None], B * D ** -x[:, 4, None]
    loss = E + size_term + data_term
    E = np.broadcast_to(E, loss.shape)
    # d loss / d (ln A, ln B, ln E, alpha, beta) and the second derivatives of the loss.
    first = np.stack([size_term, data_term, E, -log_N * size_term, -log_D * data_term], axis=-1)
    jacobian = first / loss[..., None]
    residual = np.log(loss) - log_L
    if not curvature:
        return residual, jacobian
    second = np.zeros(loss.shape + (5, 5))
    second[..., 0, 0], second[..., 3, 3] = size_term, log_N**2 * size_term
    second[..., 0, 3] = second[..., 3, 0] = -log_N * size_term
    second[..., 1, 1], second[..., 4, 4] = data_term, log_D**2 * data_term
    second[..., 1, 4] = second[..., 4, 1] = -log_D * data_term
    second[..., 2, 2] = E
    # ln(loss): second derivative loss''/loss - (loss'/loss)(loss'/loss)^T.
    curvature = second / loss[..., None, None] - jacobian[..., :, None] * jacobian[..., None, :]
    return residual, jacobian, curvature


def _huber_cost(residual, delta):
    """``sum_i Huber_delta(r_i)`` per instance (written out: the oracle shares no code with the fit)."""
    size = np.abs(residual)
    return np.sum(np.where(size <= delta, 0.5 * residual**2, delta * (size - 0.5 * delta)), axis=-1)


def _rows_times(weights, jacobian):
    """``sum_i w_i J_i`` per instance: ``(n, runs)`` weights against ``(n, runs, 5)`` rows."""
    return np.matmul(weights[:, None, :], jacobian)[:, 0, :]


def _levenberg_marquardt(x, runs, delta):
    """Levenberg-Marquardt on ``sum_i Huber(r_i(x))`` from every row of ``x (n, 5)`` at once.

    Each step solves ``(G + lambda diag(G)) s = -g`` with ``G = sum_inside J_i J_i^T`` (the
    Gauss-Newton matrix: Huber's second derivative is 1 inside ``|r| <= delta``, 0 beyond) and
    ``g = sum_i psi(r_i) J_i``; a step that lowers the cost is taken and ``lambda`` divided by 10,
    else ``lambda`` is multiplied by 10. An instance stops when a taken step moves no coordinate
    by more than :data:`LM_STEP_TOLERANCE` (relative), when its gradient vanishes, or when no
    damping lowers its cost.
    """
    x = x.copy()
    residual, jacobian = _original_form(x, *runs, curvature=False)
    cost = _huber_cost(residual, delta)
    damping = np.full(len(x), 1e-3)
    rows = np.arange(len(x))
    for _ in range(LM_STEPS):
        r, J = residual[rows], jacobian[rows]
        gradient = _rows_times(np.clip(r, -delta, delta), J)
        normal = np.matmul(np.swapaxes(J * (np.abs(r) <= delta)[..., None], 1, 2), J)
        diagonal = np.diagonal(normal, axis1=1, axis2=2)
        scale = np.maximum(diagonal, 1e-12 * np.max(diagonal, axis=1, keepdims=True) + 1e-300)
        damped = normal + damping[rows, None, None] * (scale[:, :, None] * np.eye(5))
        step = -np.linalg.solve(damped, gradient[..., None])[..., 0]
        candidate = x[rows] + step
        new_residual, new_jacobian = _original_form(candidate, *(v[rows] for v in runs), curvature=False)
        new_cost = _huber_cost(new_residual, delta)
        better = np.isfinite(new_cost) & (new_cost < cost[rows])
        taken = rows[better]
        x[taken], residual[taken], jacobian[taken], cost[taken] = (
            candidate[better], new_residual[better], new_jacobian[better], new_cost[better]
        )
        damping[taken] /= 10
        damping[rows[~better]] *= 10
        small = np.all(np.abs(step) <= LM_STEP_TOLERANCE * (1 + np.abs(candidate)), axis=1)
        done = (better & small) | (np.max(np.abs(gradient), axis=1) == 0) | (damping[rows] > 1e20)
        rows = rows[~done]
        if not len(rows):
            break
    return x


def _first_order(x, runs, delta):
    """Gradient ``(n, 5)`` and Hessian ``(n, 5, 5)`` of the Huber objective at ``x (n, 5)``, and the residuals
    and Jacobian."""
    residual, jacobian, curvature = _original_form(x, *runs)
    clipped = np.clip(residual, -delta, delta)
    inside = np.abs(residual) <= delta
    gradient = _rows_times(clipped, jacobian)
    hessian = np.matmul(np.swapaxes(jacobian * inside[..., None], 1, 2), jacobian)
    hessian += np.matmul(clipped[:, None, :], curvature.reshape(len(x), -1, 25)).reshape(-1, 5, 5)
    return gradient, hessian, residual, jacobian


def _positive_definite_inverse(hessian):
    """``H^-1`` per instance by a Jacobi-scaled inversion, NaN where ``H`` is not positive definite."""
    inverse = np.full(hessian.shape, np.nan)
    scale = np.sqrt(np.abs(np.diagonal(hessian, axis1=1, axis2=2)))
    usable = np.all(scale > 0, axis=1) & np.all(np.isfinite(hessian), axis=(1, 2))
    outer = scale[usable, :, None] * scale[usable, None, :]
    scaled = hessian[usable] / outer
    definite = np.linalg.eigvalsh(scaled)[:, 0] > 0
    chosen = np.flatnonzero(usable)[definite]
    inverse[chosen] = np.linalg.inv(scaled[definite]) / outer[definite]
    return inverse


def _newton(x, runs, delta):
    """Newton's method on ``g(x) = 0`` from every row of ``x``: at most :data:`NEWTON_STEPS` steps, each taken
    only where the Hessian is positive definite and the largest gradient component shrinks."""
    x = x.copy()
    gradient, hessian, _, _ = _first_order(x, runs, delta)
    rows = np.arange(len(x))
    for _ in range(NEWTON_STEPS):
        inverse = _positive_definite_inverse(hessian[rows])
        definite = np.all(np.isfinite(inverse), axis=(1, 2))
        rows, inverse = rows[definite], inverse[definite]
        if not len(rows):
            break
        candidate = x[rows] - np.matmul(inverse, gradient[rows][..., None])[..., 0]
        new_gradient, new_hessian, _, _ = _first_order(candidate, tuple(v[rows] for v in runs), delta)
        shrinks = np.max(np.abs(new_gradient), axis=1) < np.max(np.abs(gradient[rows]), axis=1)
        rows = rows[shrinks]
        x[rows], gradient[rows], hessian[rows] = candidate[shrinks], new_gradient[shrinks], new_hessian[shrinks]
    return x


def _with_accuracy(x, runs, delta):
    """The natural parameters ``(n, 5)`` at ``x`` and their accuracy from the first-order condition (see
    :func:`huber_minimiser_near`); infinite where the Hessian is not positive definite."""
    gradient, hessian, residual, jacobian = _first_order(x, runs, delta)
    inverse = _positive_definite_inverse(hessian)
    natural = np.concatenate([np.exp(x[:, :3]), x[:, 3:]], axis=1)
    inside = np.abs(residual) <= delta
    clipped = np.clip(residual, -delta, delta)
    residual_rounding = 4 * _EPS * (1 + np.abs(runs[4]))
    magnitude = np.abs(jacobian)
    gradient_rounding = _rows_times(inside * residual_rounding, magnitude) + (8 + residual.shape[1]) * _EPS * _rows_times(
        np.abs(clipped), magnitude
    )
    distance = np.abs(np.matmul(inverse, gradient[..., None])[..., 0])
    spread = 2 * (distance + np.matmul(np.abs(inverse), gradient_rounding[..., None])[..., 0])
    # (ln A) off by s means A off by A (e^s - 1); the exponents are off by s itself.
    accuracy = np.concatenate([natural[:, :3] * np.expm1(spread[:, :3]), spread[:, 3:]], axis=1)
    unresolved = ~(np.all(np.isfinite(inverse), axis=(1, 2)) & np.all(np.isfinite(gradient), axis=1))
    accuracy[unresolved] = np.inf
    return natural, accuracy
