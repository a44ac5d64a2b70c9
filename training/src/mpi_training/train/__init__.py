"""`mpi train ...`: pair datasets, base models, fine-tuning, export and promotion of the
gray-zone classifier (DESIGN §6)."""
