"""Synthetic data, evaluation and classifier training."""
