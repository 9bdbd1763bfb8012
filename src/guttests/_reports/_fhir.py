"""FHIR R4 output: a collection Bundle of Observations, a DiagnosticReport and a Patient.

Built as plain JSON data (no FHIR library at run time); tests validate it with the
``fhir.resources`` R4B models. Resource ids and ``urn:uuid`` full URLs are derived from the
report's content, so the same report gives the same bundle byte for byte.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import uuid
from datetime import datetime
from functools import cache
from typing import Any

import orjson

from .._errors import GuttestsError
from .._types import INTERPRETATION_SYSTEM
from ._json import report_document
from ._model import Report, ResultRow
from ._phrases import label

__all__ = ["render_fhir"]

_UCUM = "http://unitsofmeasure.org"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
_RANGE_MEANING = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"
_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_FINAL = frozenset({"final", "amended", "corrected"})


@cache
def _ucum(unit: str) -> str | None:
    """The UCUM code of a unit text, when the units module knows one."""
    try:
        units: Any = importlib.import_module("guttests._units")
        code = units.parse_unit(unit).ucum
    except (ImportError, AttributeError, GuttestsError):
        return None
    return code if isinstance(code, str) and code else None


def _s(text: str | None) -> str | None:
    """A FHIR string: no control characters except newline and tab, never empty."""
    if text is None:
        return None
    clean = _NOT_FHIR_STRING.sub("", text).strip()
    return clean or None


# Unicode categories Cc (C0, DEL, C1) and Cs (surrogates), except tab and newline; a
# regular expression, not a per-character category lookup: notes carry long caveat texts.
_NOT_FHIR_STRING = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _prune(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {k: _prune(v) for k, v in obj.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {}, "")}
    if isinstance(obj, list):
        return [x for x in (_prune(v) for v in obj) if x not in (None, [], {}, "")]
    return obj


def _datetime(text: str | None) -> tuple[str | None, str | None]:
    """FHIR dateTime and, when a local time had to be cut to its date, a note saying so."""
    if text is None:
        return None, None
    if "T" not in text:
        return text, None
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        return when.date().isoformat(), f"{label('collected')}: {text} (no time zone in the input)"
    return when.isoformat(timespec="seconds"), None


def _quantity(value: float | None, unit: str | None) -> dict[str, Any]:
    code = _ucum(unit) if unit else None
    return {
        "value": value,
        "unit": _s(unit),
        "system": _UCUM if code else None,
        "code": code,
    }


def _value(row: ResultRow) -> dict[str, Any]:
    if row.value_kind == "quantity" and row.value_number is not None:
        return {"valueQuantity": _quantity(row.value_number, row.unit)}
    if row.value_kind == "censored" and row.value_number is not None:
        return {
            "valueQuantity": {**_quantity(row.value_number, row.unit), "comparator": row.comparator}
        }
    if row.value_kind == "qualitative":
        return {"valueCodeableConcept": {"text": _s(row.value)}}
    if _s(row.value):
        return {"valueString": _s(row.value)}
    return {"dataAbsentReason": {"coding": [{"system": _ABSENT, "code": "unknown"}]}}


def _reference_range(row: ResultRow) -> list[dict[str, Any]]:
    rng = row.range
    if rng is None:
        return [{"text": _s(row.lab_range_text)}] if row.lab_range_text else []
    origin = label(f"origin_{rng.origin}") if rng.origin else rng.category
    text = f"{rng.text} ({origin}; {label('applies_to')} {rng.applies_to}). Source: {rng.source}"
    entry: dict[str, Any] = {
        "low": _quantity(rng.low, rng.unit) if rng.low is not None else None,
        "high": _quantity(rng.high, rng.unit) if rng.high is not None else None,
        "text": _s(text),
    }
    if rng.category == "reference":
        entry["type"] = {
            "coding": [{"system": _RANGE_MEANING, "code": "normal", "display": "Normal Range"}]
        }
    return [entry]


def _notes(row: ResultRow, report: Report, time_note: str | None) -> list[dict[str, Any]]:
    notes: list[str | None] = []
    if row.status == "not_interpretable":
        notes.append(f"{label('not_interpretable')}: {row.reason or ''}".strip())
    if row.position and row.position.text:
        notes.append(f"{label('position')}: {row.position.text}")
    if row.optimal is not None:
        notes.append(f"{row.optimal.label}: {row.optimal.text}")
    notes.extend(row.notes)
    if row.lab_flags:
        notes.append(f"{label('lab_flags')}: {', '.join(row.lab_flags)}")
    caveats = {c.id: c for c in report.caveats}
    for cid in row.caveats:
        cav = caveats.get(cid)
        if cav is not None:
            notes.append(f"{cav.text} ({'; '.join(cav.citations)})")
    notes.append(time_note)
    notes.append(
        f"{label('source')}: " + ", ".join(x for x in (row.source.file, row.source.location) if x)
    )
    texts = [_s(n) for n in notes]
    return [{"text": t} for t in texts if t]


def _observation(
    row: ResultRow, index: int, report: Report, subject: dict[str, str] | None
) -> dict[str, Any]:
    effective, time_note = _datetime(row.collected)
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"obs-{index + 1}",
        "status": row.result_status,
        "category": [
            {"coding": [{"system": _CATEGORY, "code": "laboratory", "display": "Laboratory"}]}
        ],
        "code": {
            "coding": [
                {"system": _s(c.system), "code": _s(c.code), "display": _s(c.display)}
                for c in row.codes
            ],
            "text": _s(row.label) or label("unnamed_result"),
        },
        "subject": subject,
        "effectiveDateTime": effective,
        **_value(row),
    }
    if row.status == "interpreted" and row.interpretation is not None:
        obs["interpretation"] = [
            {
                "coding": [
                    {
                        "system": INTERPRETATION_SYSTEM,
                        "code": row.interpretation,
                        "display": row.interpretation_display,
                    }
                ],
                "text": _s(row.band),
            }
        ]
    obs["referenceRange"] = _reference_range(row)
    obs["method"] = {"text": _s(row.method)} if row.method else None
    obs["note"] = _notes(row, report, time_note)
    return obs


def render_fhir(report: Report) -> str:
    """The report as a FHIR R4 Bundle (type ``collection``), JSON."""
    digest = hashlib.sha256(
        orjson.dumps(report_document(report), option=orjson.OPT_SORT_KEYS)
    ).hexdigest()

    def url(kind: str, n: int = 0) -> str:
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'guttests:{digest}:{kind}:{n}')}"

    entries: list[dict[str, Any]] = []
    p = report.patient
    subject: dict[str, str] | None = None
    if not report.deidentified and any((p.id, p.name, p.sex, p.birth_date)):
        subject = {"reference": url("patient")}
        entries.append(
            {
                "fullUrl": subject["reference"],
                "resource": {
                    "resourceType": "Patient",
                    "id": "patient",
                    "identifier": [{"value": _s(p.id)}] if p.id else None,
                    "name": [{"text": _s(p.name)}] if p.name else None,
                    "gender": p.sex,
                    "birthDate": p.birth_date,
                },
            }
        )
    rows = report.rows
    obs_urls = [url("observation", i) for i in range(len(rows))]
    for i, row in enumerate(rows):
        entries.append({"fullUrl": obs_urls[i], "resource": _observation(row, i, report, subject)})
    effective, _ = _datetime(report.collected[0]) if report.collected else (None, None)
    statuses = {r.result_status for r in rows}
    issued = None
    if report.generated_at is not None:
        generated = datetime.fromisoformat(report.generated_at)
        if generated.tzinfo is not None:
            issued = generated.isoformat(timespec="seconds")
    conclusion = f"{report.summary} {report.disclaimer}"
    entries.append(
        {
            "fullUrl": url("report"),
            "resource": {
                "resourceType": "DiagnosticReport",
                "id": "report",
                # Traceability: the guttests version and the exact range catalogue used.
                "meta": {
                    "tag": [
                        {"system": "urn:guttests:version", "code": report.guttests_version},
                        {
                            "system": "urn:guttests:catalogue-sha256",
                            "code": report.catalogue_hash,
                        },
                    ]
                },
                "status": "final" if statuses <= _FINAL else "partial",
                "category": [
                    {"coding": [{"system": _V2_0074, "code": "LAB", "display": "Laboratory"}]}
                ],
                "code": {"text": _s(report.title)},
                "subject": subject,
                "effectiveDateTime": effective,
                "issued": issued,
                "result": [{"reference": u} for u in obs_urls],
                "conclusion": _s(conclusion),
            },
        }
    )
    bundle = {
        "resourceType": "Bundle",
        "id": f"guttests-{digest[:16]}",
        "type": "collection",
        "timestamp": issued,
        "entry": entries,
    }
    return orjson.dumps(_prune(bundle), option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"


def attach_presented_form(bundle_json: str, pdf: bytes, report: Report) -> str:
    """The bundle with the PDF report as ``DiagnosticReport.presentedForm``.

    The attachment carries contentType ``application/pdf``, the base64 data, its size and
    SHA-1 hash, the title, the language (``en``) and, when known, its creation time:
    ``SOURCE_DATE_EPOCH`` when set, else the report's generation time (``--timestamp``).
    Without either, ``creation`` is left out rather than invented.
    """
    import base64
    import os
    from datetime import UTC

    bundle = orjson.loads(bundle_json)
    creation = None
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        creation = datetime.fromtimestamp(int(epoch), tz=UTC).isoformat(timespec="seconds")
    elif report.generated_at is not None:
        generated = datetime.fromisoformat(report.generated_at)
        if generated.tzinfo is not None:
            creation = generated.isoformat(timespec="seconds")
    form = {
        "contentType": "application/pdf",
        "language": "en",
        "data": base64.b64encode(pdf).decode("ascii"),
        "size": len(pdf),
        "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),  # FHIR: SHA-1
        "title": _s(report.title),
        "creation": creation,
    }
    for entry in bundle.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "DiagnosticReport":
            resource["presentedForm"] = [_prune(form)]
    return orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
