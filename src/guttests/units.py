"""Units, public: UCUM codes and lab spellings, parsed and converted safely.

>>> from guttests.units import compatible, convert, parse_unit
>>> convert(5.0, "mg/dL", "mg/L")
50.0
>>> compatible("EU/mL", "U/mL")
False
>>> parse_unit("EU/mL").ucum is None
True

See docs/units.md for the safety rules and the spellings accepted.
"""

from __future__ import annotations

from ._units import (
    Unit,
    compatible,
    conversion_factor,
    convert,
    is_arbitrary,
    parse_unit,
    registry,
)

__all__ = [
    "Unit",
    "compatible",
    "conversion_factor",
    "convert",
    "is_arbitrary",
    "parse_unit",
    "registry",
]
