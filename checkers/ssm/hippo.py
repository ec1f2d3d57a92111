"""hippo-legt and hippo-lagt: HiPPO memories of a sliding window and of an exponentially fading past (proofs.ssm.hippo).

hippo-legt is checked against quadrature, hippo-lagt against the Laplace transform of the
Laguerre polynomials (numerics.ssm.hippo).

What is checked is exact: the rate of change of the window's projection coefficients,
computed independently as the projection of ``f'`` (at fixed position ``x`` in the window,
``d/dt c_n(t) = (1/2) int f'(t + theta(x-1)/2) g_n(x) dx``), equals the LegT right-hand side
``(1/theta)(-A c + B f(t))`` plus the error of the paper's one approximation,
``(1/theta) e (e^T c - f(t - theta))`` (the leaving value read from the reconstruction). The
figure shows the LegT and LegS memories reconstructing a signal online. For LagT nothing leaves the
memory, so its ODE is exact: the rate of the Laguerre coefficients (the projection of ``f'``) equals
``-A c + B f(t)``.
"""

from __future__ import annotations

import functools

import numpy as np

from checkers.domains import Integer, Real
from checkers.policies import Deterministic
from checkers.theorem import Theorem
from checkers.results import Plot
from checkers.ssm import HIPPO, SYLLABUS, hippo_legs, leading_dynamics, signal_inputs, signal_of
from numerics.ssm.hippo import (
    fourier_derivative,
    integrate_window_memory,
    laguerre_projection,
    legendre_reconstruction,
    reconstruction_figure,
    window_projection,
)
from numerics.ssm.legs import integrate_memory
from proofs.ssm.hippo import LAGT_N_MAX, LEGT_N_MAX, lagt_dynamics, legt_dynamics

VOELKER = (
    "Voelker, Kajic, Eliasmith 2019, Legendre Memory Units: Continuous-Time Representation in Recurrent Neural Networks"
)
HORIZON = (0.0, 5.0)
"""Window ends ``T`` uniform in [0, 5]; the trigonometric signals are defined for all times, so a window may reach
below 0."""

FIGURE_SIZES = (2, 4, 8)
FIGURE_HORIZON = 4.0
FIGURE_TERMS = 6
FIGURE_MAX_FREQUENCY = 4.0


