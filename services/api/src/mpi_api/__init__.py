"""Public REST API of the MPI."""
