"""Instances for the checker: parameter points (edges first), their random inputs, and groups.

Instances that share the values of the shape parameters form a :class:`Group`,
evaluated by claim, oracle and mutants in one batched call. So that a check makes few
batched calls, the shape parameters take few distinct values: their special values first
(each shape parameter's edges, cycled together as every parameter's are), then at most
:data:`RANDOM_SHAPES` random shape tuples; every random instance takes one of these tuples
(edge or random, uniformly), while its other parameters are drawn afresh. A thousand
instances are then a few dozen groups of many instances each, not one group per instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from checkers.domains import Domain, Integer
from checkers.theorem import Theorem, call_with

RANDOM_SHAPES = 8
"""Random shape tuples per check, beyond the edge tuples (issue 18: few shapes, many instances each)."""

SHAPE_ENUMERATION = 32
"""A shape parameter's domain is enumerated (every value special) only up to this many values: each
distinct shape is one batched call. A larger domain contributes its edges (bounds, lowest 16 values,
powers of two) and the random tuples."""


@dataclass(frozen=True)
class Group:
    """Instances sharing the values of the shape parameters, evaluated in one batched call."""

    params: dict[str, Any]
    inputs: dict[str, np.ndarray]
    index: np.ndarray
    seed: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return len(self.index)

    def arguments(self) -> dict[str, Any]:
        return {**self.params, **self.inputs}

    def instance(self, i: int) -> dict[str, Any]:
        """The parameters of instance ``i`` of this group as plain Python values."""
        return {k: plain_value(v if np.ndim(v) == 0 else v[i]) for k, v in self.params.items()}


def plain_value(value):
    return value.item() if isinstance(value, np.generic) else value


def draw_instances(theorem: Theorem, instances: int, seed: int, device: str = "cpu") -> list[Group]:
    """``instances`` parameter points (and their inputs), edges first, grouped by the shape parameters."""
    params = parameter_points(theorem.parameters, instances, np.random.default_rng(seed))
    shapes = theorem.shape_parameters
    keys = list(zip(*(params[s] for s in shapes))) if shapes else [()] * instances
    groups = []
    for number, key in enumerate(sorted(set(keys))):
        index = np.array([i for i, k in enumerate(keys) if k == key])
        group_params = {n: v[index] for n, v in params.items()}
        group_params.update({s: int(k) for s, k in zip(shapes, key)})
        groups.append(_with_inputs(theorem, group_params, index, (seed, number), device))
    return groups


def parameter_points(parameters: Mapping[str, Domain], instances: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each parameter's values at ``instances`` points: its special values first, then random draws.

    Point ``k`` of the leading block takes each parameter's ``k``-th special value, cycling
    through shorter lists: point 0 has every parameter at its lower bound, point 1 at its upper
    bound, and every special value of every parameter appears once the block is long enough.
    After it, the shape parameters take, together, one of few shape tuples
    (:func:`_shape_tuples`); the others are drawn at random at every point.
    """
    shapes = [name for name, domain in parameters.items() if _is_shape(domain)]
    special = special_values(parameters, instances)
    lead = min(instances, max(map(len, special.values()), default=0))
    points = {}
    for name, domain in parameters.items():
        first = np.asarray([special[name][k % len(special[name])] for k in range(lead)])
        drawn = domain.sample(rng, instances - lead) if name not in shapes else np.empty(0, dtype=int)
        points[name] = np.concatenate([first, drawn]) if lead else drawn
    if shapes and instances > lead:
        edges = {s: points[s][:lead] for s in shapes}
        tuples = _shape_tuples(edges, {s: parameters[s] for s in shapes}, instances - lead, rng)
        chosen = rng.integers(0, len(tuples), size=instances - lead)
        for k, name in enumerate(shapes):
            points[name] = np.concatenate([points[name][:lead], tuples[chosen, k]])
    return points


def _shape_tuples(edges: dict[str, np.ndarray], domains: dict[str, Domain], random: int, rng) -> np.ndarray:
    """The shape tuples the random points choose from: the distinct tuples of the edge block, then
    up to :data:`RANDOM_SHAPES` (at most ``random``) tuples drawn from the domains, as rows of an integer
    array (one column per shape parameter)."""
    drawn = min(RANDOM_SHAPES, random)
    columns = [np.concatenate([values, domains[name].sample(rng, drawn)]) for name, values in edges.items()]
    tuples = np.stack(columns, axis=1).astype(int)
    _, first = np.unique(tuples, axis=0, return_index=True)
    return tuples[np.sort(first)]


def special_values(parameters: Mapping[str, Domain], instances: int) -> dict[str, list]:
    """Each parameter's special values at ``instances`` instances; a shape parameter's whole domain only
    while it has at most :data:`SHAPE_ENUMERATION` values (else its edges: enumerating it would be one
    batched call per value)."""
    special = {}
    for name, domain in parameters.items():
        values = domain.special_values(instances)
        if _is_shape(domain) and len(values) > SHAPE_ENUMERATION:
            values = domain.special_values(0)
        special[name] = values
    return special


def edge_coverage(parameters: Mapping[str, Domain], instances: int) -> dict[str, dict]:
    """Which special values of each parameter a check of ``instances`` instances includes."""
    special = special_values(parameters, instances)
    lead = min(instances, max(map(len, special.values()), default=0))
    return {
        name: {"special": [plain_value(v) for v in values], "covered": min(lead, len(values)), "of": len(values)}
        for name, values in special.items()
    }


def _is_shape(domain: Domain) -> bool:
    return isinstance(domain, Integer) and domain.shape


def single_instance(theorem: Theorem, params: Mapping[str, Any], seed: int, device: str = "cpu") -> Group:
    """One instance at fixed parameter values, inputs drawn from ``seed``."""
    shapes = set(theorem.shape_parameters)
    group_params = {n: (int(v) if n in shapes else np.array([v])) for n, v in params.items()}
    return _with_inputs(theorem, group_params, np.array([0]), (seed,), device)


def split_instances(group: Group) -> list[Group]:
    """The same instances one at a time (for the per-instance baseline and for shrinking)."""
    singles = []
    for i in range(group.size):
        params = {k: (v if np.ndim(v) == 0 else v[i : i + 1]) for k, v in group.params.items()}
        inputs = {k: v[i : i + 1] for k, v in group.inputs.items()}
        singles.append(Group(params, inputs, group.index[i : i + 1], group.seed + (i,)))
    return singles


def _with_inputs(theorem, params, index, seed: tuple[int, ...], device) -> Group:
    inputs = {}
    if theorem.inputs is not None:
        rng = np.random.default_rng(seed)
        inputs = dict(call_with(theorem.inputs, {"rng": rng, "n": len(index), "device": device, **params}))
    return Group(params, inputs, index, seed)

