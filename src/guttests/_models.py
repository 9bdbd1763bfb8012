"""The typed, immutable models of guttests.

Flow: readers produce :class:`Panel` objects holding :class:`Result` objects;
the catalogue holds :class:`Analyte` and :class:`ReferenceRange` objects; the
engine turns each result into an :class:`Interpretation`.

>>> band = Band(label="normal", flag="N", high=50.0)
>>> band.contains(50.0), band.contains(50.1)
(True, False)
"""

# No ``from __future__ import annotations`` here: pydantic then takes the field annotations
# as objects instead of evaluating ~120 strings when each class is made (start-up).
import itertools
import math
from datetime import date, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator
from pydantic_core import PydanticUndefined

from ._age import CalendarAge
from ._types import (
    Evidence,
    Family,
    InterpretationCode,
    RangeCategory,
    ResultStatus,
    Sex,
    Specimen,
    ValueKind,
)
from ._values import Value, value_text_problem

__all__ = [
    "Age",
    "Analyte",
    "Applicability",
    "Band",
    "CalendarAge",
    "Caveat",
    "Citation",
    "Coding",
    "Identifier",
    "Interpretation",
    "OptimalAssessment",
    "Panel",
    "PatientContext",
    "Position",
    "Provenance",
    "ReferenceRange",
    "Result",
]

LOINC_SYSTEM = "http://loinc.org"


class Frozen(BaseModel):
    """Base of all guttests models: immutable, no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


_M = TypeVar("_M", bound=BaseModel)
_new = object.__new__
_setattr = object.__setattr__
_TRUSTED: dict[type[BaseModel], tuple[dict[str, Any], frozenset[str]]] = {}


def trusted(cls: type[_M], /, **values: Any) -> _M:
    """An instance built from values its caller made and typed itself: no validation.

    For the bulk paths only (readers, the engine), with values of the declared types;
    fields left out take their defaults. Models with validators (``Band``,
    ``ReferenceRange``, ``Applicability``) are always built the ordinary way. The
    result equals the validated instance (``tests/test_performance.py``).

    >>> trusted(Provenance, location="row 2") == Provenance(location="row 2")
    True
    """
    known = _TRUSTED.get(cls)
    if known is None:
        known = _TRUSTED[cls] = _trusted_layout(cls)
    defaults, required = known
    data = dict(defaults)
    data.update(values)
    if len(data) != len(defaults) or not required.issubset(values):
        missing = sorted(required.difference(values))
        unknown = sorted(set(values).difference(defaults))
        raise TypeError(f"{cls.__name__}: missing {missing}, unknown {unknown}")
    m = _new(cls)
    _setattr(m, "__dict__", data)
    _setattr(m, "__pydantic_fields_set__", set(values))
    _setattr(m, "__pydantic_extra__", None)
    _setattr(m, "__pydantic_private__", None)
    return m


def _trusted_layout(cls: type[BaseModel]) -> tuple[dict[str, Any], frozenset[str]]:
    checks = cls.__pydantic_decorators__
    if (checks.model_validators or checks.validators) and not getattr(
        cls, "_trusted_callers_check", False
    ):
        raise TypeError(f"{cls.__name__} has validators: build it the ordinary way")
    if cls.__private_attributes__:
        raise TypeError(f"{cls.__name__} has private attributes: build it the ordinary way")
    defaults: dict[str, Any] = {}
    required: set[str] = set()
    for name, field in cls.model_fields.items():
        if field.default_factory is not None or field.default is PydanticUndefined:
            if field.default_factory is not None:
                raise TypeError(f"{cls.__name__}.{name}: default factories are not supported")
            required.add(name)
            defaults[name] = None  # placeholder: keeps the field order
        else:
            defaults[name] = field.default
    return defaults, frozenset(required)


# --- citations and caveats ---------------------------------------------------------------


class Citation(Frozen):
    """Where a range or caveat comes from: a lab catalogue, an assay insert, a paper.

    >>> Citation(text="Mayo Clinic Laboratories, test CALPR").text
    'Mayo Clinic Laboratories, test CALPR'
    """

    text: str = Field(min_length=3)
    url: str | None = None
    doi: str | None = None
    pmid: str | None = None

    @model_validator(mode="after")
    def _says_something(self) -> "Citation":
        # Three spaces are three characters but cite nothing.
        if len(self.text.strip()) < 3:
            raise ValueError("missing citation: the source text is blank or too short")
        return self

    def short(self) -> str:
        """The citation on one line, with its DOI or PMID when known."""
        extra = [f"doi:{self.doi}" if self.doi else "", f"PMID {self.pmid}" if self.pmid else ""]
        tail = "; ".join(e for e in extra if e)
        return f"{self.text} ({tail})" if tail else self.text


class Caveat(Frozen):
    """A short, neutral statement about an assay's limits, with its citation."""

    id: str
    text: str
    citations: tuple[Citation, ...] = Field(min_length=1)


