"""`python -m backend.cli`: the `labelwise` command."""

from backend.cli.commands import main

main()
