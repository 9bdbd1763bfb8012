"""Age at collection in completed calendar units, and the age band it chooses."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guttests import (
    Age,
    Interpretation,
    InterpretationCode,
    PatientContext,
    Provenance,
    Result,
    Specimen,
    interpret,
    parse_value,
)
from guttests._age import CalendarAge, completed_months

IC = InterpretationCode


def calprotectin(value: str, collected: date) -> Result:
    return Result(
        name="Calprotectin",
        value_text=value,
        value=parse_value(value),
        unit="ug/g",
        specimen=Specimen.STOOL,
        collected=collected,
        provenance=Provenance(location="line 1"),
    )


def range_id(i: Interpretation) -> str | None:
    return i.range.id if i.range is not None else None


def age(birth: date, on: date) -> CalendarAge:
    found = CalendarAge.between(birth, on)
    assert found is not None
    return found


# --- counting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "on", "years", "months"),
    [
        (date(2024, 1, 1), date(2024, 7, 1), 0, 6),  # exactly 6 months
        (date(2024, 1, 1), date(2024, 6, 30), 0, 5),  # the day before
        (date(2024, 1, 1), date(2027, 1, 1), 3, 36),  # 3rd birthday
        (date(2024, 1, 1), date(2026, 12, 31), 2, 35),  # the day before
        (date(2024, 1, 31), date(2024, 2, 28), 0, 0),  # Feb 29 exists in 2024
        (date(2024, 1, 31), date(2024, 2, 29), 0, 1),  # month's last day
        (date(2023, 1, 31), date(2023, 2, 28), 0, 1),
        (date(2024, 1, 31), date(2024, 3, 30), 0, 1),
        (date(2024, 1, 31), date(2024, 3, 31), 0, 2),
        (date(2024, 1, 31), date(2024, 4, 30), 0, 3),  # April has 30 days
        (date(2024, 2, 29), date(2025, 2, 28), 1, 12),  # leap-day birthday, common year
        (date(2024, 2, 29), date(2025, 2, 27), 0, 11),
        (date(2024, 2, 29), date(2028, 2, 29), 4, 48),
        (date(2024, 2, 29), date(2028, 2, 28), 3, 47),  # 2028 has its own 29 February
    ],
)
def test_completed_units(birth: date, on: date, years: int, months: int) -> None:
    a = age(birth, on)
    assert a.years == (years, years)
    assert a.months == (months, months)


def test_first_days_of_life() -> None:
    birth = date(2025, 12, 30)
    assert age(birth, birth).days == (0, 0)
    assert age(birth, birth).describe() == "0 days"
    assert age(birth, date(2025, 12, 31)).describe() == "1 day"
    assert age(birth, date(2026, 1, 13)).weeks == (2, 2)  # 14 days
    assert age(birth, date(2026, 1, 12)).weeks == (1, 1)
    assert age(birth, date(2026, 1, 30)).describe() == "1 month"
    assert CalendarAge.between(birth, date(2025, 12, 29)) is None  # before birth
    assert PatientContext(birth_date=birth).age_at(date(2025, 12, 1)) is None


def test_datetime_collection_uses_its_date() -> None:
    a = age(date(2024, 1, 1), datetime(2024, 7, 1, 0, 5))  # type: ignore[arg-type]
    assert a.months == (6, 6)


def test_age_given_as_number_is_exact_in_its_own_unit_only() -> None:
    a = CalendarAge.from_age(Age(value=3, unit="a"))
    assert a.years == (3, 3)
    assert a.at_least(Age(value=3)) is True
    assert a.at_least(Age(value=4)) is False
    assert a.at_least(Age(value=6, unit="mo")) is True
    assert a.at_least(Age(value=40, unit="mo")) is None  # 3 years is 36 to 47 months
    half = CalendarAge.from_age(Age(value=0.5, unit="a"))
    assert half.months == (6, 6)


@given(
    birth=st.dates(date(1900, 1, 1), date(2100, 12, 31)),
    a=st.integers(0, 40_000),
    b=st.integers(0, 40_000),
)
def test_completed_units_are_monotone_in_the_collection_date(birth: date, a: int, b: int) -> None:
    first, second = sorted((a, b))
    try:
        d1, d2 = birth + timedelta(days=first), birth + timedelta(days=second)
    except OverflowError:
        return
    x, y = age(birth, d1), age(birth, d2)
    for unit in ("a", "mo", "wk", "d"):
        assert x.count(unit) <= y.count(unit)
    # and the count is what a person gets by adding months to the birth date
    m = completed_months(birth, d2)
    assert m >= 0
    assert y.years[0] == m // 12


def add_months(birth: date, n: int) -> date:
    """The n-th monthly anniversary: same day of month, or the month's last day."""
    y, m = divmod(birth.month - 1 + n, 12)
    year, month = birth.year + y, m + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(birth.day, last))


