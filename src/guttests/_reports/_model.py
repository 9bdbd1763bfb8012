"""The report model: built once from panels and their interpretations, read by every renderer.

All prose is made here, from the neutral templates in ``report_phrases.toml`` and from
catalogue text; renderers only lay it out. Nothing is re-decided: flags, bands, positions
and converted values are copied from the :class:`~guttests._models.Interpretation`.
"""

# No ``from __future__ import annotations``: pydantic then takes the report models' field
# annotations as objects instead of evaluating ~180 strings at import (start-up of batch).
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._errors import ReportError
from .._models import (
    Analyte,
    Citation,
    Interpretation,
    Panel,
    PatientContext,
    Position,
    Provenance,
    ReferenceRange,
    Result,
)
from .._types import Evidence, InterpretationCode, ValueKind
from .._values import CensoredValue, OrdinalValue, QuantityValue
from .._version import __version__
from ._phrases import label, phrase, phrases

__all__ = [
    "SCHEMA_ID",
    "AnalyteLookup",
    "BandOut",
    "CaveatEntry",
    "CodingOut",
    "Counts",
    "IdentifierOut",
    "OptimalOut",
    "PanelSection",
    "PanelSummary",
    "PatientHeader",
    "PositionOut",
    "RangeOut",
    "RangeSource",
    "Report",
    "ReportDocument",
    "ResultRow",
    "SerialChange",
    "SerialPoint",
    "SerialSeries",
    "SourceOut",
    "build_report",
    "fmt_number",
    "report_json_schema",
    "result_record",
]

SCHEMA_ID = "guttests-report/1"
_Z95 = 1.96

_HIGH = frozenset({InterpretationCode.HIGH, InterpretationCode.CRITICAL_HIGH})
_LOW = frozenset({InterpretationCode.LOW, InterpretationCode.CRITICAL_LOW})
_UNSURE = frozenset({InterpretationCode.INDETERMINATE, InterpretationCode.EQUIVOCAL})
_LOINC_SYSTEMS = {"LN": "http://loinc.org", "LOINC": "http://loinc.org"}


class AnalyteLookup(Protocol):
    """What the report needs of a catalogue: analyte facts by id."""

    def analyte(self, analyte_id: str, /) -> Analyte | None: ...


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class CodingOut(_Out):
    """A code as the input gave it."""

    system: str | None
    code: str
    display: str | None


class IdentifierOut(_Out):
    """An identifier as the input gave it (left out of de-identified reports)."""

    value: str
    system: str | None = None
    assigner: str | None = None
    type: str | None = None


class BandOut(_Out):
    """One band of the range used, in the range's unit."""

    label: str
    flag: str
    low: float | None
    high: float | None
    low_inclusive: bool
    high_inclusive: bool
    terms: tuple[str, ...]


class RangeOut(_Out):
    """The range a result was compared with, with its source and what it applies to."""

    id: str
    low: float | None
    high: float | None
    low_inclusive: bool
    high_inclusive: bool
    unit: str | None
    text: str
    lab_text: str | None
    source: str
    source_url: str | None
    evidence: str | None = None
    """What kind of source the range rests on (laboratory, guideline, single-study, ...)."""
    applies_to: str
    category: str
    origin: str | None
    kind: str
    note: str | None
    bands: tuple[BandOut, ...]


class PositionOut(_Out):
    """Where a numeric value lies relative to the reference interval."""

    fraction: float | None
    log_scale: bool = False
    times_upper_limit: float | None
    times_lower_limit: float | None
    text: str | None


class OptimalOut(_Out):
    """The practitioner (optimal) range assessment, always labelled as such."""

    label: str
    range: RangeOut
    interpretation: str | None
    interpretation_display: str | None
    band: str | None
    distance_from_mid: float | None
    reason: str | None
    text: str


class SourceOut(_Out):
    """Where the result came from."""

    file: str | None
    location: str
    format: str | None


class ResultRow(_Out):
    """One input result, interpreted or not (the JSON ``results`` entry plus layout fields)."""

    analyte: str | None
    name: str | None
    label: str
    value: str
    unit: str | None
    value_kind: str | None
    comparator: str | None
    value_number: float | None
    value_in_range_unit: float | None
    status: Literal["interpreted", "not_interpretable"]
    result_status: str
    interpretation: str | None
    interpretation_display: str | None
    flag_text: str
    band: str | None
    range: RangeOut | None
    position: PositionOut | None
    optimal: OptimalOut | None
    reason: str | None
    notes: tuple[str, ...]
    caveats: tuple[str, ...]
    lab_flags: tuple[str, ...]
    lab_range_text: str | None
    source: SourceOut
    panel: str | None
    panel_index: int | None
    collected: str | None
    codes: tuple[CodingOut, ...]
    specimen: str | None
    lab: str | None
    method: str | None
    identifiers: tuple[IdentifierOut, ...] = ()
    """The source's identifiers for this result (empty when de-identified)."""
    source_id: str | None = None
    """The source's own id for this result, e.g. the FHIR Observation.id (``None`` when
    de-identified)."""
    # layout only (not part of the JSON record):
    display_name: str = ""
    range_ref: int | None = None


LAYOUT_FIELDS = frozenset({"display_name", "range_ref"})


class Counts(_Out):
    """Counts of one panel (or all panels); ``total`` equals the number of results."""

    total: int
    within: int
    outside: int
    indeterminate: int
    not_interpretable: int
    equivocal: int = 0
    """Results flagged equivocal (E), e.g. specific IgE classes 0/1 and 1; not counted in
    ``indeterminate``."""


