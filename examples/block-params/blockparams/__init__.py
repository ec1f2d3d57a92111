"""Theorems about transformer blocks, property-tested with transformer-proofs."""
