"""Golden records (enterprise patients)."""
