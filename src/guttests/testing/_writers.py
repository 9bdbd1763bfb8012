"""Writers from panels to the input formats guttests reads, and from ranges to a range file.

They exist so that tests can generate input: each writes what the matching
reader reads back (provenance apart), in the shapes labs send:

* :func:`to_hl7v2`: one ORU^R01 message (v2.5.1) per panel, ``\\r`` between segments;
* :func:`to_fhir`: one FHIR R4 collection Bundle, a DiagnosticReport per panel;
* :func:`to_csv`: one row per result under the CSV reader's default headers;
* :func:`to_json`: a ``guttests-results/1`` document (the JSON reader's own writer);
* :func:`to_range_toml`: a ``guttests-ranges/1`` range file.

What a format cannot carry is not written: an age at collection in HL7 v2 and
FHIR (they carry the birth date), the text of a FHIR decimal (``1.2e5`` is
sent as the number 120000.0), a unit on a FHIR value that has no number.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from .._errors import UnitError
from .._models import Age, Analyte, Caveat, Panel, PatientContext, ReferenceRange, Result
from .._types import ResultStatus, ValueKind
from .._values import CensoredValue, QuantityValue

__all__ = [
    "CSV_HEADER",
    "dumps_toml",
    "range_file_data",
    "to_csv",
    "to_fhir",
    "to_hl7v2",
    "to_json",
    "to_range_toml",
]

# --- HL7 v2 ------------------------------------------------------------------------------

_HL7_STATUS: dict[ResultStatus, str] = {
    ResultStatus.FINAL: "F",
    ResultStatus.PRELIMINARY: "P",
    ResultStatus.CORRECTED: "C",
    ResultStatus.AMENDED: "A",
    ResultStatus.CANCELLED: "X",
    ResultStatus.ENTERED_IN_ERROR: "W",
    ResultStatus.REGISTERED: "I",
    ResultStatus.UNKNOWN: "",
}
_NM = re.compile(r"-?\d+(?:\.\d+)?")
_SPECIMEN_CODES = {
    "stool": "STL",
    "serum": "SER",
    "plasma": "PLAS",
    "blood": "BLD",
    "urine": "UR",
    "saliva": "SAL",
}


def _esc(text: str | None) -> str:
    """HL7 v2 escaping with the default delimiters (escape character first)."""
    if not text:
        return ""
    return (
        text.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
        .replace("\r", "\\X0D\\")
        .replace("\n", "\\.br\\")
    )


def _hl7_ts(when: date | datetime | None) -> str:
    if when is None:
        return ""
    if not isinstance(when, datetime):
        return when.strftime("%Y%m%d")
    text = when.strftime("%Y%m%d%H%M%S")
    offset = when.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        text += f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return text


def _segment(*fields: str) -> str:
    items = list(fields)
    while len(items) > 1 and not items[-1]:
        items.pop()
    return "|".join(items)


def _pid(patient: PatientContext) -> str:
    name = ""
    if patient.name:
        family, _, given = patient.name.partition(", ")
        name = _esc(family) + (f"^{_esc(given)}" if given else "")
    sex = {"female": "F", "male": "M"}.get(patient.sex or "", "U")
    birth = patient.birth_date.strftime("%Y%m%d") if patient.birth_date else ""
    return _segment("PID", "1", "", _esc(patient.patient_id), "", name, "", birth, sex)


def _obx(k: int, r: Result) -> str:
    text = r.value_text
    value_type = "NM" if _NM.fullmatch(text) else "ST"
    ident = ""
    if r.code is not None:
        system = "LN" if r.code.is_loinc else (r.code.system or "")
        ident = f"{_esc(r.code.code)}^{_esc(r.name or r.code.display)}^{_esc(system)}"
    elif r.name:
        ident = f"^{_esc(r.name)}"
    fields = [""] * 18
    fields[0:9] = [
        "OBX",
        str(k),
        value_type,
        ident,
        "",
        _esc(text),
        _esc(r.unit),
        _esc(r.lab_range_text),
        "~".join(_esc(f) for f in r.lab_flags),
    ]
    fields[11] = _HL7_STATUS[r.status]
    if r.method:
        fields[17] = f"^{_esc(r.method)}"
    return _segment(*fields)


def to_hl7v2(panels: Iterable[Panel]) -> str:
    r"""Panels as HL7 v2.5.1 ORU^R01 messages, one per panel.

    MSH-4 carries the panel's lab, PID the patient, OBR-4 the panel name and
    OBR-7 the collection time, SPM-4 the specimen of the first result, and one
    OBX per result (NM for plain numbers, else ST with the value text as given).

    >>> from guttests._models import Provenance, Result
    >>> from guttests._values import parse_value
    >>> r = Result(name="Calprotectin", value_text="<=50", value=parse_value("<=50"),
    ...            unit="ug/g", provenance=Provenance(location="x"))
    >>> print(to_hl7v2([Panel(name="Stool", results=(r,))]).strip().replace("\r", "\n"))
    MSH|^~\&|guttests||||20240101120000||ORU^R01^ORU_R01|MSG00001|P|2.5.1
    PID|1|||||||U
    OBR|1|||^Stool
    OBX|1|ST|^Calprotectin||<=50|ug/g|||||F
    """
    messages: list[str] = []
    for n, panel in enumerate(panels, 1):
        segments = [
            _segment(
                "MSH",
                "^~\\&",
                "guttests",
                _esc(panel.lab),
                "",
                "",
                "20240101120000",
                "",
                "ORU^R01^ORU_R01",
                f"MSG{n:05d}",
                "P",
                "2.5.1",
            ),
            _pid(panel.patient),
            _segment(
                "OBR",
                "1",
                "",
                "",
                f"^{_esc(panel.name)}" if panel.name else "",
                "",
                "",
                _hl7_ts(panel.collected),
            ),
        ]
        first = panel.results[0] if panel.results else None
        if first is not None and first.specimen_text:
            code = _SPECIMEN_CODES.get(first.specimen.value, "") if first.specimen else ""
            segments.append(_segment("SPM", "1", "", "", f"{code}^{_esc(first.specimen_text)}"))
        segments.extend(_obx(k, r) for k, r in enumerate(panel.results, 1))
        messages.append("\r".join(segments))
    return "\r".join(messages) + "\r" if messages else ""


# --- FHIR R4 -----------------------------------------------------------------------------

_UCUM = "http://unitsofmeasure.org"
_V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$")


def _ucum_code(unit: str) -> str | None:
    from .._units import parse_unit

    try:
        code = parse_unit(unit).ucum
    except UnitError:
        return None
    return code if code == unit else None


def _quantity(value: float, unit: str | None) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value}
    if unit:
        q["unit"] = unit
        code = _ucum_code(unit)
        if code is not None:
            q.update(system=_UCUM, code=code)
    return q


def _fhir_when(when: date | datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, [], {}, "")}


def _fhir_value(r: Result) -> dict[str, Any]:
    v = r.value
    if isinstance(v, QuantityValue):
        return {"valueQuantity": _quantity(v.value, r.unit)}
    if isinstance(v, CensoredValue) and v.limit is not None:
        return {"valueQuantity": {**_quantity(v.limit, r.unit), "comparator": v.comparator}}
    if r.value_text:
        return {"valueString": r.value_text}
    return {"dataAbsentReason": {"text": r.value_error or "no value"}}


def _fhir_range(r: Result) -> list[dict[str, Any]]:
    text = r.lab_range_text
    if not text:
        return []
    rr: dict[str, Any] = {"text": text}
    m = _INTERVAL.match(text)
    if m and float(m.group(1)) <= float(m.group(2)):
        rr["low"] = _quantity(float(m.group(1)), r.unit)
        rr["high"] = _quantity(float(m.group(2)), r.unit)
    return [rr]


def _observation(r: Result, oid: str, subject: str) -> dict[str, Any]:
    code: dict[str, Any] = {}
    if r.code is not None:
        code["coding"] = [_prune(r.code.model_dump())]
    if r.name:
        code["text"] = r.name
    return _prune(
        {
            "resourceType": "Observation",
            "id": oid,
            "status": r.status.value,
            "code": code,
            "subject": {"reference": subject},
            "effectiveDateTime": _fhir_when(r.collected),
            "performer": [{"display": r.lab}] if r.lab else None,
            **_fhir_value(r),
            "interpretation": [{"coding": [{"system": _V3, "code": f}]} for f in r.lab_flags],
            "specimen": {"display": r.specimen_text} if r.specimen_text else None,
            "method": {"text": r.method} if r.method else None,
            "referenceRange": _fhir_range(r),
        }
    )


def _patient_resource(p: PatientContext, pid: str) -> dict[str, Any]:
    return _prune(
        {
            "resourceType": "Patient",
            "id": pid,
            "identifier": [{"value": p.patient_id}] if p.patient_id else None,
            "name": [{"text": p.name}] if p.name else None,
            "gender": p.sex,
            "birthDate": p.birth_date.isoformat() if p.birth_date else None,
        }
    )


def _urn(panel: int, item: int) -> str:
    return f"urn:uuid:{uuid.UUID(int=(panel << 32) + item)}"


def to_fhir(panels: Iterable[Panel], *, indent: int | None = None) -> str:
    """Panels as a FHIR R4 collection Bundle: per panel a Patient, a DiagnosticReport, Observations.

    Values with a number are ``valueQuantity`` (with ``comparator`` when censored;
    ``system``/``code`` when the unit is a UCUM code as written); others are
    ``valueString``. The lab's range text goes into ``referenceRange.text``,
    with ``low``/``high`` as well for a plain ``a-b`` interval.

    >>> import json
    >>> bundle = json.loads(to_fhir([Panel(name="Stool")]))
    >>> [e["resource"]["resourceType"] for e in bundle["entry"]]
    ['Patient', 'DiagnosticReport']
    """
    entries: list[dict[str, Any]] = []
    for p, panel in enumerate(panels, 1):
        subject = _urn(p, 0)
        entries.append(
            {"fullUrl": subject, "resource": _patient_resource(panel.patient, f"patient-{p}")}
        )
        observations = [
            {
                "fullUrl": _urn(p, k),
                "resource": _observation(r, f"obs-{p}-{k}", subject),
            }
            for k, r in enumerate(panel.results, 1)
        ]
        # LOINC 11502-2 "Laboratory report": a code without text, so an unnamed panel stays unnamed
        code = (
            {"text": panel.name}
            if panel.name
            else {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]}
        )
        report = _prune(
            {
                "resourceType": "DiagnosticReport",
                "id": f"report-{p}",
                "status": "final",
                "code": code,
                "subject": {"reference": subject},
                "effectiveDateTime": _fhir_when(panel.collected),
                "performer": [{"display": panel.lab}] if panel.lab else None,
                "result": [{"reference": o["fullUrl"]} for o in observations],
            }
        )
        entries.append({"fullUrl": _urn(p, 1 << 31), "resource": report})
        entries.extend(observations)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    return json.dumps(bundle, ensure_ascii=False, indent=indent) + "\n"


# --- CSV ---------------------------------------------------------------------------------

CSV_HEADER: tuple[str, ...] = (
    "Patient ID",
    "Patient Name",
    "Sex",
    "DOB",
    "Age",
    "Panel",
    "Test",
    "LOINC",
    "Result",
    "Units",
    "Reference Range",
    "Flag",
    "Status",
    "Specimen",
    "Method",
    "Lab",
    "Collected",
)
"""The columns :func:`to_csv` writes: headers the CSV reader knows without a mapping."""


def _age_text(age: Age | None) -> str:
    if age is None:
        return ""
    v = age.value
    return f"{int(v) if float(v).is_integer() else v} {age.unit}"


def to_csv(panels: Iterable[Panel]) -> str:
    """Panels as a CSV export: one row per result, the panel's facts repeated on each row.

    >>> from guttests._models import Provenance, Result
    >>> r = Result(name="pH", value_text="6.5", provenance=Provenance(location="x"))
    >>> to_csv([Panel(results=(r,))]).splitlines()[1]
    ',,,,,,pH,,6.5,,,,final,,,,'
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for panel in panels:
        pt = panel.patient
        for r in panel.results:
            when = r.collected if r.collected is not None else panel.collected
            writer.writerow(
                (
                    pt.patient_id or "",
                    pt.name or "",
                    pt.sex or "",
                    pt.birth_date.isoformat() if pt.birth_date else "",
                    _age_text(pt.age),
                    r.panel or panel.name or "",
                    r.name or "",
                    r.code.code if r.code is not None and r.code.is_loinc else "",
                    r.value_text,
                    r.unit or "",
                    r.lab_range_text or "",
                    "~".join(r.lab_flags),
                    r.status.value,
                    r.specimen_text or "",
                    r.method or "",
                    r.lab or panel.lab or "",
                    when.isoformat() if when is not None else "",
                )
            )
    return out.getvalue()


