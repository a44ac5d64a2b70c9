"""Gray-zone adjudication worker (arrives with the adjudication issue)."""
