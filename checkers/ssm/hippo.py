"""hippo-legt and hippo-lagt: HiPPO memories of a sliding window and of an exponentially fading past (proofs.ssm.hippo).

Each claim is the derivation's matrix of the memory's ODE: for LegT the exact
``(-A/theta | B/theta | e/theta)`` of ``c' = (1/theta)(-A c + B f(t) + e epsilon)``, where
``epsilon = e^T c - f(t - theta)`` is the error of reading the leaving value from the
reconstruction (the paper's approximation drops it); for LagT, where nothing leaves the memory,
``(-A | B)`` of ``c' = -A c + B f``. Each oracle finds the one matrix that the coefficients of test
signals obey (numerics.ssm.hippo.memory_dynamics): the coefficients by quadrature of their
definition (Gauss-Legendre on the window, Gauss-Laguerre for the fading past), their rates by
complex-step differentiation of that quadrature, over Legendre (Laguerre) test polynomials and a
random trigonometric signal. The figure shows the LegT and LegS memories reconstructing a signal online.
"""

from __future__ import annotations

import numpy as np

from checkers.domains import Integer, Real
from checkers.policies import Deterministic
from checkers.theorem import Anchor, Theorem
from checkers.results import Plot
from checkers.ssm import HIPPO, SYLLABUS, leading_blocks, legs_matrices, signal_inputs, signal_of
from numerics.ssm.hippo import (
    integrate_window_memory,
    laguerre_projection,
    laguerre_signals,
    legendre_reconstruction,
    memory_dynamics,
    reconstruction_figure,
    window_projection,
)
from numerics.ssm.legs import integrate_memory, legendre_signals, scaled_legendre_basis
from proofs.ssm.hippo import LAGT_N_MAX, LEGT_N_MAX, lagt_dynamics, legt_dynamics

VOELKER = (
    "Voelker, Kajic, Eliasmith 2019, Legendre Memory Units: Continuous-Time Representation in Recurrent Neural Networks"
)
HORIZON = (0.0, 5.0)
"""Times ``T`` (window ends, for LegT) uniform in [0, 5]; the trigonometric signals are defined for all times, so a
window may reach below 0."""

FIGURE_SIZES = (2, 4, 8)
FIGURE_HORIZON = 4.0
FIGURE_TERMS = 6
FIGURE_MAX_FREQUENCY = 4.0


def timed_signal_inputs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """A random trigonometric signal and a time ``T`` uniform in ``HORIZON`` per instance."""
    return {"T": rng.uniform(*HORIZON, size=n), **signal_inputs(rng, n)}


def _alternating(size: int) -> np.ndarray:
    return (-1.0) ** np.arange(size)


# --- hippo-legt -------------------------------------------------------------------------------


def _legt_rate_matrix(closed_form, N, theta):
    """The claim: the derivation's ``(-A/theta | B/theta | e/theta)`` at each instance's ``theta``, leading blocks.

    ``D = A - e e^T`` is strictly lower triangular, so the first ``N`` coefficients obey the exact
    dynamics with leading blocks; a memory of size ``N`` reads ``epsilon`` from its own ``N``-term
    reconstruction, and its ``A_N = D_N + e_N e_N^T`` is the leading block of ``A``.
    """
    return leading_blocks(closed_form(theta=theta), N, LEGT_N_MAX)


