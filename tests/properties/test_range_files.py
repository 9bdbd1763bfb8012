"""Range files: a generated valid range set loads; each single corruption is rejected by name.

The range set is written to TOML by ``guttests.testing.to_range_toml`` (through
``range_file_data`` so that one entry can be corrupted first) and loaded with
``Catalogue.load``. Each corruption must raise ``CatalogueError`` naming the file,
the entry and what is wrong.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings

from guttests._catalogue import Catalogue
from guttests._errors import CatalogueError
from guttests._types import ValueKind
from guttests.testing import catalogues
from guttests.testing._writers import dumps_toml, range_file_data


def _load(text: str) -> Catalogue:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "generated.toml")
        path.write_text(text, encoding="utf-8")
        return Catalogue.load(path, base=None)


def _data(cat: Catalogue) -> dict[str, Any]:
    return range_file_data(cat.analytes, cat.ranges, cat.caveats)


@settings(max_examples=30)
@given(catalogues(categories=None))
def test_generated_range_set_loads(cat: Catalogue) -> None:
    """A generated valid range set, written as TOML, loads back to the same entries."""
    loaded = _load(dumps_toml(_data(cat)))
    assert loaded.analytes == cat.analytes
    assert loaded.ranges == cat.ranges
    assert loaded.caveats == cat.caveats


def _quantitative_range(data: dict[str, Any], min_bands: int = 1) -> dict[str, Any]:
    ranges = [
        r
        for r in data["range"]
        if r["kind"] == ValueKind.QUANTITATIVE.value and len(r["bands"]) >= min_bands
    ]
    assume(ranges)
    first: dict[str, Any] = ranges[0]
    return first


def _overlap(data: dict[str, Any]) -> tuple[str, str]:
    rng = _quantitative_range(data, min_bands=2)
    first, second = rng["bands"][0], rng["bands"][1]
    # the shared boundary now belongs to both bands
    first.pop("high_inclusive", None)
    second.pop("low_inclusive", None)
    return rng["id"], "overlap"


def _missing_citation(data: dict[str, Any]) -> tuple[str, str]:
    rng = data["range"][0]
    del rng["source"]
    return rng["id"], "missing citation"


def _unknown_unit(data: dict[str, Any]) -> tuple[str, str]:
    rng = _quantitative_range(data)
    rng["unit"] = "blorps/g"
    return rng["id"], "unknown unit 'blorps/g'"


def _inverted_band(data: dict[str, Any]) -> tuple[str, str]:
    rng = _quantitative_range(data)
    rng["bands"] = [{"label": "normal", "flag": "N", "low": 50.0, "high": 20.0}]
    return rng["id"], "inverted interval"


def _inverted_age(data: dict[str, Any]) -> tuple[str, str]:
    rng = data["range"][0]
    rng["applies_to"] = {
        "age_low": {"value": 18.0, "unit": "a"},
        "age_high": {"value": 6.0, "unit": "mo"},
    }
    return rng["id"], "inverted"


CORRUPTIONS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "overlapping bands": _overlap,
    "missing citation": _missing_citation,
    "unknown unit": _unknown_unit,
    "inverted band interval": _inverted_band,
    "inverted age interval": _inverted_age,
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
@settings(max_examples=15, suppress_health_check=[HealthCheck.filter_too_much])
@given(cat=catalogues(kind=ValueKind.QUANTITATIVE))
def test_single_corruption_rejected(corruption: str, cat: Catalogue) -> None:
    """Each single corruption raises CatalogueError naming the file, the range and the problem."""
    data = copy.deepcopy(_data(cat))
    range_id, problem = CORRUPTIONS[corruption](data)
    with pytest.raises(CatalogueError) as info:
        _load(dumps_toml(data))
    err = info.value
    assert err.source is not None
    assert err.source.endswith("generated.toml")
    assert err.location == f'range "{range_id}"'
    assert problem in str(err)