class PanelSection(_Out):
    """One panel of the input, with its rows in input order."""

    index: int
    name: str | None
    title: str
    collected: str | None
    lab: str | None
    source: str | None
    counts: Counts
    summary: str
    rows: tuple[ResultRow, ...]


class PatientHeader(_Out):
    """The patient as given in the input (name and identifier dropped when de-identified)."""

    id: str | None
    name: str | None
    sex: str | None
    birth_date: str | None
    age: str | None
    identifiers: tuple[IdentifierOut, ...] = ()
    """Every identifier the input gave, with its system or assigning authority."""


class CaveatEntry(_Out):
    """A caveat attached to analytes present in the report, with its citations."""

    id: str
    text: str
    citations: tuple[str, ...]
    analytes: tuple[str, ...]


class RangeSource(_Out):
    """A numbered range source note shared by the rows that cite it."""

    ref: int
    source: str
    url: str | None
    origin: str | None
    applies_to: str
    category: str
    evidence: str | None = None
    """What kind of source the range rests on, as reports print it ('single study')."""
    note: str | None = None
    """The range's note (how its edges were read, what it does not cover)."""


class SerialPoint(_Out):
    """One result of a serial series."""

    collected: str
    value: float
    value_text: str
    comparator: str | None
    result_index: int
    lab: str | None = None
    method: str | None = None


class SerialChange(_Out):
    """The change between two consecutive results of a series."""

    from_index: int
    to_index: int
    absolute: float | None
    percent: float | None
    text: str
    exceeds_rcv: bool | None
    rcv_statement: str | None


class SerialSeries(_Out):
    """Several collections of one analyte in one unit, oldest first."""

    analyte: str
    name: str
    unit: str
    points: tuple[SerialPoint, ...]
    changes: tuple[SerialChange, ...]
    rcv_percent: float | None
    cv_analytical: float | None
    cv_within_subject: float | None
    variation_source: str | None
    note: str | None


class Report(_Out):
    """Everything a report shows, built once by :func:`build_report`."""

    schema_id: str = SCHEMA_ID
    title: str
    guttests_version: str
    catalogue_hash: str
    generated_at: str | None
    deidentified: bool
    patient: PatientHeader
    collected: tuple[str, ...]
    labs: tuple[str, ...]
    inputs: tuple[str, ...]
    counts: Counts
    summary: str
    panels: tuple[PanelSection, ...]
    sources: tuple[RangeSource, ...]
    caveats: tuple[CaveatEntry, ...]
    serial: tuple[SerialSeries, ...]
    has_optimal: bool
    disclaimer: str

    @property
    def rows(self) -> tuple[ResultRow, ...]:
        """All rows of all panels, in input order."""
        return tuple(r for p in self.panels for r in p.rows)

    @model_validator(mode="before")
    @classmethod
    def _from_document(cls, data: Any) -> Any:
        # The JSON report (render(report, "json")) lists panels without their rows and
        # all rows under "results": read it back into the model it was written from.
        if not (isinstance(data, dict) and "results" in data and "schema" in data):
            return data
        doc = dict(data)
        results = doc.pop("results")
        doc["schema_id"] = doc.pop("schema")
        panels = [dict(p) for p in doc.get("panels") or ()]
        rows: dict[int, list[Any]] = {i: [] for i in range(len(panels))}
        for row in results if isinstance(results, list) else ():
            index = row.get("panel_index") if isinstance(row, dict) else None
            if not isinstance(index, int) or index not in rows:
                raise ValueError("a result of the report names no panel of the report")
            rows[index].append(row)
        for i, panel in enumerate(panels):
            panel["rows"] = rows[i]
        doc["panels"] = panels
        doc.setdefault(
            "has_optimal",
            any(isinstance(r, dict) and r.get("optimal") is not None for r in results),
        )
        return doc


class PanelSummary(_Out):
    """One panel of the JSON report (its rows are listed under ``results``)."""

    index: int
    name: str | None
    title: str
    collected: str | None
    lab: str | None
    source: str | None
    counts: Counts
    summary: str


class ReportDocument(_Out):
    """The JSON report (``render(report, "json")``): the model the published schema is
    generated from. ``results`` holds every row of every panel, in input order; each is
    also the line format of ``guttests batch`` (which leaves out the two layout fields)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: Literal["guttests-report/1"] = Field(alias="schema")
    title: str
    guttests_version: str
    catalogue_hash: str
    generated_at: str | None
    deidentified: bool
    patient: PatientHeader
    collected: tuple[str, ...]
    labs: tuple[str, ...]
    inputs: tuple[str, ...]
    counts: Counts
    summary: str
    disclaimer: str
    panels: tuple[PanelSummary, ...]
    results: tuple[ResultRow, ...]
    sources: tuple[RangeSource, ...]
    caveats: tuple[CaveatEntry, ...]
    serial: tuple[SerialSeries, ...]


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of the JSON report, generated from :class:`ReportDocument`."""
    schema = ReportDocument.model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://guttests.invalid/schemas/guttests-report-1.schema.json",
        **schema,
        "title": "guttests report (guttests-report/1)",
    }


# --- formatting helpers --------------------------------------------------------------------


def fmt_number(x: float, sig: int = 6) -> str:
    """A number as a lab would print it, without float noise or exponent where avoidable.

    >>> fmt_number(0.1 + 0.2), fmt_number(2.0), fmt_number(3.4e6)
    ('0.3', '2', '3400000')
    """
    if x == 0:
        return "0"
    # '%g' gives the same digits whenever it needs no exponent (it is 3x faster)
    text = f"{x:.{sig}g}"
    if "e" not in text and "n" not in text:
        return text
    if 1e-4 <= abs(x) < 1e15:
        digits = max(sig - 1 - math.floor(math.log10(abs(x))), 0)
        text = f"{x:.{digits}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text
    return f"{x:.{sig}g}"


