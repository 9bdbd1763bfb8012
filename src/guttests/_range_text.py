"""Reading a lab's own reference range into a :class:`ReferenceRange`.

One mechanism for every input format. Text that is not clearly a range
(age-qualified prose, several bands in one line, a lone band label) is kept
as text and never turned into numbers by guesswork:

>>> r = parse_range_text("20-48", unit="ng/mL")
>>> r.describe(), [b.flag.value for b in r.bands]
('20–48', ['L', 'N', 'H'])
>>> parse_range_text("<107", unit="ug/g").bands[0].high_inclusive
False
>>> "not_detected" in parse_range_text("Not detected", unit=None).bands[0].terms
True
>>> parse_range_text("0-99 years >200", unit="ug/g").machine_readable
False
"""

from __future__ import annotations

import re
from functools import lru_cache

from ._errors import RangeError, UnitError, ValueParseError
from ._models import Applicability, Band, Citation, ReferenceRange
from ._types import InterpretationCode, RangeCategory, ValueKind
from ._values import parse_number, qualitative_term, term_polarity

__all__ = ["lab_range", "parse_range_text"]

_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
# "70_105": the interval as the HL7 v2.4 standard itself writes it in OBX-7
_INTERVAL = re.compile(rf"^(?P<lo>{_NUM})\s*(?:-|–|—|to|\.\.|_)\s*(?P<hi>{_NUM})$", re.IGNORECASE)
_ONE_SIDED = re.compile(
    rf"^(?P<c><\s*or\s*=|>\s*or\s*=|<=|>=|=<|=>|≤|≥|<|>)\s*(?P<n>{_NUM})$", re.IGNORECASE
)
_CMP = {"<": "<", ">": ">", "<=": "<=", "=<": "<=", "≤": "<=", ">=": ">=", "=>": ">=", "≥": ">="}

_NEGATIVE_SET = ("not_detected", "negative", "none", "absent", "nonreactive")


def _lab_citation(lab: str | None) -> Citation:
    text = "Reference range reported by the lab with the result"
    return Citation(text=f"{text} ({lab})" if lab else text)


