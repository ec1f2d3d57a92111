"""sae-recovery: verified and every mutant refuted on the d = 8 half of the domain, the worked example."""

import dataclasses

import numpy as np

from checkers.circuits.sae import THRESHOLD, sae_recovery
from checkers.domains import Integer
from checkers.engine import run_check
from checkers.worked import worked_example

def test_every_dictionary_at_d_8_is_recovered_and_every_mutant_refuted():
    # The d = 8 half of the domain (16 dictionaries): the suite trains one batch; the command line checks d = 16 too.
    at_d_8 = dataclasses.replace(sae_recovery, parameters={**sae_recovery.parameters, "d": Integer(8, 8, shape=True, default=8)})
    result = run_check(at_d_8, instances=16, seed=0, mutants=True)
    assert result.status == "verified" and result.basis == "supported", result.message
    assert result.symbolic == {"steps": 5, "proved": 5, "sampled": 0, "given": 0, "failed": 0, "custom": 0}
    assert result.numeric.coverage["dictionary"]["covered"] == 16
    assert 0.9 < result.numeric.extras["tightness"] < 1  # the worst dictionary's MMCS is within 10% of the threshold
    assert len(result.mutants) == 3 and all(m.refuted for m in result.mutants)


def test_the_worked_example():
    example = worked_example(sae_recovery)
    assert example.verified and example.params == {"d": 8, "dictionary": 0}
    v = example.values
    assert v["mmcs"] >= THRESHOLD > max(v["mmcs_without_l1"], v["mmcs_random"])
    assert v["worst_feature"] > 0.7 and v["features"] <= v["latents_used"] <= v["latents"]
    assert v["encoder_bias"] == -0.15


def test_an_instance_depends_only_on_its_parameters():
    from checkers.circuits.sae import _measured

    np.testing.assert_array_equal(_measured(8, [3]), _measured(8, [0, 1, 2, 3])[3:])
