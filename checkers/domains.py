"""Parameter domains: what values a theorem's parameters take, and which of them are edges.

A domain samples its values for the checker, parses and validates values a user
gives, proposes simpler values when a counterexample is shrunk, and names its
*special values*: the bounds, the lowest integers, the powers of two, the points
next to a real bound, every value of a choice. Bugs live at edges, so
:func:`checkers.sampling.draw_instances` puts the special values first.

>>> sorted(Integer(1, 2048).special_values())[-4:]
[256, 512, 1024, 2048]
>>> Choice(("a", "b")).special_values()
['a', 'b']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from checkers.results import TheoremDefinitionError

LOWEST_INTEGERS = 16


@dataclass(frozen=True)
class _Domain:
    where: Callable[[Any], bool] | None = field(default=None, kw_only=True)
    default: Any = field(default=None, kw_only=True)
    condition: str = field(default="", kw_only=True)  # the where= predicate in words, for error messages

    def contains(self, value) -> bool:
        return self._in_range(value) and (self.where is None or bool(self.where(value)))

    def default_value(self):
        return self.default if self.default is not None else self._first()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` values drawn from the domain; ``where`` by rejection (at most 100 rounds)."""
        values = self._draw(rng, n)
        if self.where is None:
            return values
        for _ in range(100):
            bad = ~np.array([bool(self.where(v)) for v in values], dtype=bool)
            if not bad.any():
                return values
            values[bad] = self._draw(rng, int(bad.sum()))
        raise TheoremDefinitionError(f"{self!r}: the where= predicate rejects almost every value")

    def special_values(self, instances: int = 0) -> list:
        """The values a check of ``instances`` instances includes before the random ones (edges first), each once."""
        return [v for v in _distinct(self._special(instances)) if self.contains(v)]

    def check_value(self, name: str, value) -> None:
        if not self._in_range(value):
            raise ValueError(f"parameter {name}={value!r} is outside its domain {self.text()}")
        if not self.contains(value):
            rule = self.condition or "its where= condition"
            raise ValueError(f"parameter {name}={value!r} is in {self.text()} but fails {rule}")


@dataclass(frozen=True)
class Integer(_Domain):
    """Integers ``low, low + step, ..., <= high`` (bounds inclusive).

    ``shape=True`` marks a parameter that fixes array shapes (a dimension, a
    sequence length): instances are grouped by its value and the theorem's
    functions receive it as a Python ``int`` rather than an array.
    """

    low: int
    high: int
    step: int = 1
    shape: bool = field(default=False, kw_only=True)

    def __post_init__(self):
        if self.step < 1 or self.high < self.low:
            raise TheoremDefinitionError(f"Integer({self.low}, {self.high}, step={self.step}) is empty")

    def _in_range(self, value) -> bool:
        if not _is_number(value) or not float(value).is_integer():
            return False
        return self.low <= value <= self.high and (int(value) - self.low) % self.step == 0

    def _first(self) -> int:
        return self.low

    @property
    def size(self) -> int:
        return (self.high - self.low) // self.step + 1

    def _draw(self, rng, n):
        return self.low + self.step * rng.integers(0, self.size, size=n)

    def _special(self, instances: int) -> list[int]:
        """Every value when there are no more than ``instances``; else both bounds, the lowest 16 values
        and every power of two in range (on the step grid)."""
        if self.size <= instances:
            return list(range(self.low, self.high + 1, self.step))
        lowest = [self.low + k * self.step for k in range(min(LOWEST_INTEGERS, self.size))]
        powers = [2**k for k in range(max(self.high, 1).bit_length()) if self.low <= 2**k <= self.high]
        on_grid = [p for p in powers if (p - self.low) % self.step == 0]
        return [self.low, self.high, *lowest, *on_grid]

    def parse(self, name: str, text: str) -> int:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"parameter {name}={text!r} is not a number (expected an integer)") from None
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(f"parameter {name}={text!r} is not an integer")
        self.check_value(name, int(value))
        return int(value)

    def simpler(self, value) -> list[int]:
        """Values closer to ``low``, simplest first: low, the default, then points halving the distance."""
        candidates = [self.low, self.default_value()]
        distance = int(value) - self.low
        while distance > self.step:
            distance //= 2
            candidates.append(self.low + distance - distance % self.step)
        closer = (c for c in candidates if abs(c - self.low) < abs(value - self.low) and self.contains(c))
        return sorted(_distinct(closer), key=lambda c: abs(c - self.low))

    def text(self) -> str:
        step = f" in steps of {self.step}" if self.step > 1 else ""
        return f"integers {self.low}..{self.high}{step}"

    def describe(self) -> dict:
        return {"type": "integer", "low": self.low, "high": self.high, "default": self.default_value(), "step": self.step}