@given(birth=st.dates(date(1900, 1, 1), date(2090, 12, 31)), n=st.integers(1, 1200))
def test_each_monthly_anniversary_completes_exactly_one_more_month(birth: date, n: int) -> None:
    anniversary = add_months(birth, n)
    assert completed_months(birth, anniversary) == n
    assert completed_months(birth, anniversary - timedelta(days=1)) == n - 1


@given(birth=st.dates(date(1900, 1, 1), date(2099, 12, 31)), days=st.integers(0, 40_000))
def test_given_age_bounds_contain_the_true_counts(birth: date, days: int) -> None:
    """An age given in one unit never excludes the counts a birth date would give."""
    on = birth + timedelta(days=days)
    truth = age(birth, on)
    for unit, exact in (("a", truth.years), ("mo", truth.months), ("wk", truth.weeks)):
        given_age = CalendarAge.from_age(Age(value=exact[0], unit=unit))  # type: ignore[arg-type]
        for u in ("a", "mo", "wk", "d"):
            low, high = given_age.count(u)
            assert low <= truth.count(u)[0] <= high


# --- band choice ----------------------------------------------------------------------


def test_exactly_six_months_uses_the_6_month_to_3_year_band() -> None:
    ctx = PatientContext(birth_date=date(2024, 1, 1))
    i = interpret(calprotectin("300", date(2024, 7, 1)), ctx)
    assert range_id(i) == "calprotectin.oord2014.6mo-3a"
    assert i.flag is IC.HIGH
    day_before = interpret(calprotectin("300", date(2024, 6, 30)), ctx)
    assert range_id(day_before) == "calprotectin.oord2014.1mo-6mo"
    assert day_before.flag is IC.NORMAL


def test_third_birthday_uses_the_limit_75() -> None:
    ctx = PatientContext(birth_date=date(2024, 1, 1))
    i = interpret(calprotectin("100", date(2027, 1, 1)), ctx)
    assert range_id(i) == "calprotectin.oord2014.3a-4a"
    assert i.flag is IC.HIGH


def test_exactly_one_calendar_month_is_interpretable() -> None:
    ctx = PatientContext(birth_date=date(2024, 1, 31))
    i = interpret(calprotectin("300", date(2024, 2, 29)), ctx)
    assert i.status == "interpreted"
    assert range_id(i) == "calprotectin.oord2014.1mo-6mo"
    before = interpret(calprotectin("300", date(2024, 2, 28)), ctx)
    assert before.status == "not_interpretable"


def test_fourth_birthday_uses_the_adult_range() -> None:
    ctx = PatientContext(birth_date=date(2020, 2, 29))
    i = interpret(calprotectin("60", date(2024, 2, 29)), ctx)
    assert range_id(i) == "calprotectin.mayo"
    before = interpret(calprotectin("60", date(2024, 2, 28)), ctx)
    assert range_id(before) == "calprotectin.oord2014.3a-4a"


def test_an_age_too_coarse_for_the_band_is_not_guessed() -> None:
    """'0 years' could be 1 to 11 months: the 6-month boundary cannot be placed."""
    i = interpret(calprotectin("300", date(2024, 7, 1)), PatientContext(age=Age(value=0)))
    assert i.status == "not_interpretable"
    assert "birth date" in (i.reason or "")
    ok = interpret(calprotectin("300", date(2024, 7, 1)), PatientContext(age=Age(value=2)))
    assert range_id(ok) == "calprotectin.oord2014.6mo-3a"


def test_age_strings_agree_in_number() -> None:
    assert str(Age(value=1, unit="mo")) == "1 month"
    assert str(Age(value=6, unit="mo")) == "6 months"
    assert str(Age(value=1)) == "1 year"
