"""Splink linkage: normalisation, blocking keys, scoring (arrives with the linker issue)."""
