"""`python -m api.cli` is the `egov` command."""

from api.cli import main

main()