def legt_matrices(N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``A`` (N x N), ``B`` and ``e`` (N,) of the derivation: its closed form at ``theta = 1`` is ``(-A | B | e)``."""
    dynamics = _legt_rate_matrix(hippo_legt.closed_form(), N, np.ones(1))[0]
    return -dynamics[:, :N], dynamics[:, N], dynamics[:, N + 1]


def _legt_dynamics_of_projections(N, theta, T, amplitude, frequency, phase):
    """The oracle: the window's exact dynamics from its definition, in the statement's unknowns.

    ``memory_dynamics`` finds the matrix ``R`` with ``c'(T) = R (c(T), f(T), f(T - theta))`` for
    ``N + 2`` Legendre test signals on the window and the instance's random signal (``c`` by
    Gauss-Legendre quadrature, ``c'`` by complex step). With ``f(T - theta) = e^T c - epsilon``, where
    ``e`` is the basis at the window's start evaluated by numpy (the ``N``-term reconstruction there),
    the rates are ``(R_c + R_leave e^T) c + R_f f(T) - R_leave epsilon``.
    """
    start = T - theta
    signals = legendre_signals(start, T, N + 2) + [signal_of(amplitude, frequency, phase)]
    exact = memory_dynamics(
        lambda f, times: window_projection(f, times, theta, N),
        signals,
        lambda f: np.concatenate([f(T[:, None]), f(start[:, None])], axis=1),
        T,
    )
    leaving = exact[:, :, N + 1 :]
    window_start = scaled_legendre_basis(np.array(-1.0), N)
    return np.concatenate([exact[:, :, :N] + leaving * window_start, exact[:, :, N : N + 1], -leaving], axis=2)


def _legt_with(change):
    """A mutant: ``change(R, theta)`` applied to the derived ``R = (-A/theta | B/theta | e/theta)`` (leading blocks)."""

    def mutant(N, theta):
        return change(_legt_rate_matrix(hippo_legt.closed_form(), N, theta), theta)

    return mutant


def _sign_pattern_on_the_lower_triangle(R, theta):
    """``(-1)^(n-k)`` on the lower triangle of ``A`` instead of the upper: ``A`` times ``(-1)^(n+k)`` entrywise."""
    N = R.shape[1]
    flipped = R.copy()
    flipped[:, :, :N] *= np.outer(_alternating(N), _alternating(N))
    return flipped


def _without_leaving_value(R, theta):
    """``A = D``, the leaving value ignored: ``-A/theta`` gains ``e e^T / theta``."""
    N = R.shape[1]
    e_over_theta = R[:, :, N + 1]
    changed = R.copy()
    changed[:, :, :N] += e_over_theta[:, :, None] * e_over_theta[:, None, :] * theta[:, None, None]
    return changed


def _unit_input(R, theta):
    changed = R.copy()
    changed[:, :, -2] = 1 / theta[:, None]
    return changed


def _legt_values(N):
    A, B, _ = legt_matrices(N)
    return {"A": A, "B": B.tolist()}


def _online_legt(N, signal, theta):
    """The LegT memory of size ``N`` run from rest at ``t = 0`` to the figure's horizon, reconstructed on its window."""
    A, B, _ = legt_matrices(N)
    memory = integrate_window_memory(A, B, signal, np.array([FIGURE_HORIZON]), np.array([theta]), np.zeros((1, N)))
    return legendre_reconstruction(memory[0], np.linspace(-1, 1, 200))


def _online_legs(N, signal):
    """The LegS memory of size ``N`` (the theorem hippo-legs) at the figure's horizon, reconstructed on ``[0, T]``."""
    A, B = legs_matrices(N)
    memory = integrate_memory(A, B, signal, np.array([FIGURE_HORIZON]))
    return legendre_reconstruction(memory[0], np.linspace(-1, 1, 200))


def _reconstruction_figures(seed, theta):
    rng = np.random.default_rng((seed, 7))
    coefficients = {
        "amplitude": rng.standard_normal((1, FIGURE_TERMS)) / np.sqrt(FIGURE_TERMS),
        "frequency": rng.uniform(0.0, FIGURE_MAX_FREQUENCY, size=(1, FIGURE_TERMS)),
        "phase": rng.uniform(0.0, 2 * np.pi, size=(1, FIGURE_TERMS)),
    }
    signal = signal_of(**coefficients)
    times = np.linspace(0.0, FIGURE_HORIZON, 800)
    values = signal(times[None, :])[0]
    legt_window = np.linspace(FIGURE_HORIZON - theta, FIGURE_HORIZON, 200)
    legs_window = np.linspace(0.0, FIGURE_HORIZON, 200)
    panels = [
        (
            rf"LegT: the window $[T - \theta, T]$, $\theta = {theta:g}$",
            legt_window,
            {N: _online_legt(N, signal, theta) for N in FIGURE_SIZES},
        ),
        ("LegS: the whole history $[0, T]$", legs_window, {N: _online_legs(N, signal) for N in FIGURE_SIZES}),
    ]
    caption = (
        rf"Online reconstruction of a random signal (seed {seed}) at $T = {FIGURE_HORIZON:g}$ from its HiPPO "
        r"coefficients, each memory integrated from rest at $t = 0$ as a signal streams in: "
        r"$\sum_{n<N} c_n(T)\, g_n(\cdot, T)$ for $N = 2, 4, 8$. LegT (the derived $A$, $B$) keeps a sliding window "
        r"(its approximation of the leaving value costs little once $N$ resolves the window); LegS spreads the "
        r"same $N$ coefficients over the whole history, so its resolution decays as $T$ grows."
    )
    figure = reconstruction_figure(times, values, panels)
    return [Plot(name="online-reconstruction", caption=caption, figure=figure)]


LEGT_PRINTED = (
    np.array([[1.0, -np.sqrt(3), np.sqrt(5)], [np.sqrt(3), 3.0, -np.sqrt(15)], [np.sqrt(5), np.sqrt(15), 5.0]]),
    np.array([1.0, np.sqrt(3), np.sqrt(5)]),
    np.array([1.0, -np.sqrt(3), np.sqrt(5)]),
)
"""LegT's ``A``, ``B`` for ``N = 3`` written out from Gu et al. 2020, appendix D.1 (``lambda_n = 1``):
``A_nk = sqrt(2n+1) sqrt(2k+1)`` for ``k <= n`` and ``(-1)^(n-k)`` times that for ``k >= n``, ``B_n = sqrt(2n+1)``;
and ``e_n = g_n(t - theta, t) = sqrt(2n+1) P_n(-1) = (-1)^n sqrt(2n+1)`` by hand."""


hippo_legt = Theorem(
    id="hippo-legt",
    title="HiPPO-LegT: the memory of a sliding window",
    topic="ssm",
    statement=(
        r"Let $g_n(s, t) = \sqrt{2n+1}\, P_n(2(s - t)/\theta + 1)$, orthonormal in $L^2$ of the uniform probability "
        r"measure on the window $[t - \theta, t]$, and "
        r"$c_n(t) = \frac{1}{\theta}\int_{t-\theta}^t f(s) g_n(s, t)\, ds$. "
        r"Then exactly $c'(t) = -\frac{1}{\theta} A c(t) + \frac{1}{\theta} B f(t) "
        r"+ \frac{1}{\theta} e \left(e^\top c(t) - f(t - \theta)\right)$ with "
        r"$A_{nk} = \sqrt{2n+1}\sqrt{2k+1}$ for $k \le n$, $A_{nk} = (-1)^{n-k}\sqrt{2n+1}\sqrt{2k+1}$ for $k > n$, "
        r"$B_n = \sqrt{2n+1}$ and $e_n = g_n(t - \theta, t) = (-1)^n \sqrt{2n+1}$. The last term is the error of "
        r"reading the leaving value $f(t - \theta)$ from the reconstruction $e^\top c(t)$; dropping it (the paper's "
        r"approximation) gives the LegT memory $c' = -\frac{1}{\theta} A c + \frac{1}{\theta} B f$, which is exact "
        r"when $f$ is a polynomial of degree $< N$ on the window. The first $N$ coefficients use the leading blocks. "
        rf"The derivation proves this for $N \le {LEGT_N_MAX}$; the checker samples only those sizes."
    ),
    assumptions=(
        r"$f$ is continuously differentiable and $\theta > 0$",
        rf"the Legendre identities $P_n(\pm 1) = (\pm 1)^n$ and $P_n' = \sum_{{k<n,\, n-k \text{{ odd}}}} (2k+1) P_k$ "
        rf"are proved for $n < {LEGT_N_MAX}$ by expansion",
        r"normalisation: $\lambda_n = 1$ in Gu et al.'s appendix D.1, as in the authors' code, where "
        r"\texttt{transition('legt', N)} has $\theta = 1$ and the sign of $A$ folded in (versions that "
        r"halve $A$ and $B$ use $\theta = 2$); the LMU "
        r"(Voelker et al. 2019) is the same memory in the coordinates $d_n = (-1)^n \sqrt{2n+1}\, c_n$",
        r"numerically, the matrix $(-A/\theta \mid B/\theta \mid e/\theta)$ is compared with the one matrix $R$ "
        r"for which $c'(T) = R\,(c(T), f(T), f(T - \theta))$ holds for $N + 2$ Legendre polynomials on the window "
        r"and a random trigonometric signal $\sum_{k=1}^{3} a_k \cos(\omega_k s + \varphi_k)$ "
        r"($a_k \sim \mathcal{N}(0, 1)$, $\omega_k \in [0, 2]$, window ends $T \in [0, 5]$), with $c(T)$ by "
        r"64-node Gauss--Legendre quadrature and $c'(T)$ by complex-step differentiation of it, rewritten with "
        r"$f(T - \theta) = e^\top c(T) - \varepsilon$ where $e$ is the basis at the window's start",
    ),
    sources=(f"{HIPPO}, section 3 and appendix D.1", VOELKER, SYLLABUS),
    parameters={
        "N": Integer(1, LEGT_N_MAX, shape=True, default=4),
        "theta": Real(0.5, 2.0, default=1.0),
    },
    inputs=timed_signal_inputs,
    derivation=legt_dynamics,
    assemble=_legt_rate_matrix,
    oracle=_legt_dynamics_of_projections,
    mutants={
        "(-1)^(n-k) on the lower triangle instead of the upper": _legt_with(_sign_pattern_on_the_lower_triangle),
        "B_n = 1": _legt_with(_unit_input),
        "no 1/theta": _legt_with(lambda R, theta: R * theta[:, None, None]),
        "leaving value ignored: A = D (no e e^T)": _legt_with(_without_leaving_value),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=1e-11,
        reason=(
            "claim: entries of at most 15 / theta <= 30 compiled in float64, a few u relative. Oracle: 64-node "
            "Gauss-Legendre sums of |w_j f g_n| (weights summing to 1, |g_n| <= sqrt(15), |f| <= 12), exact to "
            "rounding for polynomials of degree <= 9 and for the signals' at most 4 radians over a window; the "
            "complex step adds no cancellation; the least-squares fit is well conditioned (the test polynomials' "
            "coefficients are multiples of unit vectors and their end values are +-1), and adding R_leave e^T "
            "(|e_n| <= sqrt(15)) keeps R within about 100 u of its largest entry: 3e-13. atol 1e-11 leaves a factor "
            "30; the mutants and the generated constant perturbations disagree by at least 1e-3 / 2"
        ),
    ),
    example={"N": 4, "theta": 1.0},
    values=_legt_values,
    figures=_reconstruction_figures,
    anchors=(
        Anchor(
            {"N": 3, "theta": 1.0},
            np.concatenate([-LEGT_PRINTED[0], LEGT_PRINTED[1][:, None], LEGT_PRINTED[2][:, None]], axis=1),
            "Gu et al. 2020, HiPPO, appendix D.1 (LegT, lambda_n = 1): A and B written out for N = 3; "
            "e_n = (-1)^n sqrt(2n+1) by hand; at theta = 1 the matrix is (-A | B | e)",
            rtol=1e-12,
            atol=1e-11,
        ),
    ),
)


# --- hippo-lagt -------------------------------------------------------------------------------


def _lagt_rate_matrix(closed_form, N, T):
    """The claim: the derivation's constant ``(-A | B)``, its leading blocks, for each of the ``len(T)`` instances."""
    dynamics = leading_blocks(closed_form(), N, LAGT_N_MAX)
    return np.broadcast_to(dynamics, (len(T),) + dynamics.shape[1:])


def _lagt_dynamics_of_projections(N, T, amplitude, frequency, phase):
    """The oracle: the matrix ``R`` with ``c'(T) = R (c(T), f(T))`` for ``N + 1`` Laguerre test signals ``L_m(T - s)``
    and the instance's random signal: ``c`` by Gauss-Laguerre quadrature, ``c'`` by complex step (no ``A``, ``B``,
    Laguerre identity or ODE)."""
    signals = laguerre_signals(T, N + 1) + [signal_of(amplitude, frequency, phase)]
    return memory_dynamics(lambda f, times: laguerre_projection(f, times, N), signals, lambda f: f(T[:, None]), T)


def _lagt_with(change):
    """A mutant: ``change(R)`` applied to the derived ``R = (-A | B)`` (leading blocks)."""

    def mutant(N, T):
        return change(_lagt_rate_matrix(hippo_lagt.closed_form(), N, T).copy())

    return mutant


def _half_diagonal(R):
    N = R.shape[1]
    return R + np.eye(N, N + 1) / 2


def _transposed(R):
    N = R.shape[1]
    R[:, :, :N] = np.swapaxes(R[:, :, :N], 1, 2)
    return R


def _legs_input(R):
    R[:, :, -1] = np.sqrt(2 * np.arange(R.shape[1]) + 1.0)
    return R


def _lagt_values(N):
    dynamics = _lagt_rate_matrix(hippo_lagt.closed_form(), N, np.ones(1))[0]
    return {"A": -dynamics[:, :N], "B": dynamics[:, N].tolist()}


hippo_lagt = Theorem(
    id="hippo-lagt",
    title="HiPPO-LagT: the memory of an exponentially fading past",
    topic="ssm",
    statement=(
        r"Let $L_n$ be the Laguerre polynomials, orthonormal in $L^2$ of the probability measure $e^{-(t-s)} ds$ on "
        r"$(-\infty, t]$ (as functions of $t - s$), and $c_n(t) = \int_{-\infty}^t f(s)\, L_n(t - s)\, e^{-(t-s)} ds$ "
        r"the coefficients of the projection of the history of $f$. Then exactly $c'(t) = -A c(t) + B f(t)$ with "
        r"$A_{nk} = 1$ for $k \le n$, $A_{nk} = 0$ for $k > n$, and $B_n = 1$: the measure moves with $t$ but nothing "
        r"leaves it, so unlike LegT no approximation is needed. $A$ is lower triangular, so the first $N$ coefficients "
        rf"obey the ODE with the leading blocks. The derivation proves this for $N \le {LAGT_N_MAX}$; the checker "
        r"samples only those sizes."
    ),
    assumptions=(
        r"$f$ is continuously differentiable and bounded on $(-\infty, t]$",
        rf"the Laguerre identities $L_n(0) = 1$ and $L_n' = -\sum_{{k<n}} L_k$ are proved for $n < {LAGT_N_MAX}$ "
        r"by expansion",
        r"convention: the untilted measure (Gu et al.'s appendix D.2 with $\alpha = 0$ and no tilt, the authors' "
        r"\texttt{transition('tlagt', N, beta=1)}); their first \texttt{'lagt'} uses the Laguerre functions "
        r"$L_n(t - s) e^{-(t-s)/2}$, which moves the diagonal of $A$ to $1/2$",
        r"numerically, the matrix $(-A \mid B)$ is compared with the one matrix $R$ for which "
        r"$c'(T) = R\,(c(T), f(T))$ holds for the $N + 1$ signals $L_m(T - s)$ and a random trigonometric signal "
        r"$\sum_{k=1}^{3} a_k \cos(\omega_k s + \varphi_k)$ ($a_k \sim \mathcal{N}(0, 1)$, $\omega_k \in [0, 2]$, "
        r"$T \in [0, 5]$), with $c(T)$ by 96-node Gauss--Laguerre quadrature and $c'(T)$ by complex-step "
        r"differentiation of it",
    ),
    sources=(f"{HIPPO}, section 2 and appendix D.2", SYLLABUS),
    parameters={"N": Integer(1, LAGT_N_MAX, shape=True, default=4)},
    inputs=timed_signal_inputs,
    derivation=lagt_dynamics,
    assemble=_lagt_rate_matrix,
    oracle=_lagt_dynamics_of_projections,
    mutants={
        "diagonal 1/2 (the tilted Laguerre functions' A)": _lagt_with(_half_diagonal),
        "A transposed (ones on and above the diagonal)": _lagt_with(_transposed),
        "B_n = sqrt(2n + 1) (LegS's B)": _lagt_with(_legs_input),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=2e-11,
        reason=(
            "claim: entries 0 and +-1, exact. Oracle: 96-node Gauss-Laguerre sums, exact to rounding for the "
            "polynomial test signals (degree <= 16); for the random signal (at most 2 radians per unit) the "
            "quadrature has converged to its rounding floor, a few 1e-12 for the degree-7 coefficient (weights "
            "and polynomial values span many orders of magnitude), carried to R through a well-conditioned fit "
            "(the test signals' coefficients are unit vectors): observed at most 5e-12 on 2000 instances. atol "
            "2e-11 leaves a factor 4; the mutants and the generated constant perturbations disagree by at least 1e-3"
        ),
    ),
    example={"N": 4},
    values=_lagt_values,
    anchors=(
        Anchor(
            {"N": 4},
            np.concatenate([-np.tril(np.ones((4, 4))), np.ones((4, 1))], axis=1),
            "Gu et al. 2020, HiPPO, appendix D.2 (untilted LagT): A_nk = 1 for n >= k, 0 otherwise, B_n = 1, "
            "written out for N = 4",
            rtol=0.0,
            atol=2e-11,
        ),
    ),
)
