"""Reading FHIR R4 JSON (resources, bundles, NDJSON bulk export) into panels.

Accepted input: one Observation, one DiagnosticReport (with ``contained``
Observations), a Bundle of any type (``collection``, ``searchset``,
``transaction``, ``batch-response``, ...), or NDJSON with one resource per line.
Only the fields guttests uses are read, with plain type-checked dict access
(the standard library's JSON decoder parses, keeping each decimal's exact text
and refusing duplicate keys; an NDJSON line goes through orjson instead when a
check proves that reads it the same, see :func:`_fast_loads`); no full FHIR
model is built.

>>> text = (
...     '{"resourceType": "Observation", "id": "calpro", "status": "final",'
...     ' "code": {"text": "Calprotectin, Feces"},'
...     ' "valueQuantity": {"value": 62, "unit": "µg/g",'
...     ' "system": "http://unitsofmeasure.org", "code": "ug/g"},'
...     ' "referenceRange": [{"high": {"value": 50, "unit": "µg/g"}}]}'
... )
>>> result = read_fhir(text, source="calpro.json")[0].results[0]
>>> result.name, result.value.value, result.unit, result.lab_range.describe()
('Calprotectin, Feces', 62.0, 'ug/g', '≤50')
>>> result.provenance.describe()
'calpro.json, Observation'
>>> result.provenance.source_id
'calpro'

Decisions (each one keeps what came in and guesses nothing):

Counting
    Every Observation anywhere in the input (bundle entries, ``contained``,
    NDJSON lines) yields results: one Result for its own value, plus one
    Result per ``component``. An Observation with components and no value of
    its own (no ``value[x]``, no ``dataAbsentReason``) yields only its
    component Results ("entry 3 (Observation/bp), component 2"). An
    Observation with neither yields one Result with ``value_error`` "no
    value"; this includes grouping Observations (``hasMember`` only), whose
    name also becomes ``Result.panel`` of their members.
Grouping
    One Panel per DiagnosticReport: its ``result`` Observations (followed
    through ``hasMember``, depth first) and its contained Observations. The
    remaining Observations of a document form one Panel per subject, in input
    order. Panels come in the order of their first resource. In NDJSON each
    line is its own document, so each Observation line is one Panel (constant
    memory); a DiagnosticReport line yields a Panel of its contained
    Observations only, since its referenced Observations are on their own lines.
    A report with no Observation in the input yields no Panel.
Patients
    An Observation's own ``subject`` wins over its report's (and over its
    group's, for ``hasMember`` members); an Observation without one belongs to
    its report's or group's subject. A report that lists results of several
    patients becomes one Panel per patient, the report's own patient first,
    each with the report's name, date and lab: no result is ever filed under
    another patient. A patient's identity is the resolved Patient resource,
    else the reference as written, else a logical ``subject.identifier``
    (system and value). ``Patient.identifier`` is kept with its system,
    assigner and type in ``PatientContext.identifiers`` (the first value is
    also ``patient_id``); ``Observation.identifier`` goes to
    ``Result.identifiers`` and ``Observation.id`` to ``Provenance.source_id``.
Large Bundles
    A Bundle's ``entry`` array is read one entry at a time. Up to 2,000
    entries it is one document, as above. A longer Bundle is read in windows of
    2,000 consecutive entries, so memory stays bounded: references resolve
    within the window and to the Patients of earlier windows (the latest
    20,000 are remembered); a DiagnosticReport whose Observations come after it
    looks for them in the following windows while each finds some. An
    Observation that came before its report in an earlier window is read under
    its own subject, and the report's warning counts it as not found near the
    report.
JSON
    A key repeated in one JSON object is a :class:`~guttests.FHIRError` naming
    the document, entry or line (never "last wins"). Numbers keep the text the
    input wrote: ``value_text`` of ``12.40`` is ``12.40``; a number no float
    can hold (``1e-400``) is a ``value_error``, never 0. A string holding a lone
    surrogate (``\\ud800``) is not Unicode text: a FHIRError. NDJSON lines
    that orjson provably reads as the strict decoder does are read by orjson,
    about twice as fast; every other line by the strict decoder, which reads or
    refuses it as above.
References not in the input
    ``DiagnosticReport.result`` entries that resolve to nothing in the document
    are counted. When the document yields no result at all, that is a
    :class:`~guttests.FHIRError` naming the count ("references 5 Observations
    not in the input"); beside results that were read, a
    :class:`~guttests.GuttestsWarning` with the count. (NDJSON lines are
    separate documents: a report line's references are not counted.)
References
    Inside one JSON document every reference is resolved against the whole
    document first (``Patient/123``, absolute URLs, ``urn:uuid:`` fullUrls,
    ``#id`` for contained). NDJSON is streamed: a subject is resolved only
    against Patient lines already seen (only Patients are remembered, so
    memory grows with patients, not observations); a Patient line after its
    Observations leaves those panels without patient facts.
Values
    ``valueQuantity`` with a comparator is a censored value; the unit is the
    UCUM ``code`` when the system is UCUM, else the ``unit`` text, as given.
    ``valueString`` and ``valueCodeableConcept`` text go through
    :func:`~guttests._values.parse_value` (SNOMED CT Detected / Not detected /
    Positive / Negative codes are read as those terms; a text that contradicts
    its code is an error). ``valueBoolean``, ``valueRange``, ``valueRatio``,
    times and periods, value types guttests does not read (``valueAttachment``),
    a wrong JSON type and ``dataAbsentReason`` become a Result with
    ``value_error``.
Reference ranges
    FHIR bounds are inclusive. Bounds without a unit are read in the result's
    unit, exactly as a range text is (and as HL7 OBX-7 is read in OBX-6's
    unit). When several ranges are given (FHIR combines them as OR), the
    first one without ``appliesTo``/``age`` and of type normal/recommended
    becomes ``lab_range``; else the first whose conditions guttests can
    represent (age, sex) and the patient's context (gender, age at
    collection) satisfies; else the first representable one; else the first,
    as text only. A range kept with conditions carries them in
    ``applies_to``: the engine uses it only for a patient who meets them, and
    when the input lacks the sex or age it needs, the result is not
    interpretable with that reason. With more than one
    range, all of them are written into ``lab_range_text`` joined by " | ".
    An age range ``12-14 a`` is read in completed units: age 12 to <15 years.
Dates, specimen and patient
    ``collected`` is ``effectiveDateTime``, ``effectivePeriod.start`` or
    ``effectiveInstant``. Only full dates are read: a partial date (``2013``, ``2013-04``) gives
    ``None``, never an invented day. ``issued`` is not a collection time and is
    not used. The specimen text is the referenced Specimen's ``type`` (else the
    reference's display) and maps onto :class:`~guttests.Specimen` only when it
    names exactly one kind. Sex is taken from ``gender`` female/male only.
Lab
    ``lab`` is the display of an Organization performer; practitioners are
    people, not labs, and are not read.
Errors
    Input that is not JSON, JSON that is not a FHIR resource, and a top-level
    resource that holds no observations (Patient, Medication,
    ObservationDefinition, ...) raise :class:`~guttests.FHIRError` with the
    source and location. Inside a bundle or NDJSON such resources are skipped:
    they are not observations. Entries and contained resources are counted
    from 1, like lines. Locations name positions and resource types
    (``entry 3 (Observation)``), never resource ids, which can carry
    identifiers.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import warnings
from collections.abc import Generator, Iterator, Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any, NamedTuple, NoReturn, TextIO, TypeVar

import orjson
from pydantic import ValidationError

from .._errors import FHIRError, GuttestsWarning, ValueParseError
from .._models import (
    Age,
    Applicability,
    Coding,
    Identifier,
    Panel,
    PatientContext,
    Provenance,
    ReferenceRange,
    Result,
    interval_text,
    trusted,
)
from .._range_text import lab_range, parse_range_text
from .._types import ResultStatus, Sex, Specimen
from .._values import CensoredValue, QuantityValue, Value, value_text_problem
from ._common import (
    coded_entry,
    coded_value,
    sex_from_text,
    specimen_in_text,
    status_from_text,
    value_or_error,
)

__all__ = ["iter_panels", "read_fhir"]

JSON = dict[str, Any]
_M = TypeVar("_M", Provenance, Result, Panel, Identifier, QuantityValue, CensoredValue)

_FORMAT = "fhir"
_UCUM = "http://unitsofmeasure.org"
_LOINC = "http://loinc.org"
_SNOMED = "http://snomed.info/sct"
_INTERPRETATION_SYSTEMS = frozenset(
    {
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
        "http://hl7.org/fhir/v3/ObservationInterpretation",
        "http://terminology.hl7.org/CodeSystem/v2-0078",
        "http://hl7.org/fhir/v2/0078",
    }
)
_GENDER_SYSTEM = "http://hl7.org/fhir/administrative-gender"

_COMPARATORS = frozenset({"<", "<=", ">=", ">"})
_SNOMED_SEX: dict[str, Sex] = {"248153007": "male", "248152002": "female"}
_REFERENCE_TYPES = frozenset({"normal", "recommended"})
_AGE_UNITS = {
    "a": "a",
    "mo": "mo",
    "wk": "wk",
    "d": "d",
    "y": "a",
    "yr": "a",
    "yrs": "a",
    "year": "a",
    "years": "a",
    "month": "mo",
    "months": "mo",
    "week": "wk",
    "weeks": "wk",
    "day": "d",
    "days": "d",
}
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TOP_LEVEL = ("Observation", "DiagnosticReport", "Bundle")
_ANYONE = Applicability()
_NOBODY = PatientContext()


# --- public API ---------------------------------------------------------------------------


def iter_panels(stream: TextIO, *, source: str | None = None) -> Iterator[Panel]:
    """Panels from FHIR JSON or NDJSON text, read incrementally.

    NDJSON is read one resource at a time. A Bundle's ``entry`` array is read
    one entry at a time: a Bundle of up to 2,000 entries is one document (every
    reference resolves anywhere in it); a longer one is read in windows of
    2,000 entries, so memory stays bounded (see "Large Bundles" above).

    >>> import io
    >>> lines = [
    ...     '{"resourceType": "Patient", "id": "p1", "gender": "female"}',
    ...     '{"resourceType": "Observation", "id": "z1", "status": "final",'
    ...     ' "subject": {"reference": "Patient/p1"}, "code": {"text": "Zonulin"},'
    ...     ' "valueQuantity": {"value": 41.20, "unit": "ng/mL"}}',
    ... ]
    >>> panels = iter_panels(io.StringIO("\\n".join(lines)))
    >>> [(p.patient.sex, p.results[0].value_text) for p in panels]
    [('female', '41.20')]
    """
    text = _Text(stream, source)
    if not text.peek():
        raise FHIRError("empty input: no FHIR resource", source=source)
    first_line = text.line()
    first, streamed = yield from _first_value(text, source)
    if not text.peek():
        if not streamed:
            yield from _document(first, source, prefix="", patients={}, top_level=True)
        return
    # more values follow: NDJSON, one resource per line
    patients: dict[str, PatientContext] = {}
    if not streamed:
        yield from _ndjson_line(first, first_line, source, patients)
    while text.peek():
        line_no = text.line()
        obj = text.line_value(line_no)
        if (
            type(obj) is dict
            and obj.get("resourceType") == "Observation"
            and not obj.get("contained")
        ):  # the common line, read as _ndjson_line reads it
            yield _line_panel(source, patients, obj, f"line {line_no} (Observation)")
            continue
        yield from _ndjson_line(obj, line_no, source, patients)


def read_fhir(text: str, *, source: str | None = None) -> list[Panel]:
    """All panels of a FHIR JSON or NDJSON text.

    >>> obs = '{"resourceType": "Observation", "status": "final", "valueString": "<dl"}'
    >>> read_fhir(obs)[0].results[0].value.detection_limit
    True
    """
    return list(iter_panels(io.StringIO(text), source=source))


# --- JSON: exact decimals, no duplicate keys, no lone surrogates --------------------------


class _Decimal(float):
    """A JSON number with a fraction or an exponent, with its exact text.

    The float serves comparisons; ``text`` is what the input wrote (``12.40``,
    ``1e-400``), so a value is never re-spelled or silently rounded.
    """

    text: str

    def __new__(cls, text: str) -> _Decimal:
        self = super().__new__(cls, text)
        self.text = text
        return self


def _int(text: str) -> int | _Decimal:
    # Python refuses int() of more than 4,300 digits: such a number keeps its text.
    return int(text) if len(text) <= 640 else _Decimal(text)


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> JSON:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return d


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_float=_Decimal, parse_int=_int)
_WS = re.compile(r"[ \t\r\n]*")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_KEY_SHOWN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")
_WINDOW = 2000
"""Entries of a Bundle read as one document; a longer Bundle is read in windows of this many."""
_PATIENT_MEMORY = 20_000
"""References to Patients of earlier windows remembered by a windowed Bundle (the latest)."""


_FAST = True
"""Read NDJSON lines with orjson where :func:`_fast_loads` proves it reads what the strict
decoder reads (tests switch it off to compare the two paths)."""
_MISS = object()
_FAST_LINE = 1 << 20
"""Longer lines go to the strict decoder: orjson's copies of a line stay small."""
_JSON_WS = b" \t\r\n"


