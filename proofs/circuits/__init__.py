"""Derivations for the mechanistic-interpretability theorems (SymPy only), one submodule per idea."""
