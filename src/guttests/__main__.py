"""``python -m guttests``: the same command as the ``guttests`` console script."""

from guttests.cli import main

if __name__ == "__main__":
    main()
