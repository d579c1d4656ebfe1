"""serinus.demo."""