def _ratio(x: float) -> str:
    return fmt_number(round(x)) if abs(x) >= 100 else fmt_number(x, 2)


_last_when: tuple[object, str | None] = (None, None)


def _when(value: date | datetime | None) -> str | None:
    global _last_when
    # A panel's results share one collection time object: format it once. By identity:
    # equal aware datetimes may have different offsets, hence different texts.
    last = _last_when
    if value is last[0]:
        return last[1]
    text = None if value is None else _iso(value)
    _last_when = (value, text)
    return text


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes" if value.second == 0 else "seconds")
    return value.isoformat()


def _citation_url(c: Citation) -> str | None:
    if c.url:
        return c.url
    if c.doi:
        return f"https://doi.org/{c.doi}"
    return None


_RANGE_CACHE: dict[tuple[int, str | None], tuple[ReferenceRange, dict[str, Any]]] = {}
_RANGE_CACHE_LIMIT = 4096


def _range_record(rng: ReferenceRange, origin: str | None) -> dict[str, Any]:
    # Ranges repeat across results (the catalogue's objects): build each record once.
    # Keyed by identity and guarded by `is`, so a recycled id never returns a stale record.
    key = (id(rng), origin)
    hit = _RANGE_CACHE.get(key)
    if hit is not None and hit[0] is rng:
        return dict(hit[1])
    record = _build_range_record(rng, origin)
    if len(_RANGE_CACHE) >= _RANGE_CACHE_LIMIT:
        _RANGE_CACHE.clear()
    _RANGE_CACHE[key] = (rng, record)
    return dict(record)


def _build_range_record(rng: ReferenceRange, origin: str | None) -> dict[str, Any]:
    low: float | None = None
    high: float | None = None
    low_inc = high_inc = True
    if rng.kind is not ValueKind.QUALITATIVE:
        normal = [b for b in rng.sorted_bands() if b.flag is InterpretationCode.NORMAL]
        if normal:
            low, low_inc = normal[0].low, normal[0].low_inclusive
            high, high_inc = normal[-1].high, normal[-1].high_inclusive
    text = rng.describe()
    if rng.unit and rng.bands and rng.kind is ValueKind.QUANTITATIVE and text:
        text = f"{text} {rng.unit}"
    return {
        "id": rng.id,
        "low": low,
        "high": high,
        "low_inclusive": low_inc,
        "high_inclusive": high_inc,
        "unit": rng.unit,
        "text": text or label("no_range"),
        "lab_text": rng.text,
        "source": rng.source.short(),
        "source_url": _citation_url(rng.source),
        "evidence": rng.evidence.value if rng.evidence is not None else None,
        "applies_to": rng.applies_to.describe(),
        "category": str(rng.category),
        "origin": origin,
        "kind": str(rng.kind),
        "note": rng.note,
        "bands": [
            {
                "label": b.label,
                "flag": str(b.flag),
                "low": b.low,
                "high": b.high,
                "low_inclusive": b.low_inclusive,
                "high_inclusive": b.high_inclusive,
                "terms": list(b.terms),
            }
            for b in rng.sorted_bands()
        ],
    }


_CMP_PREFIX = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}
_IC = InterpretationCode
_FLAG_STRINGS: dict[int, tuple[str, str, str]] = {
    id(c): (c.value, c.display, f"{c.value} ({c.display})") for c in InterpretationCode
}
"""value, display, flag text of each code, by identity (enum members hash slowly)."""


def position_text(interp: Interpretation) -> str | None:
    """Where the value lies, in words, read from the interpretation's flag and position."""
    return _position_text(
        interp.position, interp.flag, interp.band, interp.result.value, interp.range,
        interp.value_in_range_unit,
    )  # fmt: skip


_MULTIPLE_MIN = 1.1
"""A multiple of a limit is shown only when it says something (>= 1.1x, or <= 1/1.1x);
closer to the limit the report gives the absolute difference instead."""


def _class_table(rng: ReferenceRange | None) -> bool:
    """A class scheme (specific IgE classes 0-6): more than three numeric bands. Its
    results are placed by class, never as a multiple of the class-0 limit."""
    if rng is None:
        return False
    # once per range object (by identity, guarded by `is`: a recycled id never matches)
    hit = _CLASS_TABLES.get(id(rng))
    if hit is not None and hit[0] is rng:
        return hit[1]
    found = sum(1 for b in rng.bands if not b.terms) > 3
    if len(_CLASS_TABLES) >= _RANGE_CACHE_LIMIT:
        _CLASS_TABLES.clear()
    _CLASS_TABLES[id(rng)] = (rng, found)
    return found


_CLASS_TABLES: dict[int, tuple[ReferenceRange, bool]] = {}


