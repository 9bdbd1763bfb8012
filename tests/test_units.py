"""Tests of guttests._units: spellings, conversions, safety rules, caching."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guttests._errors import UnitError
from guttests._units import (
    Unit,
    _state,
    compatible,
    conversion_factor,
    convert,
    is_arbitrary,
    parse_unit,
    registry,
)

# lab or HL7/FHIR spelling -> canonical code
SPELLINGS = [
    ("ug/g", "ug/g"),
    ("µg/g", "ug/g"),  # U+00B5 micro sign
    ("μg/g", "ug/g"),  # U+03BC Greek mu
    ("mcg/g", "ug/g"),
    (" ug/g ", "ug/g"),
    ("mg/kg", "mg/kg"),
    ("ng/mL", "ng/mL"),
    ("ng/ml", "ng/mL"),
    ("ug/L", "ug/L"),
    ("ng/g", "ng/g"),
    ("[IU]/mL", "[IU]/mL"),
    ("IU/mL", "[IU]/mL"),
    ("IU/ml", "[IU]/mL"),
    ("mIU/L", "m[IU]/L"),
    ("[iU]/mL", "[IU]/mL"),
    ("10*3/uL", "10*3/uL"),
    ("10*3/ul", "10*3/uL"),
    ("{copies}/g", "{copies}/g"),
    ("copies/g", "{copies}/g"),
    ("genome copies/g", "{genome_copies}/g"),
    ("kU/L", "kU/L"),
    ("kUA/L", "kU/L"),
    ("U/mL", "U/mL"),
    ("µU/mL", "uU/mL"),
    ("%", "%"),
    ("% of total", "%"),
    ("% Of Total", "%"),
    ("ratio", "{ratio}"),
    ("index", "{index}"),
    ("score", "{score}"),
    ("pH", "[pH]"),
    ("[pH]", "[pH]"),
    ("mg/dL", "mg/dL"),
    ("umol/g", "umol/g"),
    ("µmol/g", "umol/g"),
    ("mmol/L", "mmol/L"),
    ("CFU/g", "[CFU]/g"),
    ("x10E6/g", "10*6/g"),
    ("10^6/g", "10*6/g"),
    ("10E6/g", "10*6/g"),
    ("x10^6/g", "10*6/g"),
    ("10*6/g", "10*6/g"),
    ("10^6 CFU/g", "10*6.[CFU]/g"),
    ("10*6{copies}/g", "10*6{copies}/g"),
    ("mEq/L", "meq/L"),
    ("mmol/(8.h.kg)", "mmol/(8.h.kg)"),
    ("/(/m)", "/(/m)"),
]


@pytest.mark.parametrize(("text", "canonical"), SPELLINGS)
def test_spelling_canonical(text: str, canonical: str) -> None:
    """Each spelling labs and messages use reads as the expected canonical code."""
    unit = parse_unit(text)
    assert unit.text == text
    assert unit.canonical == canonical
    assert unit.ucum == canonical


@pytest.mark.parametrize(("text", "canonical"), SPELLINGS)
def test_canonical_is_a_fixed_point(text: str, canonical: str) -> None:
    """A canonical code parses to itself, and converts to the spelling with factor 1."""
    assert parse_unit(canonical).canonical == canonical
    assert conversion_factor(text, canonical) == 1.0


# from, to, factor
CONVERSIONS = [
    ("ug/g", "mg/kg", 1.0),
    ("mcg/g", "µg/g", 1.0),
    ("ng/mL", "ug/L", 1.0),
    ("ng/g", "ug/g", 0.001),
    ("ug/g", "ng/g", 1000.0),
    ("mg/dL", "mg/L", 10.0),
    ("mg/dL", "g/L", 0.01),
    ("mg/L", "ug/mL", 1.0),
    ("kU/L", "kUA/L", 1.0),
    ("kU/L", "U/mL", 1.0),
    ("U/mL", "U/L", 1000.0),
    ("x10E6/g", "10*6/g", 1.0),
    ("10^6/g", "/g", 1e6),
    ("10*6{copies}/g", "{copies}/g", 1e6),
    ("copies/g", "{copies}/g", 1.0),
    ("IU/mL", "[IU]/L", 1000.0),
    ("%", "1", 0.01),
    ("%", "ratio", 0.01),
    ("% of total", "%", 1.0),
    ("mmol/L", "umol/L", 1000.0),
    ("umol/g", "mmol/kg", 1.0),
    ("index", "{index}", 1.0),
    ("score", "score", 1.0),
    ("pH", "[pH]", 1.0),
]


@pytest.mark.parametrize(("a", "b", "factor"), CONVERSIONS)
def test_conversion_factor(a: str, b: str, factor: float) -> None:
    """Known factors between compatible units, exact to the last digit that matters."""
    assert conversion_factor(a, b) == pytest.approx(factor, rel=1e-12)
    assert convert(2.5, a, b) == pytest.approx(2.5 * factor, rel=1e-12)
    assert compatible(a, b)


# pairs that must never convert
INCOMPATIBLE = [
    ("ng/mL", "ug/g"),  # mass/volume vs mass/mass
    ("U/mL", "[IU]/mL"),  # assay units vs international units
    ("{copies}/g", "CFU/g"),  # genome copies vs colony-forming units
    ("copies/g", "genome copies/g"),  # gene copies are not genome copies
    ("index", "1"),
    ("index", "%"),
    ("score", "index"),
    ("score", "%"),
    ("U/mL", "%"),
    ("[arb'U]", "1"),
    ("[arb'U]", "U"),
    ("[IU]", "[arb'U]"),
    ("U", "kat"),  # guttests' U is an assay unit, not umol/min
    ("umol/g", "ug/g"),  # molar vs mass
    ("mmol/L", "mg/dL"),
    ("ug/g", "%"),  # a mass fraction is not a plain number
    ("ug/g", "mmol/mol"),
    ("mL/L", "mg/g"),
    ("umol/g", "10*6/g"),  # amounts are not counts
    ("{xyz}", "1"),
    ("{xyz}", "{abc}"),
    ("mg{creat}", "mg"),
    ("Cel", "K"),
    ("[pH]", "1"),
]


@pytest.mark.parametrize(("a", "b"), INCOMPATIBLE)
def test_incompatible_pairs_raise_naming_both(a: str, b: str) -> None:
    """Incompatible units raise UnitError naming both units, both ways round."""
    for x, y in ((a, b), (b, a)):
        with pytest.raises(UnitError) as info:
            conversion_factor(x, y)
        assert info.value.unit == x
        assert info.value.to_unit == y
        assert x in str(info.value)
        assert y in str(info.value)
        assert not compatible(x, y)


UNKNOWN = ["", "   ", "furlongs", "ug/", "mg per dL", "10+3/ul", "g/12h", "ug(8hr)", "µg/mg/"]


@pytest.mark.parametrize("text", UNKNOWN)
def test_unknown_unit_names_the_text(text: str) -> None:
    """Text that is not a unit raises UnitError naming the text."""
    with pytest.raises(UnitError) as info:
        parse_unit(text)
    assert info.value.text == text


def test_non_text_is_rejected() -> None:
    """A number where a unit should be is an error, not a crash."""
    with pytest.raises(UnitError):
        parse_unit(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "hint"), [("ML", "mL"), ("ng/ML", "mL"), ("MG/dL", "mg")])
def test_shouted_units_are_rejected_with_a_hint(text: str, hint: str) -> None:
    """Valid UCUM that no lab means (ML is a megalitre) is rejected, with the likely unit."""
    with pytest.raises(UnitError) as info:
        parse_unit(text)
    assert info.value.hint is not None
    assert info.value.hint.startswith(hint)
    assert info.value.text == text


def test_compatible_raises_on_unknown_units() -> None:
    """compatible() does not hide an unknown unit behind False."""
    with pytest.raises(UnitError):
        compatible("furlongs", "ug/g")


@pytest.mark.parametrize(
    ("text", "arbitrary", "dimensionless"),
    [
        ("ug/g", False, False),
        ("ng/mL", False, False),
        ("%", False, True),
        ("ratio", False, True),
        ("1", False, True),
        ("10*3", False, True),
        ("[IU]/mL", True, False),
        ("U/mL", True, False),
        ("kUA/L", True, False),
        ("[arb'U]", True, False),
        ("index", True, False),
        ("score", True, False),
        ("{copies}/g", True, False),
        ("CFU/g", True, False),
        ("pH", False, False),
    ],
)
def test_flags(text: str, arbitrary: bool, dimensionless: bool) -> None:
    """Arbitrary and dimensionless flags follow the safety rules."""
    unit = parse_unit(text)
    assert (unit.arbitrary, unit.dimensionless) == (arbitrary, dimensionless)
    assert is_arbitrary(text) is arbitrary


def test_unit_is_frozen() -> None:
    """Unit is an immutable value object."""
    unit = parse_unit("ug/g")
    with pytest.raises(ValueError, match="frozen"):
        unit.canonical = "mg/kg"  # type: ignore[misc]
    assert unit == Unit(
        text="ug/g", canonical="ug/g", ucum="ug/g", arbitrary=False, dimensionless=False
    )


def test_special_units_convert_only_to_themselves() -> None:
    """Offset and logarithmic units are parsed but not converted."""
    assert conversion_factor("Cel", "Cel") == 1.0
    with pytest.raises(UnitError, match="non-linear"):
        conversion_factor("Cel", "mCel")


def test_registry_is_built_once_and_lazily() -> None:
    """Importing guttests loads neither pint nor lark; the registry is shared."""
    code = (
        "import sys, guttests, guttests._units; print('pint' in sys.modules, 'lark' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert registry() is registry()


def test_every_ucum_atom_is_defined() -> None:
    """units.txt defines every atom of the UCUM grammar ucumvert ships."""
    from ucumvert.xml_util import get_base_units, get_units  # type: ignore[import-untyped]

    assert set(get_units()) | set(get_base_units()) <= set(_state().atoms)


def test_cached_factor_is_fast() -> None:
    """A cached pair is a dictionary lookup, far below a microsecond."""
    import timeit

    conversion_factor("ng/g", "ug/g")
    per_call = min(timeit.repeat(lambda: conversion_factor("ng/g", "ug/g"), number=2000, repeat=5))
    assert per_call / 2000 < 2e-6


# --- properties --------------------------------------------------------------------------

MASS_FRACTIONS = ["ug/g", "mg/kg", "ng/g", "mcg/g", "µg/g", "mg/g", "g/kg", "ng/mg"]
MASS_CONCENTRATIONS = ["ng/mL", "ug/L", "mg/dL", "mg/L", "g/L", "ug/mL", "pg/mL"]
ASSAY = ["U/mL", "kU/L", "kUA/L", "U/L", "mU/mL", "µU/mL"]
COUNTS = ["10*6/g", "x10E6/g", "10^6/g", "/g", "10*9/kg"]
NUMBERS = ["%", "1", "ratio", "{ratio}", "% of total", "10*-2"]
FAMILIES = [MASS_FRACTIONS, MASS_CONCENTRATIONS, ASSAY, COUNTS, NUMBERS]
ALL = [u for family in FAMILIES for u in family]
finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(
    lambda x: x == 0 or abs(x) > 1e-12
)


@st.composite
def same_family(draw: st.DrawFn, n: int) -> list[str]:
    family = draw(st.sampled_from(FAMILIES))
    return [draw(st.sampled_from(family)) for _ in range(n)]


@settings(max_examples=60)
@given(units=same_family(2), x=finite)
def test_round_trip(units: list[str], x: float) -> None:
    """convert(convert(x, a, b), b, a) gives x back."""
    a, b = units
    assert math.isclose(convert(convert(x, a, b), b, a), x, rel_tol=1e-12, abs_tol=1e-300)


@settings(max_examples=60)
@given(units=same_family(3))
def test_transitive(units: list[str]) -> None:
    """a -> b -> c equals a -> c."""
    a, b, c = units
    direct = conversion_factor(a, c)
    assert math.isclose(conversion_factor(a, b) * conversion_factor(b, c), direct, rel_tol=1e-12)


@settings(max_examples=80)
@given(a=st.sampled_from([*ALL, "index", "score", "[IU]/mL", "CFU/g"]), b=st.sampled_from(ALL))
def test_compatibility_symmetric(a: str, b: str) -> None:
    """a converts to b exactly when b converts to a, with reciprocal factors."""
    assert compatible(a, b) == compatible(b, a)
    if compatible(a, b):
        assert math.isclose(conversion_factor(a, b) * conversion_factor(b, a), 1.0, rel_tol=1e-12)


@settings(max_examples=60)
@given(a=st.sampled_from(FAMILIES), b=st.sampled_from(FAMILIES), data=st.data())
def test_families_never_mix(a: list[str], b: list[str], data: st.DataObject) -> None:
    """Units of different families never convert."""
    x, y = data.draw(st.sampled_from(a)), data.draw(st.sampled_from(b))
    assert compatible(x, y) == (a is b)


@settings(max_examples=60)
@given(text=st.text(max_size=12))
def test_any_text_parses_or_raises_unit_error(text: str) -> None:
    """No input escapes as anything but a Unit or a UnitError."""
    try:
        named: str | None = parse_unit(text).text
    except UnitError as err:
        named = err.text
    assert named == text


def test_factor_out_of_float_range_is_a_unit_error() -> None:
    """A unit whose factor under- or overflows (u14: a dalton to the 14th) raises UnitError.

    Found by tests/fuzz/test_fuzz_ranges.py::test_units_arbitrary_text (ZeroDivisionError).
    """
    from guttests import UnitError, convert

    with pytest.raises(UnitError, match="out of the range"):
        convert(1.0, "t14", "u14")


# --- assay-specific lab spellings (EU, AU, TU, PU, ELU, RU, AAU) ---------------------------

ASSAY_SPELLINGS = ("EU", "AU", "TU", "PU", "ELU", "RU", "AAU")


@pytest.mark.parametrize("atom", ASSAY_SPELLINGS)
def test_assay_spellings_are_arbitrary_units_not_ucum_prefixes(atom: str) -> None:
    """EU/mL is an ELISA unit per mL (not exa-U), AU/mL not astronomical units: arbitrary,
    with no UCUM code (so FHIR writes it as Quantity.unit only)."""
    unit = parse_unit(f"{atom}/mL")
    assert unit.arbitrary
    assert unit.ucum is None
    assert unit.canonical == f"{{{atom}}}/mL"
    assert parse_unit(atom).ucum is None
    assert not compatible(f"{atom}/mL", "U/mL")
    assert not compatible(f"{atom}/mL", "[arb'U]/mL")
    assert not compatible(f"{atom}/mL", "/mL")
    # scaled forms of the same assay unit still convert
    assert conversion_factor(f"{atom}/mL", f"{atom}/L") == 1000.0


def test_eu_per_ml_is_not_exa_units() -> None:
    """The issue's example: convert(1, 'EU/mL', 'U/mL') was 1e18."""
    assert compatible("EU/mL", "U/mL") is False
    with pytest.raises(UnitError, match="do not convert"):
        convert(1.0, "EU/mL", "U/mL")


@pytest.mark.parametrize(("a", "b"), [("EU/mL", "AU/mL"), ("TU/mL", "PU/mL"), ("RU/mL", "ELU/mL")])
def test_assay_spellings_never_mix(a: str, b: str) -> None:
    assert not compatible(a, b)


def test_ucum_arbitrary_and_annotation_rules_unchanged() -> None:
    """[arb'U] and written annotations keep their UCUM codes."""
    assert parse_unit("[arb'U]/mL").ucum == "[arb'U]/mL"
    assert parse_unit("{EU}/mL").ucum == "{EU}/mL"
    assert parse_unit("U/mL").ucum == "U/mL"


@given(st.sampled_from(ASSAY_SPELLINGS), st.sampled_from(["mL", "L", "g", "mg", "uL"]))
def test_assay_units_convert_only_within_their_assay(atom: str, per: str) -> None:
    """Property: an assay spelling is compatible with a unit only when both use that assay."""
    for other in ASSAY_SPELLINGS:
        assert compatible(f"{atom}/{per}", f"{other}/mL") == (
            atom == other and per in ("mL", "L", "uL")
        )
