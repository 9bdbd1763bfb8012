"""guttests' own JSON format, ``guttests-results/1``: reading, writing and its JSON Schema.

Two shapes hold the same result objects:

* a **document**: ``{"format": "guttests-results/1", "panels": [{...}, ...]}``
  where each panel has ``name``, ``patient``, ``collected``, ``lab`` and
  ``results``; read whole (use NDJSON for very large inputs);
* **NDJSON**: one result object per line, each with its optional
  ``patient``, ``panel``, ``collected`` and ``lab``; read line by line, and
  consecutive lines that share those four form one panel. An optional first
  line ``{"format": "guttests-results/1"}`` names the format.

Values are text as the lab wrote it (``"<10"``, ``"1.2e5"``, ``"Not detected"``)
and go through :func:`~guttests._values.parse_value`; a JSON number is read by
its literal text. A result object that does not fit the schema still becomes
a result, with ``value_error`` saying what is wrong.

>>> result = Result(name="pH", value_text="6.5", value=parse_value("6.5"),
...                 provenance=Provenance(location="line 2"))
>>> doc = dump_panels([Panel(results=(result,))], indent=None)
>>> doc
'{"format": "guttests-results/1", "panels": [{"results": [{"name": "pH", "value": "6.5"}]}]}'
>>> [r.value.value for r in read_json(doc)[0].results]
[6.5]
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any, Literal, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._errors import FormatError, ValueParseError
from .._models import (
    Coding,
    Panel,
    PatientContext,
    Provenance,
    ReferenceRange,
    Result,
)
from .._range_text import parse_range_text
from .._types import ResultStatus, Specimen
from .._values import Value, parse_value
from ._common import specimen_from_text, value_or_error

__all__ = [
    "FORMAT_ID",
    "dump_panels",
    "iter_panels",
    "read_json",
    "results_document_schema",
]

FORMAT_ID = "guttests-results/1"
"""The ``format`` value of a guttests results document."""

_SPECIMEN_VALUES = frozenset(s.value for s in Specimen)


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class ResultEntry(_Entry):
    """One result as the lab reported it."""

    name: str | None = None
    """The test name as the lab wrote it."""
    code: Coding | str | None = None
    """The main code (a LOINC coding, or a lab's local code as a string)."""
    codes: tuple[Coding, ...] = ()
    """Further codes."""
    analyte: str | None = None
    """A guttests catalogue analyte id, when known."""
    value: str | float | None = None
    """The value as the lab wrote it: "45.2", "<10", "1.2e5", "Not detected"."""
    decimal_comma: bool = False
    """The value text uses a decimal comma ("0,5")."""
    value_error: str | None = None
    """Set when the value could not be read upstream; the value is then not parsed."""
    unit: str | None = None
    """The unit as the lab wrote it (UCUM or the lab's spelling)."""
    reference_range: str | None = None
    """The lab's reference range text, e.g. "<=50" or "Not Detected"."""
    lab_range: ReferenceRange | None = None
    """The lab's range as a structured range; when absent, reference_range is parsed;
    null keeps the text unparsed."""
    flags: tuple[str, ...] = ()
    """The lab's abnormal flags, e.g. ["H"]."""
    specimen: str | None = None
    """The specimen: a guttests specimen (stool, serum, ...) or the lab's word for it."""
    specimen_text: str | None = None
    """The specimen as the lab wrote it, when "specimen" is the guttests specimen."""
    collected: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    """Collection date (YYYY-MM-DD) or date-time (ISO 8601); defaults to the panel's."""
    status: ResultStatus = ResultStatus.FINAL
    """Result status (FHIR ObservationStatus codes)."""
    lab: str | None = None
    """The lab; defaults to the panel's."""
    method: str | None = None
    """The assay or method."""
    panel: str | None = None
    """The panel (order) name; defaults to the panel's."""


class ResultLine(ResultEntry):
    """One NDJSON line: a result with the patient it belongs to."""

    patient: PatientContext | None = None
    """The patient; lines with the same patient, panel, collected and lab form one panel."""


class PanelEntry(_Entry):
    """One order / report: results sharing a patient, collection and lab."""

    name: str | None = None
    """The panel (order) name."""
    patient: PatientContext = PatientContext()
    """The patient context results are interpreted with."""
    collected: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    """Collection date (YYYY-MM-DD) or date-time (ISO 8601)."""
    lab: str | None = None
    """The lab that reported the panel."""
    results: tuple[ResultEntry, ...] = ()
    """The results."""


class ResultsDocument(_Entry):
    """A guttests results document."""

    format: Literal["guttests-results/1"]
    """Always "guttests-results/1"."""
    generator: str | None = None
    """The program that wrote the document (informative)."""
    panels: tuple[PanelEntry, ...] = ()
    """The panels."""


def results_document_schema() -> dict[str, Any]:
    """The JSON Schema of a ``guttests-results/1`` document.

    >>> s = results_document_schema()
    >>> s["properties"]["format"]["const"], "ResultEntry" in s["$defs"]
    ('guttests-results/1', True)
    """
    schema = _without_examples(ResultsDocument.model_json_schema())
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "guttests results document (guttests-results/1)",
    }


