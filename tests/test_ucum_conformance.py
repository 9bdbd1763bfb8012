"""UCUM functional tests (validation and conversion) against guttests._units.

The cases are copied into tests/fixtures/ucum/ so the suite is meaningful on a fresh
machine; a test checks the copy against the original XML (vendored with its licence).
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from guttests._errors import UnitError
from guttests._units import convert, parse_unit

FIXTURE = Path(__file__).parent / "fixtures" / "ucum" / "ucum_functional_tests.json"
# the original XML, vendored (tests/fixtures/conformance/ATTRIBUTION.md)
SHARED = Path(__file__).parent / "fixtures" / "conformance" / "ucum" / "UcumFunctionalTests.xml"
CASES: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
VALID = [c for c in CASES["validation"] if c["valid"]]
INVALID = [c for c in CASES["validation"] if not c["valid"]]
# Invalid UCUM that guttests accepts on purpose, with the reason.
KNOWN_ACCEPTED_INVALID: dict[str, str] = {}


def _parses(unit: str) -> bool:
    try:
        parse_unit(unit)
    except UnitError:
        return False
    return True


def _matches(result: float, outcome: str) -> bool:
    """Equal to the outcome, or to its number of significant digits (6.3/4 -> '1.6')."""
    expected = float(outcome)
    if math.isclose(result, expected, rel_tol=1e-9):
        return True
    mantissa = re.split("[eE]", outcome)[0].replace("-", "").replace(".", "").lstrip("0")
    digits = max(len(mantissa), 1)
    return float(f"{result:.{digits}g}") == expected


def test_fixture_has_every_case() -> None:
    """The copy holds all 30 conversion cases and all validation cases."""
    assert len(CASES["conversion"]) == 30
    assert len(VALID) == 490
    assert len(INVALID) == 39


@pytest.mark.parametrize("case", CASES["conversion"], ids=lambda c: c["id"])
def test_conversion_case(case: dict[str, str]) -> None:
    """Every UCUM conversion case gives the stated outcome."""
    result = convert(float(case["value"]), case["srcUnit"], case["dstUnit"])
    assert _matches(result, case["outcome"]), result


def test_valid_units_parse() -> None:
    """At least 95% of the units marked valid parse (guttests parses all of them)."""
    failed = [c["unit"] for c in VALID if not _parses(c["unit"])]
    rate = 1 - len(failed) / len(VALID)
    assert rate >= 0.95, failed
    assert failed == []


def test_invalid_units_rejected() -> None:
    """Units marked invalid are rejected, except the documented exceptions."""
    accepted = {c["unit"] for c in INVALID if _parses(c["unit"])}
    assert accepted == set(KNOWN_ACCEPTED_INVALID)


def test_fixture_matches_shared_file() -> None:
    """The fixture is a faithful copy of UcumFunctionalTests.xml (vendored)."""
    root = ET.parse(SHARED).getroot()
    validation = root.find("validation")
    conversion = root.find("conversion")
    assert validation is not None
    assert conversion is not None
    units = [(c.get("id"), c.get("unit"), c.get("valid") == "true") for c in validation]
    assert units == [(c["id"], c["unit"], c["valid"]) for c in CASES["validation"]]
    conv = [
        (c.get("id"), c.get("value"), c.get("srcUnit"), c.get("dstUnit"), c.get("outcome"))
        for c in conversion
    ]
    assert conv == [
        (c["id"], c["value"], c["srcUnit"], c["dstUnit"], c["outcome"]) for c in CASES["conversion"]
    ]


def test_faster_grammar_gives_ucumvert_trees() -> None:
    """The regex form of ucumvert's grammar parses every case exactly as ucumvert does."""
    from lark.exceptions import LarkError
    from ucumvert.parser import get_ucum_parser  # type: ignore[import-untyped]

    from guttests._units import _state

    ours, theirs = _state().parser, get_ucum_parser()
    every = {c["unit"] for c in CASES["validation"]}
    every |= {c[k] for c in CASES["conversion"] for k in ("srcUnit", "dstUnit")}
    # Earley parsing is slow: a fixed sample of a third keeps the test to about a second.
    units = sorted(every)[::3]

    def tree(parser: Any, unit: str) -> object:
        try:
            return parser.parse(unit)
        except LarkError:
            return None

    assert [tree(ours, u) for u in units] == [tree(theirs, u) for u in units]
