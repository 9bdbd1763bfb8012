"""Which ``guttests.testing`` strategy generates each model (data only, no imports), shared
by the lazy ``hypothesis`` registration (``_hypothesis_plugin``) and by
:func:`guttests.testing.register_strategies`."""

from __future__ import annotations

from typing import Any

__all__ = ["STRATEGIES"]

STRATEGIES: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {
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
"""model (module, class name) -> the guttests.testing call that generates it."""
