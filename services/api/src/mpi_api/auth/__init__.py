"""API keys: generation, hashing and the request principal."""
