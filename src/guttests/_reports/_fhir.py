"""FHIR R4 output: a collection Bundle of Observations, a DiagnosticReport and a Patient.

Built as plain JSON data (no FHIR library at run time); tests validate it with the
``fhir.resources`` R4B models and check its semantics (tests/fhir_checks.py). Mappings
follow HL7's *Version 2 to FHIR* guide (CX -> Identifier, CWE -> CodeableConcept, table
0396 -> system URIs), read from ``_data/fhir_mappings.toml``; docs/integration.md lists
them and the departures. Observation ids derive from the source's identity (its
identifiers, else its own id), else from the report's content and position, so the same
report gives the same bundle byte for byte.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import tomllib
import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

import orjson

from .._errors import GuttestsError
from .._types import INTERPRETATION_SYSTEM
from ._json import report_document
from ._model import IdentifierOut, Report, ResultRow
from ._phrases import label

__all__ = ["coding_system", "is_absolute_uri", "render_fhir", "valid_loinc"]

_UCUM = "http://unitsofmeasure.org"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
_RANGE_MEANING = "http://terminology.hl7.org/CodeSystem/referencerange-meaning"
_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
_FINAL = frozenset({"final", "amended", "corrected"})
_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_SNOMED = "http://snomed.info/sct"
_URI = re.compile(
    r"^(?:https?://[^\s/]+\S*|urn:(?:oid:[0-2](?:\.\d+)+|uuid:[0-9a-f-]{36}|[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+))$"
)
_OID = re.compile(r"^[0-2](?:\.(?:0|[1-9]\d*))+$")
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_JSON_NUMBER = re.compile(r"^\s*(?:<=|>=|<|>)?\s*(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*$")


@cache
def _maps() -> dict[str, dict[str, Any]]:
    text = (files("guttests") / "_data" / "fhir_mappings.toml").read_text("utf-8")
    return tomllib.loads(text)


def is_absolute_uri(text: str) -> bool:
    """Whether ``text`` can be a FHIR ``system``: an http(s) URL or a URN (urn:oid, urn:uuid, ...).

    >>> is_absolute_uri("http://loinc.org"), is_absolute_uri("L"), is_absolute_uri("99LAB")
    (True, False, False)
    """
    return bool(_URI.match(text))


def coding_system(name: str | None, configured: Mapping[str, str] | None = None) -> str | None:
    """The FHIR ``Coding.system`` for a coding-system name as the input gave it.

    A URI stays; an OID becomes ``urn:oid:``; an HL7 v2 table 0396 name maps to its URI;
    a local or unknown name (``L``, ``99zzz``) gives ``None`` unless ``configured`` maps it.

    >>> coding_system("LN"), coding_system("SCT"), coding_system("L"), coding_system("99LAB")
    ('http://loinc.org', 'http://snomed.info/sct', None, None)
    >>> coding_system("2.16.840.1.113883.6.1")
    'urn:oid:2.16.840.1.113883.6.1'
    """
    if not name:
        return None
    if configured and name in configured and is_absolute_uri(configured[name]):
        return configured[name]
    if is_absolute_uri(name):
        return name
    if _OID.match(name):
        return f"urn:oid:{name}"
    mapped = _maps()["coding_systems"].get(name) or _maps()["coding_systems"].get(name.upper())
    return mapped if isinstance(mapped, str) else None


_LOINC = "http://loinc.org"
_LOINC_CODE = re.compile(r"^(\d{1,7})-(\d)$")
_LOINC_PART = re.compile(r"^L[APL]\d+-\d$")


def valid_loinc(code: str) -> bool:
    """Whether ``code`` is a well-formed LOINC code whose mod-10 check digit is right
    (answer, part and list codes ``LA…``, ``LP…``, ``LL…`` by form only).

    >>> valid_loinc("38445-3"), valid_loinc("38445-4"), valid_loinc("Calprotectin")
    (True, False, False)
    """
    if _LOINC_PART.match(code):
        return True
    m = _LOINC_CODE.match(code)
    if m is None:
        return False
    total = 0
    for position, char in enumerate(reversed(m.group(1))):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10 == int(m.group(2))


def _coding(system: str | None, code: str, display: str | None) -> dict[str, Any]:
    # a code claimed as LOINC that is not one keeps its text but not the LOINC system:
    # an EHR must never match it as LOINC (a note on the Observation says so)
    if system == _LOINC and not valid_loinc(code.strip()):
        system = None
    return {"system": system, "code": _s(code), "display": _s(display)}


def _identifier(ident: IdentifierOut, systems: Mapping[str, str] | None) -> dict[str, Any]:
    """A FHIR Identifier (v2 CX -> Identifier): the system only when given or configured."""
    system: str | None = ident.system if ident.system and is_absolute_uri(ident.system) else None
    if system is None and ident.assigner and systems:
        configured = systems.get(ident.assigner)
        system = configured if configured and is_absolute_uri(configured) else None
    kind: dict[str, Any] | None = None
    if ident.type:
        known = _maps()["identifier_types"].get(ident.type)
        if isinstance(known, str):
            kind = {"coding": [{"system": _V2_0203, "code": ident.type, "display": known}]}
        else:
            kind = {"text": _s(ident.type)}
    return {
        "type": kind,
        "system": system,
        "value": _s(ident.value),
        "assigner": {"display": _s(ident.assigner)} if ident.assigner else None,
    }


def _identity(row: ResultRow) -> str | None:
    """The source identity of a result: its identifiers, else its source id."""
    if row.identifiers:
        return "|".join(
            "\x1f".join((i.system or "", i.assigner or "", i.value))
            for i in sorted(row.identifiers, key=lambda i: (i.system or "", i.assigner or ""))
        )
    if row.source_id:
        return f"{row.source.format or ''}\x1f{row.source_id}"
    return None


class _Raw:
    """Numbers written as the source wrote them (FHIR decimals keep their exact text)."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        self.texts: list[str] = []

    def number(self, value: float, text: str | None) -> float | str:
        m = _JSON_NUMBER.match(text) if text else None
        if m is None or float(m.group(1)) != value:
            return value
        self.texts.append(m.group(1))
        return f"{self.token}:{len(self.texts) - 1}"

    def restore(self, out: str) -> str:
        if not self.texts:
            return out
        return re.sub(rf'"{self.token}:(\d+)"', lambda m: self.texts[int(m.group(1))], out)


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