# --- guttests JSON -----------------------------------------------------------------------


def to_json(panels: Iterable[Panel], *, indent: int | None = 2) -> str:
    """Panels as a ``guttests-results/1`` document (the JSON reader's own ``dump_panels``).

    >>> to_json([], indent=None)
    '{"format": "guttests-results/1", "panels": []}'
    """
    from .._readers.jsonio import dump_panels

    return dump_panels(panels, indent=indent)


# --- range files -------------------------------------------------------------------------


def range_file_data(
    analytes: Iterable[Analyte],
    ranges: Iterable[ReferenceRange],
    caveats: Iterable[Caveat] = (),
    *,
    family: str = "other",
) -> dict[str, Any]:
    """The content of a ``guttests-ranges/1`` file as plain data (TOML tables as dicts).

    Tests corrupt this data before :func:`dumps_toml` writes it.

    >>> range_file_data([], [])["format"]
    'guttests-ranges/1'
    """
    data: dict[str, Any] = {"format": "guttests-ranges/1", "family": family}
    cav = {c.id: c.model_dump(mode="json", exclude={"id"}, exclude_none=True) for c in caveats}
    if cav:
        data["caveats"] = cav
    data["analyte"] = [a.model_dump(mode="json", exclude_defaults=True) for a in analytes]
    data["range"] = [_range_entry(r) for r in ranges]
    return data


