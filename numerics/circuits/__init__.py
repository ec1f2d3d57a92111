"""Independent computations, reference constructions and training runs for mechanistic interpretability (numpy/torch only)."""