def _legt_matrices(closed_form, exact_dynamics, N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``A`` (N x N), ``B`` and ``e`` (N,): leading blocks of the compiled closed forms given.

    ``closed_form`` is the derivation's result ``(A | B)``, ``exact_dynamics`` its step labelled
    ``exact-dynamics``, ``(D | B | e)``. ``D`` is strictly lower triangular, so the first ``N``
    coefficients obey the exact dynamics with the leading blocks, and the LegT memory of size ``N``
    (whose reconstruction uses ``N`` terms) has ``A_N = D_N + e_N e_N^T``, the leading block of ``A``.
    """
    dynamics = closed_form()[0]
    window_start = exact_dynamics()[0][:, LEGT_N_MAX + 1]
    return dynamics[:N, :N], dynamics[:N, LEGT_N_MAX], window_start[:N]


def _derived_legt_matrices(N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The theorem's own ``A``, ``B`` and ``e`` (for the mutants, the worked example and the figure)."""
    return _legt_matrices(hippo_legt.closed_form(), hippo_legt.closed_form("exact-dynamics"), N)


def _window_rate(A, B, e, theta, T, amplitude, frequency, phase) -> np.ndarray:
    """``(1/theta)(-A c + B f(T) + e (e^T c - f(T - theta)))`` at the projection ``c`` of ``f`` on the window."""
    signal = signal_of(amplitude, frequency, phase)
    coefficients = window_projection(signal, T, theta, len(B))
    entering = signal(T[:, None])[:, 0]
    leaving = signal((T - theta)[:, None])[:, 0]
    drift = -coefficients @ A.T + np.multiply.outer(entering, B) + np.multiply.outer(coefficients @ e - leaving, e)
    return drift / theta[:, None]


def _legt_rate(closed_form, N, theta, T, amplitude, frequency, phase):
    """The claim: the LegT right-hand side with ``A``, ``B`` from ``closed_form``, plus the approximation's error term.

    The engine passes only the compiled result ``(A | B)``; ``e`` comes from the derivation's step
    labelled ``exact-dynamics``.
    """
    matrices = _legt_matrices(closed_form, hippo_legt.closed_form("exact-dynamics"), N)
    return _window_rate(*matrices, theta, T, amplitude, frequency, phase)


def _rate_by_quadrature(N, theta, T, amplitude, frequency, phase):
    """The oracle: ``d/dt c_n(T)``, the window projection of ``f'`` (never uses ``A``, ``B`` or a Legendre identity)."""
    return window_projection(signal_of(**fourier_derivative(amplitude, frequency, phase)), T, theta, N)


def _rate_with(change):
    """A mutant: the rate with ``change(A, B, e, theta) -> (A, B, theta)`` applied to the derived matrices."""

    def mutant(N, theta, T, amplitude, frequency, phase):
        A, B, e = _derived_legt_matrices(N)
        A, B, scale = change(A, B, e, theta)
        return _window_rate(A, B, e, scale, T, amplitude, frequency, phase)

    return mutant


def _alternating(size: int) -> np.ndarray:
    return (-1.0) ** np.arange(size)


def _legt_values(N):
    A, B, _ = _derived_legt_matrices(N)
    return {"A": A, "B": B.tolist()}


def _online_legt(N, signal, theta):
    """The LegT memory of size ``N`` run from rest at ``t = 0`` to the figure's horizon, reconstructed on its window."""
    A, B, _ = _derived_legt_matrices(N)
    memory = integrate_window_memory(A, B, signal, np.array([FIGURE_HORIZON]), np.array([theta]), np.zeros((1, N)))
    return legendre_reconstruction(memory[0], np.linspace(-1, 1, 200))


def _online_legs(N, signal):
    """The LegS memory of size ``N`` (the theorem hippo-legs) at the figure's horizon, reconstructed on ``[0, T]``."""
    A, B = leading_dynamics(hippo_legs.closed_form(), N)
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
        r"normalisation: $\lambda_n = 1$ in Gu et al.'s appendix D.1, as in the authors' code "
        r"(\texttt{transition('legt', N)}, there with $\theta = 1$ and the sign of $A$ folded in; versions that "
        r"halve $A$ and $B$ use $\theta = 2$); the LMU "
        r"(Voelker et al. 2019) is the same memory in the coordinates $d_n = (-1)^n \sqrt{2n+1}\, c_n$",
        r"numerically, $c(T)$, $c'(T)$ (the projection of $f'$ at fixed position in the window) are computed by "
        r"64-node Gauss--Legendre quadrature of random trigonometric polynomials "
        r"$\sum_{k=1}^{3} a_k \cos(\omega_k t + \varphi_k)$, $a_k \sim \mathcal{N}(0, 1)$, $\omega_k \in [0, 2]$, "
        r"window ends $T \in [0, 5]$",
    ),
    sources=(f"{HIPPO}, section 3 and appendix D.1", VOELKER, SYLLABUS),
    parameters={
        "N": Integer(1, LEGT_N_MAX, shape=True, default=4),
        "theta": Real(0.5, 2.0, default=1.0),
    },
    inputs=functools.partial(signal_inputs, horizon=HORIZON),
    derivation=legt_dynamics,
    assemble=_legt_rate,
    oracle=_rate_by_quadrature,
    mutants={
        "(-1)^(n-k) on the lower triangle instead of the upper": _rate_with(
            lambda A, B, e, theta: (A * np.outer(_alternating(len(B)), _alternating(len(B))), B, theta)
        ),
        "B_n = 1": _rate_with(lambda A, B, e, theta: (A, np.ones_like(B), theta)),
        "no 1/theta": _rate_with(lambda A, B, e, theta: (A, B, np.ones_like(theta))),
        "leaving value ignored: A = D (no e e^T)": _rate_with(lambda A, B, e, theta: (A - np.outer(e, e), B, theta)),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=2e-11,
        reason=(
            "the quadrature coefficients are 64-term sums of |w_j f g_n| <= 12 sqrt(15) (weights summing to 1), "
            "whose rounding grows like sqrt(64) u: 8 * 1.1e-16 * 12 * 3.9 = 4e-14 per coefficient (64 u, 3e-13, in "
            "the worst case). The claim carries it through at most max_n sum_k (|A_nk| + |e_n e_k|) = 166 (N = 8) "
            "over theta >= 0.5: 1.4e-11; its own arithmetic adds below 1e-13, and the oracle (the same quadrature "
            "of |f'| <= 24) 1e-13. Observed: at most 1.3e-12 on 1000 instances (seeds 0-2). The mutants "
            "disagree by more than 1e11 times it."
        ),
    ),
    example={"N": 4, "theta": 1.0},
    values=_legt_values,
    figures=_reconstruction_figures,
)


