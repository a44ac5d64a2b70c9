"""ClinFuse-style demographic corruption: error types, severity presets and the injector."""
