"""Instances for the checker: parameter points (edges first), their random inputs, and groups.

Instances that share the values of the shape parameters form a :class:`Group`,
evaluated by claim, oracle and mutants in one batched call. So that a check makes few
batched calls, the shape parameters take few distinct values: their special values first
(each shape parameter's edges, cycled together as every parameter's are), then at most
:data:`RANDOM_SHAPES` random shape tuples; every random instance takes one of these tuples
(edge or random, uniformly), while its other parameters are drawn afresh. A thousand
instances are then a few dozen groups of many instances each, not one group per instance.

A check of more than :data:`BLOCK_INSTANCES` instances is drawn, evaluated and compared block by
block, so that its memory does not grow with the count: block 0 is the check of
``BLOCK_INSTANCES`` instances (edges first, its groups as above), and every later block ``k``
draws fresh random instances from its own streams (:func:`block_seed`), each taking one of the
shape tuples of block 0's groups. A block depends only on the seed, its number and those tuples,
so blocks can be checked in any order, in any process, and merged in order.
"""

from __future__ import annotations

import os
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


BLOCK_INSTANCES = 4096
"""Instances drawn and compared together; a larger check runs in blocks of this many (bounded memory)."""
BLOCK_VARIABLE = "TRANSFORMER_PROOFS_BLOCK"
"""Sets the block size instead (worker processes inherit it): a check's result depends on it."""


def block_instances() -> int:
    """The block size: ``$TRANSFORMER_PROOFS_BLOCK`` where set, else :data:`BLOCK_INSTANCES`."""
    text = os.environ.get(BLOCK_VARIABLE, "")
    if not text:
        return BLOCK_INSTANCES
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"${BLOCK_VARIABLE} must be a positive integer (instances per block), not {text!r}")
    return int(text)


def block_sizes(instances: int, size: int | None = None) -> list[int]:
    """The instances of each block of a check of ``instances`` in blocks of ``size`` (default
    :func:`block_instances`): block 0 first, then full blocks, then the rest."""
    size = size or block_instances()
    full, rest = divmod(instances, size)
    return [size] * full + ([rest] if rest else [])


def block_seed(entropy: tuple[int, ...], block: int, *stream: int) -> np.random.SeedSequence:
    """The seed of ``entropy`` (a group's ``(seed, number)``, an oracle's ``(seed, number, 1)``) in
    ``block``. Block 0's is the plain tuple, as a check of at most :data:`BLOCK_INSTANCES` always drew;
    a later block's adds the block (and ``stream``, for the block's own draws) as a spawn key, a stream
    apart from every seed of block 0. Only the spawn key separates streams here: SeedSequence pads
    its entropy with zeros, so ``(seed,)`` and ``(seed, 0)`` are one seed."""
    return np.random.SeedSequence(entropy, spawn_key=(block, *stream) if block else ())


@dataclass(frozen=True)
class Group:
    """Instances sharing the values of the shape parameters, evaluated in one batched call."""

    params: dict[str, Any]
    inputs: dict[str, np.ndarray]
    index: np.ndarray
    seed: tuple[int, ...] = ()
    block: int = 0

    @property
    def size(self) -> int:
        return len(self.index)

    def rng(self, *purpose: int) -> np.random.Generator:
        """A generator for ``purpose`` (the oracle's draws: ``(1,)``), apart from the group's inputs."""
        return np.random.default_rng(block_seed(self.seed + purpose, self.block))

    def arguments(self) -> dict[str, Any]:
        return {**self.params, **self.inputs}

    def instance(self, i: int) -> dict[str, Any]:
        """The parameters of instance ``i`` of this group as plain Python values."""
        return {k: plain_value(v if np.ndim(v) == 0 else v[i]) for k, v in self.params.items()}


def plain_value(value):
    return value.item() if isinstance(value, np.generic) else value


