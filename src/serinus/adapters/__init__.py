"""serinus.adapters."""
