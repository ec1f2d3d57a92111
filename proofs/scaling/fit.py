"""The log-sum-exp form of the Chinchilla loss and its gradient, as fitted by ``scaling-law-fit`` (SymPy only).

Hoffmann et al. 2022 (section 3.3, appendix D.2) fit ``L = E + A N^-alpha + B D^-beta`` by
minimising a Huber loss on ``ln L`` written as
``LSE(a - alpha ln N, b - beta ln D, e)`` with ``A = e^a``, ``B = e^b``, ``E = e^e``: the
reparametrisation keeps ``A, B, E`` positive without constraints and the prediction finite.

* :func:`log_sum_exp_form` derives that form from the parametric loss and the gradient of the
  prediction in ``(a, b, e, alpha, beta)``, the softmax weights of the three terms: the
  prediction and gradient the fit uses (``scaling-law-fit`` compiles them from here).
* :func:`planted_law_fits_its_runs`: at the planted parameters the prediction of an exact run
  is its log-loss, so every residual, the Huber objective and its gradient vanish there.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, apply_map, column, differentiate, substitute
from proofs.scaling import PARAMETRIC_LOSS, A, B, D, E, N, alpha, beta

a, b, e = sp.symbols("a b e", real=True)
shift = sp.Symbol("s", real=True)
log_N, log_D = sp.symbols("n d", real=True)

LOG_PARAMETERS = r"$A = e^a$, $B = e^b$, $E = e^e$ with $a, b, e$ real (so $A, B, E > 0$); $n = \ln N$, $d = \ln D$"

_terms = (a - alpha * log_N, b - beta * log_D, e)
_total = sum(sp.exp(t) for t in _terms)
PREDICTION = sp.log(_total)
# The softmax weight of each term of the sum: the share of the loss it carries.
_weights = [sp.exp(t) / _total for t in _terms]


def log_sum_exp_form() -> Derivation:
    """``ln L = LSE(a - alpha n, b - beta d, e)`` and its gradient in ``(a, b, e, alpha, beta)``.

    From ``L = E + A N^-alpha + B D^-beta``: substitute ``A = e^a``, ``B = e^b``, ``E = e^e`` and
    ``N = e^n``, ``D = e^d``, take the logarithm, and differentiate. The partial derivatives in
    ``a, b, e`` are the softmax weights ``w_N, w_D, w_E`` of the three terms (they sum to 1);
    those in ``alpha, beta`` are ``-n w_N`` and ``-d w_D``. The closed form is the gradient column
    ``(w_N, w_D, w_E, -n w_N, -d w_D)``, labelled ``gradient``. Lowering ``a, b, e`` by the same ``s``
    lowers the prediction by ``s`` (``shifted_log_loss``) and leaves the gradient as it is, which lets
    the fit evaluate them with the largest term shifted to 0. Hoffmann et al. 2022, section 3.3 and appendix D.2.
    """
    derivation = (
        Derivation(
            "The log-sum-exp form of the Chinchilla loss",
            PARAMETRIC_LOSS,
            start_note=r"the parametric loss $L(N, D)$ of Hoffmann et al.'s approach 3",
            assumptions=(LOG_PARAMETERS,),
        )
        .then(
            substitute({A: sp.exp(a), B: sp.exp(b), E: sp.exp(e)}),
            sp.exp(e) + sp.exp(a) * N**-alpha + sp.exp(b) * D**-beta,
        )
        .then(
            substitute({N: sp.exp(log_N), D: sp.exp(log_D)}),
            sp.exp(e) + sp.exp(a) * sp.exp(log_N) ** -alpha + sp.exp(b) * sp.exp(log_D) ** -beta,
        )
        .then(
            apply_map(lambda L: sp.log(L), why="take the logarithm; each term is one exponential"),
            PREDICTION,
            note=r"$\ln L = \mathrm{LSE}(a - \alpha n,\ b - \beta d,\ e)$, the prediction that is fitted",
            label="log_loss",
        )
        .then(differentiate(a), _weights[0], note=r"$w_N$, the share of the model-size term", label="d_a")
        .then(differentiate(b), _weights[1], on="log_loss", note=r"$w_D$, the share of the data term", label="d_b")
        .then(differentiate(e), _weights[2], on="log_loss", note=r"$w_E$, the share of $E$", label="d_e")
        .then(differentiate(alpha), -log_N * _weights[0], on="log_loss", label="d_alpha")
        .then(differentiate(beta), -log_D * _weights[1], on="log_loss", label="d_beta")
    )
    weights = [derivation.expression(label) for label in ("d_b", "d_e")]
    gradient = sp.Matrix([_weights[0], _weights[1], _weights[2], -log_N * _weights[0], -log_D * _weights[1]])
    shifted = {a: a - shift, b: b - shift, e: e - shift}
    return (
        derivation.then(
            apply_map(lambda w_N: w_N + weights[0] + weights[1], why=r"add $w_D$ and $w_E$ to $w_N$"),
            1,
            on="d_a",
            note=r"$w_N + w_D + w_E = 1$: the weights are a softmax",
        )
        .then(
            apply_map(lambda L: sp.exp(L), why="undo the logarithm"),
            _total,
            on="log_loss",
        )
        .then(
            substitute(shifted, why=r"lower $a$, $b$, $e$ by the same $s$"),
            sp.exp(-shift) * _total,
        )
        .then(
            apply_map(lambda total: sp.log(total), why="take the logarithm again"),
            PREDICTION - shift,
            note=r"shifting every term by $s$ shifts $\ln L$ by $s$: the fit may shift by the largest term, so that no "
            r"exponential overflows",
            label="shifted_log_loss",
        )
        .then(
            column("d_a", "d_b", "d_e", "d_alpha", "d_beta", why=r"the gradient $\nabla_{(a, b, e, \alpha, \beta)} \ln L$"),
            gradient,
            label="gradient",
        )
        .then(
            substitute(shifted, why=r"lower $a$, $b$, $e$ by the same $s$"),
            gradient,
            note=r"the gradient does not move",
        )
    )


def planted_law_fits_its_runs() -> Derivation:
    """The residual ``LSE(a - alpha n, b - beta d, e) - ln L`` of an exact run vanishes at the planted parameters.

    A run of the planted law has ``L = E + A N^-alpha + B D^-beta``; at ``a = ln A``, ``b = ln B``,
    ``e = ln E`` and the run's own ``n = ln N``, ``d = ln D`` the prediction is ``ln L``. So every
    residual is 0, the Huber objective ``sum_i Huber(r_i) >= 0`` is 0, its global minimum, and its
    gradient ``sum_i psi(r_i) grad r_i`` (``psi`` the clipped residual, ``psi(0) = 0``) vanishes: the
    fit, whose prediction and gradient are :func:`log_sum_exp_form`'s, stops at the planted law.
    Hoffmann et al. 2022, appendix D.2 (the objective); Huber 1964.
    """
    return (
        Derivation(
            "The planted law fits its exact runs",
            PREDICTION - sp.log(PARAMETRIC_LOSS),
            start_note=r"the residual of one run: prediction minus the log of the planted law's loss",
            assumptions=(LOG_PARAMETERS, r"the runs are exact: $L_i = E + A N_i^{-\alpha} + B D_i^{-\beta}$, $E > 0$"),
        )
        .then(
            substitute({a: sp.log(A), b: sp.log(B), e: sp.log(E)}, why="at the planted parameters"),
            sp.log(E + A * sp.exp(-alpha * log_N) + B * sp.exp(-beta * log_D)) - sp.log(PARAMETRIC_LOSS),
        )
        .then(
            substitute({log_N: sp.log(N), log_D: sp.log(D)}, why="at the run's own size and tokens"),
            0,
            note=(
                r"every residual is 0: the Huber objective is 0, its global minimum, and its gradient vanishes there"
            ),
        )
    )