@dataclass(frozen=True)
class Real(_Domain):
    """Reals in ``[low, high]``; ``log=True`` samples log-uniformly (for scales spanning decades)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self):
        if not (self.low <= self.high) or (self.log and self.low <= 0):
            raise TheoremDefinitionError(f"Real({self.low}, {self.high}, log={self.log}) is not a valid range")

    def _in_range(self, value) -> bool:
        return _is_number(value) and math.isfinite(value) and self.low <= value <= self.high

    def _first(self) -> float:
        return float(self.low)

    def _draw(self, rng, n):
        if self.log:
            return np.exp(rng.uniform(np.log(self.low), np.log(self.high), size=n))
        return rng.uniform(self.low, self.high, size=n)

    def _special(self, instances: int) -> list[float]:
        """Both bounds, the next float inside each, and points a millionth of the range inside them."""
        low, high = float(self.low), float(self.high)
        if self.log:
            near_low, near_high = low * (high / low) ** 1e-6, high * (low / high) ** 1e-6
        else:
            near_low, near_high = low + 1e-6 * (high - low), high - 1e-6 * (high - low)
        inside = [float(np.nextafter(low, high)), float(np.nextafter(high, low))]
        return [low, high, *inside, near_low, near_high]

    def parse(self, name: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"parameter {name}={text!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"parameter {name}={text!r} must be finite")
        self.check_value(name, value)
        return value

    def simpler(self, value) -> list[float]:
        rounded = [float(f"{value:.{digits}g}") for digits in (1, 2)]
        candidates = [self.default_value(), *rounded]
        return _distinct(c for c in candidates if c != value and self.contains(c))

    def text(self) -> str:
        return f"reals in [{self.low:g}, {self.high:g}]"

    def describe(self) -> dict:
        described = {"type": "real", "low": self.low, "high": self.high, "default": self.default_value(), "log": self.log}
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            # JSON has no infinity: an open end is null, and the flag says it is unbounded, not unknown.
            described.update(low=self.low if math.isfinite(self.low) else None, high=self.high if math.isfinite(self.high) else None, unbounded=True)
        return described


@dataclass(frozen=True)
class Choice(_Domain):
    """One of a fixed tuple of values (numbers or strings)."""

    values: tuple

    def __post_init__(self):
        object.__setattr__(self, "values", tuple(self.values))
        if not self.values:
            raise TheoremDefinitionError("Choice() needs at least one value")

    def _in_range(self, value) -> bool:
        return any(value == v for v in self.values)

    def _first(self):
        return self.values[0]

    def _draw(self, rng, n):
        return np.asarray(self.values)[rng.integers(0, len(self.values), size=n)]

    def _special(self, instances: int) -> list:
        return list(self.values)

    def parse(self, name: str, text: str):
        for v in self.values:
            if str(v) == text or (not isinstance(v, str) and _float_or_none(text) == v):
                return v
        raise ValueError(f"parameter {name}={text!r} is not one of {', '.join(map(str, self.values))}")

    def simpler(self, value) -> list:
        return [v for v in self.values[: self.values.index(value)] if self.contains(v)] if value in self.values else []

    def text(self) -> str:
        return "one of " + ", ".join(map(str, self.values))

    def describe(self) -> dict:
        numeric = all(isinstance(v, (int, float)) for v in self.values)
        return {
            "type": "choice",
            "low": min(self.values) if numeric else None,
            "high": max(self.values) if numeric else None,
            "default": self.default_value(),
            "values": list(self.values),
        }


def _is_number(value) -> bool:
    """A real number (not a bool, not a string)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _float_or_none(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def _distinct(values) -> list:
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


Domain = Integer | Real | Choice

