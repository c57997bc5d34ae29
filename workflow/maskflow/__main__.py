"""`python -m maskflow ...` is the same as the `maskflow` console command."""

from maskflow.cli import main

main()
