"""Instances for the checker: parameter points (edges first), their random inputs, and groups.

Instances that share the values of the shape parameters form a :class:`Group`,
evaluated by claim, oracle and mutants in one batched call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from checkers.domains import Domain
from checkers.theorem import Theorem, call_with


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
    """
    special = {name: domain.special_values(instances) for name, domain in parameters.items()}
    lead = min(instances, max(map(len, special.values()), default=0))
    points = {}
    for name, domain in parameters.items():
        first = np.asarray([special[name][k % len(special[name])] for k in range(lead)])
        drawn = domain.sample(rng, instances - lead)
        points[name] = np.concatenate([first, drawn]) if lead else drawn
    return points


def edge_coverage(parameters: Mapping[str, Domain], instances: int) -> dict[str, dict]:
    """Which special values of each parameter a check of ``instances`` instances includes."""
    special = {name: domain.special_values(instances) for name, domain in parameters.items()}
    lead = min(instances, max(map(len, special.values()), default=0))
    return {
        name: {"special": [plain_value(v) for v in values], "covered": min(lead, len(values)), "of": len(values)}
        for name, values in special.items()
    }


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

