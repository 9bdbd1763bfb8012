"""HL7 v2.5.1 ORU^R01 output: the interpreted results sent back to the chart.

One message per report (one patient): MSH, PID (left empty when de-identified, with an
NTE saying so), then per panel an OBR and per result an OBX carrying

* OBX-5 the value exactly as the lab wrote it (NM when it is a plain decimal number,
  SN for ``<10``/``>=2000``, else ST), OBX-6 its unit as written;
* OBX-7 the range guttests compared it with, *only* when that range is in the unit of
  OBX-6 (otherwise the range goes into an NTE with its own unit: a range in another unit
  next to OBX-6 would be read in the wrong unit);
* OBX-8 guttests' flag: HL7 table 0078 codes (``N L H LL HH A``, and ``POS NEG DET ND
  IND`` as later versions of the table define them; equivocal ``E`` is the v3
  ObservationInterpretation code, there being no 0078 code for it). Empty when the
  result was not interpretable;
* OBX-11 the result status, OBX-14 the collection time, OBX-17 the method, OBX-23 the lab.

Each OBX is followed by NTE segments (comment source ``O``): the flag in words, the
"not interpretable" reason, where the value lies, the range used and its source, notes,
the lab's own flags, and the caveats with their citations. Every text goes through
:func:`escape`, so a ``|``, ``^``, ``~``, ``\\`` or ``&`` from the input never
splits a field, and a line break becomes ``\\.br\\``.

The message control id is derived from the report's content: the same report gives the
same message byte for byte. MSH-7 is the report's generation time when one was asked for,
else the latest collection time (HL7 requires a time; guttests adds no clock time of its
own unless asked).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime

import orjson

from .._errors import GuttestsError
from ._json import report_document
from ._model import PanelSection, PatientHeader, Report, ResultRow, fmt_number
from ._phrases import label

__all__ = ["escape", "hl7_timestamp", "render_hl7"]

_VERSION = "2.5.1"
_LOINC = "http://loinc.org"
_NM = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_SN = re.compile(r"(<=|>=|<|>)([+-]?(?:\d+(?:\.\d*)?|\.\d+))")
_STATUS = {
    "final": "F",
    "preliminary": "P",
    "corrected": "C",
    "amended": "A",
    "cancelled": "X",
    "entered-in-error": "W",
    "registered": "I",
}
_SEX = {"female": "F", "male": "M", "other": "O", "unknown": "U"}
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


def escape(text: str) -> str:
    r"""Text safe inside one HL7 field (default encoding characters ``|^~\&``).

    Line breaks become ``\.br\``; other control characters become ``\Xhh\`` so that
    nothing in the text can end a segment.

    >>> escape("IgG ^ IgA | 1&2 ~ x\\y")
    'IgG \\S\\ IgA \\F\\ 1\\T\\2 \\R\\ x\\E\\y'
    >>> escape("line 1\nline 2")
    'line 1\\.br\\line 2'
    """
    for raw, escaped in _ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    text = text.replace("\r\n", "\n")
    if "\n" in text:
        text = text.replace("\n", "\\.br\\")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        text = "".join(
            f"\\X{ord(ch):02X}\\" if unicodedata.category(ch) == "Cc" and ord(ch) < 256 else ch
            for ch in text
        )
    return text


def hl7_timestamp(iso: str | None) -> str:
    """An ISO date or date-time as an HL7 DTM, keeping exactly the precision given.

    >>> hl7_timestamp("2024-02-29"), hl7_timestamp("2024-02-29T08:30:00+01:00")
    ('20240229', '20240229083000+0100')
    >>> hl7_timestamp("2024-02-29T08:30:00"), hl7_timestamp("2024-02-29T08:30")
    ('20240229083000', '202402290830')
    """
    if not iso:
        return ""
    try:
        if "T" not in iso:
            return date.fromisoformat(iso).strftime("%Y%m%d")
        when = datetime.fromisoformat(iso)
    except ValueError:
        return ""
    clock = re.split(r"[+-]|Z", iso.split("T", 1)[1], maxsplit=1)[0]
    text = when.strftime("%Y%m%d%H%M" if len(clock) == 5 else "%Y%m%d%H%M%S")
    if when.microsecond:
        text += f".{when.microsecond // 100:04d}"
    if when.tzinfo is not None:
        text += when.strftime("%z")
    return text


def _join(*components: str) -> str:
    return "^".join(components).rstrip("^")


def _segment(*fields: str) -> str:
    return "|".join(fields).rstrip("|")


def _ucum(unit: str | None) -> str | None:
    if not unit:
        return None
    try:
        from .._units import parse_unit

        code = parse_unit(unit).ucum
    except GuttestsError:
        return None
    return code if isinstance(code, str) and code else None


def _same_unit(a: str | None, b: str | None) -> bool:
    if a == b:
        return True
    ua, ub = _ucum(a), _ucum(b)
    return ua is not None and ua == ub


def _value(row: ResultRow) -> tuple[str, str]:
    """OBX-2 and OBX-5: the value as written, typed only when its text allows it."""
    text = row.value
    if not text:
        return "", ""
    if row.value_kind == "quantity" and _NM.fullmatch(text):
        return "NM", text
    m = _SN.fullmatch(text)
    if row.value_kind == "censored" and m is not None:
        return "SN", f"{m.group(1)}^{m.group(2)}"
    return "ST", escape(text)


def _limit(x: float) -> str:
    return fmt_number(x, 15)


def _obx7(row: ResultRow) -> str:
    """The range used, in HL7 range syntax, when it is numeric and in OBX-6's unit."""
    rng = row.range
    if rng is None:
        return ""
    if rng.kind != "quantitative":
        return escape(rng.text) if rng.text and not rng.unit else ""
    if not _same_unit(rng.unit, row.unit):
        return ""
    if rng.low is not None and rng.high is not None:
        if rng.low_inclusive and rng.high_inclusive:
            return f"{_limit(rng.low)}-{_limit(rng.high)}"
        return ""
    if rng.high is not None:
        return f"{'<=' if rng.high_inclusive else '<'}{_limit(rng.high)}"
    if rng.low is not None:
        return f"{'>=' if rng.low_inclusive else '>'}{_limit(rng.low)}"
    return ""