def _without_examples(node: Any) -> Any:
    # model docstrings carry doctests; a schema description keeps only their prose
    if isinstance(node, dict):
        out = {k: _without_examples(v) for k, v in node.items()}
        desc = out.get("description")
        if isinstance(desc, str) and ">>>" in desc:
            out["description"] = desc.split(">>>")[0].strip()
        return out
    if isinstance(node, list):
        return [_without_examples(v) for v in node]
    return node


# --- reading -----------------------------------------------------------------------------


class _Number(str):
    """A JSON number kept as its literal text, so ``1.2e5`` stays ``1.2e5``."""

    __slots__ = ()


def _loads(text: str) -> Any:
    try:
        return json.loads(text, parse_float=_Number, parse_int=_Number)
    except RecursionError as exc:
        raise json.JSONDecodeError("JSON nested too deeply", text, 0) from exc


def _dumps_literal(obj: object) -> str:
    """JSON text of a parsed value, with numbers written as they were read."""
    if isinstance(obj, _Number):
        return str(obj)
    if isinstance(obj, list):
        return "[" + ", ".join(_dumps_literal(v) for v in obj) + "]"
    if isinstance(obj, dict):
        items = (
            f"{json.dumps(k, ensure_ascii=False)}: {_dumps_literal(v)}" for k, v in obj.items()
        )
        return "{" + ", ".join(items) + "}"
    return json.dumps(obj, ensure_ascii=False)


def _when(text: str | None) -> date | datetime | None:
    if text is None:
        return None
    s = text.strip()
    try:
        return date.fromisoformat(s) if len(s) == 10 else datetime.fromisoformat(s)
    except ValueError as exc:
        raise ValueError(f"collected {text!r} is not an ISO 8601 date or date-time") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(x) for x in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


def _bad_result(raw: object, why: str, provenance: Provenance, panel: str | None) -> Result:
    if not isinstance(raw, dict):
        # keep what was there: the JSON text of the entry stands in for the value
        try:
            text = "" if raw is None else _dumps_literal(raw)
        except RecursionError:
            text = "(JSON nested too deeply to show)"
        return Result(value_text=text, value_error=why, provenance=provenance, panel=panel)
    name, value = raw.get("name"), raw.get("value")
    return Result(
        name=name if isinstance(name, str) else None,
        value_text=str(value) if isinstance(value, str) else "",
        value_error=why,
        provenance=provenance,
        panel=panel,
    )


def _result(
    raw: object,
    model: type[ResultEntry],
    provenance: Provenance,
    panel: PanelEntry | None,
) -> tuple[Result, ResultLine | None]:
    panel_name = panel.name if panel else None
    if not isinstance(raw, dict):
        return _bad_result(raw, "result is not a JSON object", provenance, panel_name), None
    try:
        entry = model.model_validate(raw)
        collected = _when(entry.collected) if "collected" in entry.model_fields_set else None
    except (ValidationError, ValueError) as exc:
        why = _first_error(exc) if isinstance(exc, ValidationError) else str(exc)
        return _bad_result(raw, f"invalid result object: {why}", provenance, panel_name), None
    given = entry.model_fields_set
    if panel is not None:
        if "collected" not in given:
            collected = _when(panel.collected)
        lab = entry.lab if "lab" in given else panel.lab
        name_of_panel = entry.panel if "panel" in given else panel.name
    else:
        lab, name_of_panel = entry.lab, entry.panel

    text = "" if entry.value is None else str(entry.value)
    value: Value | None = None
    error = entry.value_error
    if error is None:
        value, error = value_or_error(text, decimal_comma=entry.decimal_comma)
    code = Coding(code=entry.code) if isinstance(entry.code, str) else entry.code
    specimen: Specimen | None
    specimen_text = entry.specimen_text
    if entry.specimen in _SPECIMEN_VALUES:
        specimen = Specimen(entry.specimen)
    elif "specimen" in given and entry.specimen is not None:
        specimen = specimen_from_text(entry.specimen)
        specimen_text = specimen_text or entry.specimen
    elif "specimen" not in given:
        specimen = specimen_from_text(specimen_text)
    else:
        specimen = None
    lab_range = entry.lab_range
    if "lab_range" not in given and entry.reference_range:
        try:
            lab_range = parse_range_text(entry.reference_range, unit=entry.unit, lab=lab)
        except ValueError:
            lab_range = None  # e.g. numbers without a unit; the text is kept
    result = Result(
        name=entry.name,
        code=code,
        codes=entry.codes,
        analyte=entry.analyte,
        value_text=text,
        value=value,
        value_error=error,
        unit=entry.unit,
        lab_range=lab_range,
        lab_range_text=entry.reference_range,
        lab_flags=entry.flags,
        specimen=specimen,
        specimen_text=specimen_text,
        collected=collected,
        lab=lab,
        method=entry.method,
        status=entry.status,
        provenance=provenance,
        panel=name_of_panel,
    )
    return result, entry if isinstance(entry, ResultLine) else None


