"""Value parsing: every text form of domain.md §2, and errors that name the text."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guttests import ValueParseError
from guttests._values import (
    CensoredValue,
    OrdinalValue,
    QualitativeValue,
    QuantityValue,
    parse_number,
    parse_value,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("45.2", 45.2),
        ("0", 0.0),
        (".5", 0.5),
        ("1.2e5", 1.2e5),
        ("3.4E+06", 3.4e6),
        ("3.4 x 10^6", 3.4e6),
        ("3.4x10E6", 3.4e6),
        ("3.4 × 10^6", 3.4e6),
        ("2.0x10^-3", 2.0e-3),
        ("10^6", 1e6),
        ("  120  ", 120.0),
    ],
)
def test_exact_quantities(text: str, value: float) -> None:
    """Numbers in every notation labs print parse to the same float."""
    parsed = parse_value(text)
    assert isinstance(parsed, QuantityValue)
    assert parsed.value == pytest.approx(value)
    assert parsed.text == text


@pytest.mark.parametrize(
    ("text", "comparator", "limit", "detection_limit"),
    [
        ("<0.15", "<", 0.15, False),
        ("<=87.0", "<=", 87.0, False),
        ("≤50.0", "<=", 50.0, False),
        ("≥120.1", ">=", 120.1, False),
        (">200", ">", 200.0, False),
        (">2000", ">", 2000.0, False),
        ("< or =50", "<=", 50.0, False),
        ("> or = 10", ">=", 10.0, False),
        ("=<5", "<=", 5.0, False),
        ("<1.0e3", "<", 1000.0, False),
        ("<dl", "<", None, True),
        ("<DL", "<", None, True),
        ("< LOD", "<", None, True),
        ("BDL", "<", None, True),
        ("OOR <", "<", None, False),
        ("OOR >", ">", None, False),
    ],
)
def test_censored(text: str, comparator: str, limit: float | None, detection_limit: bool) -> None:
    """Censored forms keep their comparator and limit; '<dl' has no number."""
    parsed = parse_value(text)
    assert isinstance(parsed, CensoredValue)
    assert parsed.comparator == comparator
    assert parsed.limit == (pytest.approx(limit) if limit is not None else None)
    assert parsed.detection_limit is detection_limit


@pytest.mark.parametrize(
    ("text", "term", "polarity"),
    [
        ("Neg", "negative", "negative"),
        ("Negative", "negative", "negative"),
        ("Positive", "positive", "positive"),
        ("Detected", "detected", "positive"),
        ("Not detected", "not_detected", "negative"),
        ("NOT DETECTED", "not_detected", "negative"),
        ("None Detected", "not_detected", "negative"),
        ("Few", "few", "positive"),
        ("Rare", "rare", "positive"),
        ("Neg-Rare", "neg_rare", "negative"),
        ("VL", "very_low", "positive"),
        ("1+", "grade_1", "positive"),
        ("+3", "grade_3", "positive"),
        ("Equivocal", "equivocal", "equivocal"),
        ("High", "high", "other"),
        ("Inside reference range", "inside_range", "negative"),
        ("Outside reference range", "outside_range", "positive"),
    ],
)
def test_qualitative(text: str, term: str, polarity: str) -> None:
    """Qualitative words map to one canonical term with a polarity."""
    parsed = parse_value(text)
    assert isinstance(parsed, QualitativeValue)
    assert (parsed.term, parsed.polarity) == (term, polarity)


@pytest.mark.parametrize(
    ("text", "scale", "value"),
    [("Class 3", "class", 3), ("class 0", "class", 0), ("Score 14", "score", 14)],
)
def test_ordinal(text: str, scale: str, value: int) -> None:
    """Classes and scores are ordinal values."""
    parsed = parse_value(text)
    assert isinstance(parsed, OrdinalValue)
    assert (parsed.scale, parsed.value) == (scale, value)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "NaN",
        "Infinity",
        "-inf",
        "<",
        "< abc",
        "12 apples",
        "1,200",
        "0,5",
        "1e999",
    ],
)
def test_not_a_value(text: str) -> None:
    """Text that is not a value raises ValueParseError naming the text; nothing is guessed."""
    with pytest.raises(ValueParseError) as info:
        parse_value(text)
    assert info.value.text == text


def test_decimal_comma_is_opt_in() -> None:
    """'0,5' reads as 0.5 only when the export is declared to use a decimal comma."""
    assert parse_value("0,5", decimal_comma=True) == QuantityValue(text="0,5", value=0.5)
    assert parse_value("<0,15", decimal_comma=True).limit == pytest.approx(0.15)  # type: ignore[union-attr]


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False))
def test_repr_round_trip(x: float) -> None:
    """Any finite non-negative float written with repr() parses back exactly."""
    assert parse_number(repr(x)) == x


@given(
    st.floats(min_value=0.001, max_value=1e6, allow_nan=False),
    st.sampled_from(["<", "<=", ">", ">="]),
)
def test_censored_round_trip(x: float, comparator: str) -> None:
    """A comparator followed by a number keeps both."""
    parsed = parse_value(f"{comparator}{x!r}")
    assert isinstance(parsed, CensoredValue)
    assert (parsed.comparator, parsed.limit) == (comparator, x)


@given(st.text(max_size=30))
def test_never_crashes(text: str) -> None:
    """Arbitrary text either parses or raises ValueParseError; never anything else."""
    try:
        value = parse_value(text)
    except ValueParseError:
        return
    if isinstance(value, QuantityValue):
        assert math.isfinite(value.value)


_PLAIN_NUMBERS = st.from_regex(r"\A-?(?:[0-9]{1,400}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})\Z")


@given(
    st.one_of(
        _PLAIN_NUMBERS, st.from_regex(r"\A-?[0-9٠-٩]{1,6}(?:\.[0-9]{0,4})?\Z"), st.text(max_size=12)
    )
)
def test_values_equal_what_validation_builds(text: str) -> None:
    """A value read without validation (plain numbers, the bulk of a batch) is the instance
    validation builds from the same fields: equal, same fields set, same dump, same JSON."""
    try:
        value = parse_value(text)
    except ValueParseError:
        return
    again = type(value).model_validate(value.model_dump(exclude_unset=True))
    assert value == again
    assert value.model_fields_set == again.model_fields_set
    assert value.model_dump() == again.model_dump()
    assert value.model_dump_json() == again.model_dump_json()


@given(_PLAIN_NUMBERS)
def test_plain_numbers_read_as_the_general_path_reads_them(text: str) -> None:
    """The plain-number fast path gives what the general path gives for the same number
    written with blank space around it (which the fast path never takes)."""
    try:
        fast = parse_value(text)
    except ValueParseError:
        with pytest.raises(ValueParseError):  # too large for a float in both
            parse_value(f" {text} ")
        return
    general = parse_value(f" {text} ")
    assert type(fast) is type(general) is QuantityValue
    assert fast.value == general.value  # type: ignore[union-attr]
    assert fast.text == text


_COMPARATORS = st.sampled_from(["", "<", "<=", ">", ">="])


@given(_COMPARATORS, _PLAIN_NUMBERS)
def test_plain_numbers_with_comparators_read_as_the_general_path_reads_them(
    comparator: str, number: str
) -> None:
    """``<50``, ``>=2000``, ``12.5``: the short way gives the instance the general path
    builds for the same text with blank space around it (which the short way never
    takes), field for field (``-0.0`` apart from ``0.0``), fields given included."""
    text = comparator + number
    try:
        general = parse_value(f" {text} ")
    except ValueParseError as exc:
        reason = str(exc).split(" (text")[0]
        with pytest.raises(ValueParseError, match=re.escape(reason)):
            parse_value(text)
        return
    fast = parse_value(text)
    assert type(fast) is type(general)
    expected = dict(general.__dict__, text=text)
    assert repr(fast.__dict__) == repr(expected)
    assert fast.model_fields_set == general.model_fields_set


@pytest.mark.parametrize(
    "text", ["1e-399", "0." + "0" * 400 + "1", "<0." + "0" * 330 + "1", "10^-399", "2.5E-330"]
)
def test_a_number_too_small_for_a_float_is_refused_not_read_as_0(text: str) -> None:
    with pytest.raises(ValueParseError, match="too small to represent"):
        parse_value(text)
