"""Scoring a record against its candidates."""
