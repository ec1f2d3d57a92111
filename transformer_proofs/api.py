"""The Python API: list, verify, refute and render theorems.

>>> import transformer_proofs as tp
>>> [t.id for t in tp.theorems(topic="scaling")][:2]
['chinchilla-allocation', 'chinchilla-frontier']
>>> tp.example("chinchilla-allocation").verified
True
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable

from checkers.engine import MUTANT_INSTANCES
from checkers.registry import REGISTRY
from checkers.theorem import Theorem
from checkers.worked import worked_example
from checkers.results import Erratum, MutantReport, Report, WorkedExample, package_version
from transformer_proofs.parallel import check_theorems


def check_device(device: str) -> None:
    """Refuse a device this machine does not have, before any work is done."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r}: use 'cpu' or 'cuda'")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device 'cuda': CUDA is not available on this machine (use 'cpu')")


def theorems(topic: str | None = None) -> list[Theorem]:
    """Every registered theorem (built-in, entry points, loaded modules), in syllabus order."""
    return REGISTRY.theorems(topic)


def get(theorem_id: str) -> Theorem:
    """The theorem with this id; raises :class:`UnknownTheorem` (a KeyError) otherwise."""
    return REGISTRY.get(theorem_id)


def load_module(module_name: str) -> list[Theorem]:
    """Import a module of user theorems and register its module-level Theorem objects."""
    return REGISTRY.load_module(module_name)


def select(ids: Iterable[str | Theorem] | None = None, topic: str | None = None) -> list[Theorem]:
    """Theorems by id or as ``Theorem`` objects (all registered ones when ``ids`` is empty),
    optionally restricted to a topic."""
    ids = [ids] if isinstance(ids, (str, Theorem)) else list(ids or [])
    chosen = [i if isinstance(i, Theorem) else get(i) for i in ids] if ids else theorems(topic)
    if topic is not None:
        chosen = [t for t in chosen if t.topic == topic]
    if not chosen:
        raise ValueError(f"no theorem matches topic {topic!r}" if topic else "no theorems are registered")
    return chosen


def verify(
    ids: Iterable[str | Theorem] | str | Theorem | None = None,
    *,
    instances: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    topic: str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> Report:
    """Check derivations and claims of the chosen theorems (ids or ``Theorem`` objects, as
    :func:`~checkers.engine.check` takes; all by default); mutants are not run here.

    ``device="cuda"`` needs CUDA (a ValueError otherwise). ``workers=N`` checks registered theorems
    in N processes, ``scheduler`` (``"local"`` or ``"tcp://host:8786"``) on a Dask cluster; the
    report is the same (timings aside).
    """
    check_device(device)
    options = dict(instances=instances, seed=seed, device=device)
    results = check_theorems("verify", select(ids, topic), options, workers=workers, scheduler=scheduler)
    return Report(package_version(), seed, instances, results)


def mutants(
    ids: Iterable[str | Theorem] | str | Theorem | None = None,
    *,
    instances: int = MUTANT_INSTANCES,
    seed: int = 0,
    device: str = "cpu",
    topic: str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
) -> MutantReport:
    """Run every mutant (plausible wrong claim) of the chosen theorems (ids or ``Theorem`` objects)
    through the checker, in ``workers`` processes or on a Dask cluster as :func:`verify` does."""
    check_device(device)
    options = dict(instances=instances, seed=seed, device=device)
    return MutantReport(check_theorems("mutants", select(ids, topic), options, workers=workers, scheduler=scheduler))


def example(theorem_id: str, *, seed: int = 0, data: str | None = None, **params) -> WorkedExample:
    """The worked example at the default parameters (overridden by ``params``), confirmed by the oracle.

    ``data`` is a path for theorems that fit data (scaling-law-fit); others ignore it.
    """
    from transformer_proofs.render import example_latex

    theorem = get(theorem_id)
    try:
        worked = worked_example(theorem, seed=seed, data=data, **params)
    except ValueError as error:
        message = str(error)
        raise ValueError(message if message.startswith(f"{theorem.id}: ") else f"{theorem.id}: {message}") from None
    return replace(worked, renderer=example_latex)


def errata(topic: str | None = None) -> list[tuple[Theorem, Erratum]]:
    """Claims of the course material found false or loose: (the theorem that shows it, the erratum)."""
    return [(t, e) for t in theorems(topic) for e in t.errata]


def render(
    ids: Iterable[str] | None,
    path: str | Path,
    *,
    seed: int = 0,
    solutions: bool = True,
    topic: str | None = None,
    variant: int | None = None,
    data: str | None = None,
    instances: int = 1000,
) -> Path:
    """Write a handout (``.tex``, or ``.pdf`` through latexmk) for the chosen theorems.

    ``solutions=False`` writes the student version (givens and questions, no answers);
    ``variant=K`` redraws the worked examples' parameters, the same K giving the same sheet.
    """
    from transformer_proofs.render import write_handout

    options = dict(seed=seed, solutions=solutions, variant=variant, data=data, instances=instances)
    handout = write_handout(select(ids, topic), Path(path), **options)
    return handout.path
