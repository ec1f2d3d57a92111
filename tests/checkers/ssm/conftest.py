"""Shared by the SSM theorems' tests: a theorem whose claim uses an edited closed form."""

import dataclasses
import functools

import pytest

from checkers.closed_form import compile_closed_form
from checkers.theorem import call_with


def with_closed_form(theorem, edit):
    """``theorem`` with its claim assembled from ``edit(closed form)`` (a SymPy map), everything else unchanged."""
    edited = compile_closed_form(edit(theorem.built_derivation().result))
    assemble = theorem.assemble or (lambda closed_form, **arguments: call_with(closed_form, arguments))
    return dataclasses.replace(
        theorem, assemble=lambda _, **arguments: call_with(functools.partial(assemble, edited), arguments)
    )


@pytest.fixture
def edited():
    return with_closed_form
