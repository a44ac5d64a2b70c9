"""Gray-zone adjudications: what the classifier decided, and requeueing failed ones."""
