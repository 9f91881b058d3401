"""Chapter experiments: one module per chapter (plan, run, analyze)."""
