"""Mechanistic-interpretability theorems (hours 7-8; exercises 1.8, 1.10; task 2.2; seed 002).

Each theorem is a checked derivation (proofs.circuits) against an independent oracle
(numerics.circuits), in the submodules below, loaded by the registry in ``ORDER``.
"""

# The registry loads the submodules in the syllabus order of their theorems (CATALOG.md).
ORDER = ("framework", "induction", "induction_limit", "lora", "moe", "fourier", "superposition", "sae")