# --- analytes ----------------------------------------------------------------------------


class Analyte(Frozen):
    """One measurable thing in the catalogue, e.g. stool calprotectin."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str
    family: Family
    specimen: Specimen
    kind: ValueKind
    unit: str | None = None
    aliases: tuple[str, ...] = ()
    loinc: tuple[str, ...] = ()
    caveats: tuple[str, ...] = ()
    """Ids of caveats that apply to every result of this analyte."""
    note: str | None = None
    cv_analytical: float | None = None
    cv_within_subject: float | None = None
    variation_source: Citation | None = None


# --- ranges ------------------------------------------------------------------------------


AgeUnit = Literal["d", "wk", "mo", "a"]
_DAYS_PER: dict[str, float] = {"d": 1.0, "wk": 7.0, "mo": 365.25 / 12, "a": 365.25}


class Age(Frozen):
    """An age with its unit (days, weeks, months, years as UCUM writes them).

    A range's age limits are compared with the patient's age in completed calendar
    units (:class:`CalendarAge`); ``days`` (with 365.25/12-day months) only orders limits.

    >>> Age(value=6, unit="mo").days
    182.625
    """

    value: float = Field(ge=0)
    unit: AgeUnit = "a"

    @property
    def days(self) -> float:
        return self.value * _DAYS_PER[self.unit]

    def __str__(self) -> str:
        names = {"d": "day", "wk": "week", "mo": "month", "a": "year"}
        v = int(self.value) if float(self.value).is_integer() else self.value
        return f"{v} {names[self.unit]}{'' if v == 1 else 's'}"


class Applicability(Frozen):
    """What a range applies to. ``None`` on a field means 'any'.

    Ages are half-open: ``age_low`` inclusive, ``age_high`` exclusive, as
    published paediatric intervals are written ("1 to <6 months"), and compared
    in completed calendar units: "6 months to <3 years" starts on the day the child
    turns 6 months and ends on the third birthday.
    """

    specimen: Specimen | None = None
    sex: Sex | None = None
    age_low: Age | None = None
    age_high: Age | None = None
    method: str | None = None
    lab: str | None = None
    collection_window: str | None = None

    @model_validator(mode="after")
    def _ages_ordered(self) -> "Applicability":
        if self.age_low and self.age_high and self.age_low.days >= self.age_high.days:
            raise ValueError(
                f"age interval is empty or inverted: {self.age_low} to {self.age_high}"
            )
        return self

    @property
    def needs_age(self) -> bool:
        return self.age_low is not None or self.age_high is not None

    def age_applies(self, age: CalendarAge | None) -> bool | None:
        """Whether ``age`` lies in ``[age_low, age_high)``; ``None`` when it cannot be told.

        >>> from datetime import date
        >>> a = Applicability(age_low=Age(value=6, unit="mo"), age_high=Age(value=3))
        >>> a.age_applies(CalendarAge.between(date(2024, 1, 1), date(2024, 7, 1)))
        True
        >>> a.age_applies(CalendarAge.between(date(2024, 1, 1), date(2027, 1, 1)))
        False
        """
        if not self.needs_age:
            return True
        if age is None:
            return None
        verdicts = []
        if self.age_low is not None:
            verdicts.append(age.at_least(self.age_low))
        if self.age_high is not None:
            reached = age.at_least(self.age_high)
            verdicts.append(None if reached is None else not reached)
        if False in verdicts:
            return False
        return None if None in verdicts else True

    def specificity(self) -> int:
        """How specific the range is: lab+method first, then method, then default."""
        return (
            (4 if self.lab else 0)
            + (2 if self.method else 0)
            + (1 if self.sex else 0)
            + (1 if self.needs_age else 0)
        )

    def describe(self) -> str:
        """A short text, e.g. 'stool; female; age 6 months to <3 years'."""
        parts: list[str] = []
        if self.specimen:
            parts.append(str(self.specimen))
        if self.sex:
            parts.append(self.sex)
        if self.age_low and self.age_high:
            parts.append(f"age {self.age_low} to <{self.age_high}")
        elif self.age_low:
            parts.append(f"age {self.age_low} and over")
        elif self.age_high:
            parts.append(f"age under {self.age_high}")
        if self.method:
            parts.append(f"method {self.method}")
        if self.lab:
            parts.append(f"lab {self.lab}")
        if self.collection_window:
            parts.append(f"collection {self.collection_window}")
        return "; ".join(parts) if parts else "all"


class Band(Frozen):
    """One band of a range, with explicit inclusivity on each boundary.

    Quantitative and ordinal bands use ``low``/``high`` (``None`` = unbounded);
    qualitative bands list the canonical ``terms`` they cover.
    """

    label: str = Field(min_length=1)
    flag: InterpretationCode
    low: float | None = None
    low_inclusive: bool = True
    high: float | None = None
    high_inclusive: bool = True
    terms: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _valid(self) -> "Band":
        for v in (self.low, self.high):
            if v is not None and not math.isfinite(v):
                raise ValueError(f"band {self.label!r}: bounds must be finite numbers")
        if self.low is not None and self.high is not None:
            if self.low > self.high:
                raise ValueError(
                    f"band {self.label!r}: inverted interval (low {self.low} > high {self.high})"
                )
            if self.low == self.high and not (self.low_inclusive and self.high_inclusive):
                raise ValueError(
                    f"band {self.label!r}: empty interval (low = high = {self.low} "
                    "with an exclusive end)"
                )
        if self.terms and (self.low is not None or self.high is not None):
            raise ValueError(f"band {self.label!r}: a band has either terms or bounds, not both")
        return self

    @property
    def qualitative(self) -> bool:
        return bool(self.terms)

    def contains(self, x: float) -> bool:
        """Whether the number ``x`` lies in this band."""
        if self.low is not None and (x < self.low or (x == self.low and not self.low_inclusive)):
            return False
        return not (
            self.high is not None
            and (x > self.high or (x == self.high and not self.high_inclusive))
        )

    def describe(self) -> str:
        """The band's interval as text: '≤50', '50.1–120', '>200', 'Not detected'."""
        if self.terms:
            return ", ".join(t.replace("_", " ") for t in self.terms)
        return interval_text(self.low, self.low_inclusive, self.high, self.high_inclusive)