def lab_range(
    low: float | None,
    high: float | None,
    *,
    unit: str | None,
    text: str | None = None,
    lab: str | None = None,
    applies_to: Applicability | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> ReferenceRange:
    """A lab-reported reference interval as a range with low / normal / high bands.

    Bounds are inclusive unless told otherwise (FHIR semantics).

    >>> r = lab_range(20, 48, unit="ng/mL")
    >>> [(b.label, b.low, b.high) for b in r.bands]
    [('below range', None, 20.0), ('within range', 20.0, 48.0), ('above range', 48.0, None)]
    """
    bands: list[Band] = []
    lo = None if low is None else float(low)
    hi = None if high is None else float(high)
    if lo is not None:
        bands.append(
            Band(
                label="below range",
                flag=InterpretationCode.LOW,
                high=lo,
                high_inclusive=not low_inclusive,
            )
        )
    if lo is not None or hi is not None:
        bands.append(
            Band(
                label="within range",
                flag=InterpretationCode.NORMAL,
                low=lo,
                low_inclusive=low_inclusive,
                high=hi,
                high_inclusive=high_inclusive,
            )
        )
    if hi is not None:
        bands.append(
            Band(
                label="above range",
                flag=InterpretationCode.HIGH,
                low=hi,
                low_inclusive=not high_inclusive,
            )
        )
    return ReferenceRange(
        id=f"lab:{text if text is not None else f'{lo}-{hi}'}",
        kind=ValueKind.QUANTITATIVE,
        unit=unit,
        bands=tuple(bands),
        applies_to=applies_to or Applicability(),
        category=RangeCategory.REFERENCE,
        source=_lab_citation(lab),
        text=text,
    )


def parse_range_text(text: str, *, unit: str | None, lab: str | None = None) -> ReferenceRange:
    """Read a lab's range text (``20-48``, ``<107``, ``>=200``, ``Negative``).

    Returns a range whose ``bands`` are empty (``machine_readable`` false) when
    the text is not a plain interval, a one-sided limit or an expected
    qualitative result; the text is then carried as it is.
    """
    return _parse_cached(text, unit, lab)


@lru_cache(maxsize=16384)
def _parse_cached(text: str, unit: str | None, lab: str | None) -> ReferenceRange:
    s = " ".join(text.strip().split())
    s, range_unit, problem = _split_unit(s, unit)
    if problem is not None:
        return _text_only(text, unit, lab, note=problem)
    s = s.strip("()[] ")

    m = _INTERVAL.match(s)
    if m:
        lo, hi = _bound(m.group("lo"), text), _bound(m.group("hi"), text)
        if lo <= hi:
            return lab_range(lo, hi, unit=range_unit, text=text, lab=lab)
        return _text_only(
            text,
            unit,
            lab,
            note=f"inverted interval: low {m.group('lo')} is above high {m.group('hi')}",
        )

    m = _ONE_SIDED.match(s)
    if m:
        cmp = _CMP[re.sub(r"\s+", "", m.group("c").lower()).replace("or", "")]
        n = _bound(m.group("n"), text)
        if cmp in ("<", "<="):
            return lab_range(
                None, n, unit=range_unit, text=text, lab=lab, high_inclusive=cmp == "<="
            )
        return lab_range(n, None, unit=range_unit, text=text, lab=lab, low_inclusive=cmp == ">=")

    return _qualitative(s, text, unit, lab)


_TAIL = re.compile(rf"^(?P<head>.*?{_NUM})\s+(?P<unit>(?:[^\s\d.+-]|10[*^])\S*)$")
"""A number followed by one separate token: the candidate unit of ``20-48 ng/mL``."""


def _split_unit(s: str, unit: str | None) -> tuple[str, str | None, str | None]:
    """The range text without its unit, the unit the bounds are in, and a problem.

    A unit is stripped only as a separate token that parses as a unit (``20-48 ng/mL``),
    or, glued to the last number, only when it is exactly the result's unit and cannot
    be part of a number (``10-20%``): ``<0.031`` with unit ``1`` stays ``<0.031``. A
    range unit spelled differently from the result's is kept, so the engine converts
    the value when that is safe and says the units differ when it is not.
    """
    if unit:
        if s.endswith(" " + unit):
            return s[: -len(unit)].rstrip(), unit, None
        if (
            len(s) > len(unit)
            and s.endswith(unit)
            and s[-len(unit) - 1].isdigit()
            and not _NUMBER_CHAR.match(unit)
        ):
            return s[: -len(unit)], unit, None
    m = _TAIL.match(s)
    if m is None:
        return s, unit, None
    token = m.group("unit")
    from ._units import parse_unit

    try:
        parse_unit(token)
    except UnitError:
        return s, unit, None  # not a unit: the text is read (or kept) as it is
    if unit is not None and token == unit.strip():
        return m.group("head"), unit, None
    return m.group("head"), token, None


_NUMBER_CHAR = re.compile(r"[\d.eE+-]")


def _bound(number: str, text: str) -> float:
    try:
        return parse_number(number)
    except ValueParseError:
        raise RangeError(
            "range bound is not a finite number", text=text if len(text) <= 80 else text[:80]
        ) from None


def _qualitative(s: str, text: str, unit: str | None, lab: str | None) -> ReferenceRange:
    term = qualitative_term(s)
    if term is None:
        return _text_only(text, unit, lab)
    if term == "neg_rare":
        terms: tuple[str, ...] = (*_NEGATIVE_SET, "rare", "neg_rare")
    elif term_polarity(term) == "negative":
        terms = _NEGATIVE_SET if term in _NEGATIVE_SET else (term,)
    else:
        # An expected *positive* or graded result as the reference is unusual:
        # keep exactly that term, nothing implied.
        terms = (term,)
    return ReferenceRange(
        id=f"lab:{text}",
        kind=ValueKind.QUALITATIVE,
        unit=None,
        bands=(Band(label="expected result", flag=InterpretationCode.NORMAL, terms=terms),),
        category=RangeCategory.REFERENCE,
        source=_lab_citation(lab),
        text=text,
    )


def _text_only(
    text: str, unit: str | None, lab: str | None, note: str | None = None
) -> ReferenceRange:
    return ReferenceRange(
        id=f"lab:{text}",
        kind=ValueKind.QUANTITATIVE,
        unit=unit,
        bands=(),
        category=RangeCategory.REFERENCE,
        source=_lab_citation(lab),
        text=text,
        note=note or "range given as text; not machine-readable",
    )
