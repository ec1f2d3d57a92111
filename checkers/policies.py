"""Tolerance policies: how a claim is compared with its oracle, and what the comparison can detect.

Each policy compares and explains itself:

* :class:`Deterministic`: ``|claim - oracle| <= atol + rtol |oracle| + accuracy`` elementwise, where
  ``accuracy`` is what the oracle states about itself, checked against a relative cap;
* :class:`Statistical`: a Monte Carlo oracle's draws against the claimed expectation, with
  per-instance t tests and two pooled tests that catch a systematic bias; reports its
  ``resolution``, the smallest relative bias the run detects with probability at least 1/2;
* :class:`Bound`: a one-sided claim (an upper or lower bound) that passes when the oracle is on
  the right side everywhere; reports its ``tightness``.

``compare`` works on one group of instances and returns a :class:`Comparison`; ``tally`` keeps
what a run needs of it (the largest error and the pooled sums) as a :class:`Tally`, ``merge``
adds two tallies (in a fixed order: a run of many blocks merges them block after block), and
``verdict`` concludes from the run's tally; ``conclude`` does all three for a list of groups.

>>> import numpy as np
>>> policy = Bound("upper", rtol=1e-12)
>>> verdict = policy.conclude([policy.compare(np.array([2.0, 4.0]), np.array([1.0, 4.0]), 0.0, 2)])
>>> verdict.max_error, verdict.extras["tightness"]
(0.0, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from checkers.results import TheoremDefinitionError

ACCURACY_CAP = 1e-6
ROUNDING_FLOOR = 1e-13
"""The standard error given an exact (zero-spread) Monte Carlo oracle, relative to the size of the
instance's values: about 450 machine epsilons, the rounding of a float64 computation a few hundred
operations deep."""


@dataclass
class Comparison:
    """One group's comparison: per-instance errors in units of the tolerance (> 1 fails).

    ``reference`` is what the claim was compared with (the oracle's values, or its sample
    means); ``scale`` is the unit of ``errors`` per entry (a standard error) where there is one;
    ``pooled`` holds what :meth:`conclude` pools across groups.
    """

    errors: np.ndarray
    reference: np.ndarray
    scale: np.ndarray | None = None
    pooled: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tally:
    """What a run keeps of its comparisons: the largest per-instance error and the policy's pooled
    sums, of a size that does not grow with the instances (so that blocks merge in bounded memory)."""

    max_error: float
    pooled: dict[str, Any] = field(default_factory=dict)


class _Pooling:
    """``pool``: tally each group and merge in order; ``conclude``: pool, then conclude."""

    def pool(self, comparisons: list[Comparison]) -> Tally:
        tallies = [self.tally(c) for c in comparisons]
        total = tallies[0]
        for tally in tallies[1:]:
            total = self.merge(total, tally)
        return total

    def conclude(self, comparisons: list[Comparison]) -> "Verdict":
        return self.verdict(self.pool(comparisons))


@dataclass
class Verdict:
    """A run's conclusion: the largest error in units of the tolerance, what it pooled, and why it failed."""

    max_error: float
    extras: dict[str, Any] = field(default_factory=dict)
    pooled_failure: str = ""


def _instance_max(ratio: np.ndarray) -> np.ndarray:
    return ratio.reshape(len(ratio), -1).max(axis=1) if ratio.size else np.zeros(len(ratio))


def _instance_magnitude(values: np.ndarray) -> np.ndarray:
    """The largest ``|value|`` of each instance, shaped to broadcast against ``values``."""
    largest = np.abs(values).reshape(len(values), -1).max(axis=1, initial=0.0)
    return largest.reshape((-1,) + (1,) * (values.ndim - 1))