def _fmt(x: float) -> str:
    """A bound as labs print it: '50', '0.35', '1.6 x 10^9' for counts.

    >>> _fmt(50.0), _fmt(1.6e9), _fmt(100000.0)
    ('50', '1.6 x 10^9', '100000')
    """
    if x == 0 or 1e-4 <= abs(x) < 1e6:
        return f"{x:g}"
    mantissa, exponent = f"{x:.3e}".split("e")
    return f"{float(mantissa):g} x 10^{int(exponent)}"


def interval_text(low: float | None, low_inc: bool, high: float | None, high_inc: bool) -> str:
    """Interval as a lab writes it: '20–48', '≤50', '>200', 'any value'."""
    if low is not None and high is not None:
        if low_inc and high_inc:
            return f"{_fmt(low)}–{_fmt(high)}"
        lo = "≥" if low_inc else ">"
        hi = "≤" if high_inc else "<"
        return f"{lo}{_fmt(low)} and {hi}{_fmt(high)}"
    if high is not None:
        return f"{'≤' if high_inc else '<'}{_fmt(high)}"
    if low is not None:
        return f"{'≥' if low_inc else '>'}{_fmt(low)}"
    return "any value"


class ReferenceRange(Frozen):
    """A range that results are compared with, made of non-overlapping bands.

    Every range carries its ``source``; ``applies_to`` says for which specimen,
    sex, age, method and lab it holds; ``category`` says what it is for.
    """

    id: str
    analyte: str | None = None
    kind: ValueKind = ValueKind.QUANTITATIVE
    unit: str | None = None
    bands: tuple[Band, ...] = ()
    applies_to: Applicability = Applicability()
    category: RangeCategory = RangeCategory.REFERENCE
    source: Citation
    text: str | None = None
    """The range as the lab wrote it, when it came from a result."""
    unit_standard: str | None = None
    """For a range in arbitrary units (U/mL, kU/L, index): the international standard
    the unit is traceable to (e.g. the WHO reference preparation for IgE). Without it,
    such a range applies only to results of the assay or lab it names."""
    evidence: Evidence | None = None
    """What kind of source the range rests on (laboratory, guideline, single study, ...)."""
    caveats: tuple[str, ...] = ()
    """Ids of caveats that apply to every result compared with this range (e.g. that its
    limits are provisional), in addition to the analyte's."""
    # ``unit`` is None for qualitative and ordinal ranges, and for a lab's range on
    # a result that itself has no unit (pH, ratios): such a range is compared only
    # with values that have no unit either. The catalogue requires units.
    note: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> "ReferenceRange":
        # Pydantic runs "after" validators again whenever a built range is passed
        # on as a field (Result.lab_range); the checks need to run only once.
        if self.__pydantic_private__ and self.__pydantic_private__.get("_checked"):
            return self
        self._check()
        self._checked = True
        return self

    _checked: bool = PrivateAttr(default=False)

    def _check(self) -> None:
        if self.kind is ValueKind.QUALITATIVE:
            if any(not b.terms for b in self.bands):
                raise ValueError(f"range {self.id}: qualitative bands need terms")
            seen: set[str] = set()
            for b in self.bands:
                dup = seen.intersection(b.terms)
                if dup:
                    raise ValueError(f"range {self.id}: term {sorted(dup)[0]!r} in two bands")
                seen.update(b.terms)
        else:
            if any(b.terms for b in self.bands):
                raise ValueError(f"range {self.id}: numeric bands cannot list terms")
            ordered = sorted(self.bands, key=_band_sort_key)
            for a, b in itertools.pairwise(ordered):
                if _overlap(a, b):
                    raise ValueError(f"range {self.id}: bands {a.label!r} and {b.label!r} overlap")

    @property
    def machine_readable(self) -> bool:
        return bool(self.bands)

    def sorted_bands(self) -> tuple[Band, ...]:
        return tuple(sorted(self.bands, key=_band_sort_key))

    def gaps(self) -> list[tuple[float | None, float | None]]:
        """Stretches of the number line no band covers (validation reports them)."""
        if self.kind is ValueKind.QUALITATIVE:
            return []
        return band_gaps(self.bands)

    def reference_interval(self) -> tuple[float | None, float | None]:
        """Low and high of the union of the bands flagged N (the reference interval)."""
        normal = [b for b in self.bands if b.flag is InterpretationCode.NORMAL and not b.terms]
        if not normal:
            return (None, None)
        lows = [b.low for b in normal]
        highs = [b.high for b in normal]
        low = None if any(v is None for v in lows) else min(v for v in lows if v is not None)
        high = None if any(v is None for v in highs) else max(v for v in highs if v is not None)
        return (low, high)

    def describe(self) -> str:
        """The reference interval or expected result as text."""
        if self.text and (not self.bands or self.kind is ValueKind.QUALITATIVE):
            return self.text  # the lab's own words for its range
        if self.kind is ValueKind.QUALITATIVE:
            normal = [b for b in self.bands if not b.flag.outside_reference]
            return "; ".join(b.describe() for b in normal)
        normal_bands = [b for b in self.sorted_bands() if b.flag is InterpretationCode.NORMAL]
        if not normal_bands:
            return self.text or ""
        if self.kind is ValueKind.ORDINAL:
            return ", ".join(b.label for b in normal_bands)
        first, last = normal_bands[0], normal_bands[-1]
        return interval_text(first.low, first.low_inclusive, last.high, last.high_inclusive)


