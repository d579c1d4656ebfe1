"""serinus.entrypoints."""
