"""The ``hypothesis`` entry point: ``st.from_type`` works for guttests' models.

Hypothesis calls :func:`_hypothesis_setup_hook` while it is itself being imported,
possibly from inside an import of :mod:`guttests.testing`. The hook therefore
registers *lazy* strategies: :mod:`guttests.testing` is imported only when a test
first asks for one, by which time every module involved is fully loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["_hypothesis_setup_hook"]

#: model (module, class name) -> the guttests.testing call that generates it
_STRATEGIES: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {
    ("guttests._models", "ReferenceRange"): ("reference_ranges", ()),
    ("guttests._models", "Result"): ("results", ()),
    ("guttests._models", "Panel"): ("panels", ()),
    ("guttests._models", "Analyte"): ("analytes", ()),
    ("guttests._models", "Applicability"): ("applicabilities", ()),
    ("guttests._models", "Citation"): ("citations", ()),
    ("guttests._models", "PatientContext"): ("patient_contexts", ()),
    ("guttests._models", "Band"): ("_band", ()),
    ("guttests._catalogue", "Catalogue"): ("catalogues", ()),
    ("guttests._values", "QuantityValue"): ("values", ("quantity",)),
    ("guttests._values", "CensoredValue"): ("values", ("censored",)),
    ("guttests._values", "QualitativeValue"): ("values", ("qualitative",)),
    ("guttests._values", "OrdinalValue"): ("values", ("ordinal",)),
}


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


def _hypothesis_setup_hook() -> None:
    """Register lazy strategies for the guttests models (safe to call again)."""
    from hypothesis import strategies as st

    for (module, cls), (name, args) in _STRATEGIES.items():
        st.register_type_strategy(getattr(importlib.import_module(module), cls), _lazy(name, args))