def _document(obj: object, source: str | None) -> Iterator[Panel]:
    if not isinstance(obj, dict):
        raise FormatError("a guttests results document must be a JSON object", source=source)
    fmt = obj.get("format")
    if fmt != FORMAT_ID:
        raise FormatError(
            f"not a {FORMAT_ID} document (format is {fmt!r})",
            source=source,
            hint=f'a document starts with {{"format": "{FORMAT_ID}", "panels": [...]}}',
        )
    extra = set(obj) - {"format", "generator", "panels"}
    if extra:
        raise FormatError(f"unknown document keys: {', '.join(sorted(extra))}", source=source)
    panels = obj.get("panels", [])
    if not isinstance(panels, list):
        raise FormatError('"panels" must be a list', source=source)
    for i, raw_panel in enumerate(panels, 1):
        where = f"panel {i}"
        if not isinstance(raw_panel, dict):
            raise FormatError("a panel must be a JSON object", source=source, location=where)
        head = {k: v for k, v in raw_panel.items() if k != "results"}
        raw_results = raw_panel.get("results", [])
        try:
            panel = PanelEntry.model_validate(head)
            collected = _when(panel.collected)
        except ValidationError as exc:
            raise FormatError(
                f"invalid panel: {_first_error(exc)}", source=source, location=where
            ) from exc
        except ValueError as exc:
            raise FormatError(f"invalid panel: {exc}", source=source, location=where) from exc
        if not isinstance(raw_results, list):
            raise FormatError('"results" must be a list', source=source, location=where)
        results = tuple(
            _result(
                raw,
                ResultEntry,
                Provenance(source=source, location=f"{where}, result {j}", format="json"),
                panel,
            )[0]
            for j, raw in enumerate(raw_results, 1)
        )
        yield Panel(
            name=panel.name,
            patient=panel.patient,
            collected=collected,
            lab=panel.lab,
            results=results,
            provenance=Provenance(source=source, location=where, format="json"),
        )


_GroupKey = tuple[PatientContext, str | None, date | datetime | None, str | None]


def _ndjson(first: object, first_line: int, stream: TextIO, source: str | None) -> Iterator[Panel]:
    key: _GroupKey | None = None
    results: list[Result] = []
    lines = (first_line, first_line)

    def flush() -> Panel | None:
        if key is None or not results:
            return None
        patient, name, collected, lab = key
        where = f"line {lines[0]}" if lines[0] == lines[1] else f"lines {lines[0]}-{lines[1]}"
        return Panel(
            name=name,
            patient=patient,
            collected=collected,
            lab=lab,
            results=tuple(results),
            provenance=Provenance(source=source, location=where, format="json"),
        )

    def items() -> Iterator[tuple[int, object, str]]:
        if not (isinstance(first, dict) and set(first) == {"format"}):
            yield first_line, first, ""
        elif first["format"] != FORMAT_ID:
            raise FormatError(
                f"unsupported format {first['format']!r}; expected {FORMAT_ID!r}",
                source=source,
                location=f"line {first_line}",
            )
        for n, line in enumerate(stream, first_line + 1):
            if not line.strip():
                continue
            try:
                yield n, _loads(line), ""
            except ValueError as exc:
                # The text is not kept: a broken line may hold a fragment of the patient
                # object, and value_text is shown in reports (de-identified ones too).
                why = f"line is not JSON: {exc} ({len(line.strip()):,} characters, not shown"
                yield n, "", why + ": a broken line may hold patient data)"

    for n, raw, problem in items():
        provenance = Provenance(source=source, location=f"line {n}", format="json")
        if problem:
            result = Result(value_text=str(raw), value_error=problem, provenance=provenance)
            entry = None
        else:
            result, entry = _result(raw, ResultLine, provenance, None)
        this: _GroupKey = (
            (entry.patient or PatientContext()) if entry else PatientContext(),
            result.panel,
            result.collected,
            result.lab,
        )
        if key is not None and this != key:
            done = flush()
            if done is not None:
                yield done
            results = []
        if not results:
            key, lines = this, (n, n)
        results.append(result)
        lines = (lines[0], n)
    done = flush()
    if done is not None:
        yield done


