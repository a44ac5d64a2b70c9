"""The audit of reads: who read which patients and records (`GET /audit`)."""
