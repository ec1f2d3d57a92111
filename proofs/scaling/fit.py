"""The log-sum-exp form of the Chinchilla loss and its gradient, as fitted by ``scaling-law-fit`` (SymPy only).

Hoffmann et al. 2022 (section 3.3, appendix D.2) fit ``L = E + A N^-alpha + B D^-beta`` by
minimising a Huber loss on ``ln L`` written as
``LSE(a - alpha ln N, b - beta ln D, e)`` with ``A = e^a``, ``B = e^b``, ``E = e^e``: the
reparametrisation keeps ``A, B, E`` positive without constraints and the prediction finite.
:func:`log_sum_exp_form` derives that form from the parametric loss and the gradient of the
prediction in ``(a, b, e, alpha, beta)``, the softmax weights of the three terms, which is what
L-BFGS uses.
"""

from __future__ import annotations

import sympy as sp

from proofs.derivation import Derivation, custom, differentiate, substitute
from proofs.scaling import PARAMETRIC_LOSS, A, B, D, E, N, alpha, beta

a, b, e = sp.symbols("a b e", real=True)
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
    ``(w_N, w_D, w_E, -n w_N, -d w_D)``. Hoffmann et al. 2022, section 3.3 and appendix D.2.
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
            custom(r"take the logarithm and collect each term into one exponential", sp.log),
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
    gradient = [derivation.expression(label) for label in ("d_a", "d_b", "d_e", "d_alpha", "d_beta")]
    return derivation.then(
        custom(r"add the three weights", lambda w: w + gradient[1] + gradient[2]),
        1,
        on="d_a",
        note=r"$w_N + w_D + w_E = 1$: the weights are a softmax",
    ).then(
        custom(r"collect the gradient $\nabla_{(a, b, e, \alpha, \beta)} \ln L$", lambda w: sp.Matrix([w, *gradient[1:]])),
        sp.Matrix([_weights[0], _weights[1], _weights[2], -log_N * _weights[0], -log_D * _weights[1]]),
        on="d_a",
    )