def iter_panels(stream: TextIO, *, source: str | None = None) -> Iterator[Panel]:
    """Yield the panels of a ``guttests-results/1`` document or NDJSON stream.

    >>> line = '{"name": "Zonulin", "value": "45.2", "patient": {"sex": "female"}}'
    >>> [p] = iter_panels(io.StringIO(line))
    >>> p.patient.sex, p.results[0].provenance.location
    ('female', 'line 1')
    """
    skipped = 0
    first = ""
    while not first.strip():
        first = stream.readline()
        if not first:
            return
        skipped += 1
    try:
        obj = _loads(first)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and "panels" in obj:
        if any(line.strip() for line in stream):
            raise FormatError("content after the JSON document", source=source)
        yield from _document(obj, source)
        return
    if isinstance(obj, dict):
        yield from _ndjson(obj, skipped, stream, source)
        return
    text = first + stream.read()
    try:
        doc = _loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"not valid JSON: {exc.msg}",
            source=source,
            location=f"line {exc.lineno + skipped - 1}, column {exc.colno}",
        ) from exc
    yield from _document(doc, source)


def read_json(text: str, *, source: str | None = None) -> list[Panel]:
    """Read a ``guttests-results/1`` document or NDJSON given as text."""
    return list(iter_panels(io.StringIO(text, newline=""), source=source))


# --- writing -----------------------------------------------------------------------------


def _iso(when: date | datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _needs_decimal_comma(r: Result) -> bool:
    if r.value is None or "," not in r.value_text:
        return False
    try:
        return parse_value(r.value_text) != r.value
    except ValueParseError:
        return True


def _result_dict(r: Result, panel: Panel) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if r.name is not None:
        d["name"] = r.name
    if r.code is not None:
        d["code"] = r.code.model_dump(exclude_none=True)
    if r.codes:
        d["codes"] = [c.model_dump(exclude_none=True) for c in r.codes]
    if r.analyte is not None:
        d["analyte"] = r.analyte
    d["value"] = r.value_text
    if _needs_decimal_comma(r):
        d["decimal_comma"] = True
    if r.value_error is not None and r.value is None:
        d["value_error"] = r.value_error
    if r.unit is not None:
        d["unit"] = r.unit
    if r.lab_range_text is not None:
        d["reference_range"] = r.lab_range_text
    if r.lab_range is not None:
        d["lab_range"] = r.lab_range.model_dump(mode="json", exclude_defaults=True)
    elif r.lab_range_text is not None:
        d["lab_range"] = None  # the text was not read as a range: do not read it now
    if r.lab_flags:
        d["flags"] = list(r.lab_flags)
    if r.specimen is not None or r.specimen_text is not None:
        d["specimen"] = r.specimen.value if r.specimen is not None else None
    if r.specimen_text is not None:
        d["specimen_text"] = r.specimen_text
    if r.collected != panel.collected:
        d["collected"] = _iso(r.collected)
    if r.status is not ResultStatus.FINAL:
        d["status"] = r.status.value
    if r.lab != panel.lab:
        d["lab"] = r.lab
    if r.method is not None:
        d["method"] = r.method
    if r.panel != panel.name:
        d["panel"] = r.panel
    return d


def _panel_dict(p: Panel) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if p.name is not None:
        d["name"] = p.name
    patient = p.patient.model_dump(mode="json", exclude_none=True)
    if not patient.get("identifiers"):
        patient.pop("identifiers", None)  # none given: keep the document as before
    if patient:
        d["patient"] = patient
    if p.collected is not None:
        d["collected"] = _iso(p.collected)
    if p.lab is not None:
        d["lab"] = p.lab
    d["results"] = [_result_dict(r, p) for r in p.results]
    return d


def dump_panels(panels: Iterable[Panel], *, indent: int | None = 2) -> str:
    """Write panels as a ``guttests-results/1`` document (provenance is not written).

    >>> dump_panels([], indent=None)
    '{"format": "guttests-results/1", "panels": []}'
    """
    doc = {"format": FORMAT_ID, "panels": [_panel_dict(p) for p in panels]}
    return json.dumps(doc, ensure_ascii=False, indent=indent)