def _position_text(
    pos: Position | None,
    flag: InterpretationCode | None,
    band: str | None,
    value: object,
    rng: ReferenceRange | None = None,
    x: float | None = None,
) -> str | None:
    parts: list[str] = []
    templates = phrases()[1]
    if pos is not None and flag is not None and not _class_table(rng):
        cmp = _CMP_PREFIX[value.comparator] if type(value) is CensoredValue else ""
        up, lo = pos.times_upper_limit, pos.times_lower_limit
        if (flag is _IC.HIGH or flag is _IC.CRITICAL_HIGH) and up is not None:
            if up >= _MULTIPLE_MIN or cmp or x is None or rng is None:
                parts.append(templates["above_upper"].format(times=cmp + _ratio(up)))
            else:
                diff = x - (rng.reference_interval()[1] or x / up)
                parts.append(_by(templates["above_upper_by"], diff, rng.unit))
        elif (flag is _IC.LOW or flag is _IC.CRITICAL_LOW) and lo is not None:
            if lo <= 1 / _MULTIPLE_MIN or cmp or x is None or rng is None:
                parts.append(templates["below_lower"].format(times=cmp + _ratio(lo)))
            else:
                diff = (rng.reference_interval()[0] or x / lo) - x
                parts.append(_by(templates["below_lower_by"], diff, rng.unit))
        elif flag is _IC.NORMAL and pos.fraction is not None:
            key = "within_log" if pos.log_scale else "within"
            parts.append(templates[key].format(percent=cmp + fmt_number(round(pos.fraction * 100))))
        elif flag is _IC.NORMAL and up is not None:
            parts.append(templates["times_upper"].format(times=cmp + _ratio(up)))
        elif flag is _IC.NORMAL and lo is not None:
            parts.append(templates["times_lower"].format(times=cmp + _ratio(lo)))
    if band:
        parts.append(templates["in_band"].format(band=band))
    return "; ".join(parts) or None


def _by(template: str, diff: float, unit: str | None) -> str:
    return template.format(diff=fmt_number(diff, 3), unit=unit or "").replace(" )", ")")


def _optimal_record(interp: Interpretation) -> dict[str, Any] | None:
    opt = interp.optimal
    if opt is None:
        return None
    rng = _range_record(opt.range, "user")
    bits = [rng["text"]]
    if opt.flag is not None:
        bits.append(f"{opt.flag.value} ({opt.flag.display})")
    if opt.band:
        bits.append(phrase("in_band", band=opt.band))
    if opt.distance_from_mid is not None:
        bits.append(phrase("optimal_position", distance=f"{opt.distance_from_mid:+.0f}"))
    if opt.reason:
        bits.append(opt.reason)
    return {
        "label": label("optimal"),
        "range": rng,
        "interpretation": opt.flag.value if opt.flag is not None else None,
        "interpretation_display": opt.flag.display if opt.flag is not None else None,
        "band": opt.band,
        "distance_from_mid": opt.distance_from_mid,
        "reason": opt.reason,
        "text": "; ".join(bits),
    }


def result_record(
    interp: Interpretation,
    *,
    panel: Panel | None = None,
    panel_index: int | None = None,
    deidentify: bool = False,
) -> dict[str, Any]:
    """The JSON object of one result (one NDJSON line of ``guttests batch``).

    Plain dict building, no validation: this is the bulk path. ``panel`` supplies the
    collection date and panel name when the result itself has none.

    >>> from guttests._models import Interpretation, Provenance, Result
    >>> r = Result(name="Zonulin", value_text="??", value_error="not a lab value",
    ...            provenance=Provenance(location="row 2"))
    >>> rec = result_record(Interpretation(result=r, status="not_interpretable",
    ...                                    reason="value text is not a lab value"))
    >>> rec["status"], rec["value"], rec["reason"]
    ('not_interpretable', '??', 'value text is not a lab value')
    """
    r = interp.result
    return record_from_parts(
        interp,
        static_record(r, panel),
        source_record(r.provenance, deidentify),
        panel_index,
        identity_record(r, deidentify),
    )


def static_record(r: Result, panel: Panel | None = None) -> dict[str, Any]:
    """The fields of a result record that come from neither its value, nor its lab flags,
    nor its interpretation, nor its place in the source: what every result of one "shape"
    (same analyte, unit, range, status, specimen, times, lab, panel...) shares."""
    code = r.code
    codes = r.codes
    if code is not None:
        codes = (code, *codes)
    specimen = r.specimen
    return {
        "name": r.name,
        "label": r.label,
        "unit": r.unit,
        "result_status": str(r.status),
        "lab_range_text": r.lab_range_text,
        "panel": r.panel or (panel.name if panel is not None else None),
        "collected": collected_field(r, panel),
        "codes": [
            {
                "system": _LOINC_SYSTEMS.get(c.system or "", c.system),
                "code": c.code,
                "display": c.display,
            }
            for c in codes
        ],
        "specimen": str(specimen) if specimen is not None else r.specimen_text,
        "lab": r.lab or (panel.lab if panel is not None else None),
        "method": r.method,
    }


def collected_field(r: Result, panel: Panel | None = None) -> str | None:
    """The ``collected`` field of a result record: the result's collection time, else its
    panel's."""
    return time_field(r.collected, panel.collected if panel is not None else None)


def time_field(
    collected: date | datetime | None, panel_collected: date | datetime | None
) -> str | None:
    """:func:`collected_field` from the two times."""
    return _when(panel_collected if collected is None else collected)


