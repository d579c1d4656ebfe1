"""serinus.core."""