def draw_instances(theorem: Theorem, instances: int, seed: int, device: str = "cpu") -> list[Group]:
    """``instances`` parameter points (and their inputs), edges first, grouped by the shape parameters;
    the groups of every block (:func:`draw_block`), block after block."""
    block_size = block_instances()
    first = draw_block(theorem, instances, seed, 0, device=device, block_size=block_size)
    tuples = shape_tuples(first, theorem)
    blocks = range(1, len(block_sizes(instances, block_size)))
    later = (draw_block(theorem, instances, seed, k, tuples, device, block_size) for k in blocks)
    return first + [group for block in later for group in block]


def draw_block(
    theorem: Theorem,
    instances: int,
    seed: int,
    block: int,
    tuples: np.ndarray | None = None,
    device: str = "cpu",
    block_size: int | None = None,
) -> list[Group]:
    """The groups of block ``block`` of a check of ``instances`` in blocks of ``block_size``. Block 0
    is a check of its size (edges first); a later one draws every parameter at random, its shape
    parameters as one of ``tuples`` (block 0's, :func:`shape_tuples`) uniformly."""
    size = block_sizes(instances, block_size)[block]
    if block == 0:
        params = parameter_points(theorem.parameters, size, np.random.default_rng(seed))
    else:
        params = _random_points(theorem, size, tuples, seed, block)
    return _grouped(theorem, params, size, seed, block, device)


def shape_tuples(groups: list[Group], theorem: Theorem) -> np.ndarray:
    """The shape tuples of ``groups`` (one row per group, one column per shape parameter)."""
    return np.array([[g.params[s] for s in theorem.shape_parameters] for g in groups], dtype=int).reshape(len(groups), -1)


def block_shape_counts(size: int, seed: int, block: int, tuples: np.ndarray) -> np.ndarray:
    """How many of the ``size`` instances of a later block take each of ``tuples``, without drawing the block."""
    return np.bincount(_shape_choice(size, tuples, seed, block), minlength=len(tuples))


def _shape_choice(size: int, tuples: np.ndarray, seed: int, block: int) -> np.ndarray:
    # Its own stream, so that counting a block's tests (block_shape_counts) draws nothing else.
    return np.random.default_rng(block_seed((seed,), block, 2)).integers(0, len(tuples), size=size)


def _random_points(theorem: Theorem, size: int, tuples: np.ndarray, seed: int, block: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(block_seed((seed,), block, 1))
    shapes = theorem.shape_parameters
    points = {name: domain.sample(rng, size) for name, domain in theorem.parameters.items() if name not in shapes}
    chosen = tuples[_shape_choice(size, tuples, seed, block)]
    points.update({name: chosen[:, k] for k, name in enumerate(shapes)})
    return {name: points[name] for name in theorem.parameters}


def _grouped(theorem: Theorem, params: dict[str, np.ndarray], size: int, seed: int, block: int, device: str) -> list[Group]:
    shapes = theorem.shape_parameters
    keys = list(zip(*(params[s] for s in shapes))) if shapes else [()] * size
    groups = []
    for number, key in enumerate(sorted(set(keys))):
        index = np.array([i for i, k in enumerate(keys) if k == key])
        group_params = {n: v[index] for n, v in params.items()}
        group_params.update({s: int(k) for s, k in zip(shapes, key)})
        groups.append(_with_inputs(theorem, group_params, index, (seed, number), device, block))
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
    """Which special values of each parameter a check of ``instances`` instances includes (in its block 0)."""
    instances = min(instances, block_instances())
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
        singles.append(Group(params, inputs, group.index[i : i + 1], group.seed + (i,), group.block))
    return singles


def _with_inputs(theorem, params, index, seed: tuple[int, ...], device, block: int = 0) -> Group:
    inputs = {}
    if theorem.inputs is not None:
        rng = np.random.default_rng(block_seed(seed, block))
        inputs = dict(call_with(theorem.inputs, {"rng": rng, "n": len(index), "device": device, **params}))
    return Group(params, inputs, index, seed, block)

