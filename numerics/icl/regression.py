"""In-context linear regression, trained (project track A, seed 004): prompts, three models, baselines, probes, figures.

torch / numpy / scipy / matplotlib only; no closed forms (the theorem ``lsa-trained-risk`` has
those, in ``checkers.icl.risk``).

* Prompts (seed 004, 2.2): ``w, x_i ~ N(0, I_d)``, ``y_i = w^T x_i``. A prompt
  ``(x_1, y_1, ..., x_k, y_k, x_test)`` is fed as ``k + 1`` tokens ``e_j = (x_j, y_j)`` and
  ``e_q = (x_test, 0)``, the layout of von Oswald et al. 2023: one layer cannot pair ``x_j`` with
  ``y_j`` when they sit in two interleaved tokens. Inputs may be zero-padded to a ``width``
  larger than ``d`` (:func:`sample_prompts`), so that one model reads tasks of several ``d``.
* The three models of seed 004, section 4.1: :class:`LinearAttention` (one layer, no softmax),
  :class:`SoftmaxAttention` (one layer) and :class:`Transformer` (six pre-norm softmax layers).
* Baselines: least squares with the pseudo-inverse (:func:`ols_prediction`), one gradient step
  from ``w = 0`` (:func:`gd_step_prediction`) with a step fitted to data (:func:`fitted_step`),
  and the Nadaraya-Watson estimator with a fitted bandwidth (:func:`fit_bandwidth`).
* Probes: effective weights ``d y_hat / d x_test`` (:func:`effective_weights`), the linear
  model's preconditioner (:meth:`LinearAttention.preconditioner`), attention maps, and FLOPs
  per prediction (:func:`forward_flops`, :func:`ols_flops`, :func:`gd_step_flops`).
* Training (:func:`train`) and figures (:func:`nmse_figure`, :func:`training_figure`,
  :func:`attention_figure`, :func:`weights_figure`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from numerics.attention.kernels import gaussian_kernel_smoother, nadaraya_watson

# --- prompts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompts:
    """A batch of regression prompts with the same ``k``: ``X`` is ``(n, k, width)``, ``y`` ``(n, k)``,
    ``x_q`` ``(n, width)`` and the query's target ``y_q`` ``(n,)``; coordinates ``d:`` are zero."""

    X: torch.Tensor
    y: torch.Tensor
    x_q: torch.Tensor
    y_q: torch.Tensor
    d: int

    @property
    def k(self) -> int:
        return self.X.shape[1]

    def to(self, device) -> "Prompts":
        return Prompts(self.X.to(device), self.y.to(device), self.x_q.to(device), self.y_q.to(device), self.d)

    def __getitem__(self, rows: slice) -> "Prompts":
        return Prompts(self.X[rows], self.y[rows], self.x_q[rows], self.y_q[rows], self.d)


def sample_prompts(generator: torch.Generator, n: int, k: int, d: int, width: int | None = None) -> Prompts:
    """``n`` prompts of seed 004: ``w, x_i ~ N(0, I_d)``, ``y_i = w^T x_i`` (noiseless), ``k`` examples and a query.

    Float32 on the CPU, drawn from ``generator`` (so a seed fixes them on every device). With
    ``width > d`` the inputs are zero-padded: coordinates ``d:width`` are 0 in every ``x``.
    """
    width = d if width is None else width
    w = torch.randn(n, d, generator=generator)
    inputs = torch.randn(n, k + 1, d, generator=generator)
    targets = (inputs @ w[:, :, None])[..., 0]
    inputs = nn.functional.pad(inputs, (0, width - d))
    return Prompts(inputs[:, :k], targets[:, :k], inputs[:, k], targets[:, k], d)


def tokens(X: torch.Tensor, y: torch.Tensor, x_q: torch.Tensor) -> torch.Tensor:
    """``(n, k + 1, width + 1)``: the context tokens ``e_j = (x_j, y_j)`` and last the query ``e_q = (x_q, 0)``."""
    context = torch.cat([X, y[..., None]], dim=-1)
    query = torch.cat([x_q, torch.zeros_like(x_q[:, :1])], dim=-1)
    return torch.cat([context, query[:, None]], dim=1)


# --- the models -------------------------------------------------------------------------------