def band_gaps(bands: tuple[Band, ...]) -> list[tuple[float | None, float | None]]:
    """Stretches of the number line that none of the numeric ``bands`` covers."""
    if not bands:
        return []
    out: list[tuple[float | None, float | None]] = []
    ordered = sorted(bands, key=_band_sort_key)
    if ordered[0].low is not None:
        out.append((None, ordered[0].low))
    for a, b in itertools.pairwise(ordered):
        if a.high is None or b.low is None:
            continue
        if a.high < b.low or (a.high == b.low and not a.high_inclusive and not b.low_inclusive):
            out.append((a.high, b.low))
    if ordered[-1].high is not None:
        out.append((ordered[-1].high, None))
    return out


def _band_sort_key(b: Band) -> tuple[float, int]:
    return (-math.inf if b.low is None else b.low, 0 if b.low_inclusive else 1)


def _overlap(a: Band, b: Band) -> bool:
    """a starts before (or with) b: do they share any point?"""
    if a.high is None:
        return True
    if b.low is None:
        return True
    if a.high > b.low:
        return True
    return a.high == b.low and a.high_inclusive and b.low_inclusive


# --- results and panels ------------------------------------------------------------------


class Coding(Frozen):
    """A code as the input gave it (LOINC or a lab's local code)."""

    system: str | None = None
    code: str
    display: str | None = None

    @property
    def is_loinc(self) -> bool:
        return self.system in (LOINC_SYSTEM, "LN", "LOINC")