def _quantity(value: float | str | None, unit: str | None) -> dict[str, Any]:
    # Quantity.system/code only for valid UCUM; a lab spelling (EU/mL) stays in unit only.
    code = _ucum(unit) if unit else None
    return {
        "value": value,
        "unit": _s(unit),
        "system": _UCUM if code else None,
        "code": code,
    }


def _value(row: ResultRow, raw: _Raw) -> dict[str, Any]:
    if row.value_kind == "quantity" and row.value_number is not None:
        return {"valueQuantity": _quantity(raw.number(row.value_number, row.value), row.unit)}
    if row.value_kind == "censored" and row.value_number is not None:
        number = raw.number(row.value_number, row.value)
        return {"valueQuantity": {**_quantity(number, row.unit), "comparator": row.comparator}}
    if row.value_kind == "qualitative":
        known = _maps()["qualitative_snomed"].get(row.value.strip().casefold())
        coding = [{"system": _SNOMED, "code": known[0], "display": known[1]}] if known else None
        return {"valueCodeableConcept": {"coding": coding, "text": _s(row.value)}}
    if _s(row.value):
        return {"valueString": _s(row.value)}
    return {"dataAbsentReason": {"coding": [{"system": _ABSENT, "code": "unknown"}]}}


def _reference_range(row: ResultRow) -> list[dict[str, Any]]:
    rng = row.range
    if rng is None:
        return [{"text": _s(row.lab_range_text)}] if row.lab_range_text else []
    text = _range_statement(row)
    if rng.origin == "lab":
        # the lab's own range keeps the lab's text, or its limits only (read back as it
        # came in); the source statement is in a note
        text = rng.lab_text or ""
    entry: dict[str, Any] = {
        # FHIR range limits are inclusive: an exclusive limit (>200) is stated in text only
        "low": _quantity(rng.low, rng.unit) if rng.low is not None and rng.low_inclusive else None,
        "high": (
            _quantity(rng.high, rng.unit) if rng.high is not None and rng.high_inclusive else None
        ),
        "text": _s(text),
    }
    exclusive = (rng.low is not None and not rng.low_inclusive) or (
        rng.high is not None and not rng.high_inclusive
    )
    if not entry["text"] and (exclusive or (entry["low"] is None and entry["high"] is None)):
        entry["text"] = _s(_range_statement(row))
    if rng.category == "reference":
        entry["type"] = {
            "coding": [{"system": _RANGE_MEANING, "code": "normal", "display": "Normal Range"}]
        }
    return [entry]


def _range_statement(row: ResultRow) -> str:
    rng = row.range
    if rng is None:
        return ""
    origin = label(f"origin_{rng.origin}") if rng.origin else rng.category
    return f"{rng.text} ({origin}; {label('applies_to')} {rng.applies_to}). Source: {rng.source}"


