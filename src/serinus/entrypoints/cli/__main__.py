"""`python -m serinus.entrypoints.cli`: the same as the `serinus` command."""

from serinus.entrypoints.cli.main import main

main()
