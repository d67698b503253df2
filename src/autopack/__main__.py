"""``python -m autopack``: the same as the ``autopack`` console script."""

from .cli import main

main()