def _notes(row: ResultRow, report: Report, time_note: str | None) -> list[dict[str, Any]]:
    notes: list[str | None] = []
    rng = row.range
    if rng is not None and rng.origin == "lab":
        notes.append(f"{label('range')}: {_range_statement(row)}")
    elif rng is not None and row.lab_range_text:
        notes.append(f"{label('lab_range')}: {row.lab_range_text}")
    if row.status == "not_interpretable":
        notes.append(f"{label('not_interpretable')}: {row.reason or ''}".strip())
    if row.position and row.position.text:
        notes.append(f"{label('position')}: {row.position.text}")
    if row.optimal is not None:
        notes.append(f"{row.optimal.label}: {row.optimal.text}")
    notes.extend(row.notes)
    for c in row.codes:
        if coding_system(c.system) == _LOINC and not valid_loinc(c.code.strip()):
            notes.append(f"code {c.code!r} was given as LOINC but is not a valid LOINC code")
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
    row: ResultRow,
    obs_id: str,
    report: Report,
    subject: dict[str, str] | None,
    opts: _Options,
) -> dict[str, Any]:
    effective, time_note = _datetime(row.collected)
    derived = None
    if row.source.format == "fhir" and row.source_id and _FHIR_ID.match(row.source_id):
        derived = [{"reference": f"Observation/{row.source_id}"}]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": obs_id,
        "identifier": [_identifier(i, opts.identifier_systems) for i in row.identifiers],
        "status": row.result_status,
        "category": [
            {"coding": [{"system": _CATEGORY, "code": "laboratory", "display": "Laboratory"}]}
        ],
        "code": {
            "coding": [
                _coding(coding_system(c.system, opts.coding_systems), c.code, c.display)
                for c in row.codes
            ],
            "text": _s(row.label) or label("unnamed_result"),
        },
        "subject": subject,
        "effectiveDateTime": effective,
        **_value(row, opts.raw),
        "derivedFrom": derived,
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


class _Options:
    def __init__(
        self,
        identifier_systems: Mapping[str, str] | None,
        coding_systems: Mapping[str, str] | None,
    ) -> None:
        self.identifier_systems = identifier_systems
        self.coding_systems = coding_systems
        self.raw = _Raw()


def _observation_ids(rows: tuple[ResultRow, ...], digest: str) -> list[str]:
    """One id per row, from the source's identity where it has one; unique in the bundle."""
    ids: list[str] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        identity = _identity(row)
        if identity is None:
            base = f"obs-{index + 1}"
        else:
            base = "obs-" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]
        candidate, n = base, 1
        while candidate in seen:
            n += 1
            candidate = f"{base}-{n}"
        seen.add(candidate)
        ids.append(candidate)
    return ids


def render_fhir(
    report: Report,
    *,
    identifier_systems: Mapping[str, str] | None = None,
    coding_systems: Mapping[str, str] | None = None,
) -> str:
    """The report as a FHIR R4 Bundle (type ``collection``), JSON.

    ``identifier_systems`` maps an assigning authority (HL7 v2 CX.4 as written) to its
    identifier system URI; ``coding_systems`` maps a local coding-system name (``99LAB``)
    to a URI. Without a mapping no system is invented.
    """
    opts = _Options(identifier_systems, coding_systems)
    digest = hashlib.sha256(
        orjson.dumps(report_document(report), option=orjson.OPT_SORT_KEYS)
    ).hexdigest()

    def url(kind: str, n: int = 0) -> str:
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'guttests:{digest}:{kind}:{n}')}"

    entries: list[dict[str, Any]] = []
    p = report.patient
    subject: dict[str, str] | None = None
    if not report.deidentified and any((p.id, p.identifiers, p.name, p.sex, p.birth_date)):
        subject = {"reference": url("patient")}
        entries.append(
            {
                "fullUrl": subject["reference"],
                "resource": {
                    "resourceType": "Patient",
                    "id": "patient",
                    "identifier": _patient_identifiers(report, opts),
                    "name": [{"text": _s(p.name)}] if p.name else None,
                    "gender": p.sex,
                    "birthDate": p.birth_date,
                },
            }
        )
    rows = report.rows
    obs_ids = _observation_ids(rows, digest)
    obs_urls = [
        f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'guttests:{digest}:{obs_id}')}"
        for obs_id in obs_ids
    ]
    for i, row in enumerate(rows):
        resource = _observation(row, obs_ids[i], report, subject, opts)
        entries.append({"fullUrl": obs_urls[i], "resource": resource})
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
    out = orjson.dumps(_prune(bundle), option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
    return opts.raw.restore(out)


def _patient_identifiers(report: Report, opts: _Options) -> list[dict[str, Any]]:
    p = report.patient
    out = [_identifier(i, opts.identifier_systems) for i in p.identifiers]
    if p.id and all(i.value != p.id for i in p.identifiers):
        out.insert(0, {"value": _s(p.id)})
    return out


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
