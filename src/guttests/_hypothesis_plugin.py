"""``st.from_type`` for guttests' models, registered lazily.

The ``hypothesis`` entry point is the top-level module ``_guttests_hypothesis``, which
imports nothing of guttests: it calls :func:`register` only when guttests is already
imported, and ``guttests/__init__`` calls it when hypothesis is already imported. The
registered strategies import :mod:`guttests.testing` only when a test first resolves one.
This module never imports :mod:`guttests.testing` at import time (no import circle).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ._strategy_table import STRATEGIES

__all__ = ["_hypothesis_setup_hook", "register"]


def _lazy(name: str, args: tuple[Any, ...]) -> Callable[[type], Any]:
    def resolve(_: type) -> Any:
        testing = importlib.import_module("guttests.testing")
        if name == "_band":
            return testing.bands().flatmap(_sampled)
        return getattr(testing, name)(*args)

    return resolve


def _sampled(items: Any) -> Any:
    from hypothesis import strategies as st

    return st.sampled_from(items)


def register() -> None:
    """Register lazy strategies for the guttests models (safe to call again)."""
    from hypothesis import strategies as st

    for (module, cls), (name, args) in STRATEGIES.items():
        st.register_type_strategy(getattr(importlib.import_module(module), cls), _lazy(name, args))


_hypothesis_setup_hook = register
