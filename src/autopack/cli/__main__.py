"""``python -m autopack.cli``: the same as the ``autopack`` console script."""

from . import main

main()