class Identifier(Frozen):
    """An identifier as the input gave it (a patient's MRN, an observation's filler number).

    ``system`` is a URI, and only when the input gave one (FHIR ``Identifier.system``) or a
    configured mapping supplied it; ``assigner`` is the assigning authority as the input named
    it (HL7 v2 CX.4, FHIR ``Identifier.assigner.display``); ``type`` is the identifier type
    code (HL7 v2 CX.5, FHIR ``Identifier.type``, e.g. ``MR``). Two identifiers with the same
    value under different systems or assigners are different identities.

    >>> a, b = Identifier(value="123", assigner="HOSPA"), Identifier(value="123", assigner="HOSPB")
    >>> a.key == b.key
    False
    """

    value: str
    system: str | None = None
    assigner: str | None = None
    type: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes this identifier one identity: system, assigner and value."""
        return (self.system or "", self.assigner or "", self.value)


class Provenance(Frozen):
    """Where a result came from: the file and the place inside it.

    >>> Provenance(source="lab.hl7", location="message 1, OBX 3").describe()
    'lab.hl7, message 1, OBX 3'
    """

    source: str | None = None
    location: str
    format: str | None = None
    source_id: str | None = None
    """The source's own id for this observation (FHIR ``Observation.id``); identifying
    data, left out of de-identified output."""

    def describe(self) -> str:
        return ", ".join(p for p in (self.source, self.location) if p)


class PatientContext(Frozen):
    """Patient facts that range choice needs, as the input gave them."""

    patient_id: str | None = None
    identifiers: tuple[Identifier, ...] = ()
    """Every identifier the input gave, with its system or assigning authority."""
    name: str | None = None
    sex: Sex | None = None
    birth_date: date | None = None
    age: Age | None = None
    """Age at collection, when the input gives an age instead of a birth date."""

    def age_at(self, when: date | datetime | None) -> CalendarAge | None:
        """Age at ``when`` in completed calendar units; ``None`` when it cannot be known.

        An age the input gave wins over the birth date (it is what the lab stated).

        >>> ctx = PatientContext(birth_date=date(2024, 1, 1))
        >>> ctx.age_at(date(2024, 7, 1)).months
        (6, 6)
        """
        if self.age is not None:
            return CalendarAge.from_age(self.age)
        if self.birth_date is None or when is None:
            return None
        return CalendarAge.between(self.birth_date, when)

    def age_days_at(self, when: date | datetime | None) -> float | None:
        """Age in days at ``when``; ``None`` when it cannot be known.

        Range choice uses :meth:`age_at` (completed calendar units), not this.
        """
        if self.age is not None:
            return self.age.days
        if self.birth_date is None or when is None:
            return None
        day = when.date() if isinstance(when, datetime) else when
        delta = (day - self.birth_date).days
        return float(delta) if delta >= 0 else None

    def deidentified(self) -> "PatientContext":
        """The same context without name and identifiers."""
        return self.model_copy(update={"patient_id": None, "identifiers": (), "name": None})


class Result(Frozen):
    """What one lab line says, as given, with its value parsed.

    ``value`` is ``None`` when the text could not be read as a value; then
    ``value_error`` says why, and the result is reported as not interpretable.
    """

    name: str | None = None
    code: Coding | None = None
    codes: tuple[Coding, ...] = ()
    analyte: str | None = None
    """Catalogue id, when resolved."""
    value_text: str = ""
    value: Value | None = None
    value_error: str | None = None
    unit: str | None = None
    lab_range: ReferenceRange | None = None
    lab_range_text: str | None = None
    lab_flags: tuple[str, ...] = ()
    """The lab's own flags as codes (HL7 OBX-8 CWE.1, e.g. ``A``; FHIR interpretation codes)."""
    lab_flag_texts: tuple[str, ...] = ()
    """The lab's text for each of ``lab_flags``, in the same order (``Abnormal``), for
    display; empty when the input gave codes only."""
    specimen: Specimen | None = None
    specimen_text: str | None = None
    collected: datetime | date | None = None
    lab: str | None = None
    method: str | None = None
    status: ResultStatus = ResultStatus.FINAL
    provenance: Provenance
    identifiers: tuple[Identifier, ...] = ()
    """The source's identifiers for this observation (FHIR ``Observation.identifier``;
    HL7 v2 filler order number with the OBX set id), kept so an EHR can match results back."""
    panel: str | None = None
    """Panel (order) name this result belongs to."""

    @property
    def label(self) -> str:
        """Name as given, else code, else analyte id."""
        if self.name:
            return self.name
        if self.code:
            return self.code.display or self.code.code
        return self.analyte or "(unnamed)"

    def all_codes(self) -> tuple[Coding, ...]:
        return ((self.code,) if self.code else ()) + self.codes

    _trusted_callers_check: ClassVar[bool] = True
    """:func:`trusted` may build a Result: its callers (readers) derive ``value`` from
    ``value_text`` (``value_or_error``, ``coded_value``), all the check below asks."""

    @model_validator(mode="after")
    def _value_agrees_with_text(self) -> "Result":
        # A parsed value that says something else than the text it came from would be
        # interpreted silently wrong: value_text="180" with value 20 is refused.
        problem = value_text_problem(self.value_text, self.value)
        if problem is not None:
            raise ValueError(problem)
        if self.lab_flag_texts and len(self.lab_flag_texts) != len(self.lab_flags):
            raise ValueError("lab_flag_texts must give one text per lab flag, in order")
        return self