def _obx3(row: ResultRow) -> str:
    name = escape(row.name or row.label)
    parts: list[str] = []
    for c in row.codes[:2]:
        system = "LN" if c.system == _LOINC else (c.system or "")
        parts += [escape(c.code), escape(c.display or row.name or ""), escape(system)]
    if not parts:
        return f"^{name}"
    return _join(*parts)


def _notes(row: ResultRow, report: Report) -> list[str]:
    notes: list[str] = []
    if row.status == "not_interpretable":
        notes.append(f"{label('not_interpretable')}: {row.reason or ''}".strip())
    else:
        notes.append(f"guttests {label('flag').lower()}: {row.flag_text}")
    if row.position and row.position.text:
        notes.append(f"{label('position')}: {row.position.text}")
    rng = row.range
    if rng is not None:
        origin = label(f"origin_{rng.origin}") if rng.origin else rng.category
        notes.append(
            f"{label('range')}: {rng.text} ({origin}; {label('applies_to')} {rng.applies_to}). "
            f"{label('source')}: {rng.source}"
        )
    elif row.lab_range_text:
        notes.append(f"{label('range')}: {row.lab_range_text}")
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
    return notes


def _nte(n: int, text: str) -> str:
    return _segment("NTE", str(n), "O", escape(text))


def _obx(n: int, row: ResultRow, report: Report) -> list[str]:
    vt, value = _value(row)
    flag = row.interpretation if row.status == "interpreted" and row.interpretation else ""
    method = f"^{escape(row.method)}" if row.method else ""
    lab = escape(row.lab) if row.lab else ""
    fields = [
        "OBX",
        str(n),
        vt,
        _obx3(row),
        "",
        value,
        escape(row.unit) if row.unit else "",
        _obx7(row),
        flag,
        "",
        "",
        _STATUS.get(row.result_status, ""),
        "",
        "",
        hl7_timestamp(row.collected),
        "",
        "",
        method,
        "",
        "",
        "",
        "",
        "",
        lab,
    ]
    out = [_segment(*fields)]
    out += [_nte(i, text) for i, text in enumerate(_notes(row, report), 1)]
    return out


