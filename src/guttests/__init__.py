"""guttests: typed interpretation of gut-health lab results."""

from ._version import __version__

__all__ = ["__version__"]
