"""serinus.app."""
