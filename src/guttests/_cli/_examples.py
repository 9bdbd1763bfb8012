"""The bundled example panels (one fictional patient) behind ``guttests report --example``.

>>> [name for name, _ in example_sources()]
['stool.hl7', 'permeability.csv', 'food_sensitivity.json']
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["EXAMPLES", "example_sources"]

EXAMPLES = ("stool.hl7", "permeability.csv", "food_sensitivity.json")
"""The example files, in report order: HL7 v2 stool panels (two collections),
a CSV permeability panel and a guttests-JSON food-sensitivity panel."""


def example_sources() -> list[tuple[str, bytes]]:
    """``(file name, content)`` of each bundled example, read from the installed package."""
    base = files("guttests") / "_data" / "examples"
    return [(name, (base / name).read_bytes()) for name in EXAMPLES]