def record_from_parts(
    interp: Interpretation,
    static: dict[str, Any],
    source: Any,
    panel_index: Any,
    identity: dict[str, Any],
    range_record: Callable[[ReferenceRange, str | None], Any] | None = None,
) -> dict[str, Any]:
    """A result record from its :func:`static_record` (or any stand-ins of its values,
    such as serialised fragments), its source, panel index and identity fields, and the
    interpretation, in the record's order. ``range_record`` makes the ``range`` value
    (default: the range's record)."""
    # Written for speed (it runs once per result of a batch): identity tests on enum
    # members, cached range records and dates, no helper calls for the common fields.
    r = interp.result
    v = r.value
    flag = interp.flag
    comparator: str | None = None
    number: float | None = None
    kind = type(v)
    if kind is QuantityValue:
        number = v.value  # type: ignore[union-attr]
    elif kind is CensoredValue:
        comparator, number = v.comparator, v.limit  # type: ignore[union-attr]
    elif kind is OrdinalValue:
        number = float(v.value)  # type: ignore[union-attr]
    interpreted = interp.status == "interpreted"
    if flag is None:
        flag_value = flag_display = None
        flag_text = "–" if interpreted else label("not_interpretable")
    else:
        flag_value, flag_display, flag_text = _FLAG_STRINGS[id(flag)]
        if not interpreted:
            flag_text = label("not_interpretable")
    pos = interp.position
    ptext = _position_text(pos, flag, interp.band, v, interp.range, interp.value_in_range_unit)
    if pos is not None:
        position: dict[str, Any] | None = {
            "fraction": pos.fraction,
            "log_scale": pos.log_scale,
            "times_upper_limit": pos.times_upper_limit,
            "times_lower_limit": pos.times_lower_limit,
            "text": ptext,
        }
    elif ptext is not None:
        position = {
            "fraction": None,
            "log_scale": False,
            "times_upper_limit": None,
            "times_lower_limit": None,
            "text": ptext,
        }
    else:
        position = None
    rng = interp.range
    if rng is None:
        range_value = None
    elif range_record is None:
        range_value = _range_record(rng, interp.range_origin)
    else:
        range_value = range_record(rng, interp.range_origin)
    return {
        "analyte": interp.analyte or r.analyte,
        "name": static["name"],
        "label": static["label"],
        "value": r.value_text,
        "unit": static["unit"],
        "value_kind": v.kind if v is not None else None,
        "comparator": comparator,
        "value_number": number,
        "value_in_range_unit": interp.value_in_range_unit,
        "status": interp.status,
        "result_status": static["result_status"],
        "interpretation": flag_value,
        "interpretation_display": flag_display,
        "flag_text": flag_text,
        "band": interp.band,
        "range": range_value,
        "position": position,
        "optimal": _optimal_record(interp) if interp.optimal is not None else None,
        "reason": interp.reason or (r.value_error if not interpreted else None),
        "notes": list(interp.notes),
        "caveats": [c.id for c in interp.caveats],
        "lab_flags": list(r.lab_flags),
        "lab_range_text": static["lab_range_text"],
        "source": source,
        "panel": static["panel"],
        "panel_index": panel_index,
        "collected": static["collected"],
        "codes": static["codes"],
        "specimen": static["specimen"],
        "lab": static["lab"],
        "method": static["method"],
        **identity,
    }


def identity_record(r: Result, deidentify: bool = False) -> dict[str, Any]:
    """The source's identifiers of a result record (identifying data: none when
    de-identified): ``identifiers`` and ``source_id``."""
    if deidentify:
        return {"identifiers": [], "source_id": None}
    return {
        "identifiers": [
            identifier_fields(i.value, i.system, i.assigner, i.type) for i in r.identifiers
        ],
        "source_id": r.provenance.source_id,
    }


def identifier_fields(
    value: str, system: str | None, assigner: str | None, type: str | None
) -> dict[str, Any]:
    """One identifier of a result record (an :class:`~guttests.Identifier`'s fields)."""
    return {"value": value, "system": system, "assigner": assigner, "type": type}


def source_record(prov: Provenance, deidentify: bool = False) -> dict[str, Any]:
    """The ``source`` object of a result record (its file, location and format)."""
    return source_fields(prov.source, prov.location, prov.format, deidentify)


def source_fields(
    file: str | None, location: str | None, format: str | None, deidentify: bool = False
) -> dict[str, Any]:
    """The ``source`` object of a result record from its parts (see :func:`source_record`)."""
    return {"file": None if deidentify else file, "location": location, "format": format}


# --- building the report -------------------------------------------------------------------


def _merge_patients(panels: Sequence[Panel]) -> PatientContext:
    merged: dict[str, Any] = {}
    for p in panels:
        for key, value in p.patient.model_dump(exclude_none=True).items():
            if key == "identifiers":
                # one patient known under several identifiers (HL7 PID-3 repetitions)
                # and some files without them: the union, in order of appearance
                known = merged.setdefault(key, [])
                known.extend(v for v in value if v not in known)
                continue
            if key in merged and merged[key] != value:
                raise ReportError(
                    f"panels disagree on the patient's {key.replace('_', ' ')}: "
                    "one report covers one patient",
                    hint="render one report per patient",
                )
            merged[key] = value
    return PatientContext.model_validate(merged)


def _patient_header(
    ctx: PatientContext, first_collected: date | datetime | None, deidentify: bool
) -> PatientHeader:
    age: str | None = str(ctx.age) if ctx.age is not None else None
    if deidentify:
        if age is None and ctx.birth_date is not None and first_collected is not None:
            at = ctx.age_at(first_collected)  # completed calendar units
            if at is not None:
                years = at.years[0]
                age = "90 years or over" if years >= 90 else f"{at.describe()} at collection"
        return PatientHeader(id=None, name=None, sex=ctx.sex, birth_date=None, age=age)
    return PatientHeader(
        id=ctx.patient_id,
        name=ctx.name,
        sex=ctx.sex,
        birth_date=ctx.birth_date.isoformat() if ctx.birth_date else None,
        age=age,
        identifiers=tuple(IdentifierOut(**i.model_dump()) for i in ctx.identifiers),
    )


def _count(rows: Sequence[ResultRow]) -> Counts:
    outside = indeterminate = equivocal = not_interp = 0
    for row in rows:
        if row.status == "not_interpretable":
            not_interp += 1
        elif (
            row.interpretation is not None
            and InterpretationCode(row.interpretation).outside_reference
        ):
            outside += 1
        elif row.interpretation == "E":
            equivocal += 1
        elif row.interpretation is not None and InterpretationCode(row.interpretation) in _UNSURE:
            indeterminate += 1
    total = len(rows)
    return Counts(
        total=total,
        within=total - outside - indeterminate - equivocal - not_interp,
        outside=outside,
        indeterminate=indeterminate,
        not_interpretable=not_interp,
        equivocal=equivocal,
    )


