"""``python -m dabench`` runs the CLI."""

from dabench.cli import main

main()