def _ratio(gap: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """gap / budget with 0/0 = 0 and x/0 = inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(gap <= 0, 0.0, gap / budget)
    return np.where(np.isnan(ratio), np.inf, ratio)


class _StatedAccuracy(_Pooling):
    """What the two policies that compare an oracle's values (not draws) share: ``rtol``, ``atol``
    and the rules the oracle's stated accuracy must follow."""

    rtol: float
    atol: float
    accuracy_cap: float

    def _check_numbers(self) -> None:
        if not (self.rtol >= 0 and self.atol >= 0 and 0 <= self.accuracy_cap < 1):
            raise TheoremDefinitionError(f"{type(self).__name__} needs rtol >= 0, atol >= 0 and 0 <= accuracy_cap < 1")

    def oracle_keywords(self) -> dict:
        return {}

    def accuracy_problem(self, values: np.ndarray, accuracy: np.ndarray) -> str:
        """Why ``accuracy`` cannot be added to the tolerance, or "" if it can."""
        if not np.all(np.isfinite(accuracy)):
            return "the oracle's stated accuracy must be finite"
        if np.any(accuracy < 0):
            return "the oracle's stated accuracy must be non-negative"
        try:
            stated = np.broadcast_to(accuracy, values.shape).reshape(len(values), -1)
        except ValueError:
            return f"the oracle's stated accuracy has shape {accuracy.shape}, not broadcastable to its values {values.shape}"
        size = np.linalg.norm(values.reshape(len(values), -1), axis=1)
        relative = np.linalg.norm(stated, axis=1)
        worst = int(np.argmax(relative - self.accuracy_cap * size))
        if relative[worst] > self.accuracy_cap * size[worst]:
            ratio = relative[worst] / size[worst] if size[worst] else math.inf
            return (
                f"the oracle's stated accuracy is {ratio:.3g} of its values, above the cap {self.accuracy_cap:g} "
                "(a check with so loose an oracle shows nothing; raise accuracy_cap= only with a reason)"
            )
        return ""


@dataclass(frozen=True)
class Deterministic(_StatedAccuracy):
    """Pass when ``|claim - oracle| <= atol + rtol |oracle| + accuracy``, elementwise.

    ``reason`` says where the numbers come from (float64 rounding times the conditioning of
    the claim, plus the oracle's own stated accuracy). An oracle that knows its accuracy
    returns ``(values, accuracy)``; the accuracy must be finite, non-negative, broadcastable
    to the values, and at most ``accuracy_cap`` of them (norm-wise per instance).
    """

    rtol: float = 1e-9
    atol: float = 0.0
    reason: str = "user default: float64 arithmetic with a generous condition number"
    accuracy_cap: float = ACCURACY_CAP

    name = "deterministic"

    def __post_init__(self):
        self._check_numbers()

    def describe(self, tests: int = 1) -> dict:
        return {"atol": self.atol, "rtol": self.rtol}

    def compare(self, claim, values, accuracy, tests: int) -> Comparison:
        budget = self.atol + self.rtol * np.abs(values) + accuracy
        return Comparison(_instance_max(_ratio(np.abs(claim - values), budget)), values)

    def tally(self, comparison: Comparison) -> Tally:
        return Tally(float(np.max(comparison.errors, initial=0.0)))

    def merge(self, a: Tally, b: Tally) -> Tally:
        return Tally(max(a.max_error, b.max_error))

    def verdict(self, tally: Tally) -> Verdict:
        return Verdict(tally.max_error)


@dataclass(frozen=True)
class Bound(_StatedAccuracy):
    """A one-sided claim: the claim bounds the oracle from above (``side="upper"``) or below.

    Passes when, elementwise, ``oracle <= claim + atol + rtol |claim| + accuracy`` (upper) or
    ``oracle >= claim - ...`` (lower). Reports ``tightness``: for an upper bound the largest
    ``oracle / claim`` over instances and entries where both are positive (1 means attained;
    0.01 means a hundred times loose everywhere sampled), for a lower bound the largest
    ``claim / oracle``.

    >>> Bound("upper").describe()
    {'side': 'upper', 'atol': 0.0, 'rtol': 1e-09}
    """

    side: str = "upper"
    rtol: float = 1e-9
    atol: float = 0.0
    reason: str = "user default: float64 arithmetic with a generous condition number"
    accuracy_cap: float = ACCURACY_CAP

    name = "bound"

    def __post_init__(self):
        if self.side not in ("upper", "lower"):
            raise TheoremDefinitionError(f"Bound(side={self.side!r}): side must be 'upper' or 'lower'")
        self._check_numbers()

    def describe(self, tests: int = 1) -> dict:
        return {"side": self.side, "atol": self.atol, "rtol": self.rtol}

    def compare(self, claim, values, accuracy, tests: int) -> Comparison:
        excess = values - claim if self.side == "upper" else claim - values
        budget = self.atol + self.rtol * np.abs(claim) + accuracy
        numerator, denominator = (values, claim) if self.side == "upper" else (claim, values)
        positive = (numerator > 0) & (denominator > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            tightness = np.where(positive, numerator / np.where(positive, denominator, 1.0), -np.inf)
        return Comparison(_instance_max(_ratio(excess, budget)), values, pooled={"tightness": float(np.max(tightness, initial=-np.inf))})

    def tally(self, comparison: Comparison) -> Tally:
        return Tally(float(np.max(comparison.errors, initial=0.0)), {"tightness": comparison.pooled["tightness"]})

    def merge(self, a: Tally, b: Tally) -> Tally:
        return Tally(max(a.max_error, b.max_error), {"tightness": max(a.pooled["tightness"], b.pooled["tightness"])})

    def verdict(self, tally: Tally) -> Verdict:
        tightness = tally.pooled["tightness"]
        extras = {"tightness": tightness if math.isfinite(tightness) else None}
        return Verdict(tally.max_error, extras)


@dataclass(frozen=True)
class Statistical(_Pooling):
    """A Monte Carlo claim: the oracle returns ``draws`` samples per instance, whose mean estimates the claim.

    The oracle is called with ``draws``, ``batches`` and ``rng``; the draws are cut into
    ``batches`` consecutive batches whose means give the standard errors (so heavy-tailed
    statistics such as fourth moments are covered by the central limit theorem on batch
    means). Three tests share the false-alarm probability ``false_alarm`` equally:

    * per instance and component, a two-sided Student t test on the batch means
      (Bonferroni over all instances and components): a claim wrong at one instance; an exact
      oracle's standard error of 0 is raised to ``ROUNDING_FLOOR`` times the instance's largest
      value plus ``|claim|``;
    * pooled **mean**: per batch, the mean over all instances and components of the relative
      residual ``(batch mean - claim) / |claim|`` (components whose claim is 0, to the rounding
      of the instance's values, are left to the per-instance test, a mutant's infinite ones to
      none); the ``batches`` values are independent and, averaged over many instances, normal,
      so a two-sided t test on them is exact in the far tail. It catches a systematic relative
      bias that no single instance shows;
    * pooled **square**: the residuals of two independent halves of the batches, multiplied
      (``E = bias^2``, exactly 0 for a true claim whatever the skewness) and scaled by the
      claim, averaged over instances: a one-sided z test (with at least 30 instances) that
      catches biases of varying sign; its standard error is floored at ``(2 ROUNDING_FLOOR)^2``,
      the square of the rounding an exact oracle may differ by.

    ``resolution`` (reported) is the smallest relative bias the pooled mean test detects with
    probability at least 1/2, from the run's own standard errors. The per-instance level is
    nominal in the far tail for skewed statistics; the calibration test measures the whole
    rate at alpha = 1e-2.
    """

    false_alarm: float = 1e-9
    batches: int = 30
    draws: int = 3000

    name = "statistical"
    pooled_minimum = 30  # instances the pooled-square z test needs for its normal approximation

    def __post_init__(self):
        if not 0 < self.false_alarm < 1 or self.batches < 4 or self.draws % self.batches:
            raise TheoremDefinitionError(
                "Statistical needs 0 < false_alarm < 1, at least 4 batches, and draws divisible by batches"
            )

    def oracle_keywords(self) -> dict:
        return {"draws": self.draws, "batches": self.batches}

    def threshold(self, tests: int) -> float:
        """The per-instance |t| threshold for ``tests`` simultaneous tests."""
        from scipy import stats

        return float(stats.t.isf(self.false_alarm / 3 / (2 * tests), self.batches - 1))

    def pooled_thresholds(self) -> tuple[float, float]:
        """The |t| threshold of the pooled mean test and the z threshold of the pooled square test."""
        from scipy import stats

        level = self.false_alarm / 3
        return float(stats.t.isf(level / 2, self.batches - 1)), float(stats.norm.isf(level))

    def describe(self, tests: int = 1) -> dict:
        return {"false_alarm": self.false_alarm, "threshold": self.threshold(tests)}

    def batch_means(self, draws: np.ndarray) -> np.ndarray:
        n, m = draws.shape[:2]
        used = m - m % self.batches
        return draws[:, :used].reshape(n, self.batches, used // self.batches, *draws.shape[2:]).mean(axis=2)

    def compare(self, claim, draws, accuracy, tests: int) -> Comparison:
        n = draws.shape[0]
        if claim.shape != (n,) + draws.shape[2:]:
            raise ValueError(f"claim has shape {claim.shape[1:]} per instance, oracle draws {draws.shape[2:]}")
        means = self.batch_means(draws)
        mean = means.mean(axis=1)
        # An exact oracle's draws have no spread: its rounding is the unit, not a standard error of 0. Rounding
        # is relative to the size of what was computed, so an entry that should be 0 (and came out 1e-16, or
        # 1e-33) is measured against the largest of the instance's values, not against its own residue.
        magnitude = _instance_magnitude(mean)
        rounding = ROUNDING_FLOOR * (magnitude + np.abs(claim)) + np.finfo(float).tiny
        standard_error = np.maximum(means.std(axis=1, ddof=1) / math.sqrt(self.batches), rounding)
        t = np.abs(mean - claim) / standard_error
        errors = t.reshape(n, -1).max(axis=1) / self.threshold(tests)
        return Comparison(errors, mean, standard_error, pooled=self._pooled_sums(claim, means, magnitude))

    def _pooled_sums(self, claim: np.ndarray, means: np.ndarray, magnitude: np.ndarray) -> dict:
        """Per batch, the sum of relative residuals; per instance, the split-half residual product.

        Entries whose claim is 0 at the rounding level of the instance's values (``magnitude``), or
        not finite (a mutant that overflows there), are left out: a residual relative to them is
        rounding or undefined, and one NaN would make every pooled value NaN.
        """
        scale = np.abs(claim)
        usable = np.isfinite(scale) & (scale > ROUNDING_FLOOR * magnitude)
        relative = np.where(usable[:, None], (means - claim[:, None]) / np.where(usable, scale, 1.0)[:, None], 0.0)
        n = len(claim)
        half = self.batches // 2
        first, second = relative[:, :half].mean(axis=1), relative[:, half : 2 * half].mean(axis=1)
        return {
            "batch_sums": relative.reshape(n, self.batches, -1).sum(axis=(0, 2)),
            "count": int(usable.sum()),
            "products": (first * second).reshape(n, -1).mean(axis=1),
        }

    def tally(self, comparison: Comparison) -> Tally:
        pooled = comparison.pooled
        products = pooled["products"]
        mean = float(np.mean(products)) if len(products) else 0.0
        moments = (len(products), mean, float(np.sum((products - mean) ** 2)))
        return Tally(
            float(np.max(comparison.errors, initial=0.0)),
            {"batch_sums": pooled["batch_sums"], "count": pooled["count"], "products": moments},
        )

    def merge(self, a: Tally, b: Tally) -> Tally:
        pooled = {
            "batch_sums": a.pooled["batch_sums"] + b.pooled["batch_sums"],
            "count": a.pooled["count"] + b.pooled["count"],
            "products": _merged_moments(a.pooled["products"], b.pooled["products"]),
        }
        return Tally(max(a.max_error, b.max_error), pooled)

    def verdict(self, tally: Tally) -> Verdict:
        per_instance, count = tally.max_error, tally.pooled["count"]
        if count == 0:
            return Verdict(per_instance, {"resolution": None})
        mean_threshold, square_threshold = self.pooled_thresholds()
        batch_values = tally.pooled["batch_sums"] / count
        # An exact oracle's draws have no spread; its relative rounding is judged against the per-instance
        # floor (ROUNDING_FLOOR of the values' size + |claim|, in units of |claim|), not a standard error of zero.
        standard_error = max(float(np.std(batch_values, ddof=1) / math.sqrt(self.batches)), 2 * ROUNDING_FLOOR)
        bias = float(np.mean(batch_values))
        t_mean = abs(bias) / standard_error
        errors = {"mean": t_mean / mean_threshold}
        instances, products_mean, products_m2 = tally.pooled["products"]
        if instances >= self.pooled_minimum:
            # Floored like the mean test's: an exact oracle off the claim by rounding (a relative bias of
            # ROUNDING_FLOOR at most) makes positive products of about its square, which are no evidence.
            spread = math.sqrt(products_m2 / (instances - 1))
            z = products_mean / max(spread / math.sqrt(instances), (2 * ROUNDING_FLOOR) ** 2)
            errors["square"] = max(z, 0.0) / square_threshold
        extras = {"resolution": mean_threshold * standard_error, "pooled_bias": bias}
        worst = max(errors, key=errors.get)
        failure = ""
        if errors[worst] > 1:
            failure = (
                f"the pooled {worst} test over {instances} instances finds a relative bias "
                f"{bias:+.3g} (error {errors[worst]:.3g} times its threshold; resolution {extras['resolution']:.3g})"
            )
        return Verdict(max(per_instance, *errors.values()), extras, failure)

    def refutation_probability(self, separation: float, tests: int) -> float:
        """P(the per-instance test rejects) at a separation of ``separation`` standard errors (noncentral t)."""
        from scipy import stats

        if math.isnan(separation):
            raise ValueError("the separation is NaN: a mutant's value or its standard error is undefined, so no probability is")
        threshold, df = self.threshold(tests), self.batches - 1
        probability = float(stats.nct.sf(threshold, df, separation))
        if math.isfinite(probability):
            return probability
        # scipy's noncentral t is NaN beyond about 3e9 standard errors (an exact oracle's floor puts a mutant at 1e13).
        # There Z is nothing beside the separation in T = (Z + separation) / sqrt(V / df), V ~ chi2(df): the limit.
        return float(stats.chi2.cdf(df * (separation / threshold) ** 2, df))


def _merged_moments(a: tuple[int, float, float], b: tuple[int, float, float]) -> tuple[int, float, float]:
    """(count, mean, sum of squared deviations) of two samples together (Chan, Golub and LeVeque 1979)."""
    (na, mean_a, m2_a), (nb, mean_b, m2_b) = a, b
    n = na + nb
    if n == 0:
        return 0, 0.0, 0.0
    delta = mean_b - mean_a
    return n, mean_a + delta * nb / n, m2_a + m2_b + delta**2 * na * nb / n


Policy = Deterministic | Statistical | Bound
POLICIES = (Deterministic, Statistical, Bound)
