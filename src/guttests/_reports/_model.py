"""The report model: built once from panels and their interpretations, read by every renderer.

All prose is made here, from the neutral templates in ``report_phrases.toml`` and from
catalogue text; renderers only lay it out. Nothing is re-decided: flags, bands, positions
and converted values are copied from the :class:`~guttests._models.Interpretation`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
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
    ReferenceRange,
)
from .._types import InterpretationCode, ValueKind
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
    applies_to: str
    category: str
    origin: str | None
    kind: str
    note: str | None
    bands: tuple[BandOut, ...]


class PositionOut(_Out):
    """Where a numeric value lies relative to the reference interval."""

    fraction: float | None
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


class SerialPoint(_Out):
    """One result of a serial series."""

    collected: str
    value: float
    value_text: str
    comparator: str | None
    result_index: int


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
    return _position_text(interp.position, interp.flag, interp.band, interp.result.value)


def _position_text(
    pos: Position | None, flag: InterpretationCode | None, band: str | None, value: object
) -> str | None:
    parts: list[str] = []
    templates = phrases()[1]
    if pos is not None and flag is not None:
        cmp = _CMP_PREFIX[value.comparator] if type(value) is CensoredValue else ""
        if (flag is _IC.HIGH or flag is _IC.CRITICAL_HIGH) and pos.times_upper_limit is not None:
            parts.append(templates["above_upper"].format(times=cmp + _ratio(pos.times_upper_limit)))
        elif (flag is _IC.LOW or flag is _IC.CRITICAL_LOW) and pos.times_lower_limit is not None:
            parts.append(templates["below_lower"].format(times=cmp + _ratio(pos.times_lower_limit)))
        elif flag is _IC.NORMAL and pos.fraction is not None:
            parts.append(
                templates["within"].format(percent=cmp + fmt_number(round(pos.fraction * 100)))
            )
        elif flag is _IC.NORMAL and pos.times_upper_limit is not None:
            parts.append(templates["times_upper"].format(times=cmp + _ratio(pos.times_upper_limit)))
        elif flag is _IC.NORMAL and pos.times_lower_limit is not None:
            parts.append(templates["times_lower"].format(times=cmp + _ratio(pos.times_lower_limit)))
    if band:
        parts.append(templates["in_band"].format(band=band))
    return "; ".join(parts) or None


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
    ptext = _position_text(pos, flag, interp.band, v)
    if pos is not None:
        position: dict[str, Any] | None = {
            "fraction": pos.fraction,
            "times_upper_limit": pos.times_upper_limit,
            "times_lower_limit": pos.times_lower_limit,
            "text": ptext,
        }
    elif ptext is not None:
        position = {
            "fraction": None,
            "times_upper_limit": None,
            "times_lower_limit": None,
            "text": ptext,
        }
    else:
        position = None
    rng = interp.range
    prov = r.provenance
    code = r.code
    codes = r.codes
    if code is not None:
        codes = (code, *codes)
    specimen = r.specimen
    collected = r.collected
    if collected is None and panel is not None:
        collected = panel.collected
    return {
        "analyte": interp.analyte or r.analyte,
        "name": r.name,
        "label": r.label,
        "value": r.value_text,
        "unit": r.unit,
        "value_kind": v.kind if v is not None else None,
        "comparator": comparator,
        "value_number": number,
        "value_in_range_unit": interp.value_in_range_unit,
        "status": interp.status,
        "result_status": str(r.status),
        "interpretation": flag_value,
        "interpretation_display": flag_display,
        "flag_text": flag_text,
        "band": interp.band,
        "range": _range_record(rng, interp.range_origin) if rng is not None else None,
        "position": position,
        "optimal": _optimal_record(interp) if interp.optimal is not None else None,
        "reason": interp.reason or (r.value_error if not interpreted else None),
        "notes": list(interp.notes),
        "caveats": [c.id for c in interp.caveats],
        "lab_flags": list(r.lab_flags),
        "lab_range_text": r.lab_range_text,
        "source": {
            "file": None if deidentify else prov.source,
            "location": prov.location,
            "format": prov.format,
        },
        "panel": r.panel or (panel.name if panel is not None else None),
        "panel_index": panel_index,
        "collected": _when(collected),
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
        "identifiers": [] if deidentify else [i.model_dump() for i in r.identifiers],
        "source_id": None if deidentify else prov.source_id,
    }


# --- building the report -------------------------------------------------------------------


def _merge_patients(panels: Sequence[Panel]) -> PatientContext:
    merged: dict[str, Any] = {}
    for p in panels:
        for key, value in p.patient.model_dump(exclude_none=True).items():
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
            days = ctx.age_days_at(first_collected)
            if days is not None:
                years = int(days // 365.25)
                age = "90 years or over" if years >= 90 else f"{years} years at collection"
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
    outside = indeterminate = not_interp = 0
    for row in rows:
        if row.status == "not_interpretable":
            not_interp += 1
        elif (
            row.interpretation is not None
            and InterpretationCode(row.interpretation).outside_reference
        ):
            outside += 1
        elif row.interpretation is not None and InterpretationCode(row.interpretation) in _UNSURE:
            indeterminate += 1
    total = len(rows)
    return Counts(
        total=total,
        within=total - outside - indeterminate - not_interp,
        outside=outside,
        indeterminate=indeterminate,
        not_interpretable=not_interp,
    )


def _panel_summary(title: str, counts: Counts, rows: Sequence[ResultRow]) -> str:
    text = phrase(
        "summary_panel",
        panel=title,
        total=counts.total,
        outside=counts.outside,
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
    patient = _merge_patients(panels)
    sections: list[PanelSection] = []
    sources: dict[tuple[str, str | None, str, str], RangeSource] = {}
    caveats: dict[str, tuple[CaveatEntry, list[str]]] = {}
    all_rows: list[ResultRow] = []
    interps_flat: list[Interpretation] = []
    collected: list[date | datetime] = []
    labs: list[str] = []
    inputs: list[str] = []
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
                    )
                ref = sources[key].ref
            row = ResultRow.model_validate(
                {**rec, "display_name": _display_name(rec, catalogue), "range_ref": ref}
            )
            for cav in interp.caveats:
                if cav.id not in caveats:
                    entry = CaveatEntry(
                        id=cav.id,
                        text=cav.text,
                        citations=tuple(c.short() for c in cav.citations),
                        analytes=(),
                    )
                    caveats[cav.id] = (entry, [])
                names = caveats[cav.id][1]
                if row.display_name not in names:
                    names.append(row.display_name)
            rows.append(row)
            interps_flat.append(interp)
            when = interp.result.collected or panel.collected
            if when is not None and when not in collected:
                collected.append(when)
            for lab in (panel.lab, interp.result.lab):
                if lab and lab not in labs:
                    labs.append(lab)
            src = interp.result.provenance.source
            if src and not deidentify and src not in inputs:
                inputs.append(src)
        if panel.collected is not None and panel.collected not in collected:
            collected.append(panel.collected)
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
            )
            for index, row, value in members
        )
        changes = tuple(
            _change(_previous(points, b), b, unit, rcv, cva, cvi, vsource)
            for b in points
            if b.collected != points[0].collected
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


def _previous(points: Sequence[SerialPoint], point: SerialPoint) -> SerialPoint:
    """The result to compare ``point`` with: from the latest earlier collection, preferring
    an exact value over a censored one when that collection has several results."""
    earlier = [p for p in points if p.collected < point.collected]
    latest = [p for p in earlier if p.collected == earlier[-1].collected]
    return next((p for p in latest if p.comparator is None), latest[0])


def _change(
    a: SerialPoint,
    b: SerialPoint,
    unit: str,
    rcv: float | None,
    cva: float | None,
    cvi: float | None,
    vsource: str | None,
) -> SerialChange:
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


def _pct(p: float) -> str:
    sign = "+" if p > 0 else ("−" if p < 0 else "")
    digits = 0 if abs(p) >= 10 else 1
    return f"{sign}{abs(p):.{digits}f} %"
