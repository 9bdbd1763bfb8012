"""Fuzzing range-file loading and the scalar entry points: only GuttestsError escapes.

Range files are mutated from the test fixtures and the shipped catalogue, then loaded
with ``Catalogue.load`` (on the shipped base and on none), ``load_optimal`` and
``validate_range_files``. Values, units and conversions get arbitrary text.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from pathlib import Path

import pytest
from fuzzlib import RANGE_SEEDS, bounded, mutated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guttests import (
    Catalogue,
    CatalogueError,
    GuttestsError,
    convert,
    load_optimal,
    parse_unit,
    parse_value,
    validate_range_files,
)

# Three times the profile's examples: these tests are the fuzzing budget of the suite.
_FUZZ = settings(
    max_examples=3 * settings().max_examples,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_SEED_BYTES = [data for _, data in RANGE_SEEDS]

# Mutations that keep TOML syntax but break meaning: the loader's checks, not tomllib's.
_SEMANTIC = [
    (b"high = ", b"high = -"), (b"low = ", b"low = 1e300 + "), (b"= 50.0", b"= nan"),
    (b"= 50.0", b"= inf"), (b"= 50.0", b'= "50"'), (b'unit = "ug/g"', b'unit = "ng/mL"'),
    (b'unit = "ug/g"', b'unit = "furlong"'), (b'flag = "H"', b'flag = "HIGH"'),
    (b'specimen = "stool"', b'specimen = "tears"'), (b"[[range]]", b"[[range]]\n[[range]]"),
    (b'source = {', b'sauce = {'), (b'"a"', b'"zz"'), (b"age_low", b"age_high"),
    (b"low_inclusive = true", b"low_inclusive = 1"), (b'id = "', b'id = "X Y '),
    (b"bands = [", b"bands = [{ label = \"x\", flag = \"N\" },"), (b"= 120.1", b"= 2000-01-01"),
]  # fmt: skip


@st.composite
def _range_files(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(_SEED_BYTES))
    for old, new in draw(st.lists(st.sampled_from(_SEMANTIC), max_size=3)):
        data = data.replace(old, new, draw(st.integers(1, 3)))
    if draw(st.booleans()):
        data = draw(mutated([data]))
    return data


def _load_all(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for load in (
            lambda: Catalogue.load(path),
            lambda: Catalogue.load(path, base=None),
            lambda: load_optimal(path),
            lambda: validate_range_files(path),
        ):
            with contextlib.suppress(GuttestsError):
                bounded(load)


@_FUZZ
@given(_range_files())
def test_mutated_range_files(data: bytes) -> None:
    """Mutated range files load or fail with a GuttestsError (CatalogueError), in time."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzzed.toml"
        path.write_bytes(data)
        _load_all(path)


@_FUZZ
@given(st.text(max_size=60), st.booleans())
def test_parse_value_arbitrary_text(text: str, decimal_comma: bool) -> None:
    """parse_value returns a value or raises ValueParseError (a GuttestsError)."""
    with contextlib.suppress(GuttestsError):
        bounded(lambda: parse_value(text, decimal_comma=decimal_comma))


_UNITISH = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="ugmnpkLdl/%*^0123456789.()[]{}µ_ -+", max_size=16),
    st.sampled_from(["ug/g", "mg/kg", "ng/mL", "%", "10*6/g", "U/mL", "{ratio}", "kU/L", "mmol/L"]),
)


@_FUZZ
@given(_UNITISH, _UNITISH, st.floats(allow_nan=True, allow_infinity=True))
def test_units_arbitrary_text(a: str, b: str, x: float) -> None:
    """parse_unit and convert succeed or raise UnitError (a GuttestsError)."""
    for call in (lambda: parse_unit(a), lambda: convert(x, a, b)):
        with contextlib.suppress(GuttestsError):
            bounded(call)


def test_integer_too_long_for_python_is_a_catalogue_error(tmp_path: Path) -> None:
    """A range file with a 5000-digit number is a CatalogueError, not a bare ValueError."""
    path = tmp_path / "long_number.toml"
    path.write_text('format = "guttests-ranges/1"\nfamily = "stool"\nx = ' + "9" * 5000 + "\n")
    with pytest.raises(CatalogueError):
        Catalogue.load(path)
