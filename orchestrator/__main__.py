"""`python -m clade.orchestrator` is the `clade` command."""

from clade.orchestrator.cli import main

main()
