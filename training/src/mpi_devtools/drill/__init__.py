"""`mpi drill`: start an own stack on loopback, run reliability and security checks against it,
and report each as pass/fail with its figures."""
