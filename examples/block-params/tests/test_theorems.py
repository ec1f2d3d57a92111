"""Property tests of the package's theorems.

The transformer-proofs pytest plugin collects the two theorems imported below as test
items: each must hold on random widths (``--tp-instances``, ``--tp-seed``), and every
mutant must be refuted. The Hypothesis test beside them is an ordinary test.
"""

from hypothesis import given, settings

import transformer_proofs as tp
from blockparams.theorems import block_parameters, counted_parameters, rule_of_thumb  # noqa: F401 (collected)


@settings(max_examples=25, deadline=None)
@given(tp.strategies.parameters(block_parameters))
def test_the_count_at_random_widths(params):
    assert counted_parameters(params["d"])[0] == 12 * params["d"] ** 2 + 13 * params["d"]
