"""The Splink model: its definition, the versioned artifact, and training."""
