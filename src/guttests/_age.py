"""Age at collection in completed calendar units, as a person counts a birthday.

A child born on 2024-01-01 is 6 months old on 2024-07-01 and 3 years old on
2027-01-01, whatever the number of days in between. A month (or year) is completed
on the same day of the month as the birth; when that day does not exist in the
month (born on the 31st, or on 29 February), it is completed on the month's last
day:

>>> from datetime import date
>>> age = CalendarAge.between(date(2024, 1, 1), date(2024, 7, 1))
>>> age.months, age.years
((6, 6), (0, 0))
>>> CalendarAge.between(date(2024, 1, 31), date(2024, 2, 29)).months
(1, 1)
>>> CalendarAge.between(date(2024, 2, 29), date(2025, 2, 28)).years
(1, 1)

An age the input gives as a number with a unit (``Age``) is known exactly in its
own unit only; in the other units it is a range of possible counts, and a limit
that falls inside that range cannot be decided (:meth:`CalendarAge.at_least`
returns ``None``), so no range is chosen on a guess.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol


class Age(Protocol):
    """An age given as a number and a UCUM unit (:class:`guttests.Age` is one)."""

    @property
    def value(self) -> float:
        """The number."""

    @property
    def unit(self) -> str:
        """``a``, ``mo``, ``wk`` or ``d``."""


__all__ = ["CalendarAge", "completed_months"]

_Count = tuple[int, int]
# Fallback for a fractional limit that no calendar unit expresses (e.g. 1.5 months).
_DAYS_PER = {"d": 1.0, "wk": 7.0, "mo": 365.25 / 12, "a": 365.25}


def completed_months(birth: date, on: date) -> int:
    """Whole calendar months completed from ``birth`` to ``on`` (negative before birth).

    >>> completed_months(date(2024, 1, 31), date(2024, 2, 28))
    0
    >>> completed_months(date(2023, 1, 31), date(2023, 2, 28))
    1
    >>> completed_months(date(2024, 1, 31), date(2024, 3, 30))
    1
    """
    months = (on.year - birth.year) * 12 + (on.month - birth.month)
    # The anniversary in ``on``'s month: the birth day, or the month's last day.
    last = calendar.monthrange(on.year, on.month)[1]
    if on.day < min(birth.day, last):
        months -= 1
    return months


@dataclass(frozen=True, slots=True)
class CalendarAge:
    """Completed years, months, weeks and days, each as the range (low, high) known.

    From a birth date every count is exact (low == high).
    """

    years: _Count
    months: _Count
    weeks: _Count
    days: _Count

    @classmethod
    def between(cls, birth: date, on: date | datetime) -> CalendarAge | None:
        """The age on ``on`` of someone born on ``birth``; ``None`` before birth."""
        day = on.date() if isinstance(on, datetime) else on
        if day < birth:
            return None
        months = completed_months(birth, day)
        days = (day - birth).days
        return cls((months // 12,) * 2, (months,) * 2, (days // 7,) * 2, (days,) * 2)

    @classmethod
    def from_age(cls, age: Age) -> CalendarAge:
        """What an age given as a number and unit says about each count.

        >>> from guttests._models import Age
        >>> a = CalendarAge.from_age(Age(value=3, unit="a"))
        >>> a.years, a.months
        ((3, 3), (36, 47))
        """
        v, unit = age.value, age.unit
        if unit == "a" and not float(v).is_integer() and float(v * 12).is_integer():
            v, unit = v * 12, "mo"
        n = math.floor(v)
        if unit == "a":
            days = (365 * n, 366 * (n + 1) - 1)
            return cls((n, n), (12 * n, 12 * n + 11), _weeks(days), days)
        if unit == "mo":
            days = (28 * n, 31 * (n + 1) - 1)
            return cls((n // 12, n // 12), (n, n), _weeks(days), days)
        if unit == "wk":
            days = (7 * n, 7 * n + 6)
            return cls(_years(days), _months(days), (n, n), days)
        days = (n, n)
        return cls(_years(days), _months(days), _weeks(days), days)

    def count(self, unit: str) -> _Count:
        """The completed count in ``unit`` (UCUM ``a``, ``mo``, ``wk``, ``d``)."""
        return {"a": self.years, "mo": self.months, "wk": self.weeks, "d": self.days}[unit]

    def at_least(self, limit: Age) -> bool | None:
        """Whether the age has reached ``limit``; ``None`` when the input cannot tell.

        >>> from guttests._models import Age
        >>> CalendarAge.between(date(2024, 1, 1), date(2027, 1, 1)).at_least(Age(value=3))
        True
        >>> CalendarAge.from_age(Age(value=3, unit="a")).at_least(Age(value=40, unit="mo")) is None
        True
        """
        v, unit = limit.value, limit.unit
        if not float(v).is_integer():
            if unit == "a" and float(v * 12).is_integer():
                v, unit = v * 12, "mo"
            elif unit == "wk" and float(v * 7).is_integer():
                v, unit = v * 7, "d"
            else:  # no calendar unit expresses it: compare days with the mean unit length
                v, unit = math.ceil(v * _DAYS_PER[unit]), "d"
        low, high = self.count(unit)
        if low >= v:
            return True
        if high < v:
            return False
        return None

    @property
    def exact(self) -> bool:
        return all(lo == hi for lo, hi in (self.years, self.months, self.weeks, self.days))

    def describe(self) -> str:
        """As a clinician writes it: days under 4 weeks, months under 2 years, then years.

        >>> CalendarAge.between(date(2024, 1, 1), date(2024, 2, 1)).describe()
        '1 month'
        >>> CalendarAge.between(date(2020, 5, 2), date(2024, 5, 1)).describe()
        '3 years'
        """
        if self.weeks[1] < 4:
            n, word = self.days[0], "day"
        elif self.months[1] < 24:
            n, word = self.months[0], "month"
        else:
            n, word = self.years[0], "year"
        return f"{n} {word}{'' if n == 1 else 's'}"


def _weeks(days: _Count) -> _Count:
    return (days[0] // 7, days[1] // 7)


def _months(days: _Count) -> _Count:
    # m completed months span at least 28*m - 3*(m//12)... bounded simply: 28..31 days each
    return (days[0] // 31, days[1] // 28)


def _years(days: _Count) -> _Count:
    return (days[0] // 366, days[1] // 365)
