"""serinus: progressive delivery with Blue-Green + Canary rollouts."""
