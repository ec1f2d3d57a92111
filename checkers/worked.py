"""Worked examples, handout variants and figures: a theorem at one parameter point, confirmed by its oracle."""

from __future__ import annotations

import math
import re
import zlib
from typing import Any, Callable, Mapping

import numpy as np

from checkers.engine import claim_values, compare, oracle_values
from checkers.results import Plot, TheoremError, WorkedExample
from checkers.sampling import plain_value, single_instance
from checkers.theorem import Theorem, call_with


def example_params(theorem: Theorem, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The example's parameters: domain defaults, the theorem's example, then ``overrides`` (validated)."""
    params = theorem.default_params()
    for name, value in overrides.items():
        if name not in theorem.parameters:
            known = ", ".join(theorem.parameters) or "none"
            raise ValueError(f"{theorem.id} has no parameter {name!r} (parameters: {known})")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"parameter {name}={value!r} must be finite")
        theorem.parameters[name].check_value(name, value)
        params[name] = value
    return params


def variant_params(theorem: Theorem, variant: int) -> dict[str, Any]:
    """Worked-example parameters for handout variant ``variant``: the same variant, the same values.

    Each redrawn parameter (``theorem.variants``, by default every parameter that does not
    fix a shape) is drawn from its domain and rounded to two significant digits when the
    rounded value stays in the parameter's domain, so that a sheet has values a student
    can work with.
    """
    rng = np.random.default_rng([variant, zlib.crc32(theorem.id.encode())])
    drawn = theorem.variants if theorem.variants is not None else {
        n: d for n, d in theorem.parameters.items() if n not in theorem.shape_parameters
    }
    params = theorem.default_params()
    for name, domain in drawn.items():
        value = plain_value(domain.sample(rng, 1)[0])
        nice = _two_digits(value)
        params[name] = nice if theorem.parameters[name].contains(nice) and domain.contains(nice) else value
    return params


def _two_digits(value):
    if isinstance(value, str) or value == 0:
        return value
    rounded = float(f"{float(value):.2g}")
    return int(rounded) if isinstance(value, (int, np.integer)) else rounded


def worked_example(
    theorem: Theorem, *, seed: int = 0, device: str = "cpu", data: str | None = None, **overrides
) -> WorkedExample:
    """Named values at the example's parameters, from the closed form, confirmed by the oracle at the same instance.

    ``data`` (a path the user gave, or None) reaches ``values`` when its signature names it.
    """
    params = example_params(theorem, overrides)
    group = single_instance(theorem, params, seed, device)
    oracle = oracle_values(theorem, group, device)
    claim = claim_values(theorem, group, device)
    comparison = compare(theorem, claim, oracle, 1)
    if theorem.values is not None:
        arguments = {**params, **{k: v[0] for k, v in group.inputs.items()}, "device": device, "seed": seed, "data": data}
        values = dict(_guarded(theorem, "values", theorem.values, arguments))
    else:
        values = {"claim": claim[0], "oracle": comparison.reference[0]}
    verified = bool(comparison.errors[0] <= 1 and all(_finite(v) for v in values.values()))
    message = f"claim and oracle agree within {comparison.errors[0]:.3g} of the tolerance"
    return WorkedExample(theorem.id, seed, params, values, verified, message)


def _guarded(theorem: Theorem, role: str, function: Callable, arguments: Mapping[str, Any]):
    """``function(**arguments)``, naming the theorem in what it raises.

    A ValueError stays one (bad input, such as a data file that is not there); any other
    exception is the theorem's code failing, a TheoremError.
    """
    try:
        return call_with(function, arguments)
    except ValueError as error:
        raise ValueError(f"{theorem.id}: {error}") from error
    except Exception as error:
        raise TheoremError(f"{theorem.id}: {role}= raised {type(error).__name__}: {error}") from error


def _finite(value) -> bool:
    """Numbers and arrays of numbers must be finite; text and other records pass."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return True
    return bool(np.all(np.isfinite(array)))


def theorem_figures(theorem: Theorem, *, seed: int = 0, data: str | None = None, **overrides) -> list[Plot]:
    """The theorem's handout figures at the example's parameters (none if it draws none)."""
    if theorem.figures is None:
        return []
    arguments = {**example_params(theorem, overrides), "seed": seed, "data": data}
    plots = list(_guarded(theorem, "figures", theorem.figures, arguments))
    for plot in plots:
        if not isinstance(plot, Plot) or not re.fullmatch(r"[a-z0-9-]+", plot.name):
            raise TheoremError(f"theorem {theorem.id!r}: figures= must return Plot records with kebab-case names")
    return plots