class Panel(Frozen):
    """One order/report: results with the patient context they share."""

    name: str | None = None
    patient: PatientContext = PatientContext()
    collected: datetime | date | None = None
    lab: str | None = None
    results: tuple[Result, ...] = ()
    provenance: Provenance | None = None


# --- interpretation ----------------------------------------------------------------------


class Position(Frozen):
    """Where a numeric value lies relative to the reference interval.

    ``fraction`` is 0 at the low limit and 1 at the high limit, measured on a log scale
    (``log_scale``) when the high limit is 100 or more times the low one (copies/g, CFU/g);
    ``times_upper_limit`` is value / high limit.
    """

    fraction: float | None = None
    log_scale: bool = False
    times_upper_limit: float | None = None
    times_lower_limit: float | None = None


class OptimalAssessment(Frozen):
    """How a value sits against a practitioner-configured (optimal) range.

    Always reported beside the reference interpretation, never instead of it.
    ``distance_from_mid`` is ``(value - mid) * 100 / (high - low)``.
    """

    range: ReferenceRange
    flag: InterpretationCode | None
    band: str | None = None
    distance_from_mid: float | None = None
    reason: str | None = None


class Interpretation(Frozen):
    """The outcome for one result: interpreted against a range, or not interpretable."""

    result: Result
    status: Literal["interpreted", "not_interpretable"]
    analyte: str | None = None
    """Catalogue id of the analyte, when the result was resolved to one."""
    flag: InterpretationCode | None = None
    band: str | None = None
    range: ReferenceRange | None = None
    range_origin: Literal["lab", "catalogue", "user"] | None = None
    value_in_range_unit: float | None = None
    """Numeric value (or censoring limit) converted to the range's unit."""
    position: Position | None = None
    caveats: tuple[Caveat, ...] = ()
    optimal: OptimalAssessment | None = None
    reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def interpreted(self) -> bool:
        return self.status == "interpreted"

    @property
    def outside_reference(self) -> bool:
        return self.flag is not None and self.flag.outside_reference