class OneLayerAttention(nn.Module):
    """One attention layer whose query token ``e_q`` reads the context tokens ``e_1..e_k``.

    The prediction is the ``y`` channel of the layer's output at the query,
    ``y_hat = sum_j a_j (W_V e_j)_y`` with scores ``s_j = (W_Q e_q) . (W_K e_j)``; the subclass
    turns scores into weights ``a_j`` (:meth:`mix`). Only ``(W_V e_j)_y``, the last row of
    ``W_V``, reaches the prediction; the residual adds ``y_q = 0``.
    """

    def __init__(self, width: int):
        super().__init__()
        size = width + 1
        self.W_Q, self.W_K, self.W_V = (nn.Parameter(torch.randn(size, size) / math.sqrt(size)) for _ in range(3))

    def mix(self, scores: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def scores(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """``A = Q K^T``: ``(W_Q e_i) . (W_K e_j)`` for every query token ``e_i`` and key token ``e_j``, ``(n, queries, keys)``."""
        return (queries @ self.W_Q.T) @ (keys @ self.W_K.T).transpose(-1, -2)

    def attention(self, E: torch.Tensor, k: int) -> torch.Tensor:
        """The weights ``a`` (:meth:`mix` of the scores) of every token of ``E`` over its ``k`` context tokens, ``(n, k + 1, k)``."""
        return self.mix(self.scores(E, E[:, :k]))

    def forward(self, X: torch.Tensor, y: torch.Tensor, x_q: torch.Tensor) -> torch.Tensor:
        E = tokens(X, y, x_q)
        k = X.shape[1]
        # The query's row only: the other tokens' outputs never reach the prediction.
        weights = self.mix(self.scores(E[:, k:], E[:, :k]))[:, 0]
        values = (E[:, :k] @ self.W_V[-1:].T)[..., 0]
        return (weights * values).sum(-1)


class LinearAttention(OneLayerAttention):
    """One linear self-attention layer (no softmax; seed 004, 2.3 step 1; von Oswald et al. 2023, eq. 1):
    ``y_hat = (1/k) sum_j (W_V e_j)_y (W_K e_j)^T W_Q e_q``.

    The ``1/k`` is von Oswald's ``P = (eta/N) I``: it makes the layer's step size the same for
    every ``k``. The prediction is linear in ``x_q`` (``y_q = 0``).
    """

    def __init__(self, width: int):
        super().__init__(width)
        # The start of Zhang, Frei and Bartlett 2023 (their W^PV and W^KQ): the value reads y only
        # (v_x = 0, v_y = 1) and the keys ignore y (W_K's last column 0, so M_yx = 0); they prove
        # gradient flow from there reaches Gamma = eta* I. The pair (v_x, M_yx) feeds a rank-one
        # step (1/k) y^T X v_x M_yx x_q: from a generic small start Adam grew it first at d = 3
        # and stalled there, at nmse near 1 - (1 - nmse*)/d.
        # Small weights otherwise: the prediction is a product of three of them, and a large start
        # sends the quartic loss far up its walls.
        with torch.no_grad():
            for W in (self.W_Q, self.W_K, self.W_V):
                W.mul_(0.01 * math.sqrt(W.shape[0]))
            self.W_V[-1, :-1] = 0.0
            self.W_V[-1, -1] = 1.0
            self.W_K[:, -1] = 0.0

    def mix(self, scores: torch.Tensor) -> torch.Tensor:
        return scores / scores.shape[-1]

    def preconditioner(self, d: int) -> torch.Tensor:
        """``Gamma`` (``d x d``) with odd part of the prediction ``x_q^T Gamma X^T y / k``: one preconditioned GD step.

        With ``M = W_K^T W_Q`` and ``v`` the last row of ``W_V``, the terms of
        ``(1/k) sum_j (v . e_j) e_j^T M e_q`` linear in ``y`` are
        ``(1/k) y^T X (v_y M_xx + v_x M_yx) x_q``; the others (``v_x^T X^T X M_xx x_q`` and
        ``v_y ||y||^2 M_yx x_q``) are even in ``w`` and cannot correlate with the target.
        """
        M = self.W_K.T @ self.W_Q
        v = self.W_V[-1]
        return (v[-1] * M[:d, :d] + torch.outer(v[:d], M[-1, :d])).T


class SoftmaxAttention(OneLayerAttention):
    """One softmax attention layer: ``y_hat = sum_j softmax_j(s_j / sqrt(width + 1)) (W_V e_j)_y``,
    a kernel smoother of the values with kernel ``exp((W_Q e_q) . (W_K e_j) / sqrt(width + 1))``."""

    def mix(self, scores: torch.Tensor) -> torch.Tensor:
        return torch.softmax(scores / math.sqrt(self.W_Q.shape[0]), dim=-1)


class SelfAttention(nn.Module):
    """Multi-head softmax self-attention with an explicit weight matrix (the prompts are short; the maps are wanted)."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output, weights)``: weights ``(n, heads, T, T)``; ``mask[i, j]`` says whether token ``i`` may read ``j``."""
        n, T, hidden = h.shape
        q, k, v = (part.view(n, T, self.heads, -1).transpose(1, 2) for part in self.qkv(h).split(hidden, dim=-1))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(n, T, hidden)), weights


class Block(nn.Module):
    """A pre-norm transformer block: ``h + attention(norm(h))``, then ``h + MLP(norm(h))`` (GELU, 4x wide)."""

    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.norm_1, self.norm_2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.attention = SelfAttention(hidden, heads)
        self.mlp = nn.Sequential(nn.Linear(hidden, 4 * hidden), nn.GELU(), nn.Linear(4 * hidden, hidden))

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        update, weights = self.attention(self.norm_1(h), mask)
        h = h + update
        return h + self.mlp(self.norm_2(h)), weights


class Transformer(nn.Module):
    """A deep transformer (seed 004, 4.1: ``L = 6``): tokens ``(x_j, y_j, 0)`` and ``(x_q, 0, 1)`` embedded
    linearly, ``layers`` pre-norm blocks, the query's final state read out linearly.

    No positional embedding: the examples are exchangeable, and the last channel marks the query.
    The context tokens do not read the query (their states are the prompt's, whatever is asked).
    """

    def __init__(self, width: int, hidden: int = 32, layers: int = 6, heads: int = 4):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden width {hidden} is not a multiple of {heads} heads")
        self.embed = nn.Linear(width + 2, hidden)
        self.blocks = nn.ModuleList(Block(hidden, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(hidden)
        self.readout = nn.Linear(hidden, 1)

    def states(self, X: torch.Tensor, y: torch.Tensor, x_q: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The final hidden states ``(n, k + 1, hidden)`` and every layer's attention weights ``(n, heads, k + 1, k + 1)``."""
        E = tokens(X, y, x_q)
        marker = torch.zeros_like(E[..., :1])
        marker[:, -1] = 1.0
        T = E.shape[1]
        mask = torch.ones(T, T, dtype=torch.bool, device=E.device)
        mask[:-1, -1] = False
        h = self.embed(torch.cat([E, marker], dim=-1))
        maps = []
        for block in self.blocks:
            h, weights = block(h, mask)
            maps.append(weights)
        return h, maps

    def forward(self, X: torch.Tensor, y: torch.Tensor, x_q: torch.Tensor) -> torch.Tensor:
        h, _ = self.states(X, y, x_q)
        return self.readout(self.norm(h[:, -1]))[:, 0]


# --- training and evaluation -------------------------------------------------------------------

Progress = Callable[[Iterable, int, str], Iterable]


def train(
    model: nn.Module,
    draw: Callable[[int], Prompts],
    steps: int,
    lr: float,
    progress: Progress,
    description: str,
    device: str = "cpu",
) -> np.ndarray:
    """Adam on the query's squared error divided by ``E[y^2] = d``; returns the training nmse of every step.

    ``draw(step)`` gives the step's batch (the same stream for every model trained from the same
    seed). The learning rate warms up linearly over the first 5% of the steps, then decays to zero
    on a cosine: the one-layer models settle on their optimum rather than rattling around it.
    Gradients are clipped at norm 1 (the deep model's first steps).
    """
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
    )
    curve = np.empty(steps)
    for step in progress(range(steps), steps, description):
        batch = draw(step).to(device)
        loss = ((model(batch.X, batch.y, batch.x_q) - batch.y_q) ** 2).mean() / batch.d
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        curve[step] = loss.item()
    return curve


def predict(model: nn.Module, prompts: Prompts, device: str = "cpu", chunk: int = 4096) -> np.ndarray:
    """The model's predictions for every prompt (float64 array), in chunks to bound memory."""
    model.to(device).eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(prompts.y_q), chunk):
            part = prompts[start : start + chunk].to(device)
            out.append(model(part.X, part.y, part.x_q).double().cpu().numpy())
    return np.concatenate(out)


def nmse(prediction, prompts: Prompts) -> tuple[float, float]:
    """``(nmse, standard error)``: the mean squared error of ``prediction`` divided by ``E[y^2] = d``."""
    squared = (np.asarray(prediction, dtype=float) - prompts.y_q.double().numpy()) ** 2 / prompts.d
    return float(squared.mean()), float(squared.std(ddof=1) / math.sqrt(len(squared)))


def smoothed(curve: np.ndarray, points: int = 100) -> tuple[list[int], list[float]]:
    """``(steps, means)``: the curve averaged over ``points`` equal windows (a training curve for the record)."""
    windows = np.array_split(np.arange(len(curve)), min(points, len(curve)))
    return [int(w[-1]) + 1 for w in windows], [float(curve[w].mean()) for w in windows]


# --- baselines ---------------------------------------------------------------------------------


def ols_prediction(prompts: Prompts) -> np.ndarray:
    """``x_q^T X^+ y`` in float64: least squares, the minimum-norm interpolant when ``k < d``.

    Noiseless and ``k >= d``: it recovers ``w`` and predicts exactly. For ``k < d`` it is the
    posterior mean of ``w ~ N(0, I)`` given the examples, so no predictor does better on average.
    """
    return (ols_weights(prompts) * prompts.x_q.double().numpy()).sum(-1)


def gd_direction(prompts: Prompts) -> np.ndarray:
    """``g = x_q^T X^T y / k`` (float64): the prediction of one GD step of size 1 from ``w = 0`` on ``(1/2k) ||X w - y||^2``."""
    X, y, x_q = prompts.X.double(), prompts.y.double(), prompts.x_q.double()
    return ((X.transpose(1, 2) @ y[..., None])[..., 0] * x_q).sum(-1).numpy() / prompts.k


def gd_step_prediction(prompts: Prompts, eta: float) -> np.ndarray:
    """``x_q^T w_1`` with ``w_1 = 0 - eta grad (1/2k) ||X w - y||^2 |_(w=0) = (eta/k) X^T y``."""
    return eta * gd_direction(prompts)


def training_stream(generator: torch.Generator, ks: Sequence[int], batch: int, d: int, width: int) -> Callable[[int], Prompts]:
    """``draw(step)``: ``batch`` prompts with ``ks[step]`` examples from ``generator`` (a fresh generator per model
    gives every model the same batches)."""
    return lambda step: sample_prompts(generator, batch, int(ks[step]), d, width)


def ols_weights(prompts: Prompts) -> np.ndarray:
    """``X^+ y``, ``(n, width)``: the least-squares weights (``w`` itself when ``k >= d``)."""
    return (torch.linalg.pinv(prompts.X.double()) @ prompts.y.double()[..., None])[..., 0].numpy()


def fitted_step(batches: Sequence[Prompts]) -> float:
    """The step ``eta`` minimising the squared error of :func:`gd_step_prediction` over all prompts given:
    ``sum y_q g / sum g^2`` with ``g`` the step-1 prediction (least squares in one unknown)."""
    g = np.concatenate([gd_direction(p) for p in batches])
    target = np.concatenate([p.y_q.double().numpy() for p in batches])
    return float(target @ g / (g @ g))


def gd_weights(prompts: Prompts) -> np.ndarray:
    """``X^T y / k``, ``(n, width)``: ``W_GD = eta X^T Y`` of seed 004 (2.3, step 6) up to the factor ``eta / k``."""
    return (prompts.X.double().transpose(1, 2) @ prompts.y.double()[..., None])[..., 0].numpy() / prompts.k


KERNELS = ("gaussian", "exponential")
"""``gaussian``: ``exp(-||x_q - x_j||^2 / (2 h^2))`` (the textbook estimator); ``exponential``:
``exp(x_q . x_j / h^2)``, the kernel of a softmax attention layer whose scores are ``x_q . x_j / h^2``."""


def nadaraya_watson_prediction(prompts: Prompts, bandwidth: float, kernel: str = "gaussian") -> np.ndarray:
    """``sum_j K(x_q, x_j) y_j / sum_j K(x_q, x_j)`` (Nadaraya 1964, Watson 1964) with bandwidth ``h``, float64."""
    X, x_q = prompts.X.double().numpy(), prompts.x_q.double().numpy()[:, None]
    values = prompts.y.double().numpy()[..., None]
    if kernel == "gaussian":
        return gaussian_kernel_smoother(x_q, X, values, np.full(len(X), bandwidth**2))[:, 0, 0]
    if kernel == "exponential":
        return nadaraya_watson(x_q @ X.transpose(0, 2, 1) / bandwidth**2, values)[:, 0, 0]
    raise ValueError(f"kernel {kernel!r} is not one of {', '.join(KERNELS)}")


def fit_bandwidth(batches: Sequence[Prompts], kernel: str = "gaussian") -> float:
    """The bandwidth ``h`` minimising the estimator's squared error over the prompts given (bounded search on ``log h``)."""
    from scipy.optimize import minimize_scalar

    def loss(log_h: float) -> float:
        return sum(float(((nadaraya_watson_prediction(p, math.exp(log_h), kernel) - p.y_q.double().numpy()) ** 2).sum()) for p in batches)

    return math.exp(minimize_scalar(loss, bounds=(math.log(0.05), math.log(100.0)), method="bounded").x)


# --- probes ------------------------------------------------------------------------------------


def effective_weights(model: nn.Module, prompts: Prompts, device: str = "cpu") -> np.ndarray:
    """``d y_hat / d x_q`` for every prompt, ``(n, width)``: the weight vector the model applies to the query.

    Exact for :class:`LinearAttention` (its prediction is linear in ``x_q``); for the others the
    local linearisation at the query (Akyurek et al. 2023 probe the same way).
    """
    model.to(device).eval()
    batch = prompts.to(device)
    x_q = batch.x_q.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(model(batch.X, batch.y, x_q).sum(), x_q)
    return gradient.double().cpu().numpy()


def even_share(model: nn.Module, prompts: Prompts, device: str = "cpu") -> float:
    """The share of the predictions' mean square in their part even in ``w``, ``(y_hat(w) + y_hat(-w)) / 2``
    (negating ``w`` negates every ``y``; the target is odd in ``w``, so the even part is pure error)."""
    plus = predict(model, prompts, device)
    minus = predict(model, Prompts(prompts.X, -prompts.y, prompts.x_q, -prompts.y_q, prompts.d), device)
    return float((((plus + minus) / 2) ** 2).mean() / (plus**2).mean())


def correlation(a, b) -> float:
    """Pearson's correlation of two arrays, flattened."""
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def attention_maps(model: nn.Module, prompts: Prompts) -> list[np.ndarray]:
    """The first prompt's attention matrices, one per layer: the scores ``A = Q K^T`` of the linear layer and the
    softmax weights of the others (each transformer layer's averaged over its heads). Rows are the tokens as
    queries, ``x_test`` last; columns the context tokens (and, in the transformer, the query itself)."""
    one = prompts[:1].to("cpu")
    model.to("cpu").eval()
    with torch.no_grad():
        if isinstance(model, LinearAttention):
            E = tokens(one.X, one.y, one.x_q)
            return [model.scores(E, E[:, : one.k])[0].numpy()]
        if isinstance(model, OneLayerAttention):
            return [model.attention(tokens(one.X, one.y, one.x_q), one.k)[0].numpy()]
        _, maps = model.states(one.X, one.y, one.x_q)
        return [weights[0].mean(0).numpy() for weights in maps]


def query_scores(model: OneLayerAttention, prompts: Prompts, mixed: bool = False) -> np.ndarray:
    """The query's scores ``s_j = (W_Q e_q) . (W_K e_j)`` for every context token, ``(n, k)``; with ``mixed``, the
    weights they become (:meth:`OneLayerAttention.mix`: divided by ``k``, or the softmax)."""
    model.to("cpu").eval()
    batch = prompts.to("cpu")
    E = tokens(batch.X, batch.y, batch.x_q)
    with torch.no_grad():
        return (model.attention(E, batch.k) if mixed else model.scores(E, E[:, : batch.k]))[:, -1].double().numpy()


def kernel_slope(log_weights, features) -> float:
    """``beta`` of the least-squares fit ``log a_ij = beta f_ij + c_i`` over every query ``i`` and key ``j`` (``(n, k)``
    arrays; one ``c_i`` per query, which a softmax ignores): with ``f = x_j . x_q`` the weights are those of the
    kernel ``exp(x_j . x_q / h^2)``, ``h^2 = 1 / beta``."""
    log_weights, features = (np.asarray(a, dtype=float) for a in (log_weights, features))
    centred = features - features.mean(-1, keepdims=True)
    return float((centred * (log_weights - log_weights.mean(-1, keepdims=True))).sum() / (centred**2).sum())


def input_gram(prompts: Prompts) -> np.ndarray:
    """``x_i . x_j`` for every token ``i`` (``x_test`` last) and context token ``j``, ``(n, k + 1, k)``: the scores
    ``A = Q K^T`` of von Oswald et al.'s construction (``W_K = W_Q`` the projection on ``x``)."""
    inputs = torch.cat([prompts.X, prompts.x_q[:, None]], dim=1).double()
    return (inputs @ prompts.X.double().transpose(1, 2)).numpy()


def reading_weights(model: nn.Module, coordinates: slice) -> torch.Tensor:
    """Every weight that multiplies the input coordinates ``coordinates`` directly: the columns of ``W_Q, W_K, W_V``
    of a one-layer model, of the embedding of the transformer (flattened, detached)."""
    if isinstance(model, OneLayerAttention):
        matrices = (model.W_Q, model.W_K, model.W_V)
    else:
        matrices = (model.embed.weight,)
    return torch.cat([m[:, coordinates].detach().reshape(-1) for m in matrices]).cpu()


def plateau_and_drop(curve: np.ndarray, points: int = 100) -> tuple[float, float]:
    """``(plateau, drop)`` as fractions of training, from the curve's window means: the plateau lasts until the
    first 10% of the whole decrease (first window to last) is done; the drop is how long the decrease from 10% to
    90% of it takes. A plateau followed by a short drop is a phase transition; a long drop from the start is not."""
    _, means = smoothed(curve, points)
    means = np.asarray(means)
    total = means[0] - means[-1]
    if total <= 0:
        return 1.0, 0.0
    done = (means[0] - means) / total
    start, end = int(np.argmax(done >= 0.1)), int(np.argmax(done >= 0.9))
    return start / len(means), (end - start) / len(means)


def forward_flops(model: nn.Module, prompts: Prompts) -> int:
    """The matrix-product FLOPs (2 per multiply-add) of one prediction, as torch's flop counter sees the forward pass.

    Element-wise work (softmax, layer norm, GELU) is not counted; it is a lower-order term.
    """
    from torch.utils.flop_counter import FlopCounterMode

    one = prompts[:1].to("cpu")
    model.to("cpu").eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(one.X, one.y, one.x_q)
    return int(counter.get_total_flops())


def ols_flops(d: int, k: int) -> int:
    """FLOPs of least squares by Cholesky, counted as :func:`forward_flops` counts: for ``k >= d``,
    ``X^T X`` (``2 k d^2``), ``X^T y`` (``2 k d``), the factorisation (``d^3 / 3``), two triangular
    solves (``2 d^2``) and ``x_q^T w`` (``2 d``); for ``k < d`` the same on ``X X^T`` (``w = X^T (X X^T)^-1 y``)."""
    if k >= d:
        return 2 * k * d * d + 2 * k * d + d**3 // 3 + 2 * d * d + 2 * d
    return 2 * k * k * d + k**3 // 3 + 2 * k * k + 2 * k * d + 2 * d


def gd_step_flops(d: int, k: int) -> int:
    """FLOPs of one GD step's prediction ``(eta/k) x_q^T X^T y``: ``X^T y`` (``2 k d``), the dot product (``2 d``), the scale (1)."""
    return 2 * k * d + 2 * d + 1


# --- figures -----------------------------------------------------------------------------------

_STYLE = {
    "linear-attention": dict(color="C0", marker="o"),
    "softmax-attention": dict(color="C1", marker="s"),
    "transformer": dict(color="C2", marker="^"),
    "ols": dict(color="black", linestyle="--"),
    "gd-one-step": dict(color="C3", linestyle="--"),
    "gd-curriculum-step": dict(color="C3", linestyle="-."),
    "lsa-trained-risk": dict(color="grey", linestyle=":"),
}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # imported here: listing theorems must stay fast

    return Figure(figsize=(width, height))


def _lines(axes, xs: Sequence[float], curves: Mapping[str, Sequence[float]]) -> None:
    for label, values in curves.items():
        axes.plot(xs, values, label=label, markersize=3, linewidth=1.2, **_STYLE.get(label, dict(color="grey", linestyle=":")))


def nmse_figure(
    ks: Sequence[int],
    curves: Mapping[str, Sequence[float]],
    d: int,
    trained: Sequence[int],
    generalisation: tuple[Sequence[int], Mapping[str, Sequence[float]], int] | None = None,
):
    """nmse against ``k``, one line per model and baseline (baselines and closed forms dashed or dotted), ``k = d`` and the
    trained ``k`` marked; beside it, with ``generalisation = (dims, curves, k)``, nmse against the task dimension ``d'``
    of the zero-padded models trained at ``d``."""
    figure = _figure(7.0, 2.6)
    axes = figure.add_subplot(1, 2 if generalisation else 1, 1)
    _lines(axes, ks, curves)
    axes.axvline(d, color="grey", linewidth=0.6, linestyle=":")
    axes.axvspan(min(trained) - 0.5, max(trained) + 0.5, color="grey", alpha=0.08, linewidth=0)
    axes.set_xlabel("in-context examples $k$ (dotted line: $k = d$)")
    axes.set_ylabel(r"nmse $= \mathrm{MSE} / E[y^2]$")
    axes.set_ylim(-0.02, 1.1)
    axes.legend(fontsize=6)
    if generalisation:
        dims, others, k = generalisation
        right = figure.add_subplot(1, 2, 2)
        _lines(right, dims, others)
        right.set_xlabel(f"task dimension $d'$ (trained at $d = {d}$, $k = {k}$)")
        right.set_xticks(list(dims))
        right.set_ylim(-0.02, 1.1)
    figure.tight_layout()
    return figure


def training_figure(curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], references: Mapping[str, float]):
    """Training nmse against step (window means), one line per model; horizontal lines for ``references``."""
    figure = _figure(7.0, 2.2)
    axes = figure.add_subplot()
    for label, (steps, values) in curves.items():
        axes.plot(steps, values, label=label, linewidth=1.2, color=_STYLE[label]["color"])
    for i, (label, value) in enumerate(references.items()):
        axes.axhline(value, color="grey", linewidth=0.8, linestyle=("--", ":", "-.")[i % 3], label=label)
    axes.set_yscale("log")
    axes.set_xlabel("training step")
    axes.set_ylabel("training nmse")
    axes.legend(fontsize=6)
    figure.tight_layout()
    return figure


def attention_figure(maps: Mapping[str, np.ndarray]):
    """One panel per attention matrix (rows: tokens as queries, the last is ``x_test``; columns: keys)."""
    figure = _figure(1.5 * len(maps), 1.8)
    for i, (title, matrix) in enumerate(maps.items()):
        axes = figure.add_subplot(1, len(maps), i + 1)
        limit = float(np.abs(matrix).max()) or 1.0
        signed = bool((matrix < 0).any())
        axes.imshow(matrix, cmap="RdBu_r" if signed else "viridis", vmin=-limit if signed else 0.0, vmax=limit)
        axes.set_title(title, fontsize=7)
        axes.set_xticks([])
        axes.set_yticks([])
    figure.tight_layout()
    return figure


def weights_figure(reference: np.ndarray, weights: Mapping[str, np.ndarray], label: str):
    """Each model's effective weights against ``reference`` (``W_GD``), entry by entry, one panel per model, with ``y = x``."""
    figure = _figure(7.0, 2.3)
    reference = np.ravel(reference)
    limit = float(np.abs(reference).max())
    for i, (name, values) in enumerate(weights.items()):
        axes = figure.add_subplot(1, len(weights), i + 1)
        axes.scatter(reference, np.ravel(values), s=2, alpha=0.4, color=_STYLE[name]["color"])
        axes.plot([-limit, limit], [-limit, limit], color="black", linewidth=0.8, linestyle="--")
        axes.set_title(f"{name}: r = {correlation(reference, values):.3f}", fontsize=7)
        axes.set_xlabel(label, fontsize=7)
        axes.tick_params(labelsize=6)
    figure.axes[0].set_ylabel(r"$\partial \hat y / \partial x_{\mathrm{test}}$", fontsize=7)
    figure.tight_layout()
    return figure