def _fast_loads(line: str) -> object:
    """``line`` parsed by orjson, or :data:`_MISS` unless that is provably what the strict
    decoder (:data:`_DECODER`: exact decimals, no duplicate keys) reads.

    orjson keeps the last of duplicate keys and reads every decimal as a float. A line is
    taken only when it is, apart from white space outside strings, the very text orjson
    writes for what it read: then no key was dropped (each appears as often), no string
    is spelled otherwise than orjson spells it (``\\"``, ``\\n`` as orjson writes them;
    ``\\u00b5`` and ``\\/`` are compared as the characters they stand for, which JSON
    allows unescaped; any other spelling of a character is more non-blank text), and
    each number's text is the one orjson writes for its value, which is how
    :func:`_number_text` spells a float (the strict decoder's :class:`_Decimal` keeps the
    text it read: the same text). Anything else (``1.10``, ``1E2``, ``-0``, ``1e400``,
    other escapes, surrogates, deep nesting, two values on a line, JSON orjson refuses) is
    left to the strict decoder, which reads or refuses it.
    """
    try:
        raw = line.encode()  # refuses a lone surrogate in the text itself
        obj = orjson.loads(raw)  # (from the UTF-8: a str would be encoded once more)
        if type(obj) is not dict:
            return _MISS
        out = orjson.dumps(obj)
    except (UnicodeEncodeError, orjson.JSONDecodeError, orjson.JSONEncodeError):
        return _MISS
    if raw == out or raw.strip(_JSON_WS) == out:  # as orjson writes it (CRLF lines too)
        return obj
    if b"\\" in raw:  # escapes orjson writes as the character itself: \u00b5, \/
        raw = _ESCAPE.sub(_unescaped, raw)
    raw, out = raw.translate(None, _JSON_WS), out.translate(None, _JSON_WS)
    return obj if raw == out else _with_number_texts(obj, raw, out)


