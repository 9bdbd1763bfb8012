"""The ``hypothesis`` entry point of guttests (a top-level module, outside the package).

``import hypothesis`` runs :func:`_hypothesis_setup_hook`. It imports nothing of guttests:
when guttests is not imported yet, guttests registers its strategies itself when it is
imported (see ``guttests._hypothesis_plugin``), so environments that never use guttests
pay nothing.
"""

from __future__ import annotations

import sys

__all__ = ["_hypothesis_setup_hook"]


def _hypothesis_setup_hook() -> None:
    """Register guttests' ``st.from_type`` strategies if guttests is already imported."""
    if "guttests" in sys.modules:
        from guttests._hypothesis_plugin import register

        register()
