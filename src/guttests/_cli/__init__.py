"""Private helpers of the ``guttests`` command (:mod:`guttests.cli`).

Nothing here is public API; the modules are split out so that each command
imports only what it needs.
"""

__all__: list[str] = []