# --- hippo-lagt -------------------------------------------------------------------------------


def _lagt_matrices(closed_form, N: int) -> tuple[np.ndarray, np.ndarray]:
    """``A`` (N x N) and ``B`` (N,): leading blocks of the compiled ``(A | B)`` (``A`` is lower triangular)."""
    dynamics = closed_form()[0]
    return dynamics[:N, :N], dynamics[:N, LAGT_N_MAX]


def _laguerre_rate(A, B, T, amplitude, frequency, phase) -> np.ndarray:
    """``-A c(T) + B f(T)`` at the Laguerre coefficients ``c(T)`` of the signal."""
    coefficients = laguerre_projection(T, amplitude, frequency, phase, len(B))
    return -coefficients @ A.T + np.multiply.outer(signal_of(amplitude, frequency, phase)(T[:, None])[:, 0], B)


def _lagt_rate(closed_form, N, T, amplitude, frequency, phase):
    """The claim: the LagT right-hand side with ``A`` and ``B`` from ``closed_form``."""
    return _laguerre_rate(*_lagt_matrices(closed_form, N), T, amplitude, frequency, phase)


def _laguerre_rate_by_transform(N, T, amplitude, frequency, phase):
    """The oracle: ``d/dt c_n(T)``, the Laguerre coefficients of ``f'`` (no ``A``, ``B`` or Laguerre identity)."""
    return laguerre_projection(T, **fourier_derivative(amplitude, frequency, phase), size=N)


def _laguerre_rate_with(change):
    """A mutant: the rate with ``change(A, B) -> (A, B)`` applied to the derived matrices."""

    def mutant(N, T, amplitude, frequency, phase):
        return _laguerre_rate(*change(*_lagt_matrices(hippo_lagt.closed_form(), N)), T, amplitude, frequency, phase)

    return mutant


def _lagt_values(N):
    A, B = _lagt_matrices(hippo_lagt.closed_form(), N)
    return {"A": A, "B": B.tolist()}


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
        r"numerically, $c(T)$ and $c'(T)$ (the coefficients of $f'$) come in closed form from the Laplace transform "
        r"$\int_0^\infty L_n(y) e^{-py} dy = (p-1)^n / p^{n+1}$ for random trigonometric polynomials "
        r"$\sum_{k=1}^{3} a_k \cos(\omega_k t + \varphi_k)$, $a_k \sim \mathcal{N}(0, 1)$, $\omega_k \in [0, 2]$, "
        r"$T \in [0, 5]$",
    ),
    sources=(f"{HIPPO}, section 2 and appendix D.2", SYLLABUS),
    parameters={"N": Integer(1, LAGT_N_MAX, shape=True, default=4)},
    inputs=functools.partial(signal_inputs, horizon=HORIZON),
    derivation=lagt_dynamics,
    assemble=_lagt_rate,
    oracle=_laguerre_rate_by_transform,
    mutants={
        "diagonal 1/2 (the tilted Laguerre functions' A)": _laguerre_rate_with(
            lambda A, B: (A - np.eye(len(B)) / 2, B)
        ),
        "A transposed (ones on and above the diagonal)": _laguerre_rate_with(lambda A, B: (A.T, B)),
        "B_n = sqrt(2n + 1) (LegS's B)": _laguerre_rate_with(lambda A, B: (A, np.sqrt(2 * np.arange(len(B)) + 1.0))),
    },
    tolerance=Deterministic(
        rtol=0.0,
        atol=1e-12,
        reason=(
            "both sides are sums of at most N + 1 <= 9 terms of size at most sum |a_k| <= 12 (|a_k w_k| <= 24 for the "
            "oracle's f'), each term a complex power (i w/(1 + i w))^n / (1 + i w) with relative error at most "
            "(n + 2) u <= 10 u: at most 9 * 24 * 10 * 1.1e-16 = 2.4e-13 per side, so 5e-13 together; atol 1e-12 "
            "leaves a factor 2. The mutants disagree by more than 1e10 times it."
        ),
    ),
    example={"N": 4},
    values=_lagt_values,
)