def _range_entry(r: ReferenceRange) -> dict[str, Any]:
    entry = r.model_dump(mode="json", exclude_defaults=True, exclude={"bands"})
    entry["kind"] = r.kind.value
    entry["category"] = r.category.value
    entry["source"] = r.source.model_dump(mode="json", exclude_none=True)
    entry["bands"] = [b.model_dump(mode="json", exclude_defaults=True) for b in r.bands]
    if r.kind is not ValueKind.QUANTITATIVE:
        entry.pop("unit", None)
    return entry


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_str(key)


def _toml_str(text: str) -> str:
    # JSON string escapes are TOML basic-string escapes; DEL must be escaped in TOML too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _table_lines(table: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, value in table.items():
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            lines.append(f"{_toml_key(key)} = [")
            lines.extend(f"  {_toml_value(v)}," for v in value)
            lines.append("]")
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    return lines


def dumps_toml(data: Mapping[str, Any], *, header: str | None = None) -> str:
    """Write range-file data as TOML: scalars first, then ``[caveats.<id>]`` and ``[[...]]`` tables.

    >>> print(dumps_toml({"format": "guttests-ranges/1", "range": [{"id": "a"}]}))
    format = "guttests-ranges/1"
    <BLANKLINE>
    [[range]]
    id = "a"
    <BLANKLINE>
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    scalars = {
        k: v
        for k, v in data.items()
        if not isinstance(v, Mapping)
        and not (isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v))
    }
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items()]
    for key, value in data.items():
        if key in scalars:
            continue
        if isinstance(value, Mapping):
            for sub, table in value.items():
                lines += ["", f"[{_toml_key(key)}.{_toml_key(sub)}]", *_table_lines(table)]
        else:
            for table in value:
                lines += ["", f"[[{_toml_key(key)}]]", *_table_lines(table)]
    return "\n".join(lines) + "\n"


def to_range_toml(
    analytes: Iterable[Analyte],
    ranges: Iterable[ReferenceRange],
    caveats: Iterable[Caveat] = (),
    *,
    family: str = "other",
) -> str:
    """Analytes, ranges and caveats as a ``guttests-ranges/1`` range file.

    >>> from guttests._catalogue import Catalogue
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = pathlib.Path(d, "mine.toml")
    ...     _ = path.write_text(to_range_toml([], []), encoding="utf-8")
    ...     Catalogue.load(path, base=None).analytes
    ()
    """
    header = (
        "guttests range file written by guttests.testing.to_range_toml.\n"
        "Format: docs/range-format.md (guttests-ranges/1)."
    )
    return dumps_toml(range_file_data(analytes, ranges, caveats, family=family), header=header)