def _panel_summary(title: str, counts: Counts, rows: Sequence[ResultRow]) -> str:
    text = phrase(
        "summary_panel",
        panel=title,
        total=counts.total,
        results=label("result_one" if counts.total == 1 else "result_many"),
        outside=counts.outside,
        equivocal=(
            phrase("summary_equivocal", equivocal=counts.equivocal) if counts.equivocal else ""
        ),
        indeterminate=counts.indeterminate,
        not_interpretable=counts.not_interpretable,
    )
    outside = [
        phrase(
            "summary_item",
            name=r.display_name,
            value=" ".join(x for x in (r.value, r.unit or "") if x),
            flag=r.interpretation,
        )
        for r in rows
        if r.interpretation is not None and InterpretationCode(r.interpretation).outside_reference
    ]
    if outside:
        text += " " + phrase("summary_outside", items="; ".join(outside))
    return text


def _display_name(record: Mapping[str, Any], catalogue: AnalyteLookup | None) -> str:
    given = str(record["label"])
    if catalogue is None or record["analyte"] is None:
        return given
    analyte = catalogue.analyte(record["analyte"])
    if analyte is None or _norm(analyte.name) == _norm(given):
        return given
    return f"{given} ({analyte.name})"


def _norm(s: str) -> str:
    return re.sub(r"\W+", " ", s).strip().casefold()


def build_report(
    panels: Sequence[Panel],
    interpretations: Sequence[Sequence[Interpretation]],
    *,
    catalogue_hash: str | None = None,
    version: str | None = None,
    deidentify: bool = False,
    generated_at: datetime | None = None,
    catalogue: AnalyteLookup | Literal["default"] | None = "default",
) -> Report:
    """Build the one report model that every renderer reads.

    ``interpretations[i]`` holds one interpretation per result of ``panels[i]``, in order.
    ``catalogue`` supplies analyte display names and the variation data for reference
    change values of serial results: ``"default"`` (the shipped catalogue, as everywhere
    in guttests), a :class:`~guttests.Catalogue`, or ``None`` for none. ``version``
    defaults to the installed guttests version and ``catalogue_hash`` to the catalogue's
    ``content_hash`` (empty when there is no catalogue); pass them only to override.

    >>> from guttests._models import Interpretation, Panel, Provenance, Result
    >>> r = Result(name="Zonulin", value_text="??", provenance=Provenance(location="row 2"))
    >>> i = Interpretation(result=r, status="not_interpretable", reason="not a lab value")
    >>> rep = build_report([Panel(results=(r,))], [[i]], catalogue_hash="abc", version="0.1")
    >>> rep.counts.total, rep.counts.not_interpretable
    (1, 1)
    """
    if len(panels) != len(interpretations):
        raise ReportError(
            f"{len(panels)} panels but {len(interpretations)} lists of interpretations"
        )
    if isinstance(catalogue, str):
        from .._catalogue import Catalogue

        catalogue = Catalogue.default()
    if version is None:
        version = __version__
    if catalogue_hash is None:
        found = getattr(catalogue, "content_hash", None)
        catalogue_hash = found if isinstance(found, str) else ""
    if deidentify:
        panels, interpretations = _deidentified(panels, interpretations)
    patient = _merge_patients(panels)
    sections: list[PanelSection] = []
    sources: dict[tuple[str, str | None, str, str], RangeSource] = {}
    caveats: dict[str, tuple[CaveatEntry, list[str]]] = {}
    all_rows: list[ResultRow] = []
    interps_flat: list[Interpretation] = []
    collected: dict[date | datetime, None] = {}  # an ordered set: linear in the results
    labs: list[str] = []
    inputs: list[str] = []
    user_caveats, user_analytes = _user_overrides(catalogue)
    for p_index, (panel, interps) in enumerate(zip(panels, interpretations, strict=True)):
        if len(interps) != len(panel.results):
            raise ReportError(
                f"panel {p_index + 1} has {len(panel.results)} results "
                f"but {len(interps)} interpretations"
            )
        rows: list[ResultRow] = []
        for result, interp in zip(panel.results, interps, strict=True):
            if interp.result != result:
                raise ReportError(
                    "interpretation does not belong to the result at the same position",
                    location=result.provenance.location,
                )
            rec = result_record(interp, panel=panel, panel_index=p_index, deidentify=deidentify)
            ref: int | None = None
            if rec["range"] is not None:
                rg = rec["range"]
                key = (rg["source"], rg["origin"], rg["applies_to"], rg["category"])
                if key not in sources:
                    sources[key] = RangeSource(
                        ref=len(sources) + 1,
                        source=rg["source"],
                        url=rg["source_url"],
                        origin=rg["origin"],
                        applies_to=rg["applies_to"],
                        category=rg["category"],
                        evidence=(Evidence(rg["evidence"]).label if rg.get("evidence") else None),
                        note=rg["note"],
                    )
                ref = sources[key].ref
            if rec["analyte"] in user_analytes:
                rec["notes"] = [*rec["notes"], user_analytes[rec["analyte"]]]
            row = ResultRow.model_validate(
                {**rec, "display_name": _display_name(rec, catalogue), "range_ref": ref}
            )
            for cav in interp.caveats:
                if cav.id not in caveats:
                    entry = CaveatEntry(
                        id=cav.id,
                        text=f"{cav.text} {user_caveats[cav.id]}"
                        if cav.id in user_caveats
                        else cav.text,
                        citations=tuple(c.short() for c in cav.citations),
                        analytes=(),
                    )
                    caveats[cav.id] = (entry, [])
                names = caveats[cav.id][1]
                if row.display_name not in names:
                    names.append(row.display_name)
            if rec["analyte"] in user_analytes:
                # Also among the caveats, which every format shows: user content is labelled.
                ukey = f"user-analyte-{rec['analyte']}"
                if ukey not in caveats:
                    text = user_analytes[rec["analyte"]]
                    entry = CaveatEntry(
                        id=ukey, text=text[:1].upper() + text[1:] + ".", citations=(), analytes=()
                    )
                    caveats[ukey] = (entry, [])
                if row.display_name not in caveats[ukey][1]:
                    caveats[ukey][1].append(row.display_name)
            rows.append(row)
            interps_flat.append(interp)
            when = interp.result.collected or panel.collected
            if when is not None:
                collected[when] = None
            for lab in (panel.lab, interp.result.lab):
                if lab and lab not in labs:
                    labs.append(lab)
            src = interp.result.provenance.source
            if src and not deidentify and src not in inputs:
                inputs.append(src)
        if panel.collected is not None:
            collected[panel.collected] = None
        if panel.lab and panel.lab not in labs:
            labs.append(panel.lab)
        counts = _count(rows)
        title = panel.name or label("unnamed_panel")
        if len(panels) > 1:
            title = f"{p_index + 1}. {title}"
        sections.append(
            PanelSection(
                index=p_index,
                name=panel.name,
                title=title,
                collected=_when(panel.collected),
                lab=panel.lab,
                source=(
                    panel.provenance.describe()
                    if panel.provenance is not None and not deidentify
                    else None
                ),
                counts=counts,
                summary=_panel_summary(title, counts, rows),
                rows=tuple(rows),
            )
        )
        all_rows.extend(rows)
    total = _count(all_rows)
    collected_text = sorted({t for t in (_when(c) for c in collected) if t is not None})
    first = min(collected, key=_sort_key) if collected else None
    return Report(
        title=label("title"),
        guttests_version=version,
        catalogue_hash=catalogue_hash,
        generated_at=generated_at.isoformat() if generated_at is not None else None,
        deidentified=deidentify,
        patient=_patient_header(patient, first, deidentify),
        collected=tuple(collected_text),
        labs=tuple(labs),
        inputs=tuple(inputs),
        counts=total,
        summary=" ".join(s.summary for s in sections),
        panels=tuple(sections),
        sources=tuple(sources.values()),
        caveats=tuple(
            e.model_copy(update={"analytes": tuple(names)}) for e, names in caveats.values()
        ),
        serial=_serial(all_rows, catalogue),
        has_optimal=any(r.optimal is not None for r in all_rows),
        disclaimer=label("disclaimer"),
    )


