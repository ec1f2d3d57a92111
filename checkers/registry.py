"""The registry: theorems by id, from the built-in topics, entry points and the user's modules."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import sys
import importlib.util
import pkgutil

from checkers.theorem import Theorem

TOPICS = ("attention", "icl", "scaling", "circuits", "ssm")


class UnknownTheorem(KeyError):
    """No theorem has this id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown theorem"


class Registry:
    """Theorems by id: the built-in topics, entry-point modules and modules given by the user."""

    def __init__(self):
        self._theorems: dict[str, Theorem] = {}
        self._modules: dict[str, list[Theorem]] = {}
        self._builtins_loaded = False

    def load_module(self, module_name: str) -> list[Theorem]:
        """Import ``module_name`` and register its module-level Theorem objects."""
        if module_name in self._modules:
            return self._modules[module_name]
        self._ensure_builtins()  # so that a clash is reported against the user's module, not ours
        try:
            # What a module prints on import is not the command's output (stdout may carry a JSON document).
            with contextlib.redirect_stdout(sys.stderr):
                module = importlib.import_module(module_name)
        except BaseException as error:  # a module may also call sys.exit() or raise KeyboardInterrupt on import
            raise ValueError(f"cannot import theorem module {module_name!r}: {type(error).__name__}: {error}") from None
        found = [v for v in vars(module).values() if isinstance(v, Theorem)]
        for theorem in found:
            existing = self._theorems.get(theorem.id)
            if existing is not None and existing is not theorem:
                raise ValueError(f"duplicate theorem id {theorem.id!r} in module {module_name!r}")
            self._theorems[theorem.id] = theorem
        self._modules[module_name] = found
        return found

    def _ensure_builtins(self) -> None:
        if self._builtins_loaded:
            return
        self._builtins_loaded = True
        for topic in TOPICS:
            if importlib.util.find_spec(f"checkers.{topic}") is not None:
                for module in _topic_modules(f"checkers.{topic}"):
                    self.load_module(module)
        for entry in importlib.metadata.entry_points(group="transformer_proofs.theorems"):
            self.load_module(entry.value)

    def theorems(self, topic: str | None = None) -> list[Theorem]:
        self._ensure_builtins()
        order = {t: i for i, t in enumerate(TOPICS)}
        chosen = [t for t in self._theorems.values() if topic is None or t.topic == topic]
        return sorted(chosen, key=lambda t: order.get(t.topic, len(order)))

    def holds(self, theorem: Theorem) -> bool:
        """Whether this very theorem is registered (so that ``tp.check(id)`` finds it)."""
        self._ensure_builtins()
        return self._theorems.get(theorem.id) is theorem

    def get(self, theorem_id: str) -> Theorem:
        self._ensure_builtins()
        if theorem_id not in self._theorems:
            known = ", ".join(sorted(self._theorems))
            raise UnknownTheorem(f"unknown theorem id {theorem_id!r} (known: {known})")
        return self._theorems[theorem_id]


def _topic_modules(name: str) -> list[str]:
    """A topic module, or a topic package followed by its submodules in ``ORDER`` (else alphabetical)."""
    package = importlib.import_module(name)
    if not hasattr(package, "__path__"):
        return [name]
    found = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    order = list(getattr(package, "ORDER", ()))
    found.sort(key=lambda m: order.index(m) if m in order else len(order))
    return [name] + [f"{name}.{m}" for m in found]


REGISTRY = Registry()
