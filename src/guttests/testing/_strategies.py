"""Hypothesis strategies for the guttests models, values, ranges and catalogues.

Every strategy produces only valid objects, and shrinks toward the simplest
one: the first entry of each table, the smallest number, the shortest list.
The examples below use :func:`hypothesis.find`, which shows the simplest
example that satisfies a condition:

>>> find(value_texts(), lambda t: True)
'0'

Values are generated as the text a lab writes and parsed with
:func:`guttests._values.parse_value`, so a generated value always carries a
text that reads back to it.

Portability: values without a number (qualitative, classes, ``<dl``) carry no
unit, results share their panel's lab, collection time, specimen and name, as
every input format requires; the serialised strategies rely on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, TypeVar, cast

from hypothesis import find  # noqa: F401 - the docstring examples use it
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .._catalogue import Catalogue
from .._models import (
    LOINC_SYSTEM,
    Age,
    Analyte,
    Applicability,
    Band,
    Caveat,
    Citation,
    Coding,
    Panel,
    PatientContext,
    Provenance,
    ReferenceRange,
    Result,
)
from .._range_text import parse_range_text
from .._types import (
    Family,
    InterpretationCode,
    RangeCategory,
    ResultStatus,
    Sex,
    Specimen,
    ValueKind,
)
from .._values import (
    CensoredValue,
    OrdinalValue,
    QualitativeValue,
    QuantityValue,
    Value,
    parse_value,
)

__all__ = [
    "ANALYTE_TEMPLATES",
    "SPECIMEN_SPELLINGS",
    "UNIT_SPELLINGS",
    "ValueForm",
    "analytes",
    "applicabilities",
    "bands",
    "catalogues",
    "citations",
    "collection_times",
    "lab_range_texts",
    "numbers",
    "panels",
    "patient_contexts",
    "reference_ranges",
    "results",
    "units",
    "value_texts",
    "values",
]

ValueForm = Literal["quantity", "censored", "qualitative", "ordinal"]
"""The four kinds of lab value, as ``Value.kind`` names them."""

_IC = InterpretationCode
_T = TypeVar("_T")
_MEMO: dict[tuple[Hashable, ...], SearchStrategy[Any]] = {}


def _memo(factory: Callable[..., SearchStrategy[_T]], *args: Hashable) -> SearchStrategy[_T]:
    """One strategy object per factory and arguments.

    Composite strategies draw from these inside every example; building them
    anew each time (and having hypothesis validate them again) costs more than
    the test itself.
    """
    key = (factory, *args)
    found = _MEMO.get(key)
    if found is None:
        found = _MEMO[key] = factory(*args)
    return cast(SearchStrategy[_T], found)


def _maybe(options: Sequence[_T]) -> SearchStrategy[_T | None]:
    """``None`` (the simplest) or one of ``options``."""
    return st.sampled_from((None, *options))


# --- units -------------------------------------------------------------------------------

UNIT_SPELLINGS: tuple[str, ...] = (
    "ug/g",
    "µg/g",
    "mcg/g",
    "mg/kg",
    "ng/mg",
    "ng/mL",
    "ng/ml",
    "ug/L",
    "µg/L",
    "pg/mL",
    "ng/dL",
    "mg/L",
    "mg/dL",
    "ug/mL",
    "µg/mL",
    "mcg/mL",
    "g/L",
    "ng/g",
    "ug/kg",
    "kU/L",
    "kUA/L",
    "U/mL",
    "U/L",
    "%",
    "% of total",
    "percent",
    "{ratio}",
    "ratio",
    "mmol/L",
    "umol/L",
    "genome copies/g",
    "{genome_copies}/g",
    "CFU/g",
    "10^6 CFU/g",
)
"""Unit spellings labs write (UCUM codes and lab spellings); :func:`units` filters them."""


@lru_cache(maxsize=256)
def _compatible_spellings(canonical: str) -> tuple[str, ...]:
    from .._units import compatible

    found = [s for s in UNIT_SPELLINGS if s != canonical and compatible(s, canonical)]
    return (canonical, *found)


def units(analyte: str | Analyte | None = None) -> SearchStrategy[str]:
    """Unit spellings compatible with an analyte's (or a unit's) canonical unit.

    The canonical unit itself comes first (the simplest example); then every
    spelling of :data:`UNIT_SPELLINGS` that the units module converts into it
    (``µg/g``, ``mcg/g``, ``mg/kg`` for ``ug/g``). With ``None``, any known spelling.

    >>> find(units("ug/g"), lambda u: u.startswith("mcg"))
    'mcg/g'
    """
    if analyte is None:
        return st.sampled_from(UNIT_SPELLINGS)
    canonical = analyte if isinstance(analyte, str) else analyte.unit
    if canonical is None:
        raise ValueError("units(): the analyte has no unit (qualitative or ordinal)")
    return _memo(st.sampled_from, _compatible_spellings(canonical))


# --- numbers and value texts -------------------------------------------------------------


def _decimal_text(mantissa: int, decimals: int) -> str:
    digits = str(mantissa).rjust(decimals + 1, "0")
    return f"{digits[:-decimals]}.{digits[-decimals:]}" if decimals else digits


def numbers(
    *, min_value: float = 0.0, max_value: float = 100_000.0, max_decimals: int = 3
) -> SearchStrategy[float]:
    """Non-negative decimal numbers as labs report them (at most ``max_decimals`` places).

    >>> x = find(numbers(max_value=10), lambda x: x > 9.5)
    >>> 9.5 < x <= 10, len(repr(x)) <= 5
    (True, True)
    """
    return (
        _memo(_plain_number_texts, max_decimals)
        .map(float)
        .filter(lambda x: min_value <= x <= max_value)
    )


def _plain_number_texts(max_decimals: int = 3) -> SearchStrategy[str]:
    return st.builds(_decimal_text, st.integers(0, 10**6), st.integers(0, max_decimals))


@st.composite
def _scientific_texts(draw: st.DrawFn) -> str:
    mantissa = _decimal_text(draw(st.integers(10, 999)), draw(st.integers(1, 2)))
    exp = draw(st.integers(1, 9))
    form = draw(
        st.sampled_from(
            (
                "{m}e{e}",
                "{m}E+{e:02d}",
                "{m} x 10^{e}",
                "{m}x10E{e}",
                "{m} × 10^{e}",
                "{m}*10^{e}",
                "{m}E{e}",
            )
        )
    )
    return form.format(m=mantissa, e=exp)


_COMPARATOR_SPELLINGS = ("<", "<=", ">", ">=", "≤", "≥", "< or =", "> or =", "=<", "=>")
_NO_LIMIT_SPELLINGS = (
    "<dl",
    "<DL",
    "< LOD",
    "<LOQ",
    "BDL",
    "below detection limit",
    "OOR <",
    "OOR >",
)
_QUALITATIVE_SPELLINGS = (
    "Negative",
    "Not Detected",
    "Detected",
    "Positive",
    "None Detected",
    "Not detected",
    "Neg",
    "POS",
    "ND",
    "Rare",
    "Few",
    "Moderate",
    "Many",
    "Neg-Rare",
    "VL",
    "1+",
    "2+",
    "+3",
    "4+",
    "Equivocal",
    "Borderline",
    "Indeterminate",
    "Absent",
    "Present",
    "Low",
    "High",
    "Inside reference range",
    "Outside reference range",
    "Normal",
    "Abnormal",
    "Reactive",
    "Non-reactive",
    "No growth",
    "None seen",
)
_ORDINAL_FORMS = ("Class {n}", "class {n}", "CLASS {n}", "Cl. {n}", "Klasse {n}")


@st.composite
def _censored_texts(draw: st.DrawFn, max_decimals: int = 3) -> str:
    if draw(st.integers(0, 4)) == 4:
        return draw(st.sampled_from(_NO_LIMIT_SPELLINGS))
    comparator = draw(st.sampled_from(_COMPARATOR_SPELLINGS))
    space = draw(st.sampled_from(("", " ")))
    number = draw(_memo(_any_number_texts))
    return f"{comparator}{space}{number}"


def _any_number_texts() -> SearchStrategy[str]:
    return _memo(_plain_number_texts, 3) | _memo(_scientific_texts)


def _case(text: str) -> SearchStrategy[str]:
    return st.sampled_from((text, text.upper(), text.lower()))


def _qualitative_texts() -> SearchStrategy[str]:
    return st.sampled_from(_QUALITATIVE_SPELLINGS).flatmap(_case)


@st.composite
def _ordinal_texts(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(("Score {n}", "score {n}"))).format(n=draw(st.integers(0, 30)))
    return draw(st.sampled_from(_ORDINAL_FORMS)).format(n=draw(st.integers(0, 6)))


def _limit(value: Value) -> float | None:
    if isinstance(value, QuantityValue):
        return value.value
    if isinstance(value, CensoredValue):
        return value.limit
    return None


def value_texts(
    kind: ValueForm | Sequence[ValueForm] | None = None,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    awkward: bool = True,
) -> SearchStrategy[str]:
    """Text of lab values that :func:`~guttests._values.parse_value` reads.

    ``kind`` picks the kind(s) of value (default: all). ``awkward`` adds valid
    but awkward forms labs write: ``3.4 x 10^6``, ``1.2e5``, ``< or =50``,
    ``≤50.0``, ``OOR >``, ``NEG``. ``min_value``/``max_value`` bound the
    number (or the censoring limit) of quantities and censored values.

    >>> find(value_texts("censored"), lambda t: "or" in t)
    '< or =0'
    >>> find(value_texts("quantity"), lambda t: "10^" in t)
    '1.0 x 10^1'
    """
    kinds: tuple[ValueForm, ...] = (
        ("quantity", "censored", "qualitative", "ordinal")
        if kind is None
        else (kind,)
        if isinstance(kind, str)
        else tuple(kind)
    )
    return _memo(_value_texts, kinds, min_value, max_value, awkward)


def _value_texts(
    kinds: tuple[ValueForm, ...], min_value: float | None, max_value: float | None, awkward: bool
) -> SearchStrategy[str]:
    options: list[SearchStrategy[str]] = []
    for k in kinds:
        if k == "quantity":
            options.append(_any_number_texts() if awkward else _memo(_plain_number_texts, 3))
        elif k == "censored":
            plain = st.builds(
                "{}{}".format, st.sampled_from(("<", ">", "<=", ">=")), _plain_number_texts()
            )
            options.append(_memo(_censored_texts) if awkward else plain)
        elif k == "qualitative":
            options.append(
                _qualitative_texts() if awkward else st.sampled_from(_QUALITATIVE_SPELLINGS[:4])
            )
        elif k == "ordinal":
            options.append(
                _ordinal_texts() if awkward else st.integers(0, 6).map("Class {}".format)
            )
        else:
            raise ValueError(f"value_texts(): unknown kind {k!r}")
    texts = st.one_of(options)
    if min_value is None and max_value is None:
        return texts
    lo = -float("inf") if min_value is None else min_value
    hi = float("inf") if max_value is None else max_value

    def within(text: str) -> bool:
        limit = _limit(parse_value(text))
        return limit is None or lo <= limit <= hi

    return texts.filter(within)


def values(
    kind: ValueForm | Sequence[ValueForm] | None = None,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    awkward: bool = True,
) -> SearchStrategy[Value]:
    """Parsed lab values (``QuantityValue``, ``CensoredValue``, ...) with their text.

    Same arguments as :func:`value_texts`; each value is ``parse_value`` of its text.

    >>> find(values("qualitative"), lambda v: v.polarity == "positive").term
    'detected'
    """
    return value_texts(kind, min_value=min_value, max_value=max_value, awkward=awkward).map(
        parse_value
    )


# --- citations, applicability, bands -----------------------------------------------------

_CITATION_TEXTS = (
    "Mayo Clinic Laboratories, test catalogue",
    "Assay package insert, ELISA kit",
    "Oord & Hornung 2014, Scand J Clin Lab Invest 74:254",
    "Camilleri et al. 2010, Neurogastroenterol Motil",
    "Laboratory's own validation report",
)


_CITATIONS = tuple(
    Citation(text=text, url=url, doi=doi, pmid=pmid)
    for text in _CITATION_TEXTS
    for url, doi, pmid in (
        (None, None, None),
        ("https://www.mayocliniclabs.com/test-catalog", None, None),
        (None, "10.1097/MPG.0000000000003046", "19614866"),
    )
)


def citations() -> SearchStrategy[Citation]:
    """Citations: a text of at least 3 characters, some with a URL, DOI and PMID.

    >>> find(citations(), lambda c: c.doi is not None).doi
    '10.1097/MPG.0000000000003046'
    """
    return st.sampled_from(_CITATIONS)


_AGE_UNITS = ("a", "mo", "wk", "d")
_METHODS = ("IDK ELISA K5600", "qPCR", "Immunoturbidimetry", "Microscopy")
_LABS = ("Gut Lab", "Mayo Clinic Laboratories", "Labor Nord", "St. Mary's Pathology")
_WINDOWS = ("0-2 h", "2-8 h", "8-24 h")


@st.composite
def _age_interval(draw: st.DrawFn) -> tuple[Age | None, Age | None]:
    shape = draw(st.sampled_from(("none", "low", "high", "both")))
    if shape == "none":
        return None, None
    unit = draw(st.sampled_from(_AGE_UNITS))
    a, b = sorted(draw(st.lists(st.integers(0, 99), min_size=2, max_size=2, unique=True)))
    if shape == "low":
        return Age(value=a, unit=unit), None
    if shape == "high":
        return None, Age(value=b, unit=unit)
    return Age(value=a, unit=unit), Age(value=b, unit=unit)


@st.composite
def applicabilities(draw: st.DrawFn, specimen: Specimen | None = None) -> Applicability:
    """What a range applies to: specimen, sex, age interval, method, lab, collection window.

    ``specimen`` is the only specimen drawn besides "any" (default: any specimen).

    >>> find(applicabilities(), lambda a: a.age_low and a.age_high).describe()
    'age 0 years to <1 year'
    """
    spec = draw(_maybe((specimen,) if specimen else tuple(Specimen)))
    sex: Sex | None = draw(st.sampled_from((None, "female", "male")))
    low, high = draw(_memo(_age_interval))
    method = draw(_maybe(_METHODS))
    lab = draw(_maybe(_LABS))
    window = draw(_maybe(_WINDOWS))
    return Applicability(
        specimen=spec,
        sex=sex,
        age_low=low,
        age_high=high,
        method=method,
        lab=lab,
        collection_window=window,
    )


def _maybe_applicability(specimen: Specimen | None) -> SearchStrategy[Applicability]:
    """Half of the ranges apply to everyone, as most published ranges do."""
    return st.just(Applicability()) | applicabilities(specimen)


@st.composite
def _flag_ladder(draw: st.DrawFn) -> list[tuple[InterpretationCode, str]]:
    below = draw(st.integers(0, 2))
    normal = draw(st.integers(1, 2))
    above = draw(st.integers(0, 2))
    flags: list[tuple[InterpretationCode, str]] = []
    flags += [(_IC.CRITICAL_LOW, "critically low"), (_IC.LOW, "low")][2 - below :]
    flags += [(_IC.NORMAL, "normal"), (_IC.NORMAL, "upper normal")][:normal]
    if above == 2 and draw(st.booleans()):
        flags += [(_IC.HIGH, "borderline"), (_IC.HIGH, "high")]
    else:
        flags += [(_IC.HIGH, "high"), (_IC.CRITICAL_HIGH, "critically high")][:above]
    return flags


@st.composite
def bands(draw: st.DrawFn, kind: ValueKind = ValueKind.QUANTITATIVE) -> tuple[Band, ...]:
    """Valid bands of one range.

    Numeric bands are adjacent and never overlap: each boundary belongs to
    exactly one of its two bands (drawn at random), and flags run in order
    (``LL`` < ``L`` < ``N`` < ``H`` < ``HH``). Ordinal bands have integer
    boundaries. Qualitative bands list disjoint canonical terms.

    >>> [b.describe() for b in find(bands(), lambda bs: len(bs) == 3)]
    ['≤0.1', '>0.1 and ≤1', '>1']
    """
    if kind is ValueKind.QUALITATIVE:
        return draw(_memo(_qualitative_bands))
    ladder = draw(_memo(_flag_ladder))
    points = _memo(_boundaries, kind is ValueKind.ORDINAL)
    bounds = sorted(
        draw(st.lists(points, min_size=len(ladder) - 1, max_size=len(ladder) - 1, unique=True))
    )
    upper_owns = draw(st.lists(st.booleans(), min_size=len(bounds), max_size=len(bounds)))
    out: list[Band] = []
    for i, (flag, label) in enumerate(ladder):
        low = bounds[i - 1] if i > 0 else None
        high = bounds[i] if i < len(bounds) else None
        out.append(
            Band(
                label=label,
                flag=flag,
                low=low,
                low_inclusive=upper_owns[i - 1] if i > 0 else True,
                high=high,
                high_inclusive=not upper_owns[i] if i < len(bounds) else True,
            )
        )
    return tuple(out)


def _boundaries(integer: bool) -> SearchStrategy[float]:
    if integer:
        return st.integers(0, 30).map(float)
    return st.builds(_decimal_text, st.integers(1, 200_000), st.integers(0, 2)).map(float)


_NEGATIVE_TERMS = ("not_detected", "negative", "none", "absent")
_POSITIVE_TERMS = ("detected", "positive", "present")


@st.composite
def _qualitative_bands(draw: st.DrawFn) -> tuple[Band, ...]:
    negative = draw(st.lists(st.sampled_from(_NEGATIVE_TERMS), min_size=1, unique=True))
    out = [Band(label="expected result", flag=_IC.NORMAL, terms=tuple(negative))]
    if draw(st.booleans()):
        positive = draw(st.lists(st.sampled_from(_POSITIVE_TERMS), min_size=1, unique=True))
        flag = draw(st.sampled_from((_IC.DETECTED, _IC.POSITIVE, _IC.ABNORMAL)))
        out.append(Band(label="detected", flag=flag, terms=tuple(positive)))
    if draw(st.booleans()):
        out.append(Band(label="equivocal", flag=_IC.EQUIVOCAL, terms=("equivocal",)))
    if draw(st.booleans()):
        out.append(Band(label="graded", flag=_IC.ABNORMAL, terms=("rare", "few", "grade_2")))
    return tuple(out)


# --- analytes and ranges -----------------------------------------------------------------

# (name, kind, canonical unit, specimen, family, aliases, LOINC): shapes of real analytes,
# used for realistic names and unit families, not as clinical data.
ANALYTE_TEMPLATES: tuple[
    tuple[str, ValueKind, str | None, Specimen, Family, tuple[str, ...], tuple[str, ...]], ...
] = (
    (
        "Calprotectin",
        ValueKind.QUANTITATIVE,
        "ug/g",
        Specimen.STOOL,
        Family.STOOL,
        ("Calprotectin, Feces", "Faecal calprotectin"),
        ("38445-3",),
    ),
    (
        "Zonulin",
        ValueKind.QUANTITATIVE,
        "ng/mL",
        Specimen.SERUM,
        Family.PERMEABILITY,
        ("Zonulin family peptides",),
        (),
    ),
    (
        "Pancreatic elastase",
        ValueKind.QUANTITATIVE,
        "ug/g",
        Specimen.STOOL,
        Family.STOOL,
        ("Elastase-1, Feces",),
        ("25907-7",),
    ),
    (
        "Secretory IgA",
        ValueKind.QUANTITATIVE,
        "mg/L",
        Specimen.STOOL,
        Family.STOOL,
        ("sIgA, Stool",),
        (),
    ),
    (
        "Eosinophil protein X",
        ValueKind.QUANTITATIVE,
        "ng/g",
        Specimen.STOOL,
        Family.STOOL,
        ("EPX",),
        (),
    ),
    ("Lactoferrin", ValueKind.QUANTITATIVE, "ug/mL", Specimen.STOOL, Family.STOOL, (), ()),
    ("Butyrate", ValueKind.QUANTITATIVE, "%", Specimen.STOOL, Family.STOOL, ("n-Butyrate %",), ()),
    (
        "Lactulose/mannitol ratio",
        ValueKind.QUANTITATIVE,
        "{ratio}",
        Specimen.URINE,
        Family.PERMEABILITY,
        ("L/M ratio",),
        (),
    ),
    (
        "Egg white IgE",
        ValueKind.QUANTITATIVE,
        "kU/L",
        Specimen.SERUM,
        Family.FOOD_SENSITIVITY,
        (),
        (),
    ),
    ("Bacteroides fragilis", ValueKind.QUANTITATIVE, "CFU/g", Specimen.STOOL, Family.STOOL, (), ()),
    (
        "Giardia",
        ValueKind.QUALITATIVE,
        None,
        Specimen.STOOL,
        Family.STOOL,
        ("Giardia lamblia",),
        (),
    ),
    (
        "Occult blood",
        ValueKind.QUALITATIVE,
        None,
        Specimen.STOOL,
        Family.STOOL,
        ("Occult blood, FIT",),
        ("29771-3",),
    ),
    ("Cryptosporidium", ValueKind.QUALITATIVE, None, Specimen.STOOL, Family.STOOL, (), ()),
    (
        "Cow's milk IgG",
        ValueKind.ORDINAL,
        None,
        Specimen.SERUM,
        Family.FOOD_SENSITIVITY,
        ("Milk, cow IgG",),
        (),
    ),
    ("Wheat IgG4", ValueKind.ORDINAL, None, Specimen.SERUM, Family.FOOD_SENSITIVITY, (), ()),
)
"""Shapes of real gut-panel analytes for generated catalogues."""


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@st.composite
def analytes(draw: st.DrawFn, kind: ValueKind | None = None) -> Analyte:
    """Analytes shaped like real ones (name, kind, canonical unit, specimen, aliases).

    >>> find(analytes(ValueKind.QUALITATIVE), lambda a: True).unit is None
    True
    """
    pool = [t for t in ANALYTE_TEMPLATES if kind is None or t[1] is kind]
    name, k, unit, specimen, family, aliases, loinc = draw(st.sampled_from(pool))
    return Analyte(
        id=_slug(name),
        name=name,
        family=family,
        specimen=specimen,
        kind=k,
        unit=unit,
        aliases=tuple(draw(st.lists(st.sampled_from(aliases), unique=True))) if aliases else (),
        loinc=loinc,
    )


@st.composite
def reference_ranges(
    draw: st.DrawFn,
    *,
    analyte: Analyte | None = None,
    kind: ValueKind | None = None,
    unit: str | None = None,
    category: RangeCategory | None = None,
    applicability: bool = True,
    range_id: str | None = None,
) -> ReferenceRange:
    """Valid reference ranges: bands (see :func:`bands`), applicability, category, citation.

    With ``analyte``, the range is for that analyte, in one of the units compatible
    with its canonical unit. ``applicability=False`` gives ranges that apply to
    everyone; ``category`` fixes the category (default: any).

    >>> r = find(reference_ranges(kind=ValueKind.QUALITATIVE), lambda r: True)
    >>> [b.terms for b in r.bands]
    [('not_detected',)]
    """
    if analyte is not None:
        kind = analyte.kind
    elif kind is None:
        kind = draw(st.sampled_from(ValueKind))
    if kind is ValueKind.QUANTITATIVE and unit is None:
        unit = draw(units(analyte) if analyte is not None and analyte.unit else units())
    elif kind is not ValueKind.QUANTITATIVE:
        unit = None
    specimen = analyte.specimen if analyte is not None else None
    applies = draw(_memo(_maybe_applicability, specimen)) if applicability else Applicability()
    cat = category or draw(st.sampled_from(RangeCategory))
    rid = range_id or draw(st.sampled_from(("r1", "lab.default", "mayo", "insert")))
    if analyte is not None and range_id is None:
        rid = f"{analyte.id}.{rid}"
    return ReferenceRange(
        id=rid,
        analyte=analyte.id if analyte is not None else None,
        kind=kind,
        unit=unit,
        bands=draw(_memo(bands, kind)),
        applies_to=applies,
        category=cat,
        source=draw(citations()),
        note=draw(_maybe(("Generated for a property test.",))),
    )


_CAVEAT_TEXTS = (
    "A single result does not establish a diagnosis; interpret with the clinical picture.",
    "Kits differ: compare results from the same assay only.",
)


@st.composite
def catalogues(
    draw: st.DrawFn,
    *,
    min_analytes: int = 1,
    max_analytes: int = 4,
    max_ranges: int = 3,
    kind: ValueKind | None = None,
    applicability: bool = True,
    categories: Sequence[RangeCategory] | None = (RangeCategory.REFERENCE,),
) -> Catalogue:
    """In-memory catalogues of generated analytes, ranges and caveats.

    Each analyte gets 1 to ``max_ranges`` ranges of ``categories`` (``None``:
    any category); names and aliases resolve to exactly one analyte.

    >>> cat = find(catalogues(), lambda c: len(c.analytes) == 2)
    >>> all(cat.ranges_for(a.id) for a in cat.analytes)
    True
    """
    chosen = draw(
        st.lists(
            analytes(kind),
            min_size=min_analytes,
            max_size=max_analytes,
            unique_by=lambda a: a.id,
        )
    )
    caveats: list[Caveat] = []
    with_caveats: list[Analyte] = []
    for i, a in enumerate(chosen):
        if draw(st.booleans()):
            cid = f"{a.id}-caveat"
            caveats.append(
                Caveat(
                    id=cid,
                    text=draw(st.sampled_from(_CAVEAT_TEXTS)),
                    citations=(draw(citations()),),
                )
            )
            a = a.model_copy(update={"caveats": (cid,)})
        with_caveats.append(a)
        chosen[i] = a
    ranges: list[ReferenceRange] = []
    for a in with_caveats:
        n = draw(st.integers(1, max_ranges))
        for j in range(n):
            cat = draw(st.sampled_from(categories)) if categories else None
            ranges.append(
                draw(
                    reference_ranges(
                        analyte=a,
                        category=cat,
                        applicability=applicability,
                        range_id=f"{a.id}.r{j + 1}",
                    )
                )
            )
    return Catalogue(with_caveats, ranges, caveats, sources=("generated",))


# --- results and panels ------------------------------------------------------------------

SPECIMEN_SPELLINGS: tuple[tuple[Specimen, str, str], ...] = (
    (Specimen.STOOL, "Stool", "STL"),
    (Specimen.STOOL, "Feces", "FEC"),
    (Specimen.SERUM, "Serum", "SER"),
    (Specimen.URINE, "Urine", "UR"),
    (Specimen.PLASMA, "Plasma", "PLAS"),
    (Specimen.SALIVA, "Saliva", "SAL"),
    (Specimen.BLOOD, "Whole blood", "BLD"),
)
"""(specimen, text as labs write it, HL7 table 0487 code)."""

_RESULT_NAMES = tuple(n for t in ANALYTE_TEMPLATES for n in (t[0], *t[5]))
_AWKWARD_NAME_CHARS = "abcXYZ0123456789 ,-()/%'&|^~\\\"µβ"
_PANEL_NAMES = (
    "Comprehensive stool analysis",
    "Intestinal permeability",
    "Food IgG panel",
    "Calprotectin, Feces",
)
_PATIENT_NAMES = ("Doe, Jane", "Müller, Anna", "O'Brien, Seán", "Smith", "Nguyen, Van An")


def _names() -> SearchStrategy[str]:
    awkward = st.text(_AWKWARD_NAME_CHARS, min_size=1, max_size=20).map(str.strip).filter(bool)
    return st.sampled_from(_RESULT_NAMES) | awkward


@st.composite
def collection_times(draw: st.DrawFn) -> date | datetime | None:
    """Collection times: none, a date, or a UTC date-time to the second.

    >>> find(collection_times(), lambda t: t is not None)
    datetime.date(2015, 1, 1)
    """
    day = draw(st.dates(date(2015, 1, 1), date(2030, 12, 31)))
    shape = draw(st.sampled_from(("date", "none", "datetime")))
    if shape == "none":
        return None
    if shape == "date":
        return day
    seconds = draw(st.integers(0, 86_399))
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)


@st.composite
def patient_contexts(draw: st.DrawFn, ages: bool = True) -> PatientContext:
    """Patient context: id, name, sex, birth date and (with ``ages``) an age at collection.

    >>> find(patient_contexts(), lambda p: p.sex is not None).sex
    'female'
    """
    age = None
    if ages and draw(st.booleans()):
        age = Age(value=draw(st.integers(0, 99)), unit=draw(st.sampled_from(_AGE_UNITS)))
    return PatientContext(
        patient_id=draw(_memo(_patient_ids)),
        name=draw(_maybe(_PATIENT_NAMES)),
        sex=draw(st.sampled_from((None, "female", "male"))),
        birth_date=draw(_memo(_birth_dates)),
        age=age,
    )


def _patient_ids() -> SearchStrategy[str | None]:
    return st.none() | st.integers(1, 99999).map("P{:05d}".format)


def _birth_dates() -> SearchStrategy[date | None]:
    return st.none() | st.dates(date(1930, 1, 1), date(2024, 12, 31))


_FORMS_BY_KIND: dict[ValueKind, tuple[ValueForm, ...]] = {
    ValueKind.QUANTITATIVE: ("quantity", "censored"),
    ValueKind.QUALITATIVE: ("qualitative",),
    ValueKind.ORDINAL: ("ordinal",),
}


@st.composite
def lab_range_texts(draw: st.DrawFn, kind: ValueKind = ValueKind.QUANTITATIVE) -> str:
    """Reference range text as labs print it (``20-48``, ``<=50``, ``Not Detected``, ...).

    Some are deliberately not machine-readable (``0-99 years >200``): guttests
    keeps those as text.

    >>> find(lab_range_texts(), lambda t: "years" in t)
    '0-99 years >0'
    """
    if kind is ValueKind.QUALITATIVE:
        return draw(
            st.sampled_from(
                (
                    "Negative",
                    "Not Detected",
                    "None Detected",
                    "Neg-Rare",
                    "Not detected",
                    "Expected: negative",
                )
            )
        )
    if kind is ValueKind.ORDINAL:
        return draw(st.sampled_from(("Class 0", "0-1", "<2", "<=1")))
    a, b = sorted(draw(_memo(_two_numbers)))
    lo, hi = _num(a), _num(b)
    form = draw(
        st.sampled_from(
            (
                "{lo}-{hi}",
                "<{hi}",
                "<={hi}",
                "{lo} - {hi}",
                ">={lo}",
                ">{lo}",
                "≤{hi}",
                "{lo} to {hi}",
                "0-99 years >{lo}",
                "{lo}-{hi} (Borderline)",
            )
        )
    )
    return form.format(lo=lo, hi=hi)


def _two_numbers() -> SearchStrategy[list[float]]:
    return st.lists(_plain_number_texts(2).map(float), min_size=2, max_size=2, unique=True)


def _num(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e6 else repr(x)


_FLAGS = ((), ("H",), ("L",), ("N",), ("H", "A"), ("A",), ("HH",), ("LL",))


def _maybe_range_text(kind: ValueKind) -> SearchStrategy[str | None]:
    return st.none() | lab_range_texts(kind)


@st.composite
def results(
    draw: st.DrawFn,
    *,
    analyte: Analyte | None = None,
    kind: ValueForm | Sequence[ValueForm] | None = None,
    lab_ranges: bool = True,
    statuses: Sequence[ResultStatus] | None = None,
    lab: str | None = None,
    panel: str | None = None,
    collected: date | datetime | None = None,
    specimen: tuple[Specimen, str] | None = None,
    location: str = "generated",
) -> Result:
    """Results as readers produce them: name, code, value with its text, unit, lab range, status.

    With ``analyte``, the result names that analyte (its name or an alias), has
    a value of its kind and a unit compatible with its unit; ``Result.analyte``
    stays ``None``, as readers leave it. ``lab_ranges=False`` gives results
    without a lab range. ``lab``, ``panel``, ``collected`` and ``specimen``
    (specimen and its text) are copied in, so that a panel's results share them.

    >>> r = find(results(kind="censored"), lambda r: r.unit is not None)
    >>> r.value.kind, r.value.text == r.value_text
    ('censored', True)
    """
    if analyte is not None:
        name = draw(st.sampled_from((analyte.name, *analyte.aliases)))
        forms = _FORMS_BY_KIND[analyte.kind] if kind is None else kind
        coded: bool = draw(st.booleans()) if analyte.loinc else False
        code = Coding(system=LOINC_SYSTEM, code=analyte.loinc[0], display=name) if coded else None
    else:
        name = draw(_memo(_names))
        forms = kind if kind is not None else ("quantity", "censored", "qualitative", "ordinal")
        loinc = draw(_maybe(("38445-3", "25907-7", "29771-3")))
        code = Coding(system=LOINC_SYSTEM, code=loinc, display=name) if loinc else None
    text = draw(value_texts(forms))
    value = parse_value(text)
    unit: str | None = None
    if _limit(value) is not None and not isinstance(value, OrdinalValue):
        if analyte is not None and analyte.unit is not None:
            unit = draw(units(analyte))
        elif analyte is None:
            unit = draw(_maybe(UNIT_SPELLINGS))
    range_kind = (
        ValueKind.QUALITATIVE
        if isinstance(value, QualitativeValue)
        else ValueKind.ORDINAL
        if isinstance(value, OrdinalValue)
        else ValueKind.QUANTITATIVE
    )
    range_text = draw(_memo(_maybe_range_text, range_kind)) if lab_ranges else None
    status = draw(st.sampled_from(tuple(statuses) if statuses else tuple(ResultStatus)))
    flags = draw(st.sampled_from(_FLAGS))
    method = draw(_maybe(_METHODS))
    return Result(
        name=name,
        code=code,
        value_text=text,
        value=value,
        unit=unit,
        lab_range=parse_range_text(range_text, unit=unit, lab=lab) if range_text else None,
        lab_range_text=range_text,
        lab_flags=flags,
        specimen=specimen[0] if specimen else None,
        specimen_text=specimen[1] if specimen else None,
        collected=collected,
        lab=lab,
        method=method,
        status=status,
        provenance=Provenance(location=location),
        panel=panel,
    )


@st.composite
def panels(
    draw: st.DrawFn,
    *,
    min_results: int = 1,
    max_results: int = 5,
    analytes: Sequence[Analyte] | None = None,
    kind: ValueForm | Sequence[ValueForm] | None = None,
    lab_ranges: bool = True,
    statuses: Sequence[ResultStatus] | None = None,
    ages: bool = True,
) -> Panel:
    """Panels: a name, a patient, a collection time, a lab and results sharing them.

    With ``analytes``, each result names one of them (see :func:`results`).

    >>> p = find(panels(max_results=3), lambda p: len(p.results) == 3)
    >>> all(r.panel == p.name and r.lab == p.lab for r in p.results)
    True
    """
    name = draw(st.sampled_from(_PANEL_NAMES))
    lab = draw(_maybe(_LABS))
    collected = draw(_memo(collection_times))
    spec = draw(_maybe(SPECIMEN_SPELLINGS))
    specimen = (spec[0], spec[1]) if spec else None
    n = draw(st.integers(min_results, max_results))
    out = []
    for i in range(n):
        analyte = draw(st.sampled_from(analytes)) if analytes else None
        out.append(
            draw(
                results(
                    analyte=analyte,
                    kind=kind,
                    lab_ranges=lab_ranges,
                    statuses=statuses,
                    lab=lab,
                    panel=name,
                    collected=collected,
                    specimen=specimen,
                    location=f"generated result {i + 1}",
                )
            )
        )
    return Panel(
        name=name,
        patient=draw(_memo(patient_contexts, ages)),
        collected=collected,
        lab=lab,
        results=tuple(out),
        provenance=Provenance(location="generated panel"),
    )