def _obr(n: int, panel: PanelSection, report: Report) -> list[str]:
    statuses = {_STATUS.get(r.result_status, "") for r in panel.rows}
    status = statuses.pop() if len(statuses) == 1 else ""
    status = {"A": "C", "W": ""}.get(status, status)  # table 0123 has no amended/in-error
    obr = [
        "OBR",
        str(n),
        "",
        "",
        f"^{escape(panel.name or panel.title)}",
        "",
        "",
        hl7_timestamp(panel.collected),
    ]
    obr += [""] * (25 - len(obr))
    obr.append(status)
    out = [_segment(*obr)]
    if n == 1:
        out.append(_nte(1, f"{report.summary} {report.disclaimer}"))
    return out


def _name(name: str) -> str:
    family, _, given = name.partition(", ")
    return _join(escape(family), escape(given)) if given else escape(name)


def _pid(report: Report) -> list[str]:
    p = report.patient
    if report.deidentified:
        return ["PID|1", _nte(1, label("deidentified"))]
    pid = [
        "PID",
        "1",
        "",
        _patient_ids(p),
        "",
        _name(p.name) if p.name else "",
        "",
        hl7_timestamp(p.birth_date),
        _SEX.get(p.sex or "", ""),
    ]
    return [_segment(*pid)]


def _patient_ids(p: PatientHeader) -> str:
    """PID-3 as CX repetitions: value, assigning authority (CX.4, as the input named it, or
    the FHIR system as its universal id) and identifier type (CX.5) — the identity an EHR
    matches back, never reduced to the bare number.

    >>> from guttests._reports._model import IdentifierOut
    >>> ids = (IdentifierOut(value="123", assigner="HOSPA", type="MR"),
    ...        IdentifierOut(value="9", system="urn:oid:1.2.3"))
    >>> _patient_ids(PatientHeader(id="123", name=None, sex=None, birth_date=None, age=None,
    ...                            identifiers=ids))
    '123^^^HOSPA^MR~9^^^&urn:oid:1.2.3&URI'
    """
    if not p.identifiers:
        return escape(p.id) if p.id else ""
    out = []
    for i in p.identifiers:
        if i.assigner:
            authority = escape(i.assigner)
        elif i.system:
            authority = f"&{escape(i.system)}&URI"
        else:
            authority = ""
        cx = "^".join([escape(i.value), "", "", authority, escape(i.type) if i.type else ""])
        out.append(cx.rstrip("^"))
    return "~".join(out)


def render_hl7(report: Report) -> str:
    """The report as one HL7 v2.5.1 ORU^R01 message (segments separated by ``\\r``)."""
    digest = hashlib.sha256(
        orjson.dumps(report_document(report), option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    when = report.generated_at or max(report.collected, default=None)
    labs = report.labs
    msh = [
        "MSH",
        "^~\\&",
        f"guttests^{escape(report.guttests_version)}",
        escape(labs[0]) if len(labs) == 1 else "",
        "",
        "",
        hl7_timestamp(when),
        "",
        "ORU^R01^ORU_R01",
        f"GT{digest[:18].upper()}",
        "P",
        _VERSION,
    ]
    segments = ["MSH|" + "|".join(msh[1:]).rstrip("|"), *_pid(report)]
    for i, panel in enumerate(report.panels, 1):
        segments += _obr(i, panel, report)
        for k, row in enumerate(panel.rows, 1):
            segments += _obx(k, row, report)
    return "\r".join(segments) + "\r"