_ESCAPE = re.compile(rb"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


def _unescaped(m: re.Match[bytes]) -> bytes:
    """An escape as the character, where JSON allows that character unescaped (not a
    quote, backslash, control character or surrogate): the same JSON text."""
    escape = m.group(1)
    if escape == b"/":
        return escape
    if escape[:1] == b"u":
        point = int(escape[1:], 16)
        if point >= 0x20 and point not in (0x22, 0x5C) and not 0xD800 <= point <= 0xDFFF:
            return chr(point).encode()
    return m.group(0)


_NUMBER_RUN = re.compile(rb"(-?[0-9][0-9.eE+-]*)")
_NUMBER_FIELDS = (
    ("valueQuantity", "value"),
    ("valueRange", "low", "value"),
    ("valueRange", "high", "value"),
    ("valueRatio", "numerator", "value"),
    ("valueRatio", "denominator", "value"),
)
"""Where :func:`_number_text` reads a number's text: a part's value[x]."""


def _with_number_texts(obj: JSON, raw: bytes, out: bytes) -> object:
    """``obj`` with the input's text of its value numbers, or :data:`_MISS`.

    ``raw`` and ``out`` are the line and orjson's writing of ``obj``, without white space.
    Cut at every run that can be a number (digits inside strings too), they must agree
    everywhere else, so strings and keys are spelled alike and no key was dropped. Each
    run orjson wrote differently (``1.1`` for ``1.10``, ``100.0`` for ``1E2``) must stand
    for the same float, and each orjson spelling for one input text only; then the value
    numbers of a one-Observation line (the numbers whose text the reader keeps) get their
    input text as :class:`_Decimal`, exactly as the strict decoder reads them. Any other
    difference, or another kind of line, is left to the strict decoder.
    """
    if obj.get("resourceType") != "Observation" or obj.get("contained"):
        return _MISS  # only the value numbers of one Observation are given their text
    pieces, written = _NUMBER_RUN.split(raw), _NUMBER_RUN.split(out)
    if len(pieces) != len(written) or pieces[::2] != written[::2]:
        return _MISS
    texts: dict[bytes, bytes] = {}
    pairs = set(zip(pieces[1::2], written[1::2], strict=True))
    for given, spelled in pairs:
        if given == spelled:
            continue
        if (spelled, spelled) in pairs or texts.setdefault(spelled, given) != given:
            return _MISS  # one orjson spelling for two input texts: which float is which?
        if _is_int_text(given) or _is_int_text(spelled):
            if not (_is_int_text(given) and _is_int_text(spelled)) or int(given) != int(spelled):
                return _MISS
            del texts[spelled]  # -0 and 0: the same int both ways, written by repr
        elif repr(float(given)) != repr(float(spelled)):
            return _MISS
    for part in (obj, *_list(obj, "component")):
        for path in _NUMBER_FIELDS:
            holder: object = part
            for key in path[:-1]:
                holder = holder.get(key) if isinstance(holder, dict) else None
            if isinstance(holder, dict):
                v = holder.get(path[-1])
                if type(v) is float:
                    text = texts.get(orjson.dumps(v))
                    if text is not None:
                        holder[path[-1]] = _Decimal(text.decode())
    return obj


def _is_int_text(number: bytes) -> bool:
    return b"." not in number and b"e" not in number and b"E" not in number


def _holds_surrogate(text: str) -> bool:
    """Whether ``text`` holds a code point U+D800-U+DFFF: the one thing strict UTF-8
    refuses to encode (in C, about 30 times faster than the regex on a 64 KB chunk)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _has_lone_surrogate(obj: object) -> bool:
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


class _Text:
    """JSON values read one at a time from a text stream (the standard library's
    decoder does the parsing; this only refills its buffer), with line numbers."""

    _CHUNK = 1 << 16

    def __init__(self, stream: TextIO, source: str | None) -> None:
        self.stream = stream
        self.source = source
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.lines = 0  # newlines before ``counted``
        self.counted = 0
        self.lines_iter: Iterator[str] | None = None
        self.raw_surrogates = False

    def _more(self) -> bool:
        if self.eof:
            return False
        read = getattr(self.stream, "read", None)
        if read is not None:
            chunk = read(max(self._CHUNK, len(self.buf) - self.pos))
        else:  # an iterable of lines
            if self.lines_iter is None:
                self.lines_iter = iter(self.stream)
            chunk = next(self.lines_iter, "")
        if not chunk:
            self.eof = True
            return False
        if not self.buf and chunk[0] == "\ufeff":
            chunk = chunk[1:]
        if self.pos:
            self.line()
            self.buf = self.buf[self.pos :]
            self.pos = self.counted = 0
        if not self.raw_surrogates and _holds_surrogate(chunk):
            self.raw_surrogates = True  # (only a str given directly can hold them)
        self.buf += chunk
        return True

    def line(self) -> int:
        """The line number (from 1) at the current position."""
        self.lines += self.buf.count("\n", self.counted, self.pos)
        self.counted = self.pos
        return self.lines + 1

    def peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            if self.pos < len(self.buf) and self.buf[self.pos] not in " \t\r\n":
                return self.buf[self.pos]
            m = _WS.match(self.buf, self.pos)
            self.pos = m.end() if m else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            self.fail(f"expecting {what}", self.pos)
        self.pos += 1

    def fail(self, message: str, at: int, cause: Exception | None = None) -> NoReturn:
        self.line()
        line = self.lines + self.buf.count("\n", self.counted, at) + 1
        column = at - self.buf.rfind("\n", 0, at)
        raise FHIRError(
            f"not JSON: {message}", source=self.source, location=f"line {line}, column {column}"
        ) from (cause or json.JSONDecodeError(message, self.buf, at))

    def line_value(self, line_no: int) -> object:
        """The next JSON value of NDJSON, at line ``line_no`` (just after :meth:`peek`): the
        rest of the line through :func:`_fast_loads` when that proves orjson reads it as the
        strict decoder does, else :meth:`value`."""
        if _FAST and not self.raw_surrogates:
            end = self.buf.find("\n", self.pos)
            while end < 0:
                seen = len(self.buf) - self.pos
                if not self._more():
                    end = len(self.buf)
                    break
                end = self.buf.find("\n", self.pos + seen)
            obj = _fast_loads(self.buf[self.pos : end]) if end - self.pos <= _FAST_LINE else _MISS
            if obj is not _MISS:
                if end < len(self.buf):
                    if self.counted == self.pos:  # one line feed read: counted as it goes
                        self.lines += 1
                        self.counted = end + 1
                    self.pos = end + 1  # past the line feed
                else:
                    self.pos = end
                return obj
        return self.value(f"line {line_no}")

    def value(self, where: str) -> object:
        """The next JSON value, decoded whole; ``where`` names it in errors."""
        self.peek()
        while True:
            start = self.pos
            try:
                obj, end = _DECODER.raw_decode(self.buf, start)
            except json.JSONDecodeError as exc:
                truncated = exc.pos >= len(self.buf) - 64 or exc.msg.startswith("Unterminated")
                if truncated and self._more():
                    continue
                self.fail(exc.msg, exc.pos, exc)
            except _DuplicateKeyError as exc:
                shown = repr(exc.key) if _KEY_SHOWN.fullmatch(exc.key) else "a key"
                raise FHIRError(
                    f"duplicate key {shown} in a JSON object (a key may appear once)",
                    source=self.source,
                    location=where,
                    hint="JSON input must not repeat a key: guttests does not guess which "
                    "value is meant",
                ) from None
            except RecursionError:
                raise FHIRError(
                    "JSON nested too deeply", source=self.source, location=where
                ) from None
            if end >= len(self.buf) and self._more():
                continue  # a number at the end of the buffer may go on
            self.pos = end
            if (
                self.raw_surrogates
                or (
                    self.buf.find("\\u", start, end) >= 0
                    and _SURROGATE_ESCAPE.search(self.buf, start, end)
                )
            ) and _has_lone_surrogate(obj):
                raise FHIRError(
                    "a JSON string holds a lone surrogate (\\ud800-\\udfff): not valid Unicode",
                    source=self.source,
                    location=where,
                    hint="re-export the file as valid UTF-8",
                )
            return obj


def _first_value(text: _Text, source: str | None) -> Generator[Panel, None, tuple[object, bool]]:
    """The first JSON value, whole, unless it is a Bundle whose ``entry`` it streams.

    Returns the value and whether its entries were streamed (their panels yielded).
    """
    if text.peek() != "{":
        return text.value("document"), False
    text.pos += 1
    head: JSON = {}
    streamed = False
    if text.peek() == "}":
        text.pos += 1
        return head, False
    while True:
        if text.peek() != '"':
            text.fail("expecting a property name in double quotes", text.pos)
        key = text.value("document")
        assert isinstance(key, str)
        text.expect(":", "':'")
        if key in head or (key == "entry" and streamed):
            shown = repr(key) if _KEY_SHOWN.fullmatch(key) else "a key"
            raise FHIRError(
                f"duplicate key {shown} in a JSON object (a key may appear once)",
                source=source,
                location="document",
            )
        if key == "entry" and head.get("resourceType") == "Bundle" and text.peek() == "[":
            text.pos += 1
            yield from _stream_entries(text, source, head)
            streamed = True
        else:
            head[key] = text.value("document" if key != "entry" else "Bundle.entry")
        char = text.peek()
        if not char:
            text.fail("unexpected end of data", text.pos)
        text.pos += 1
        if char == "}":
            return head, streamed
        if char != ",":
            text.fail("expecting ',' delimiter", text.pos - 1)


def _stream_entries(text: _Text, source: str | None, bundle: JSON) -> Iterator[Panel]:
    """A Bundle's entries, one at a time, in windows of :data:`_WINDOW` entries.

    Patients seen in a window are remembered for the later ones; a report whose
    Observations were not all in its window looks for the rest in the next window.
    """
    patients: dict[str, PatientContext] = {}
    doc = _Doc(source, patients)
    windows = 1
    produced = False
    missing = 0
    count = 0
    n = 0
    if text.peek() == "]":
        text.pos += 1
    else:
        while True:
            n += 1
            entry = text.value(f"entry {n}")
            doc.add_entry(entry, f"entry {n}", "")
            count += 1
            char = text.peek()
            if not char:
                text.fail("unexpected end of data", text.pos)
            text.pos += 1
            last = char == "]"
            if not last and char != ",":
                text.fail("expecting ',' delimiter", text.pos - 1)
            if count >= _WINDOW and not last:
                for panel in doc.panels():
                    produced = True
                    yield panel
                carried = doc.carry()
                missing += doc.missing
                patients.update(doc.known_patients())
                if len(patients) > _PATIENT_MEMORY:  # forget the oldest: memory stays bounded
                    for key in list(itertools.islice(patients, len(patients) - _PATIENT_MEMORY)):
                        del patients[key]
                doc = _Doc(source, patients)
                for report, loc in carried:
                    doc.add(report, loc, full_url=None, carried=True)
                count = 0
                windows += 1
            if last:
                break
    for panel in doc.panels():
        produced = True
        yield panel
    missing += doc.missing
    if missing:
        _report_missing(missing, produced, source, "document", windowed=windows > 1)
    if bundle.get("resourceType") != "Bundle":  # pragma: no cover - checked before streaming
        raise FHIRError("not a Bundle", source=source, location="document")


def _ndjson_line(
    obj: object, line_no: int, source: str | None, patients: dict[str, PatientContext]
) -> Iterator[Panel]:
    if isinstance(obj, dict):
        rtype = obj.get("resourceType")
        if rtype == "Observation" and not obj.get("contained"):
            # the common line: one Observation, nothing in it to resolve
            yield _line_panel(source, patients, obj, f"line {line_no} (Observation)")
            return
        if rtype == "Patient":
            rid = obj.get("id")
            if isinstance(rid, str):
                patients[f"Patient/{rid}"] = _patient(obj)
            return
    yield from _document(obj, source, prefix=f"line {line_no}", patients=patients, top_level=False)


def _document(
    obj: object,
    source: str | None,
    *,
    prefix: str,
    patients: Mapping[str, PatientContext],
    top_level: bool,
) -> Iterator[Panel]:
    where = prefix or "document"
    if not isinstance(obj, dict):
        raise FHIRError(
            f"not a FHIR resource: a JSON {_json_kind(obj)}, not an object",
            source=source,
            location=where,
        )
    rtype = obj.get("resourceType")
    if not isinstance(rtype, str):
        raise FHIRError("not a FHIR resource: no resourceType", source=source, location=where)
    if rtype not in _TOP_LEVEL:
        if not top_level:
            return  # not an observation: skipped, as in a bundle
        raise FHIRError(
            f"{rtype} is not an observation resource",
            source=source,
            location=where,
            hint="expected an Observation, a DiagnosticReport, a Bundle, or NDJSON of them",
        )
    doc = _Doc(source, patients)
    if rtype == "Bundle":
        doc.add_bundle(obj, prefix)
    else:
        doc.add(obj, f"{prefix} ({_label(obj)})" if prefix else _label(obj), full_url=None)
    produced = False
    for panel in doc.panels():
        produced = True
        yield panel
    if doc.missing and top_level:
        _report_missing(doc.missing, produced, source, where)


def _report_missing(
    missing: int, produced: bool, source: str | None, where: str, *, windowed: bool = False
) -> None:
    """References from reports to Observations the input does not hold: never silent.

    With nothing else to read it is an error (``report`` and ``batch`` both exit 1);
    beside results that were read, a warning that counts them.
    """
    what = f"{missing} Observation{'s' if missing != 1 else ''}"
    said = f"DiagnosticReport.result references {what} not in the input"
    if windowed:
        said = (
            f"DiagnosticReport.result references {what} not found near the report (a Bundle "
            f"of more than {_WINDOW:,} entries is read in windows of {_WINDOW:,})"
        )
    if not produced:
        raise FHIRError(
            f"{said}: no lab results to read",
            source=source,
            location=where,
            hint="export the Observations with the report (a Bundle holding them, contained "
            "Observations, or NDJSON with one resource per line)",
        )
    warnings.warn(
        GuttestsWarning(f"{said} (not read)", source=source, location=where),
        stacklevel=2,
    )


def _json_kind(obj: object) -> str:
    if isinstance(obj, list):
        return "array"
    if isinstance(obj, str):
        return "string"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "boolean"
    return "number"


def _join(prefix: str, part: str) -> str:
    return f"{prefix}, {part}" if prefix else part


def _label(res: JSON) -> str:
    """The resource type only: ids can carry identifiers (``obs-MRN77341``), so
    locations name positions; an Observation's id is kept in ``Provenance.source_id``."""
    return str(res.get("resourceType"))


class _Item(NamedTuple):
    """One Observation claimed for a panel: its group name and its patient (facts, key)."""

    obs: JSON
    group: str | None
    patient: tuple[PatientContext, object]


class _Doc:
    """One JSON document: its resources, their locations and the references between them."""

    def __init__(self, source: str | None, patients: Mapping[str, PatientContext]) -> None:
        self.source = source
        self.patients = patients
        self.index: dict[str, JSON] = {}
        self.order: list[JSON] = []
        self.loc: dict[int, str] = {}
        self.container: dict[int, JSON] = {}
        self.contained: dict[int, dict[str, JSON]] = {}
        self.claimed: set[int] = set()
        self.patient_cache: dict[int, PatientContext] = {}
        self.missing = 0
        """References from a DiagnosticReport's ``result`` to Observations not in the input."""
        self.unresolved: list[tuple[JSON, list[JSON]]] = []
        self.carried: set[int] = set()

    def carry(self) -> list[tuple[JSON, str]]:
        """Reports whose results were not all in this window, to look again in the next.

        Each is carried with only its unresolved references (no longer counted as missing
        here), and carried on while each window finds some of them.
        """
        out: list[tuple[JSON, str]] = []
        for report, refs in self.unresolved:
            if id(report) in self.carried and len(refs) == len(_list(report, "result")):
                continue  # carried here and nothing found: those are missing
            self.missing -= len(refs)
            rest = {k: v for k, v in report.items() if k != "contained"}
            rest["result"] = refs
            out.append((rest, self.loc[id(report)]))
        return out

    def known_patients(self) -> dict[str, PatientContext]:
        """This window's Patients by every reference that names them."""
        out: dict[str, PatientContext] = {}
        for key, res in self.index.items():
            if res.get("resourceType") == "Patient":
                context = self.patient_cache.get(id(res))
                if context is None:
                    context = self.patient_cache[id(res)] = _patient(res)
                out[_relative(key)] = context
        return out

    # -- building -----------------------------------------------------------------------

    def add_bundle(self, bundle: JSON, prefix: str) -> None:
        entries = bundle.get("entry", [])
        where = _join(prefix, _label(bundle))
        if not isinstance(entries, list):
            raise FHIRError("Bundle.entry is not a list", source=self.source, location=where)
        for n, entry in enumerate(entries, 1):
            self.add_entry(entry, _join(prefix, f"entry {n}"), prefix)

    def add_entry(self, entry: object, loc: str, prefix: str) -> None:
        """One Bundle entry (``loc`` names it): its resource, a nested Bundle's entries."""
        if not isinstance(entry, dict):
            raise FHIRError("bundle entry is not an object", source=self.source, location=loc)
        res = entry.get("resource")
        if res is None:
            return  # e.g. a batch-response entry that holds only a response
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            raise FHIRError(
                "entry resource is not a FHIR resource (no resourceType)",
                source=self.source,
                location=loc,
            )
        full_url = entry.get("fullUrl")
        if res["resourceType"] == "Bundle":
            self.add_bundle(res, f"{loc} ({_label(res)})")
        else:
            self.add(res, f"{loc} ({_label(res)})", full_url if isinstance(full_url, str) else None)

    def add(self, res: JSON, loc: str, full_url: str | None, *, carried: bool = False) -> None:
        if carried:
            self.carried.add(id(res))
        self.order.append(res)
        self.loc[id(res)] = loc
        if full_url:
            self.index[full_url] = res
        rid = res.get("id")
        if isinstance(rid, str):
            self.index.setdefault(f"{res['resourceType']}/{rid}", res)
        contained = res.get("contained")
        if not contained:
            return
        if not isinstance(contained, list):
            raise FHIRError("contained is not a list", source=self.source, location=loc)
        by_id: dict[str, JSON] = {}
        for n, inner in enumerate(contained, 1):
            if not isinstance(inner, dict) or not isinstance(inner.get("resourceType"), str):
                raise FHIRError(
                    "contained resource is not a FHIR resource (no resourceType)",
                    source=self.source,
                    location=f"{loc}, contained {n}",
                )
            self.order.append(inner)
            self.loc[id(inner)] = f"{loc}, contained {n} ({_label(inner)})"
            self.container[id(inner)] = res
            iid = inner.get("id")
            if isinstance(iid, str):
                by_id[iid] = inner
        self.contained[id(res)] = by_id

    # -- references ---------------------------------------------------------------------

    def resolve(self, ref_obj: object, holder: JSON) -> JSON | None:
        if not isinstance(ref_obj, dict):
            return None
        ref = ref_obj.get("reference")
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("#"):
            scope = self.container.get(id(holder), holder)
            if ref == "#":
                return scope
            return self.contained.get(id(scope), {}).get(ref[1:])
        found = self.index.get(ref)
        if found is not None:
            return found
        return self.index.get(_relative(ref))

    def patient(self, holder: JSON) -> tuple[PatientContext, object]:
        """Patient facts of ``holder.subject`` and a key that groups by subject."""
        found = self.own_patient(holder)
        return found if found is not None else (_NOBODY, None)

    def own_patient(self, holder: JSON) -> tuple[PatientContext, object] | None:
        """``holder``'s own subject (facts and identity key), ``None`` when it names none.

        The key is one patient identity: the resolved Patient resource, else the
        reference as written (relative form), else the logical identifier.
        """
        subject = holder.get("subject")
        if not isinstance(subject, dict):
            return None
        res = self.resolve(subject, holder)
        if res is not None and res.get("resourceType") == "Patient":
            cached = self.patient_cache.get(id(res))
            if cached is None:
                cached = self.patient_cache[id(res)] = _patient(res)
            return cached, id(res)
        return self.unresolved_patient(subject)

    def unresolved_patient(self, subject: JSON) -> tuple[PatientContext, object] | None:
        """The patient of a ``subject`` that resolves to no Patient in the document."""
        ref = subject.get("reference")
        if isinstance(ref, str) and ref:
            rel = _relative(ref)
            return self.patients.get(rel, _NOBODY), rel
        return _identified_patient(subject.get("identifier"))

    # -- panels -------------------------------------------------------------------------

    def panels(self) -> Iterator[Panel]:
        if len(self.order) == 1 and self.order[0].get("resourceType") == "Observation":
            # the common NDJSON line: one Observation, nothing to resolve inside it
            obs = self.order[0]
            yield self._loose_panel([_Item(obs, None, self.patient(obs))])
            return
        observations = [r for r in self.order if r.get("resourceType") == "Observation"]
        members: set[int] = set()
        for obs in observations:
            for ref in _list(obs, "hasMember"):
                member = self.resolve(ref, obs)
                if member is not None:
                    members.add(id(member))

        staged: list[tuple[int, Panel]] = []
        position = {id(r): n for n, r in enumerate(self.order)}
        for res in self.order:
            if res.get("resourceType") == "DiagnosticReport":
                # a report whose Observations are elsewhere adds nothing (counted as missing)
                staged.extend((position[id(res)], panel) for panel in self._report_panels(res))

        # Observations no report claims: one panel per subject; a member of a group
        # goes with its own subject when it names one.
        items: list[_Item] = []
        for roots_only in (True, False):
            for obs in observations:
                if id(obs) in self.claimed or (roots_only and id(obs) in members):
                    continue
                self._collect(obs, None, self.patient(obs), items)
        for pos, panel_items in self._by_patient(items, position):
            staged.append((pos, self._loose_panel(panel_items)))
        staged.sort(key=lambda item: item[0])
        for _, panel in staged:
            yield panel

    def _by_patient(
        self, items: list[_Item], position: Mapping[int, int]
    ) -> list[tuple[int, list[_Item]]]:
        """``items`` split by patient identity, in the order of each patient's first one."""
        groups: dict[object, tuple[int, list[_Item]]] = {}
        for item in items:
            key = item.patient[1]
            if key not in groups:
                groups[key] = (position[id(item.obs)], [])
            groups[key][1].append(item)
        return list(groups.values())

    def _loose_panel(self, items: list[_Item]) -> Panel:
        first = items[0].obs
        patient = items[0].patient[0]
        results = [
            r for item in items for r in self._results(item.obs, item.group, item.patient[0])
        ]
        location = self.loc[id(first)]
        first_provenance = results[0].provenance if results else None
        # Built trusted: Panel has no validator of its own, and pydantic would run each
        # Result's validator again (already run when each result was built).
        return trusted(
            Panel,
            patient=patient,
            collected=_common([r.collected for r in results]),
            lab=_common([r.lab for r in results]),
            results=tuple(results),
            provenance=first_provenance
            if first_provenance is not None and first_provenance.location == location
            else self._provenance(location),
        )

    def _report_panels(self, report: JSON) -> list[Panel]:
        """The report's Observations, one Panel per patient.

        An Observation's own ``subject`` wins over the report's: when a report lists
        results of several patients, each patient gets a panel of their own (the
        report's name, date and lab on each), so no result is filed under another
        patient. The report's own patient comes first.
        """
        name = _concept_name(report.get("code"))
        own = self.patient(report)
        items: list[_Item] = []
        unresolved: list[JSON] = []
        for ref in _list(report, "result"):
            obs = self.resolve(ref, report)
            if obs is not None and obs.get("resourceType") == "Observation":
                self._collect(obs, name, own, items)
            elif obs is None:
                self.missing += 1
                unresolved.append(ref)
        if unresolved:
            self.unresolved.append((report, unresolved))
        for inner in _list(report, "contained"):
            if inner.get("resourceType") == "Observation":
                self._collect(inner, name, own, items)
        if not items:
            return []
        position = {id(item.obs): n for n, item in enumerate(items)}
        groups = self._by_patient(items, position)
        groups.sort(key=lambda g: (g[1][0].patient[1] != own[1], g[0]))
        collected, lab = _effective(report), self._lab(report)
        provenance = self._provenance(self.loc[id(report)])
        return [
            trusted(  # as in _loose_panel: every result was checked when it was built
                Panel,
                name=name,
                patient=group[0].patient[0],
                collected=collected,
                lab=lab,
                results=tuple(
                    r
                    for item in group
                    for r in self._results(item.obs, item.group, item.patient[0])
                ),
                provenance=provenance,
            )
            for _, group in groups
        ]

    def _collect(
        self,
        root: JSON,
        group: str | None,
        patient: tuple[PatientContext, object],
        out: list[_Item],
    ) -> None:
        """Claim ``root``, then its members and contained Observations, depth first.

        Each one is filed under its own subject when it names one, else under the
        subject it inherits (its group's, its report's).
        """
        stack: list[tuple[JSON, str | None, tuple[PatientContext, object]]] = [
            (root, group, patient)
        ]
        while stack:
            obs, name, inherited = stack.pop()
            if id(obs) in self.claimed:
                continue
            self.claimed.add(id(obs))
            mine = self.own_patient(obs) or inherited
            out.append(_Item(obs, name, mine))
            inner_name = _concept_name(obs.get("code")) or name
            nxt: list[tuple[JSON, str | None, tuple[PatientContext, object]]] = []
            for ref in _list(obs, "hasMember"):
                member = self.resolve(ref, obs)
                if member is not None and member.get("resourceType") == "Observation":
                    nxt.append((member, inner_name, mine))
            for inner in _list(obs, "contained"):
                if inner.get("resourceType") == "Observation":
                    nxt.append((inner, name, mine))
            stack.extend(reversed(nxt))

    def _provenance(self, location: str, source_id: str | None = None) -> Provenance:
        # texts this reader made: no validation (tests/test_reader_trusted.py), laid out
        # as trusted() lays them out
        return _instance(
            Provenance,
            {
                "source": self.source,
                "location": location,
                "format": _FORMAT,
                "source_id": source_id,
            },
            _PROVENANCE_GIVEN,
        )

    def _lab(self, res: JSON) -> str | None:
        for performer in _list(res, "performer"):
            ref = performer.get("reference")
            target = self.resolve(performer, res)
            if target is not None:
                is_org = target.get("resourceType") == "Organization"
            else:
                is_org = not isinstance(ref, str) or _relative(ref).startswith("Organization/")
            if not is_org:
                continue
            display = _str(performer, "display")
            if display is None and target is not None:
                display = _str(target, "name")
            if display is not None:
                return display
        return None

    def _context(self, obs: JSON) -> _Context:
        """What every result of ``obs`` shares: status, collection, specimen, lab, method."""
        return _context_of(obs, self._specimen(obs), self._lab(obs))

    def _specimen(self, obs: JSON) -> tuple[Specimen | None, str | None]:
        ref = obs.get("specimen")
        target = self.resolve(ref, obs)
        text = None
        if target is not None and target.get("resourceType") == "Specimen":
            text = _concept_name(target.get("type"))
            if text is None:
                text = _concept_code(target.get("type"))
        if text is None and isinstance(ref, dict):
            text = _str(ref, "display")
        if text is None:
            return None, None
        return specimen_in_text(text), text

    def _results(
        self, obs: JSON, group: str | None, patient: PatientContext = _NOBODY
    ) -> list[Result]:
        loc = self.loc[id(obs)]
        status, collected, specimen, specimen_text, lab, method = self._context(obs)
        components = _list(obs, "component")
        own_keys = _value_keys(obs)
        parts: list[tuple[JSON, str, list[str]]] = []
        if own_keys or "dataAbsentReason" in obs or not components:
            parts.append((obs, loc, own_keys))
        parts.extend(
            (c, f"{loc}, component {n}", _value_keys(c)) for n, c in enumerate(components, 1)
        )
        identifiers = _identifiers(obs.get("identifier"))
        source_id = obs.get("id") if isinstance(obs.get("id"), str) else None
        out: list[Result] = []
        for part, where, keys in parts:
            value = _value(part, keys)
            code, codes, name, _, _, flags = info = _part(part, value.unit, lab)
            lab_rng, lab_rng_text = _ranges(info, value.unit, lab, patient, collected)
            fields = {
                "name": name,
                "code": code,
                "codes": codes,
                "value_text": value.text,
                "value": value.value,
                "value_error": value.error,
                "unit": value.unit,
                "lab_range": lab_rng,
                "lab_range_text": lab_rng_text,
                "lab_flags": flags,
                "specimen": specimen,
                "specimen_text": specimen_text,
                "collected": collected,
                "lab": lab,
                "method": method,
                "status": status,
                "provenance": self._provenance(where, source_id),
                "identifiers": identifiers,
                "panel": group,
            }
            # Every value is of its field's type, made by this reader, so pydantic's type
            # checks have nothing to do (tests/test_reader_trusted.py compares with the
            # validated Result); the Result's own validator is run here (a value read from
            # its own text by parse_value passes it, see _line_panel), and anything it
            # refuses goes through the validating constructor, which raises as before.
            if (
                value.value is None
                or (len(keys) == 1 and keys[0] in _READ_FROM_TEXT)
                or value_text_problem(value.text, value.value) is None
            ):
                data = _RESULT_LAYOUT.copy()
                data.update(fields)  # every field given, in field order (the layout's)
                out.append(_instance(Result, data, _RESULT_GIVEN))
            else:
                out.append(Result(**fields))
        return out


class _Line(_Doc):
    """An NDJSON line holding one Observation and nothing else (no ``contained``).

    Nothing in it resolves to another resource (a reference can name only the
    Observation itself, never a Patient, Specimen or Organization), so its specimen,
    lab and patient follow from its JSON alone: what repeats from line to line is
    read once (:func:`_line_context`), and equal parts give the very same objects (the
    batch writer's cache keys them by identity). Only :meth:`panel` is called: the
    document state of :class:`_Doc` is not set up. The common line (no components)
    takes the shorter way of :func:`_line_panel`. Both equal what :func:`_document`
    makes of the line (``tests/test_fhir_fast.py`` compares them on every fixture and
    on generated lines).
    """

    def __init__(
        self, source: str | None, patients: Mapping[str, PatientContext], obs: JSON, loc: str
    ) -> None:
        self.source = source
        self.patients = patients
        self.obs = obs
        self.loc = {id(obs): loc}

    def panel(self) -> Panel:
        """The line's panel, as :meth:`_Doc._loose_panel` makes it of one Observation."""
        obs = self.obs
        subject = obs.get("subject")
        found = self.unresolved_patient(subject) if isinstance(subject, dict) else None
        patient = found[0] if found is not None else _NOBODY
        results = self._results(obs, None, patient)
        location = self.loc[id(obs)]
        first = results[0].provenance if results else None
        if len(results) == 1:
            collected, lab = results[0].collected, results[0].lab
        else:
            collected, lab = (
                _common([r.collected for r in results]),
                _common([r.lab for r in results]),
            )
        return trusted(
            Panel,
            patient=patient,
            collected=collected,
            lab=lab,
            results=tuple(results),
            provenance=first
            if first is not None and first.location == location
            else self._provenance(location),
        )

    def resolve(self, ref_obj: object, holder: JSON) -> JSON | None:
        # as _Doc.resolve on a document that holds only ``self.obs``
        if not isinstance(ref_obj, dict):
            return None
        ref = ref_obj.get("reference")
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("#"):
            return self.obs if ref == "#" else None
        rid = self.obs.get("id")
        own = f"Observation/{rid}" if isinstance(rid, str) else None
        if own is not None and own in (ref, _relative(ref)):
            return self.obs
        return None

    def _context(self, obs: JSON) -> _Context:
        key = _dumps(tuple(map(obs.get, _TIMELESS_KEYS)))
        if key is None:
            return super()._context(obs)
        return _line_context(key)._replace(collected=_effective(obs))


def _line_panel(
    source: str | None, patients: Mapping[str, PatientContext], obs: JSON, location: str
) -> Panel:
    """The panel of an NDJSON line holding one Observation (no ``contained``): what
    ``_Line(source, patients, obs, location).panel()`` makes, the short way when it has no
    components.

    Everything but its value, collection time, subject, id and identifiers is looked up
    by the JSON it is read from (one key, :func:`_line_shape`), with the Result's other
    fields ready in field order (:class:`_LineShape`); the Result, its Provenance and the
    Panel are laid out as :func:`~guttests._models.trusted` lays them out
    (:func:`_instance`). A value read from a number or a string by
    :func:`~guttests.parse_value` is the value of its own text (``value_text``), so the
    Result's check has nothing to find; any other value is checked as
    :meth:`_Doc._results` checks it.
    """
    get = obs.get
    if "component" in obs and _list(obs, "component"):
        return _Line(source, patients, obs, location).panel()
    key = _dumps(tuple(map(get, _LINE_KEYS)))
    if key is None:
        return _Line(source, patients, obs, location).panel()
    keys = _KEYS_WITH_VALUE.get(names := tuple(obs))
    if keys is None:
        if len(_KEYS_WITH_VALUE) >= 1024:
            _KEYS_WITH_VALUE.clear()
        keys = _KEYS_WITH_VALUE[names] = _value_keys(obs)
    if keys == _QUANTITY_KEY:
        value = _quantity(obs["valueQuantity"])
        checked = True  # value_or_error of value.text, or no value
    else:
        value = _value(obs, keys)
        checked = value.value is None or (len(keys) == 1 and keys[0] in _READ_FROM_TEXT)
    shape = _line_shape(key, value.unit)
    context = shape.context
    part = shape.part
    collected = _effective(obs)  # one object per time (_when_cached)
    subject = get("subject")
    patient = _line_patient(patients, subject) if isinstance(subject, dict) else _NOBODY
    ranges = part.fixed
    if ranges is None:
        ranges = _choose(part.ranges, value.unit, context.lab, patient, collected)
    rid = get("id")
    provenance = _instance(
        Provenance,
        {
            "source": source,
            "location": location,
            "format": _FORMAT,
            "source_id": rid if isinstance(rid, str) else None,
        },
        _PROVENANCE_GIVEN,
    )
    data = shape.result.copy()
    data["value_text"] = value.text
    data["value"] = value.value
    data["value_error"] = value.error  # (and the unit: the shape's)
    data["collected"] = collected
    data["lab_range"], data["lab_range_text"] = ranges
    data["provenance"] = provenance
    identifiers = get("identifier")
    if identifiers is not None:
        data["identifiers"] = _identifiers(identifiers)
    if checked or value_text_problem(value.text, value.value) is None:
        result = _instance(Result, data, _RESULT_GIVEN)
    else:  # the validating constructor raises as it does on the document path
        result = Result(**{k: data[k] for k in _RESULT_GIVEN})
    return _instance(
        Panel,
        {
            "name": None,
            "patient": patient,
            "collected": collected,
            "lab": context.lab,
            "results": (result,),
            "provenance": provenance,
        },
        _PANEL_GIVEN,
    )


def _line_patient(patients: Mapping[str, PatientContext], subject: JSON) -> PatientContext:
    """The patient of a line's ``subject``, as :meth:`_Doc.unresolved_patient` finds it."""
    ref = subject.get("reference")
    if isinstance(ref, str) and ref:
        return patients.get(_relative(ref), _NOBODY)
    found = _identified_patient(subject.get("identifier"))
    return found[0] if found is not None else _NOBODY


_QUANTITY_KEY = ["valueQuantity"]
_READ_FROM_TEXT = frozenset({"valueQuantity", "valueString"})
"""value[x] whose value (when there is one) is parse_value of the Result's ``value_text``
itself (:func:`_quantity`, :func:`_value`): the Result's check cannot find a difference."""

_new = object.__new__
_setattr = object.__setattr__


def _instance(cls: type[_M], data: dict[str, Any], given: frozenset[str]) -> _M:
    """A model laid out as :func:`~guttests._models.trusted` lays it out: ``data`` holds
    every field in field order (a copy of a :func:`_layout`), ``given`` the fields the
    caller gave (``tests/test_fhir_fast.py`` compares the two ways)."""
    m = _new(cls)
    _setattr(m, "__dict__", data)
    _setattr(m, "__pydantic_fields_set__", set(given))
    _setattr(m, "__pydantic_extra__", None)
    _setattr(m, "__pydantic_private__", None)
    return m


def _layout(cls: type[_M], **values: Any) -> tuple[dict[str, Any], frozenset[str]]:
    """``trusted(cls, **values)``'s fields in order and the fields given."""
    made = trusted(cls, **values)
    return made.__dict__, frozenset(made.__pydantic_fields_set__)


_PROVENANCE_GIVEN = _layout(Provenance, source=None, location="", format=_FORMAT, source_id=None)[1]
_PANEL_GIVEN = _layout(
    Panel, patient=_NOBODY, collected=None, lab=None, results=(), provenance=None
)[1]
_RESULT_FIELDS = (
    "name",
    "code",
    "codes",
    "value_text",
    "value",
    "value_error",
    "unit",
    "lab_range",
    "lab_range_text",
    "lab_flags",
    "specimen",
    "specimen_text",
    "collected",
    "lab",
    "method",
    "status",
    "provenance",
    "identifiers",
    "panel",
)
"""The fields :meth:`_Doc._results` gives a Result."""
_RESULT_GIVEN = frozenset(_RESULT_FIELDS)
_RESULT_LAYOUT, _RESULT_LAYOUT_GIVEN = _layout(Result, **dict.fromkeys(_RESULT_FIELDS))
"""A Result's fields in field order, defaults for those not given (each use fills a copy)."""
if _RESULT_LAYOUT_GIVEN != _RESULT_GIVEN:  # pragma: no cover - built from the same names
    raise AssertionError("Result layout")


_KEYS_WITH_VALUE: dict[tuple[str, ...], list[str]] = {}
"""The value[x] keys of an Observation, by its keys in order (lines repeat their keys);
read only, never changed by a caller."""

_TIMELESS_KEYS = ("status", "specimen", "performer", "method")
"""The keys of an Observation that :meth:`_Doc._context` reads but for the collection
time (``effective[x]``, read on each line: it changes from order to order)."""
_LINE_KEYS = (*_TIMELESS_KEYS, "code", "referenceRange", "interpretation")
"""The keys of a one-Observation line read once per distinct JSON (``_line_shape``)."""


class _Context(NamedTuple):
    status: ResultStatus
    collected: datetime | date | None
    specimen: Specimen | None
    specimen_text: str | None
    lab: str | None
    method: str | None


def _context_of(
    obs: JSON, specimen: tuple[Specimen | None, str | None], lab: str | None
) -> _Context:
    status = status_from_text(_str(obs, "status"), codes_only=True) or ResultStatus.UNKNOWN
    return _Context(status, _effective(obs), *specimen, lab, _concept_name(obs.get("method")))


@lru_cache(maxsize=4096)
def _line_context(raw_json: bytes) -> _Context:
    """The context of a line from the JSON of its :data:`_TIMELESS_KEYS` (``collected`` is
    ``None``: each line's own is put in)."""
    obs = dict(zip(_TIMELESS_KEYS, orjson.loads(raw_json), strict=True))
    one = _Line(None, {}, obs, "")
    return _context_of(obs, one._specimen(obs), one._lab(obs))


class _LineShape(NamedTuple):
    """What Observation lines with the same JSON but for their value, collection time,
    subject, id and identifiers share (:func:`_line_panel`)."""

    context: _Context
    part: _Part
    result: dict[str, Any]
    """A Result's fields in field order, those of the shape filled in (never changed:
    each line fills a copy)."""


@lru_cache(maxsize=4096)
def _line_shape(raw_json: bytes, unit: str | None) -> _LineShape:
    """Context, part and Result layout of an Observation line, from the JSON of what they
    read."""
    parts = orjson.loads(raw_json)
    context = _line_context(orjson.dumps(parts[: len(_TIMELESS_KEYS)]))
    code, rr, interpretation = parts[len(_TIMELESS_KEYS) :]
    part = _part(
        {"code": code, "referenceRange": rr, "interpretation": interpretation}, unit, context.lab
    )
    fields = {
        "name": part.name,
        "code": part.code,
        "codes": part.codes,
        "value_text": "",
        "value": None,
        "value_error": None,
        "unit": unit,
        "lab_range": None,
        "lab_range_text": None,
        "lab_flags": part.flags,
        "specimen": context.specimen,
        "specimen_text": context.specimen_text,
        "collected": None,
        "lab": context.lab,
        "method": context.method,
        "status": context.status,
        "provenance": _PLACEHOLDER,
        "identifiers": (),
        "panel": None,
    }
    layout, given = _layout(Result, **fields)
    if given != _RESULT_GIVEN:  # pragma: no cover - the names above are _RESULT_FIELDS
        raise AssertionError("Result layout")
    return _LineShape(context, part, layout)


_PLACEHOLDER = trusted(Provenance, location="")


def _identified_patient(raw: object) -> tuple[PatientContext, object] | None:
    """The patient named by a logical ``subject.identifier`` (no reference): one object
    for each identifier, as the lines of one patient repeat it."""
    key = _dumps(raw) if isinstance(raw, dict) else None
    return _identified_patient_of(key) if key is not None else _identified_patient_read(raw)


@lru_cache(maxsize=4096)
def _identified_patient_of(raw_json: bytes) -> tuple[PatientContext, object] | None:
    return _identified_patient_read(orjson.loads(raw_json))


def _identified_patient_read(raw: object) -> tuple[PatientContext, object] | None:
    ident = _identifier(raw)
    if ident is None:
        return None
    context = PatientContext(patient_id=ident.value, identifiers=(ident,))
    return context, ("identifier", *ident.key)


def _relative(ref: str) -> str:
    """``https://x/base/Observation/1/_history/2`` -> ``Observation/1``."""
    if "/_history/" in ref:
        ref = ref.split("/_history/", 1)[0]
    if "://" in ref:
        parts = ref.rsplit("/", 2)
        if len(parts) == 3:
            return f"{parts[1]}/{parts[2]}"
    return ref


def _common(values: list[Any]) -> Any:
    first = values[0] if values else None
    return first if all(v == first for v in values) else None


# --- small typed accessors ----------------------------------------------------------------


def _dumps(obj: object) -> bytes | None:
    """Compact JSON of a parsed part, or ``None`` when it nests deeper than orjson writes."""
    try:
        return orjson.dumps(obj, default=_plain)
    except orjson.JSONEncodeError:
        return None


def _plain(obj: object) -> float:
    if isinstance(obj, float):  # a _Decimal: its float for cache keys
        return float(obj)
    raise TypeError


def _str(d: JSON, key: str) -> str | None:
    v = d.get(key)
    return v if isinstance(v, str) and v.strip() else None


def _list(d: JSON, key: str) -> list[JSON]:
    v = d.get(key)
    if not isinstance(v, list):
        return []
    return [x for x in v if isinstance(x, dict)]


def _concept_name(cc: object) -> str | None:
    """CodeableConcept.text, else the first coding display."""
    if not isinstance(cc, dict):
        return None
    text = _str(cc, "text")
    if text is not None:
        return text
    for c in _list(cc, "coding"):
        display = _str(c, "display")
        if display is not None:
            return display
    return None


def _concept_code(cc: object) -> str | None:
    if isinstance(cc, dict):
        for c in _list(cc, "coding"):
            code = _str(c, "code")
            if code is not None:
                return code
    return None


@lru_cache(maxsize=4096)
def _coding(system: str | None, code: str, display: str | None) -> Coding:
    return Coding(system=system, code=code, display=display)


def _codes(cc: object) -> tuple[Coding | None, tuple[Coding, ...], str | None]:
    """(main coding: LOINC if any else the first, the other codings, name)."""
    if not isinstance(cc, dict):
        return None, (), None
    key = _dumps(cc)
    return _codes_of(key) if key is not None else _codes_read(cc)


@lru_cache(maxsize=8192)
def _codes_of(raw_json: bytes) -> tuple[Coding | None, tuple[Coding, ...], str | None]:
    return _codes_read(orjson.loads(raw_json))


def _codes_read(cc: JSON) -> tuple[Coding | None, tuple[Coding, ...], str | None]:
    codings = []
    for c in _list(cc, "coding"):
        code = c.get("code")
        if isinstance(code, str) and code:
            system = c.get("system")
            display = c.get("display")
            codings.append(
                _coding(
                    system if isinstance(system, str) else None,
                    code,
                    display if isinstance(display, str) else None,
                )
            )
    name = _concept_name(cc)
    if not codings:
        return None, (), name
    main = next((c for c in codings if c.system == _LOINC), codings[0])
    return main, tuple(c for c in codings if c is not main), name


class _Part(NamedTuple):
    """What a part (an Observation or a component) says besides its value."""

    code: Coding | None
    codes: tuple[Coding, ...]
    name: str | None
    ranges: tuple[_Candidate, ...]
    fixed: tuple[ReferenceRange | None, str | None] | None
    """The lab range and its text when they do not depend on the patient, else ``None``."""
    flags: tuple[str, ...]


def _part(part: JSON, unit: str | None, lab: str | None) -> _Part:
    """Codes, reference ranges and flags of ``part``; equal JSON gives the same objects."""
    code, rr, interpretation = (
        part.get("code"),
        part.get("referenceRange"),
        part.get("interpretation"),
    )
    key = _dumps((code, rr, interpretation))
    if key is not None:
        return _part_of(key, unit, lab)
    return _part_read(code, rr, interpretation, unit, lab)


@lru_cache(maxsize=8192)
def _part_of(raw_json: bytes, unit: str | None, lab: str | None) -> _Part:
    code, rr, interpretation = orjson.loads(raw_json)
    return _part_read(code, rr, interpretation, unit, lab)


def _part_read(
    code: object, rr: object, interpretation: object, unit: str | None, lab: str | None
) -> _Part:
    candidates = _candidates(rr, unit, lab)
    fixed: tuple[ReferenceRange | None, str | None] | None = None
    if not candidates:
        fixed = (None, None)
    elif any(c.unconditional for c in candidates):
        fixed = _choose(candidates, unit, lab, _NOBODY, None)
    return _Part(*_codes(code), candidates, fixed, _flags(interpretation))


def _flags(interpretations: object) -> tuple[str, ...]:
    if not isinstance(interpretations, list):
        return ()
    key = _dumps(interpretations)
    return _flags_of(key) if key is not None else _flags_read(interpretations)


@lru_cache(maxsize=1024)
def _flags_of(raw_json: bytes) -> tuple[str, ...]:
    return _flags_read(orjson.loads(raw_json))


def _flags_read(interpretations: list[Any]) -> tuple[str, ...]:
    flags: list[str] = []
    for cc in interpretations:
        if not isinstance(cc, dict):
            continue
        for c in _list(cc, "coding"):
            code = _str(c, "code")
            system = c.get("system")
            if code is not None and (
                system is None or _str(c, "system") in _INTERPRETATION_SYSTEMS
            ):
                flags.append(code)
    return tuple(flags)


def _when(text: object) -> datetime | date | None:
    return _when_cached(text) if isinstance(text, str) else None


@lru_cache(maxsize=4096)
def _when_cached(text: str) -> datetime | date | None:
    try:
        if _FULL_DATE.match(text):
            return date.fromisoformat(text)
        if len(text) > 10 and text[10] == "T":
            return datetime.fromisoformat(text)
    except ValueError:
        return None
    return None


def _effective(res: JSON) -> datetime | date | None:
    when = res.get("effectiveDateTime") or res.get("effectiveInstant")
    if when is None:
        period = res.get("effectivePeriod")
        if isinstance(period, dict):
            when = period.get("start")
    return _when(when)


def _patient(res: JSON) -> PatientContext:
    sex = sex_from_text(_str(res, "gender"), codes_only=True)
    birth = res.get("birthDate")
    when = _when(birth)  # None for partial and impossible dates (2013-02-30)
    birth_date = when if isinstance(when, date) and not isinstance(when, datetime) else None
    identifiers = _identifiers(res.get("identifier"))
    patient_id = identifiers[0].value if identifiers else None
    name = None
    for human in _list(res, "name"):
        name = _str(human, "text")
        if name is None:
            given = [g for g in human.get("given") or () if isinstance(g, str)]
            family = _str(human, "family")
            name = " ".join([*given, family] if family else given) or None
        if name is not None:
            break
    return PatientContext(
        patient_id=patient_id,
        identifiers=identifiers,
        name=name,
        sex=sex,
        birth_date=birth_date,
    )


def _identifier(raw: object) -> Identifier | None:
    """A FHIR Identifier as given: value, system, assigner's display, type code."""
    if not isinstance(raw, dict):
        return None
    value = _str(raw, "value")
    if value is None:
        return None
    assigner = raw.get("assigner")
    # texts of the input (str or None, as the model declares): laid out as pydantic
    # validates them (tests/test_fhir_fast.py compares the two)
    return _instance(
        Identifier,
        {
            "value": value,
            "system": _str(raw, "system"),
            "assigner": _str(assigner, "display") if isinstance(assigner, dict) else None,
            "type": _concept_code(raw.get("type")),
        },
        _IDENTIFIER_GIVEN,
    )


_IDENTIFIER_GIVEN = frozenset({"value", "system", "assigner", "type"})


def _identifiers(raw: object) -> tuple[Identifier, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(i for i in map(_identifier, raw) if i is not None)


# --- values -------------------------------------------------------------------------------


class _Read(NamedTuple):
    text: str
    value: Value | None
    error: str | None
    unit: str | None


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _number_text(v: int | float) -> str:
    """The number as the input wrote it.

    The strict decoder keeps each decimal's text (a :class:`_Decimal`); a plain float comes
    from orjson (:func:`_fast_loads`), only for text that is what orjson writes for it.
    """
    if isinstance(v, _Decimal):
        return v.text
    if isinstance(v, float):
        return orjson.dumps(v).decode()
    return repr(v)


def _raw_text(v: object) -> str:
    if isinstance(v, str):
        return v
    raw = _dumps(v)
    if raw is not None:
        return raw.decode()
    try:  # an integer past 64 bits, which orjson does not write: as the input wrote it
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    except (RecursionError, ValueError):
        return "(JSON nested too deeply to show)"


def _quantity_unit(q: JSON) -> str | None:
    code = _str(q, "code")
    if code is not None and q.get("system") == _UCUM:
        return code
    return _str(q, "unit")


def _value_keys(src: JSON) -> list[str]:
    """The value[x] keys present, known or not (an R5 ``valueAttachment`` is not lost)."""
    return [k for k in src if k[:5] == "value"]


def _value(src: JSON, keys: list[str]) -> _Read:
    if not keys:
        reason = src.get("dataAbsentReason")
        if reason is not None:
            why = _concept_name(reason) or _concept_code(reason) or "reason not given"
            return _Read("", None, f"no value: {why}", None)
        return _Read("", None, "no value", None)
    if len(keys) > 1:
        return _Read("", None, f"more than one value: {', '.join(keys)}", None)
    key = keys[0]
    raw = src[key]
    if key == "valueQuantity":
        return _quantity(raw)
    if key == "valueString":
        if not isinstance(raw, str):
            return _error(_raw_text(raw), "valueString is not a string")
        return _parsed(raw, None)
    if key == "valueCodeableConcept":
        return _coded(raw)
    if key == "valueInteger":
        if not isinstance(raw, int) or isinstance(raw, bool):
            return _error(_raw_text(raw), "valueInteger is not an integer")
        text = str(raw)
        try:
            number = float(raw)
        except OverflowError:  # more than 308 digits: no float holds it
            return _error(text, "valueInteger is too large to read as a number")
        return _Read(text, QuantityValue(text=text, value=number), None, None)
    if key == "valueBoolean":
        return _error(_raw_text(raw), "valueBoolean is not supported as a lab value")
    if key in ("valueRange", "valueRatio", "valueSampledData", "valuePeriod"):
        return _error(_compound_text(key, raw), f"{key} is not a single value")
    if key in ("valueTime", "valueDateTime"):
        return _error(_raw_text(raw), f"{key} is a date or time, not a lab value")
    return _error(_raw_text(raw), f"{key} is not a value type guttests reads")


def _error(text: str, reason: str, unit: str | None = None) -> _Read:
    return _Read(text, None, str(ValueParseError(reason, text=text)), unit)


def _parsed(text: str, unit: str | None) -> _Read:
    value, error = value_or_error(text)
    return _Read(text, value, error, unit)


def _quantity(q: object) -> _Read:
    if not isinstance(q, dict):
        return _error(_raw_text(q), "valueQuantity is not an object")
    unit = _quantity_unit(q)
    raw = q.get("value")
    if type(raw) is float:  # the common number, as orjson read it (see _number_text)
        text = orjson.dumps(raw).decode()
    elif raw is None:
        return _Read("", None, "no value: valueQuantity has no value", unit)
    elif not _is_number(raw):
        return _error(_raw_text(raw), "valueQuantity.value is not a JSON number", unit)
    else:
        text = _number_text(raw)
    comparator = q.get("comparator")
    if comparator is None:
        return _Read(text, *_number_value(text), unit)
    if isinstance(comparator, str) and comparator in _COMPARATORS:
        text = f"{comparator}{text}"
        return _Read(text, *_number_value(text), unit)
    return _error(
        f"{_raw_text(comparator)}{text}",
        f"comparator {_raw_text(comparator)!r} is not a limit (<, <=, >=, >)",
        unit,
    )


_NONZERO_MANTISSA = re.compile(r"^[<>=]*-?0*\.?0*[1-9]")


# Lab values repeat (limited precision): read each spelling once. Half the size of
# parse_value's own cache: a text parse_value read for this cache is still there, so the
# Result's check (value_text_problem, which parses the text again; NDJSON lines skip it,
# see _line_panel) finds it instead of parsing anew.
@lru_cache(maxsize=4096)
def _number_value(text: str) -> tuple[Value | None, str | None]:
    """A JSON number's exact text (with its comparator) read as a value, never rounded away.

    The text goes through :func:`~guttests.parse_value`, as every format's values do; a
    number that is not zero but too small for a float (``1e-400``) is refused, not 0.
    """
    value, error = value_or_error(text)
    number = (
        value.value
        if isinstance(value, QuantityValue)
        else value.limit
        if isinstance(value, CensoredValue)
        else None
    )
    if number == 0.0 and _NONZERO_MANTISSA.match(text.split("e")[0].split("E")[0]):
        reason = "the number is too small to represent (it would read as 0)"
        return None, str(ValueParseError(reason, text=text))
    return value, error


def _coded(cc: object) -> _Read:
    if not isinstance(cc, dict):
        return _error(_raw_text(cc), "valueCodeableConcept is not an object")
    # One table of coded results for every reader (guttests/_data/coded_values.toml).
    found = None
    for c in _list(cc, "coding"):
        system, code = _str(c, "system"), _str(c, "code")
        entry = coded_entry(system, code)
        if entry is not None:
            found = (system, code, entry.display)
            break
    text = _concept_name(cc) or (found[2] if found else None) or _concept_code(cc)
    if text is None:
        return _Read("", None, "no value: valueCodeableConcept has no text or coding", None)
    if found is None:
        return _parsed(text, None)
    value, error = coded_value(found[0], found[1], text)
    return _Read(text, value, error, None)


def _compound_text(key: str, raw: object) -> str:
    if not isinstance(raw, dict):
        return _raw_text(raw)
    if key == "valueRange":
        low, high = _bound(raw.get("low")), _bound(raw.get("high"))
        lo = "" if low is None else _number_text(low)
        hi = "" if high is None else _number_text(high)
        return f"{lo}-{hi}"
    if key == "valueRatio":
        num, den = _bound(raw.get("numerator")), _bound(raw.get("denominator"))
        if num is not None and den is not None:
            return f"{_number_text(num)}:{_number_text(den)}"
    return _raw_text(raw)


def _bound(q: object) -> int | float | None:
    if isinstance(q, dict):
        v = q.get("value")
        if _is_number(v):
            return v
    return None


# --- reference ranges ---------------------------------------------------------------------


class _Candidate(NamedTuple):
    range: ReferenceRange
    describe: str
    text: str | None
    unconditional: bool
    representable: bool


def _candidates(raw: object, unit: str | None, lab: str | None) -> tuple[_Candidate, ...]:
    if not isinstance(raw, list):
        return ()
    # The same ranges repeat on every result of an analyte: read each spelling once.
    key = _dumps(raw)
    if key is None:  # JSON orjson does not write (an integer past 64 bits): read as it is
        return _candidates_read(raw, unit, lab)
    return _candidates_of(key, unit, lab)


def _ranges(
    part: _Part,
    unit: str | None,
    lab: str | None,
    patient: PatientContext,
    when: date | datetime | None,
) -> tuple[ReferenceRange | None, str | None]:
    if part.fixed is not None:
        return part.fixed
    return _choose(part.ranges, unit, lab, patient, when)


def _choose(
    candidates: tuple[_Candidate, ...],
    unit: str | None,
    lab: str | None,
    patient: PatientContext,
    when: date | datetime | None,
) -> tuple[ReferenceRange | None, str | None]:
    if not candidates:
        return None, None
    chosen = next((c for c in candidates if c.unconditional), None)
    if chosen is None:
        representable = [c for c in candidates if c.representable]
        chosen = next(
            (c for c in representable if _applies(c.range.applies_to, patient, when)),
            representable[0] if representable else candidates[0],
        )
    rng = chosen.range if chosen.representable else _as_text(chosen.describe, unit, lab)
    if len(candidates) == 1:
        return rng, chosen.text
    return rng, " | ".join(c.describe for c in candidates)


@lru_cache(maxsize=1024)
def _as_text(describe: str, unit: str | None, lab: str | None) -> ReferenceRange:
    """A range with conditions guttests cannot check, kept as text (one object per text)."""
    return lab_range(None, None, unit=unit, text=describe, lab=lab).model_copy(
        update={"note": "range conditions guttests cannot check; kept as text"}
    )


def _applies(a: Applicability, patient: PatientContext, when: date | datetime | None) -> bool:
    """Whether the patient's known facts satisfy a range's sex and age conditions."""
    if a.sex is not None and patient.sex != a.sex:
        return False
    if a.needs_age:
        days = patient.age_days_at(when)
        if days is None:
            return False
        if a.age_low is not None and days < a.age_low.days:
            return False
        if a.age_high is not None and days >= a.age_high.days:
            return False
    return True


@lru_cache(maxsize=8192)
def _candidates_of(raw_json: bytes, unit: str | None, lab: str | None) -> tuple[_Candidate, ...]:
    return _candidates_read(orjson.loads(raw_json), unit, lab)


def _candidates_read(raw: list[Any], unit: str | None, lab: str | None) -> tuple[_Candidate, ...]:
    return tuple(c for rr in raw if isinstance(rr, dict) for c in [_candidate(rr, unit, lab)] if c)


def _candidate(rr: JSON, unit: str | None, lab: str | None) -> _Candidate | None:
    text = _str(rr, "text")
    low_q, high_q = rr.get("low"), rr.get("high")
    if text is None and low_q is None and high_q is None:
        return None  # an empty range says nothing (FHIR obs-3 forbids it)
    low, high = _bound(low_q), _bound(high_q)
    unread = [
        name
        for name, q, v in (("low", low_q, low), ("high", high_q, high))
        if q is not None and v is None
    ]
    units = {_quantity_unit(q) for q in (low_q, high_q) if isinstance(q, dict)} - {None}
    range_unit = units.pop() if len(units) == 1 else unit

    applies, unchecked, kind = _conditions(rr)
    described = text or _describe(low, high, range_unit)
    notes = [applies.describe()] if applies != _ANYONE else []
    notes += unchecked
    if kind and kind not in _REFERENCE_TYPES:
        notes.append(f"type {kind}")
    if notes:
        described = f"{described} ({'; '.join(notes)})"

    note = None
    if unread:
        note = f"{' and '.join(unread)} bound is not a number"
    elif len(units) > 1:
        note = "low and high bounds are in different units"
    elif low is not None and high is not None and low > high:
        note = "inverted interval"
    rng: ReferenceRange
    if note is not None:
        rng = lab_range(None, None, unit=range_unit, text=described, lab=lab).model_copy(
            update={"note": note}
        )
    elif low is not None or high is not None:
        try:
            rng = lab_range(low, high, unit=range_unit, text=text, lab=lab, applies_to=applies)
        except ValueError as err:  # bounds the range model refuses: keep them as text
            rng = lab_range(None, None, unit=range_unit, text=described, lab=lab).model_copy(
                update={"note": f"not a valid range: {err}"}
            )
    elif text is not None:
        rng = parse_range_text(text, unit=range_unit, lab=lab)
        if applies != _ANYONE:
            rng = rng.model_copy(update={"applies_to": applies})
    else:
        rng = lab_range(None, None, unit=range_unit, text=described, lab=lab)
    representable = not unchecked and (not kind or kind in _REFERENCE_TYPES)
    unconditional = representable and applies == _ANYONE
    return _Candidate(rng, described, text, unconditional, representable)


def _describe(low: float | None, high: float | None, unit: str | None) -> str:
    interval = interval_text(low, True, high, True)
    return f"{interval} {unit}" if unit and (low is not None or high is not None) else interval


def _conditions(rr: JSON) -> tuple[Applicability, list[str], str | None]:
    """Applicability guttests can check, the conditions it cannot, and the range type."""
    unchecked: list[str] = []
    kind = _concept_code(rr.get("type")) or _concept_name(rr.get("type"))
    sexes: set[Sex] = set()
    for cc in _list(rr, "appliesTo"):
        sex = _sex_of(cc)
        if sex is None:
            unchecked.append(_concept_name(cc) or _concept_code(cc) or "unnamed condition")
        else:
            sexes.add(sex)
    if len(sexes) > 1:
        unchecked.append(" or ".join(sorted(sexes)))
        sexes.clear()
    age_low = age_high = None
    age = rr.get("age")
    if isinstance(age, dict):
        age_low, ok_low = _age(age.get("low"), inclusive_high=False)
        age_high, ok_high = _age(age.get("high"), inclusive_high=True)
        if not (ok_low and ok_high):
            unchecked.append(f"age {_raw_text(age)}")
            age_low = age_high = None
    try:
        applies = Applicability(
            sex=sexes.pop() if sexes else None, age_low=age_low, age_high=age_high
        )
    except ValidationError:
        unchecked.append(f"age {_raw_text(age)}")
        applies = Applicability(sex=None)
    return applies, unchecked, kind


def _sex_of(cc: JSON) -> Sex | None:
    for c in _list(cc, "coding"):
        system, code = c.get("system"), _str(c, "code") or ""
        if system == _SNOMED and code in _SNOMED_SEX:
            return _SNOMED_SEX[code]
        gender = sex_from_text(code, codes_only=True) if system == _GENDER_SYSTEM else None
        if gender is not None:
            return gender
    text = (_str(cc, "text") or "").strip().lower()
    if not _list(cc, "coding"):
        return sex_from_text(text, codes_only=True)
    return None


def _age(q: object, *, inclusive_high: bool) -> tuple[Age | None, bool]:
    """An age bound, and whether it could be read (absent counts as read)."""
    if q is None:
        return None, True
    if not isinstance(q, dict):
        return None, False
    value = _bound(q)
    code = _str(q, "code") if q.get("system") == _UCUM else None
    unit = _AGE_UNITS.get(code or (_str(q, "unit") or "").strip().lower())
    if value is None or unit is None or value < 0:
        return None, False
    if inclusive_high:
        # FHIR bounds are inclusive and ages are given in completed units:
        # "12-14 a" holds up to the 15th birthday.
        if not float(value).is_integer():
            return None, False
        value = value + 1
    return Age(value=value, unit=unit), True
