"""Training data and fitting for the gray-zone classifiers (pairs from the linker's gray zone)."""
