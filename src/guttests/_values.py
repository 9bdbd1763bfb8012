"""Lab values as typed objects, and the parser for the text forms labs write.

Four kinds of value, each a frozen model with the text it was read from:

>>> parse_value("45.2")
QuantityValue(text='45.2', value=45.2)
>>> parse_value("< or =50").comparator
'<='
>>> parse_value("3.4 x 10^6").value
3400000.0
>>> parse_value("<dl").detection_limit
True
>>> parse_value("Not detected").term
'not_detected'
>>> parse_value("Class 3").value
3

Text that is not a value raises :class:`~guttests.ValueParseError` naming the text.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._errors import ValueParseError

__all__ = [
    "CensoredValue",
    "Comparator",
    "OrdinalValue",
    "QualitativeValue",
    "QuantityValue",
    "Value",
    "parse_value",
]

Comparator = Literal["<", "<=", ">", ">="]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class QuantityValue(_Frozen):
    """An exact numeric result, e.g. ``45.2`` or ``1.2e5``."""

    kind: Literal["quantity"] = Field(default="quantity", repr=False)
    text: str
    value: float


class CensoredValue(_Frozen):
    """A value known only to lie beyond a limit: ``<10``, ``>=200``, ``<dl``, ``OOR >``.

    ``limit`` is ``None`` when the lab gives no number (``<dl``: below the
    detection limit; ``OOR <``: out of the assay's range).
    """

    kind: Literal["censored"] = Field(default="censored", repr=False)
    text: str
    comparator: Comparator
    limit: float | None = None
    detection_limit: bool = False

    @property
    def below(self) -> bool:
        """True for ``<`` and ``<=``."""
        return self.comparator in ("<", "<=")


QualitativePolarity = Literal["negative", "positive", "equivocal", "other"]


class QualitativeValue(_Frozen):
    """A result in words: ``Detected``, ``Negative``, ``Rare``, ``2+``.

    ``term`` is the canonical spelling (``not_detected``, ``detected``,
    ``negative``, ``positive``, ``equivocal``, ``rare``, ``few``, ``moderate``,
    ``many``, ``grade_2`` for ``2+``, ...); ``grade`` orders semi-quantitative
    terms (0 for none/negative) where that order is defined.
    """

    kind: Literal["qualitative"] = Field(default="qualitative", repr=False)
    text: str
    term: str
    polarity: QualitativePolarity
    grade: int | None = None


class OrdinalValue(_Frozen):
    """A class or score: ``Class 3`` (specific IgE), ``score 14``."""

    kind: Literal["ordinal"] = Field(default="ordinal", repr=False)
    text: str
    scale: Literal["class", "score"]
    value: int


Value = Annotated[
    QuantityValue | CensoredValue | QualitativeValue | OrdinalValue,
    Field(discriminator="kind"),
]
"""Any parsed lab value."""

# --- qualitative vocabulary ------------------------------------------------------------
# canonical term -> (polarity, grade). Spellings map onto these after normalisation.
_TERMS: dict[str, tuple[QualitativePolarity, int | None]] = {
    "not_detected": ("negative", 0),
    "detected": ("positive", None),
    "negative": ("negative", 0),
    "positive": ("positive", None),
    "equivocal": ("equivocal", None),
    "indeterminate": ("equivocal", None),
    "absent": ("negative", 0),
    "present": ("positive", None),
    "none": ("negative", 0),
    "rare": ("positive", 1),
    "few": ("positive", 2),
    "moderate": ("positive", 3),
    "many": ("positive", 4),
    "neg_rare": ("negative", None),
    "very_low": ("positive", None),
    "low": ("other", None),
    "high": ("other", None),
    "inside_range": ("negative", None),
    "outside_range": ("positive", None),
    "normal": ("negative", None),
    "abnormal": ("positive", None),
    "reactive": ("positive", None),
    "nonreactive": ("negative", None),
    "weakly_positive": ("positive", None),
    "inconclusive": ("equivocal", None),
    # stool culture: a named organism isolated or not; normal flora means none isolated
    "isolated": ("positive", None),
    "not_isolated": ("negative", 0),
    "normal_flora": ("negative", None),
}

_SPELLINGS: dict[str, str] = {
    "not detected": "not_detected",
    "none detected": "not_detected",
    "not found": "not_detected",
    "nd": "not_detected",
    "undetected": "not_detected",
    "detected": "detected",
    "neg": "negative",
    "negative": "negative",
    "-": "negative",
    "pos": "positive",
    "positive": "positive",
    "+": "positive",
    "equivocal": "equivocal",
    "borderline": "equivocal",
    "indeterminate": "indeterminate",
    "absent": "absent",
    "present": "present",
    "none": "none",
    "none seen": "none",
    "no growth": "none",
    "rare": "rare",
    "few": "few",
    "moderate": "moderate",
    "many": "many",
    "neg-rare": "neg_rare",
    "neg - rare": "neg_rare",
    "negative-rare": "neg_rare",
    "vl": "very_low",
    "very low": "very_low",
    "low": "low",
    "high": "high",
    "inside reference range": "inside_range",
    "inside range": "inside_range",
    "within reference range": "inside_range",
    "outside reference range": "outside_range",
    "outside range": "outside_range",
    "normal": "normal",
    "abnormal": "abnormal",
    "reactive": "reactive",
    "nonreactive": "nonreactive",
    "non-reactive": "nonreactive",
    "non reactive": "nonreactive",
    "weakly positive": "weakly_positive",
    "weak positive": "weakly_positive",
    "inconclusive": "inconclusive",
    "in range": "inside_range",
    "isolated": "isolated",
    "not isolated": "not_isolated",
    "none isolated": "not_isolated",
    "normal flora": "normal_flora",
    "normal fecal flora": "normal_flora",
    "normal faecal flora": "normal_flora",
}

# SNOMED CT fully specified names end in their semantic tag: "Detected (qualifier value)".
_QUALIFIER_SUFFIX = re.compile(r"\s*\(qualifier value\)$", re.IGNORECASE)

# --- numbers -----------------------------------------------------------------------------
_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_SCI = re.compile(
    rf"^(?P<m>{_NUM})"
    r"(?:"
    r"[eE](?P<e1>[+-]?\d+)"  # 1.2e5, 3.4E+06
    # 3.4 x 10^6, 3.4x10E6, 3.4 x 10(6): the exponent needs its operator or brackets, so
    # "2 x 100" is never read as 2 x 10^0 (a dropped factor)
    r"|\s*[xX×*]\s*10\s*(?:(?:\^|\*\*|[eE])\s*\(?(?P<e2>[+-]?\d+)\)?|\(\s*(?P<e3>[+-]?\d+)\s*\))"
    r")?$"
)
_POW10 = re.compile(r"^10\s*(?:\^|\*\*|[eE])\s*(?P<e>[+-]?\d+)$")  # 10^6 alone
_TOO_SMALL = "the number is too small to represent (it would read as 0)"


def _nonzero(digits: str) -> bool:
    """Whether a decimal's text (any Unicode digits, as ``float`` reads them) is not 0."""
    return Decimal(digits) != 0


_PLUS_GRADE = re.compile(r"^(?:(?P<a>[1-4])\s*\+|\+\s*(?P<b>[1-4]))$")  # 2+ / +2
_CLASS = re.compile(r"^(?:class|cl\.?|klasse)\s*(?P<n>\d)$", re.IGNORECASE)
_SCORE = re.compile(r"^score\s*(?P<n>\d{1,3})$", re.IGNORECASE)
_COMPARATOR = re.compile(
    r"^(?P<c><\s*or\s*=|>\s*or\s*=|<=|>=|=<|=>|≤|≥|<|>)\s*(?P<rest>.*)$", re.IGNORECASE
)
_CMP_NORMAL: dict[str, Comparator] = {
    "<": "<",
    ">": ">",
    "<=": "<=",
    "=<": "<=",
    "≤": "<=",
    ">=": ">=",
    "=>": ">=",
    "≥": ">=",
}
_BELOW_WORDS = {"dl", "lod", "lld", "loq", "lloq", "detection limit", "the detection limit"}
_OOR = re.compile(r"^oor\s*(?P<c>[<>])$", re.IGNORECASE)
_BDL = re.compile(r"^(?:bdl|below detection limit|below the detection limit|<\s*dl|<\s*lod)$", re.I)


def parse_number(text: str) -> float:
    """Parse a finite decimal number in the forms labs write (``1.2e5``, ``3.4 x 10^6``).

    >>> parse_number("3.4x10E6")
    3400000.0

    Raises :class:`ValueParseError` for anything else, including ``NaN`` and
    infinities.
    """
    number = _parse_number(text.strip())
    if number is None:
        raise ValueParseError("not a number", text=text)
    return number


def _exponent(text: str) -> int | None:
    """A decimal exponent, or ``None`` beyond +-400 (no finite double needs more).

    Checked on the digits before ``int()``: Python refuses integers of more than
    4300 digits with a bare ``ValueError``.
    """
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 3:
        return None
    exp = int(text)
    return exp if abs(exp) <= 400 else None


def _parse_number(s: str) -> float | None:
    m = _SCI.match(s)
    if m:
        raw = m.group("e1") or m.group("e2") or m.group("e3")
        mantissa = m.group("m")
        if raw is None:
            value = float(mantissa)
        else:
            exp = _exponent(raw)
            if exp is None:
                return None
            # float() of the e-notation rounds once, exactly as IEEE parsing does
            value = float(f"{mantissa}e{exp}")
        if value == 0.0 and _nonzero(mantissa):
            raise ValueParseError(_TOO_SMALL, text=s)  # never read as 0
    else:
        m = _POW10.match(s)
        if not m:
            return None
        exp = _exponent(m.group("e"))
        if exp is None:
            return None
        value = float(f"1e{exp}")
        if value == 0.0:
            raise ValueParseError(_TOO_SMALL, text=s)  # never read as 0
    return value if math.isfinite(value) else None


def parse_value(text: str, *, decimal_comma: bool = False) -> Value:
    """Read one lab value from its text.

    ``decimal_comma`` reads ``0,5`` as 0.5 (for exports that use a decimal
    comma); without it a comma is an error, never a guess between thousands
    separator and decimal mark.

    >>> parse_value(">2000").comparator
    '>'
    >>> parse_value("OOR <").limit is None
    True
    """
    return _parse_value_cached(text, decimal_comma)


_PLAIN_NUMBER = re.compile(r"(<=|>=|<|>)?(-?(?:\d+(?:\.\d*)?|\.\d+))")
"""A number as most lab values are written (``12``, ``-0.5``, ``6.40``), with or without a
comparator (``<50``, ``>=2000``): what the general path below reads as ``float`` of the
number, the comparator apart, with nothing before it that could match otherwise (no
space, comma, ``+`` grade, exponent or word)."""

_new = object.__new__
_setattr = object.__setattr__


def _quantity(text: str, value: float) -> QuantityValue:
    """``QuantityValue(text=text, value=value)`` for a text and a finite float this module
    made: the instance validation would give, without it (the bulk of a batch's values)."""
    q = _new(QuantityValue)
    _setattr(q, "__dict__", {"kind": "quantity", "text": text, "value": value})
    _setattr(q, "__pydantic_fields_set__", {"text", "value"})
    _setattr(q, "__pydantic_extra__", None)
    _setattr(q, "__pydantic_private__", None)
    return q


def _censored(text: str, comparator: Comparator, limit: float) -> CensoredValue:
    """``CensoredValue(text=text, comparator=comparator, limit=limit)`` for values this
    module made (see :func:`_quantity`)."""
    c = _new(CensoredValue)
    _setattr(
        c,
        "__dict__",
        {
            "kind": "censored",
            "text": text,
            "comparator": comparator,
            "limit": limit,
            "detection_limit": False,
        },
    )
    _setattr(c, "__pydantic_fields_set__", {"text", "comparator", "limit"})
    _setattr(c, "__pydantic_extra__", None)
    _setattr(c, "__pydantic_private__", None)
    return c


@lru_cache(maxsize=8192)
def _parse_value_cached(text: str, decimal_comma: bool) -> Value:
    m = _PLAIN_NUMBER.fullmatch(text)
    if m is not None:
        comparator, digits = m.groups()
        plain = float(digits)
        if plain - plain == 0.0 and (plain or not _nonzero(digits)):
            # finite (a long run of digits is inf) and not a tiny number read as 0
            # (0.000...01 past a float's range): else the general path refuses it
            if comparator is None:
                return _quantity(text, plain)
            return _censored(text, _CMP_NORMAL[comparator], plain)
    s = " ".join(text.strip().split())
    if not s:
        raise ValueParseError("empty value", text=text)
    if decimal_comma:
        if "." in s and "," in s:
            raise ValueParseError("both '.' and ',' in a decimal-comma value", text=text)
        s = s.replace(",", ".")
    elif "," in s and _looks_numeric(s):
        raise ValueParseError(
            "comma in a number is ambiguous (decimal mark or thousands separator)",
            text=text,
            hint="pass decimal_comma=True for exports that use a decimal comma",
        )

    m = _PLUS_GRADE.match(s)
    if m:  # before numbers: '+2' on a food panel is a grade, not the number 2
        grade = int(m.group("a") or m.group("b"))
        return QualitativeValue(text=text, term=f"grade_{grade}", polarity="positive", grade=grade)
    number = _parse_number(s)
    if number is not None:
        return _quantity(text, number)
    if s.lower() in ("nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        raise ValueParseError("not a finite number", text=text)

    if _BDL.match(s):
        return CensoredValue(text=text, comparator="<", detection_limit=True)
    m = _OOR.match(s)
    if m:
        return CensoredValue(text=text, comparator="<" if m.group("c") == "<" else ">")

    m = _COMPARATOR.match(s)
    if m:
        raw = re.sub(r"\s+", "", m.group("c").lower()).replace("or", "")
        comparator = _CMP_NORMAL[raw]
        rest = m.group("rest").strip()
        if rest.lower() in _BELOW_WORDS:
            return CensoredValue(text=text, comparator=comparator, detection_limit=True)
        limit = _parse_number(rest)
        if limit is None:
            raise ValueParseError("comparator not followed by a number", text=text)
        return CensoredValue(text=text, comparator=comparator, limit=limit)

    m = _CLASS.match(s)
    if m:
        return OrdinalValue(text=text, scale="class", value=int(m.group("n")))
    m = _SCORE.match(s)
    if m:
        return OrdinalValue(text=text, scale="score", value=int(m.group("n")))

    canonical = _SPELLINGS.get(_QUALIFIER_SUFFIX.sub("", s).lower().rstrip("."))
    if canonical is not None:
        polarity, term_grade = _TERMS[canonical]
        return QualitativeValue(text=text, term=canonical, polarity=polarity, grade=term_grade)
    raise ValueParseError("not a lab value", text=text)


def value_text_problem(value_text: str, value: Value | None) -> str | None:
    """Why ``value`` cannot be the value read from ``value_text``, or ``None`` if it can.

    The value must have been read from the text: its ``text`` is the whole text, or the
    text's first word(s) before a unit (``50 ug/g``). A number, limit or class must be
    the one the value's own text gives (``text='180', value=20`` is refused).

    >>> value_text_problem("180", parse_value("20"))
    "value_text '180' is not the text the value was read from ('20')"
    >>> value_text_problem("50 ug/g", parse_value("50")) is None
    True
    """
    if value is None:
        return None
    vt = value.text
    if vt != value_text and not _leads(value_text.strip(), vt.strip()):
        return (
            f"value_text {_short(value_text)!r} is not the text the value was read from "
            f"({_short(vt)!r})"
        )
    if type(value) is QualitativeValue:
        return None  # a coded value's term comes from its code; readers check code and text
    for decimal_comma in (False, True):
        try:
            again = _parse_value_cached(vt, decimal_comma)
        except ValueParseError:
            continue
        if again is value or (type(again) is type(value) and again.__dict__ == value.__dict__):
            return None
    return f"value {value!r} is not what its text {_short(vt)!r} says"


def _leads(text: str, head: str) -> bool:
    """``text`` is ``head``, or ``head`` followed by blank space and more (a unit)."""
    return text == head or (text.startswith(head) and text[len(head) : len(head) + 1].isspace())


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "…"


def _looks_numeric(s: str) -> bool:
    return bool(re.fullmatch(r"[<>=≤≥\s]*[+-]?[\d.,]+(?:\s*[eE][+-]?\d+)?", s))


def qualitative_term(text: str) -> str | None:
    """The canonical term for a qualitative spelling, or ``None``.

    >>> qualitative_term("None Detected")
    'not_detected'
    """
    s = _QUALIFIER_SUFFIX.sub("", " ".join(text.strip().split())).lower().rstrip(".")
    m = _PLUS_GRADE.match(s)
    if m:
        return f"grade_{m.group('a') or m.group('b')}"
    return _SPELLINGS.get(s)


def term_polarity(term: str) -> QualitativePolarity:
    """Polarity of a canonical term (``grade_N`` terms are positive)."""
    if term.startswith("grade_"):
        return "positive"
    return _TERMS[term][0]
