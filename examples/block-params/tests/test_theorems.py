"""Property tests of the package's theorems: each must hold on random widths, and every mutant must be refuted."""

from hypothesis import given, settings

import transformer_proofs as tp
from blockparams.theorems import block_parameters, counted_parameters, rule_of_thumb


def test_block_parameters():
    tp.check(block_parameters, instances=300)


def test_rule_of_thumb():
    tp.check(rule_of_thumb, instances=300)


@settings(max_examples=25, deadline=None)
@given(tp.strategies.parameters(block_parameters))
def test_bert_base_width_and_random_widths(params):
    assert counted_parameters(params["d"])[0] == 12 * params["d"] ** 2 + 13 * params["d"]
