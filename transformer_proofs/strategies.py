"""Hypothesis strategies for a theorem's parameter space.

>>> import transformer_proofs as tp
>>> from hypothesis import given
>>> @given(tp.strategies.parameters(tp.get("pe-rotation")))
... def test_example_holds(params):
...     assert tp.example("pe-rotation", **params).verified
"""

from __future__ import annotations

from hypothesis import strategies as st

from checkers.domains import Choice, Integer, Real
from checkers.theorem import Theorem


def domain(d: Integer | Real | Choice) -> st.SearchStrategy:
    """Values of one parameter domain (bounds inclusive, ``where`` respected)."""
    if isinstance(d, Integer):
        strategy = st.integers(0, (d.high - d.low) // d.step).map(lambda k: d.low + d.step * k)
    elif isinstance(d, Real):
        strategy = st.floats(d.low, d.high, allow_nan=False, allow_infinity=False)
    else:
        strategy = st.sampled_from(d.values)
    return strategy.filter(d.where) if d.where is not None else strategy


def parameters(theorem: Theorem) -> st.SearchStrategy[dict]:
    """Dictionaries ``{name: value}`` covering the theorem's whole parameter space."""
    return st.fixed_dictionaries({name: domain(d) for name, d in theorem.parameters.items()})