def _user_overrides(catalogue: AnalyteLookup | None) -> tuple[dict[str, str], dict[str, str]]:
    """Labels for caveats and analytes that a user range file put in place of shipped ones:
    user content is never shown as if guttests shipped it."""
    caveats: dict[str, str] = {}
    analytes: dict[str, str] = {}
    for over in getattr(catalogue, "overridden", ()):
        kind, entry_id, source, previous = over[0], over[1], over[2], over[3]
        name, before = _base_name(source), _base_name(previous)
        if kind == "caveat":
            caveats[entry_id] = (
                f"(user content: from range file {name}, replacing the caveat of {before})"
            )
        elif kind == "analyte":
            analytes[entry_id] = (
                f"analyte definition from user range file {name}, replacing the one of {before}"
            )
    return caveats, analytes


def _base_name(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _strip_provenance(prov: Provenance | None) -> Provenance | None:
    if prov is None or (prov.source is None and prov.source_id is None):
        return prov
    return prov.model_copy(update={"source": None, "source_id": None})


def _strip_result(result: Result) -> Result:
    if not result.identifiers and _strip_provenance(result.provenance) is result.provenance:
        return result
    return result.model_copy(
        update={"identifiers": (), "provenance": _strip_provenance(result.provenance)}
    )


def _deidentified(
    panels: Sequence[Panel], interpretations: Sequence[Sequence[Interpretation]]
) -> tuple[list[Panel], list[list[Interpretation]]]:
    """The input without what identifies the patient or the source, before anything is built:
    names, patient and observation identifiers, source ids and file names. (The birth date
    stays in the panels: the header turns it into an age at collection and never shows it.)
    A renderer reading the report can then not show them, whatever it renders."""
    out_panels: list[Panel] = []
    out_interps: list[list[Interpretation]] = []
    for panel, interps in zip(panels, interpretations, strict=False):
        out_panels.append(
            panel.model_copy(
                update={
                    "patient": panel.patient.deidentified(),
                    "results": tuple(_strip_result(r) for r in panel.results),
                    "provenance": _strip_provenance(panel.provenance),
                }
            )
        )
        out_interps.append(
            [i.model_copy(update={"result": _strip_result(i.result)}) for i in interps]
        )
    return out_panels, out_interps


def _sort_key(when: date | datetime) -> str:
    return when.isoformat()


# --- serial results ------------------------------------------------------------------------


def _serial_value(row: ResultRow) -> tuple[float, str] | None:
    if row.analyte is None or row.collected is None:
        return None
    if row.value_in_range_unit is not None and row.range is not None and row.range.unit:
        return row.value_in_range_unit, row.range.unit
    if row.value_kind in ("quantity", "censored") and row.value_number is not None and row.unit:
        return row.value_number, row.unit
    return None


def _serial(rows: Sequence[ResultRow], catalogue: AnalyteLookup | None) -> tuple[SerialSeries, ...]:
    groups: dict[tuple[str, str], list[tuple[int, ResultRow, float]]] = {}
    for index, row in enumerate(rows):
        got = _serial_value(row)
        if got is None or row.analyte is None:
            continue
        groups.setdefault((row.analyte, got[1]), []).append((index, row, got[0]))
    out: list[SerialSeries] = []
    for (analyte_id, unit), members in groups.items():
        if len({row.collected for _, row, _ in members}) < 2:
            continue
        members.sort(key=lambda m: (m[1].collected or "", m[0]))
        analyte = catalogue.analyte(analyte_id) if catalogue is not None else None
        rcv: float | None = None
        cva = analyte.cv_analytical if analyte is not None else None
        cvi = analyte.cv_within_subject if analyte is not None else None
        vsource = (
            analyte.variation_source.short()
            if analyte is not None and analyte.variation_source is not None
            else None
        )
        if cva is not None and cvi is not None:
            rcv = math.sqrt(2) * _Z95 * math.sqrt(cva**2 + cvi**2)
        points = tuple(
            SerialPoint(
                collected=row.collected or "",
                value=value,
                value_text=row.value,
                comparator=row.comparator,
                result_index=index,
                lab=row.lab,
                method=row.method,
            )
            for index, row, value in members
        )
        previous = _previous_points(points)
        changes = tuple(
            _change(prev, b, unit, rcv, cva, cvi, vsource)
            for b, prev in zip(points, previous, strict=True)
            if prev is not None
        )
        name = analyte.name if analyte is not None else members[0][1].label
        out.append(
            SerialSeries(
                analyte=analyte_id,
                name=name,
                unit=unit,
                points=points,
                changes=changes,
                rcv_percent=rcv,
                cv_analytical=cva,
                cv_within_subject=cvi,
                variation_source=vsource,
                note=None if rcv is not None else phrase("rcv_none"),
            )
        )
    return tuple(out)


def _previous_points(points: Sequence[SerialPoint]) -> list[SerialPoint | None]:
    """For each point (sorted by collection time), the result to compare it with: from the
    latest earlier collection, preferring an exact value over a censored one when that
    collection has several results (the first of them otherwise); ``None`` for the points
    of the first collection.

    One pass over the sorted points (linear; the sort before it is O(n log n)): each run
    of points that share a collection time picks its representative once.

    >>> p = lambda when, comp=None: SerialPoint(collected=when, value=1.0, value_text="1",
    ...                                         comparator=comp, result_index=0)
    >>> a, b, c, d = p("2024-01-01", "<"), p("2024-01-01"), p("2024-02-01"), p("2024-03-01")
    >>> [x is None or x.collected for x in _previous_points([a, b, c, d])]
    [True, True, '2024-01-01', '2024-02-01']
    >>> _previous_points([a, b, c, d])[2] is b
    True
    """
    out: list[SerialPoint | None] = []
    chosen: SerialPoint | None = None  # the representative of the latest earlier collection
    run_start = 0
    while run_start < len(points):
        when = points[run_start].collected
        run_end = run_start
        while run_end < len(points) and points[run_end].collected == when:
            run_end += 1
        run = points[run_start:run_end]
        out.extend([chosen] * len(run))
        chosen = next((p for p in run if p.comparator is None), run[0])
        run_start = run_end
    return out


def _change(
    a: SerialPoint,
    b: SerialPoint,
    unit: str,
    rcv: float | None,
    cva: float | None,
    cvi: float | None,
    vsource: str | None,
) -> SerialChange:
    if _other_source(a.lab, b.lab) or _other_source(a.method, b.method):
        # Results of different laboratories or methods are not comparable as a change.
        return SerialChange(
            from_index=a.result_index,
            to_index=b.result_index,
            absolute=None,
            percent=None,
            text=phrase("change_other_lab", since=a.collected),
            exceeds_rcv=None,
            rcv_statement=None,
        )
    if a.comparator is not None or b.comparator is not None:
        return SerialChange(
            from_index=a.result_index,
            to_index=b.result_index,
            absolute=None,
            percent=None,
            text=phrase("change_censored", since=a.collected),
            exceeds_rcv=None,
            rcv_statement=None,
        )
    absolute = float(fmt_number(b.value - a.value, 10))
    percent = (b.value - a.value) / a.value * 100 if a.value != 0 else None
    abs_text = ("+" if absolute > 0 else "") + fmt_number(absolute)
    if percent is None:
        text = phrase("change_no_percent", absolute=abs_text, unit=unit, since=a.collected)
    else:
        text = phrase(
            "change", absolute=abs_text, unit=unit, percent=_pct(percent), since=a.collected
        )
    exceeds: bool | None = None
    statement: str | None = None
    if rcv is not None and percent is not None and cva is not None and cvi is not None:
        exceeds = abs(percent) > rcv
        statement = phrase(
            "rcv_exceeds" if exceeds else "rcv_within",
            percent=_pct(percent),
            rcv=fmt_number(rcv, 3),
            cva=fmt_number(cva),
            cvi=fmt_number(cvi),
            source=vsource or "",
        ).replace("; )", ")")
    return SerialChange(
        from_index=a.result_index,
        to_index=b.result_index,
        absolute=absolute,
        percent=percent,
        text=text,
        exceeds_rcv=exceeds,
        rcv_statement=statement,
    )


def _other_source(a: str | None, b: str | None) -> bool:
    """Whether two results name different laboratories (or methods); unknown is not different."""
    return a is not None and b is not None and a.casefold().strip() != b.casefold().strip()


def _pct(p: float) -> str:
    sign = "+" if p > 0 else ("−" if p < 0 else "")
    digits = 0 if abs(p) >= 10 else 1
    return f"{sign}{abs(p):.{digits}f} %"
