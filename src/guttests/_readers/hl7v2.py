"""Reading HL7 v2 ORU^R01 lab reports (v2.3 to v2.8) into panels.

One :class:`~guttests._models.Panel` per OBR, holding one
:class:`~guttests._models.Result` per OBX, with the patient context of the
message's PID. Every OBX segment in the input becomes exactly one result, in
any message type: a non-ORU message that carries OBX segments is read the same
way, and one without OBX segments (an ACK, an ADT) contributes no panel.

>>> text = (
...     "MSH|^~\\\\&|LIS|Gut Lab||CLINIC|20240301120000||ORU^R01|1|P|2.5.1\\r"
...     "PID|1||P1234||Doe^Jane||19800101|F\\r"
...     "OBR|1|||38445-3^Calprotectin panel^LN|||20240229083000\\r"
...     "OBX|1|NM|38445-3^Calprotectin, Feces^LN||112.4|ug/g^^UCUM|<=50|H|||F\\r"
... )
>>> [panel] = read_hl7v2(text, source="gut.hl7")
>>> panel.name, panel.lab, panel.patient.sex
('Calprotectin panel', 'Gut Lab', 'female')
>>> result = panel.results[0]
>>> result.value.value, result.unit, result.lab_flags, result.provenance.location
(112.4, 'ug/g', ('H',), 'message 1, OBX 1 (line 4)')

The reader streams: it reads the input in chunks, holds one message at a
time, and splits only the fields it uses. Segments may be separated by
``\\r``, ``\\n`` or ``\\r\\n``; MLLP framing bytes, batch envelopes
(FHS/BHS/BTS/FTS) and several messages per file are accepted, and every
message's own encoding characters (MSH-1, MSH-2) are honoured.

Choices worth knowing:

* HL7 timestamps with less than day precision (``2024``, ``202403``) are read
  as ``None``: a ``date`` would claim a precision the lab did not give.
* ``OBX-11`` ``X`` (cannot be obtained) and ``N`` (not asked) give status
  cancelled with the fact in ``value_error``; ``D`` and ``W`` give
  entered-in-error.
* SN ranges (``^100^-^200``) and ratios (``1^:^256``) are not single values:
  ``value`` is ``None`` and ``value_error`` says why.
* ``value_text`` is the value as a person reads it: repetitions of TX/FT joined
  by line breaks, SN components joined (``<10``), CE/CWE its text.
* ``collected`` is OBX-14 when given, else OBR-7; a malformed OBX-14 gives
  ``None`` rather than the order's time. A malformed PID-7 gives no birth date.
* The lab is MSH-4 (sending facility), else OBX-23 (performing organization),
  else OBX-15 (producer). The specimen is SPM-4 of the order, mapped onto
  :class:`~guttests.Specimen` only when it names exactly one kind.
* Each PID starts a new patient: the orders and observations after it are that
  patient's, never the previous one's. Every PID-3 repetition is an
  :class:`~guttests.Identifier` (CX.4 assigning authority as ``assigner``, CX.5
  as ``type``; no system URI is made up).
* Each result's ``identifiers`` hold the filler order number (OBR-3, else the
  placer number OBR-2) with the OBX set id and sub-id: ``FA-77/1``.
* Coding-system names (CWE.3: ``LN``, ``SCT``, ``L``) are kept as sent. Coded
  values (CWE/CE OBX-5) are read through the coded-value table shared with the
  FHIR reader; a code that contradicts its text is not guessed between.
* OBX-8 flags are stored as codes (``A^Abnormal^HL70078`` is ``A``), their
  texts in ``lab_flag_texts``.
* NTE, ORC and other segments are ignored; they hold no observation.
* A file cut inside an OBX gives that OBX as it is; a last line cut inside its
  segment id (``OB``) is no segment and raises :class:`HL7Error`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NamedTuple, TextIO

from .._errors import GuttestsError, HL7Error
from .._models import (
    Coding,
    Identifier,
    Panel,
    PatientContext,
    Provenance,
    ReferenceRange,
    Result,
    trusted,
)
from .._range_text import parse_range_text
from .._types import ResultStatus, Specimen
from .._values import Value, value_text_problem
from ._common import (
    coded_entry,
    coded_value,
    sex_from_text,
    specimen_from_text,
    specimens_in_text,
    value_or_error,
)

__all__ = [
    "Encoding",
    "Segment",
    "extract",
    "iter_panels",
    "parse_timestamp",
    "read_hl7v2",
    "split_message",
    "unescape",
]

_FORMAT = "hl7v2"
_CHUNK = 1 << 16
_LINE_SPLIT = re.compile(r"\r\n?|\n").split
# MLLP start/end bytes, form feeds, BOM and blanks around a segment are framing, not data.
_FRAMING = " \t\x0b\x1c\x0c\ufeff"
_SEGMENT_ID = re.compile(r"[A-Z0-9]{3}")
_ENVELOPE_HEADERS = frozenset({"FHS", "BHS"})
_ENVELOPE_TRAILERS = frozenset({"FTS", "BTS"})

Segment = list[str]
"""A segment as its raw fields: index ``n`` is field ``n`` (``seg[0]`` is the segment id).

For MSH, FHS and BHS index 1 is the field separator and index 2 the encoding
characters, so that ``seg[9]`` is MSH-9 as HL7 numbers it.
"""


class Encoding(NamedTuple):
    """The delimiters a message declares in MSH-1 and MSH-2.

    A named tuple, so that it hashes fast as part of cache keys.

    >>> Encoding.from_header("MSH*%$@!*LAB").component
    '%'
    """

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @classmethod
    def from_header(
        cls, line: str, *, source: str | None = None, location: str | None = None
    ) -> Encoding:
        """The encoding characters of an MSH, FHS or BHS segment line.

        Raises :class:`HL7Error` when the segment is too short to declare them
        or declares characters that cannot be delimiters.
        """
        sid = line[:3]
        if len(line) < 8:
            raise HL7Error(
                f"{sid} segment too short to declare the encoding characters "
                f"({sid}-1 field separator and 4 characters in {sid}-2)",
                source=source,
                location=location,
                text=line[:12],
            )
        fs = line[3]
        end = line.find(fs, 4)
        chars = line[4:] if end < 0 else line[4:end]
        # v2.7+ may add a fifth (truncation) character, which guttests does not need.
        usable = chars[:4]
        problem = None
        if len(chars) < 4 or len(chars) > 5:
            problem = f"{sid}-2 must hold 4 encoding characters, found {len(chars)}"
        elif len(set(fs + usable)) != 5:
            problem = "the field separator and encoding characters must all differ"
        elif any(c.isalnum() or c in "\r\n " for c in fs + usable):
            problem = "delimiters cannot be letters, digits, blanks or line breaks"
        if problem is not None:
            raise HL7Error(problem, source=source, location=location, text=line[:12])
        return cls(fs, usable[0], usable[1], usable[2], usable[3])


_DEFAULT = Encoding()


# --- tokenizer ---------------------------------------------------------------------------


def _split_segment(line: str, enc: Encoding) -> Segment:
    fields = line.split(enc.field)
    if fields[0] in ("MSH", "FHS", "BHS"):
        fields.insert(1, enc.field)
    return fields


def split_message(text: str) -> tuple[Encoding, list[Segment]]:
    """Split one message into segments of raw fields (the tokenizer, nothing interpreted).

    >>> enc, segs = split_message("MSH|^~\\\\&|LAB\\rOBX|1|NM|x^y||5")
    >>> segs[1][3], extract(segs[1], enc, 3, component=2)
    ('x^y', 'y')
    >>> segs[0][2]
    '^~\\\\&'
    """
    lines = [s for s in (p.strip(_FRAMING) for p in _LINE_SPLIT(text)) if s]
    if not lines:
        raise HL7Error("empty input", location="start of input")
    enc = Encoding.from_header(lines[0], location="line 1")
    return enc, [_split_segment(line, enc) for line in lines]


def extract(
    segment: Segment,
    enc: Encoding,
    field: int,
    repetition: int = 1,
    component: int = 1,
    subcomponent: int = 1,
) -> str:
    """One unescaped value of a split segment, 1-based as HL7 numbers it (``OBX-3.2``).

    A position beyond what the segment holds is the empty string.

    >>> enc, [seg] = split_message("MSH|^~\\\\&|A&B^C~D")
    >>> extract(seg, enc, 3, component=1, subcomponent=2), extract(seg, enc, 3, repetition=2)
    ('B', 'D')
    """
    if field >= len(segment):
        return ""
    raw = segment[field]
    if field <= 2 and segment[0] in ("MSH", "FHS", "BHS"):
        return raw if repetition == component == subcomponent == 1 else ""
    parts = raw.split(enc.repetition)
    if repetition > len(parts):
        return ""
    parts = parts[repetition - 1].split(enc.component)
    if component > len(parts):
        return ""
    parts = parts[component - 1].split(enc.subcomponent)
    if subcomponent > len(parts):
        return ""
    return unescape(parts[subcomponent - 1], enc)


def unescape(text: str, enc: Encoding = _DEFAULT) -> str:
    r"""Replace HL7 escape sequences (``\F\ \S\ \T\ \R\ \E\ \Xhh\ \.br\``).

    Sequences guttests cannot render (character-set switches, application
    escapes) are kept as written, never dropped.

    >>> unescape(r"Occult blood \T\ FIT\.br\see note \X4F4B\ ")
    'Occult blood & FIT\nsee note OK '
    """
    esc = enc.escape
    if esc not in text:
        return text
    parts = text.split(esc)
    out = [parts[0]]
    # Odd pieces are escape sequences; an unterminated last one stays literal.
    last = len(parts) - 1 if len(parts) % 2 == 0 else len(parts)
    for i in range(1, last, 2):
        out.append(_escape_sequence(parts[i], enc))
        out.append(parts[i + 1])
    if last != len(parts):
        out.append(esc + parts[-1])
    return "".join(out)


def _escape_sequence(seq: str, enc: Encoding) -> str:
    simple = {
        "F": enc.field,
        "S": enc.component,
        "T": enc.subcomponent,
        "R": enc.repetition,
        "E": enc.escape,
        ".br": "\n",
        ".sp": "\n",
        "H": "",
        "N": "",
    }.get(seq)
    if simple is not None:
        return simple
    if seq[:1] == "X" and len(seq) > 1 and len(seq) % 2 == 1:
        try:
            data = bytes.fromhex(seq[1:])
        except ValueError:
            pass
        else:
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                return data.decode("latin-1")
    return enc.escape + seq + enc.escape


# --- lines and messages ------------------------------------------------------------------


def _iter_lines(stream: TextIO) -> Iterator[tuple[int, list[str]]]:
    """Chunks of segment lines with the line number of the first, reading ``stream`` lazily.

    A line longer than a chunk is gathered in pieces and joined once, so a
    50 MB OBX-5 costs one pass, not one pass per chunk.
    """
    lineno = 1
    pieces: list[str] = []  # the line not finished yet
    pending_cr = False
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        if pending_cr and chunk[0] == "\n":
            chunk = chunk[1:]  # the \n of a \r\n split between two chunks
        pending_cr = chunk.endswith("\r")
        lines = _LINE_SPLIT(chunk)
        if len(lines) == 1:
            pieces.append(lines[0])
            continue
        if pieces:
            pieces.append(lines[0])
            lines[0] = "".join(pieces)
        pieces = [lines.pop()]
        yield lineno, lines
        lineno += len(lines)
    rest = "".join(pieces)
    if rest:
        yield lineno, [rest]


@dataclass(slots=True)
class _RawMessage:
    number: int
    enc: Encoding
    segments: list[tuple[int, str]] = field(default_factory=list)
    """(line number, segment text)"""


def _iter_messages(stream: TextIO, source: str | None) -> Iterator[_RawMessage]:
    current: _RawMessage | None = None
    count = 0
    started = False
    fs = "|"
    valid_ids: set[str] = set()
    for first, lines in _iter_lines(stream):
        for lineno, line in enumerate(lines, first):
            if not line:
                continue
            if line[0] in _FRAMING or line[-1] in _FRAMING:
                line = line.strip(_FRAMING)
                if not line:
                    continue
            sid = line[:3]
            if sid == "MSH":
                if current is not None:
                    yield current
                count += 1
                enc = Encoding.from_header(
                    line, source=source, location=f"message {count}, line {lineno}"
                )
                fs = enc.field
                current = _RawMessage(count, enc, [(lineno, line)])
                started = True
                continue
            if sid in _ENVELOPE_HEADERS:
                if current is not None:
                    yield current
                    current = None
                fs = Encoding.from_header(line, source=source, location=f"line {lineno}").field
                started = True
                continue
            if sid in _ENVELOPE_TRAILERS and started:
                # Checked before the field separator: a batch may use other delimiters
                # than the messages it wraps.
                if current is not None:
                    yield current
                    current = None
                continue
            if not started:
                raise HL7Error(
                    "input does not start with an MSH, FHS or BHS segment",
                    source=source,
                    location=f"line {lineno}",
                    text=sid,
                )
            if sid not in valid_ids:
                if not _SEGMENT_ID.fullmatch(sid):
                    # Only the would-be id is quoted: a line broken out of a PID
                    # segment would otherwise put a patient's name into the message.
                    raise HL7Error(
                        "invalid segment id (not 3 upper-case letters or digits)",
                        source=source,
                        location=f"line {lineno}",
                        text=sid,
                    )
                valid_ids.add(sid)
            if len(line) > 3 and line[3] != fs:
                raise HL7Error(
                    f"segment id not followed by the field separator {fs!r}",
                    source=source,
                    location=f"line {lineno}",
                    text=line[:4],
                )
            if current is None:
                raise HL7Error(
                    f"{sid} segment outside a message (after a batch or file trailer)",
                    source=source,
                    location=f"line {lineno}",
                    text=sid,
                )
            current.segments.append((lineno, line))
    if current is not None:
        yield current
    elif not started:
        raise HL7Error(
            "empty input: no HL7 segment found", source=source, location="start of input"
        )


# --- values ------------------------------------------------------------------------------

_STATUS: dict[str, ResultStatus] = {
    "F": ResultStatus.FINAL,
    "U": ResultStatus.FINAL,
    "C": ResultStatus.CORRECTED,
    "A": ResultStatus.AMENDED,
    "P": ResultStatus.PRELIMINARY,
    "R": ResultStatus.PRELIMINARY,
    "S": ResultStatus.PRELIMINARY,
    "I": ResultStatus.REGISTERED,
    "O": ResultStatus.REGISTERED,
    "X": ResultStatus.CANCELLED,
    "N": ResultStatus.CANCELLED,
    "D": ResultStatus.ENTERED_IN_ERROR,
    "W": ResultStatus.ENTERED_IN_ERROR,
}
_STATUS_ERROR = {
    "X": "result cannot be obtained (OBX-11 X)",
    "N": "observation was not sought (OBX-11 N)",
}
_TEXT_TYPES = frozenset({"TX", "FT"})
_PLAIN_TYPES = frozenset({"NM", "ST", ""})
_CODED_TYPES = frozenset({"CE", "CWE", "CNE", "CF"})
_SN_COMPARATORS = frozenset({"", "=", "<", ">", "<=", ">="})
_SN_SEPARATORS = frozenset({"-", "+", "/", ":", "."})
_SN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")

_TS = re.compile(
    r"(\d{4})(\d\d)(\d\d)(?:(\d\d)(?:(\d\d)(?:(\d\d)(?:\.(\d{1,4}))?)?)?)?(?:([+-])(\d\d)(\d\d))?"
)


@lru_cache(maxsize=4096)
def parse_timestamp(text: str) -> date | datetime | None:
    """An HL7 TS/DTM/DT as a ``date`` or ``datetime``.

    ``None`` when malformed, or coarser than a day (``2024``, ``202403``).

    >>> parse_timestamp("20240229")
    datetime.date(2024, 2, 29)
    >>> parse_timestamp("200808151030-0700").isoformat()
    '2008-08-15T10:30:00-07:00'
    >>> parse_timestamp("196203520") is None
    True
    """
    m = _TS.fullmatch(text.strip())
    if m is None:
        return None
    y, mo, d, hh, mi, ss, frac, sign, oh, om = m.groups()
    try:
        if hh is None:
            return date(int(y), int(mo), int(d))
        tz = None
        if sign is not None:
            offset = timedelta(hours=int(oh), minutes=int(om))
            tz = timezone(-offset if sign == "-" else offset)
        micro = int((frac or "0").ljust(6, "0"))
        return datetime(
            int(y), int(mo), int(d), int(hh), int(mi or 0), int(ss or 0), micro, tzinfo=tz
        )
    except ValueError:  # month 13, hour 25, offset beyond a day
        return None


def _parse(text: str) -> tuple[Value | None, str | None]:
    return value_or_error(text)


def _sn_value(rep: str, enc: Encoding) -> tuple[str, Value | None, str | None]:
    if enc.component not in rep:
        text = unescape(rep, enc)
        return (text, *_parse(text))
    comps = [unescape(c, enc).strip() for c in rep.split(enc.component)[:4]]
    comps += [""] * (4 - len(comps))
    cmp, n1, sep, n2 = comps
    if cmp not in _SN_COMPARATORS and n1 in _SN_SEPARATORS and _SN_NUMBER.fullmatch(cmp):
        # "1^:^256": the comparator component left out, as some senders write ratios.
        cmp, n1, sep, n2 = "", cmp, n1, sep
    if not sep and not n2:
        text = n1 if cmp == "=" else cmp + n1
        if cmp not in _SN_COMPARATORS:
            return text, None, f"structured numeric comparator {cmp!r} is not a single value"
        return (text, *_parse(text))
    text = f"{'' if cmp == '=' else cmp}{n1}{sep}{n2}"
    if sep == "+" and not n2 and not cmp:
        return (text, *_parse(text))  # "2+": a grade
    if sep == "-":
        return text, None, f"structured numeric range {n1}-{n2} is not a single value"
    if sep in (":", "/"):
        return text, None, f"structured numeric ratio {n1}{sep}{n2} is not a single value"
    return text, None, f"structured numeric {text!r} is not a single value"


@lru_cache(maxsize=16384)
def _obx_value(vt: str, raw: str, enc: Encoding) -> tuple[str, Value | None, str | None]:
    n_reps = raw.count(enc.repetition) + 1
    if vt in _TEXT_TYPES:
        text = _join_reps(raw, "\n", enc)
        return (text, *_parse(text))
    if n_reps > 1:
        text = _join_reps(raw, "; ", enc)
        return text, None, f"OBX-5 holds {n_reps} repetitions, not a single value"
    rep = raw
    if vt in _PLAIN_TYPES:
        text = unescape(rep, enc)
        return (text, *_parse(text))
    if vt == "SN":
        return _sn_value(rep, enc)
    if vt in _CODED_TYPES:
        comps = [unescape(c, enc).strip() for c in rep.split(enc.component)[:6]]
        comps += [""] * (6 - len(comps))
        text = next((comps[i] for i in (1, 0, 4, 3) if comps[i]), "")
        # The code is read, not only the text (SNOMED CT qualifier values and the like):
        # the primary coding first, else the alternate one (CWE.4-6).
        for code, system in ((comps[0], comps[2]), (comps[3], comps[5])):
            if coded_entry(system, code) is not None:
                return (text, *coded_value(system, code, text))
        return (text, *_parse(text))
    text = unescape(rep, enc)
    return text, None, f"OBX-2 value type {vt!r} is not a lab value guttests reads"


def _join_reps(raw: str, sep: str, enc: Encoding) -> str:
    """The repetitions of a field joined by ``sep``, each unescaped."""
    if enc.escape not in raw:  # one pass in C instead of one call per repetition
        return raw.replace(enc.repetition, sep)
    return sep.join(unescape(r, enc) for r in raw.split(enc.repetition))


def _first_nonempty(comps: list[str], order: Iterable[int], enc: Encoding) -> str:
    for i in order:
        if i < len(comps) and comps[i].strip():
            return unescape(comps[i], enc).strip()
    return ""


def _get(fields: Segment, i: int) -> str:
    return fields[i] if i < len(fields) else ""


def _first_rep(raw: str, enc: Encoding) -> list[str]:
    """Components of the first repetition."""
    if enc.repetition in raw:
        raw = raw.split(enc.repetition, 1)[0]
    return raw.split(enc.component)


def _code_text(raw: str, enc: Encoding) -> str | None:
    """CE/CWE/XON/HD as text: the text component, else the identifier."""
    if not raw:
        return None
    text = _first_nonempty(_first_rep(raw, enc), (1, 0), enc)
    return text or None


def _ident_text(raw: str, enc: Encoding) -> str | None:
    """XON/HD/CX as text: the first component, else the second."""
    if not raw:
        return None
    text = _first_nonempty(_first_rep(raw, enc), (0, 1), enc)
    return text or None


@lru_cache(maxsize=4096)
def _codings(raw: str, enc: Encoding) -> tuple[str | None, Coding | None, tuple[Coding, ...]]:
    """OBX-3 as (name, primary coding, alternate codings)."""
    if not raw:
        return None, None, ()
    c = [unescape(x, enc).strip() for x in _first_rep(raw, enc)]
    c += [""] * (6 - len(c))
    codings: list[Coding] = []
    for code, display, system in ((c[0], c[1], c[2]), (c[3], c[4], c[5])):
        if code:
            # The coding-system name exactly as sent (LN, SCT, L, 99zzz): FHIR output maps
            # names to URIs; a reader that rewrote them would lose what the lab said.
            codings.append(Coding(system=system or None, code=code, display=display or None))
    name = c[1] or c[4] or None
    if not codings:
        return name, None, ()
    return name, codings[0], tuple(codings[1:])


@lru_cache(maxsize=4096)
def _units(raw: str, enc: Encoding) -> str | None:
    if not raw:
        return None
    text = _first_nonempty(_first_rep(raw, enc), (0, 1), enc)
    return text or None


@lru_cache(maxsize=4096)
def _flags(raw: str, enc: Encoding) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """OBX-8 as (codes, texts): ``A^Abnormal^HL70078^^^^2.7`` (CWE, v2.7+) is the code ``A``
    with the text ``Abnormal``; the texts are empty unless some flag came with one."""
    if not raw:
        return (), ()
    codes: list[str] = []
    texts: list[str] = []
    for rep in raw.split(enc.repetition):
        comps = rep.split(enc.component)
        code = unescape(comps[0], enc).strip()
        text = unescape(comps[1], enc).strip() if len(comps) > 1 else ""
        if code or text:
            codes.append(code or text)
            texts.append(text)
    return tuple(codes), (tuple(texts) if any(texts) else ())


def _ts(raw: str, enc: Encoding) -> date | datetime | None:
    """A TS field (v2.3-2.4 may add a precision component: take the time only)."""
    if enc.component in raw:
        raw = raw.split(enc.component, 1)[0]
    return parse_timestamp(raw) if raw else None


@lru_cache(maxsize=1024)
def _lab_range(text: str, unit: str | None, lab: str | None) -> ReferenceRange | None:
    try:
        return parse_range_text(text, unit=unit, lab=lab)
    except GuttestsError:
        return None


def _range_field(
    raw: str, unit: str | None, lab: str | None, enc: Encoding
) -> ReferenceRange | None:
    """OBX-7 as a range. Plain text goes to :func:`parse_range_text`; components are read
    only in the numeric-range form low^high (HL7 NR), each bound exactly as written."""
    if enc.component not in raw:
        return _lab_range(unescape(raw, enc).strip(), unit, lab)
    text = unescape(raw, enc).strip()
    comps = [unescape(c, enc).strip() for c in raw.split(enc.component)]
    low, high, rest = comps[0], comps[1], [c for c in comps[2:] if c]
    if rest or not (low or high):
        return _text_range(text, unit, lab, "range components are not in the low^high form")
    spelled = f"{low}-{high}" if low and high else f">={low}" if low else f"<={high}"
    rng = _lab_range(spelled, unit, lab)
    if rng is None or not rng.bands:
        return _text_range(text, unit, lab, "range components are not two numbers (low^high)")
    return rng.model_copy(update={"text": text, "id": f"lab:{text}"})


def _text_range(text: str, unit: str | None, lab: str | None, note: str) -> ReferenceRange | None:
    rng = _lab_range(text, unit, lab)
    return None if rng is None else rng.model_copy(update={"note": note, "bands": ()})


# --- specimens and patients --------------------------------------------------------------


@lru_cache(maxsize=1024)
def _specimen(raw: str, enc: Encoding) -> tuple[Specimen | None, str | None]:
    """SPM-4 as (specimen, text as given); the specimen is ``None`` unless exactly one kind matches.

    OBR-15 (v2.3-2.4) is not read: senders fill it too loosely to trust.
    """
    comps = [unescape(c, enc).strip() for c in _first_rep(raw, enc)]
    text = next((c for c in (comps[1:2] + comps[:1]) if c), None)
    found: set[Specimen] = set()
    for i in (0, 3):  # identifiers: HL7 table 0487 codes
        kind = specimen_from_text(comps[i]) if i < len(comps) else None
        if kind is not None:
            found.add(kind)
    for i in (1, 4):  # texts: words
        if i < len(comps):
            found |= specimens_in_text(comps[i])
    return (found.pop() if len(found) == 1 else None), text


def _identifiers(raw: str, enc: Encoding) -> tuple[Identifier, ...]:
    """Every repetition of a CX field: CX.1 the value, CX.4 (HD) the assigning authority
    as its namespace id (else its universal id), CX.5 the identifier type. No system URI
    is made up: mapping authorities to URIs is configuration, not reading."""
    out: list[Identifier] = []
    for rep in raw.split(enc.repetition):
        comps = rep.split(enc.component)
        value = unescape(comps[0], enc).strip()
        if not value:
            continue
        authority = comps[3].split(enc.subcomponent) if len(comps) > 3 else []
        assigner = next((unescape(a, enc).strip() for a in authority[:2] if a.strip()), None)
        kind = unescape(comps[4], enc).strip() if len(comps) > 4 else ""
        out.append(Identifier(value=value, assigner=assigner or None, type=kind or None))
    return tuple(out)


def _patient(fields: Segment, enc: Encoding) -> PatientContext:
    pid = _ident_text(_get(fields, 3), enc) or _ident_text(_get(fields, 2), enc)
    identifiers = _identifiers(_get(fields, 3), enc) or _identifiers(_get(fields, 2), enc)
    name = None
    raw_name = _get(fields, 5)
    if raw_name:
        c = [unescape(x, enc).strip() for x in _first_rep(raw_name, enc)]
        family = c[0]
        given = " ".join(x for x in c[1:3] if x)
        name = ", ".join(x for x in (family, given) if x) or None
    return PatientContext(
        patient_id=pid,
        identifiers=identifiers,
        name=name,
        sex=sex_from_text(_get(fields, 8)),
        birth_date=_date_only(_ts(_get(fields, 7), enc)),
    )


def _date_only(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


# --- messages to panels ------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    """One OBR with its OBX segments (or the OBX segments before any OBR)."""

    patient: PatientContext
    obr: Segment | None
    obr_line: int | None
    obr_number: int
    obx: list[tuple[int, int, Segment]] = field(default_factory=list)
    """(OBX number in the message, line number, fields)"""
    specimen: Specimen | None = None
    specimen_text: str | None = None
    specimen_seen: bool = False
    order: tuple[str, str | None, str] | None = None
    """(order number, its assigning namespace, FILL or PLAC) of the OBR, when it gives one."""


def _panels(msg: _RawMessage, source: str | None) -> Iterator[RawPanel]:
    enc = msg.enc
    fs = enc.field
    msh = _split_segment(msg.segments[0][1], enc)
    msh_lab = _ident_text(_get(msh, 4), enc)
    patient = PatientContext()
    groups: list[_Group] = []
    current: _Group | None = None
    obx_count = 0
    obr_count = 0
    for lineno, line in msg.segments[1:]:
        sid = line[:3]
        if sid == "OBX":
            obx_count += 1
            if current is None:
                current = _Group(patient, None, None, 0)
                groups.append(current)
            current.obx.append((obx_count, lineno, line.split(fs)))
        elif sid == "OBR":
            obr_count += 1
            current = _Group(patient, line.split(fs), lineno, obr_count)
            groups.append(current)
        elif sid == "PID":
            # A PID starts a new PATIENT_RESULT group: observations after it never join
            # the previous patient's order.
            patient = _patient(line.split(fs), enc)
            current = None
        elif sid == "SPM" and current is not None:
            _add_specimen(current, _get(line.split(fs), 4), enc)
    for group in groups:
        fields, shapes = _group_parts(group, msg.number, msh_lab, enc, source)
        yield RawPanel(fields, shapes, group.obx, msg.number, group.order, enc, source)


def _add_specimen(group: _Group, raw: str, enc: Encoding) -> None:
    if not raw:
        return
    specimen, text = _specimen(raw, enc)
    if not group.specimen_seen:
        group.specimen, group.specimen_text, group.specimen_seen = specimen, text, True
    elif text != group.specimen_text:
        # Two different specimens for one order: keep both texts, claim neither kind.
        group.specimen = group.specimen if specimen == group.specimen else None
        group.specimen_text = "; ".join(t for t in (group.specimen_text, text) if t)


def _group_parts(
    group: _Group, number: int, msh_lab: str | None, enc: Encoding, source: str | None
) -> tuple[dict[str, Any], list[_Shape]]:
    """A group's panel fields (all but its results) and the shape of each of its OBX."""
    obr = group.obr
    name = collected = None
    if obr is not None:
        name = _code_text(_get(obr, 4), enc)
        collected = _ts(_get(obr, 7), enc)
        group.order = _order_number(obr, enc)
    shapes = [_shape(fields, group, name, msh_lab, enc) for _, _, fields in group.obx]
    lab = msh_lab
    if lab is None:
        labs = {s[0].get("lab") for s in shapes}
        lab = labs.pop() if len(labs) == 1 else None
    where = f"message {number}"
    if obr is not None:
        where += f", OBR {group.obr_number} (line {group.obr_line})"
    panel = {
        "name": name,
        "patient": group.patient,
        "collected": collected,
        "lab": lab,
        "provenance": trusted(Provenance, source=source, location=where, format=_FORMAT),
    }
    return panel, shapes


@dataclass(slots=True)
class RawPanel:
    """One panel (OBR group) of a message with its OBX read but for their values, flags
    and identity: what the batch writer's fast path (``guttests._batch``) works from.

    :meth:`panel` is the :class:`~guttests.Panel` :func:`iter_panels` yields; :meth:`result`
    builds one of its results, the same way.
    """

    fields: dict[str, Any]
    """The panel's fields, all but its results."""
    shapes: list[_Shape]
    """Each OBX's shape (see ``_shape``): the same object for every OBX of one shape."""
    rows: list[tuple[int, int, Segment]]
    """(OBX number in the message, line number, fields) of each OBX."""
    number: int
    """The message's number in the input."""
    order: tuple[str, str | None, str] | None
    enc: Encoding
    source: str | None

    def result(self, i: int) -> Result:
        return self._result(i, None)

    def stand_in(self, i: int) -> Result:
        """OBX ``i``'s result with the panel's provenance and no identifiers: what the
        batch writer interprets, taking the record's source and identifiers from
        :meth:`location` and :meth:`identifier`."""
        return self._result(i, self.fields["provenance"])

    def _result(self, i: int, provenance: Provenance | None) -> Result:
        k, lineno, fields = self.rows[i]
        return _result(
            self.shapes[i],
            fields,
            self.number,
            k,
            lineno,
            self.order,
            self.enc,
            self.source,
            self.fields["collected"],
            provenance,
        )

    def panel(self) -> Panel:
        # Built trusted: Panel has no validator of its own, and pydantic would run each
        # Result's validator again (already run when each result was built).
        results = tuple(self.result(i) for i in range(len(self.rows)))
        return trusted(Panel, results=results, **self.fields)

    @property
    def format(self) -> str:
        """The provenance format of its results."""
        return _FORMAT

    def collected(self, i: int) -> date | datetime | None:
        """The collection time of OBX ``i``'s result (OBX-14, else the order's)."""
        return _collected(self.rows[i][2], self.enc, self.fields["collected"])

    def location(self, i: int) -> str:
        """The provenance location of OBX ``i``."""
        k, lineno, _ = self.rows[i]
        return obx_location(self.number, k, lineno)

    def identifier(self, i: int) -> tuple[str, str | None, str] | None:
        """(value, assigner, type) of the identifier of OBX ``i``'s result, if it has one."""
        if self.order is None:
            return None
        k, _, fields = self.rows[i]
        return _obx_identifier_parts(fields, k, self.order)


def _order_number(obr: Segment, enc: Encoding) -> tuple[str, str | None, str] | None:
    """OBR-3 (filler order number), else OBR-2 (placer order number), as EI: the entity
    identifier with its namespace id (else universal id)."""
    for i, kind in ((3, "FILL"), (2, "PLAC")):
        comps = [unescape(c, enc).strip() for c in _first_rep(_get(obr, i), enc)]
        if comps[0]:
            namespace = next((c for c in comps[1:3] if c), None)
            return comps[0], namespace, kind
    return None


def _obx_identifier_parts(
    fields: Segment, k: int, order: tuple[str, str | None, str]
) -> tuple[str, str | None, str]:
    """(value, assigner, type): the order number with the OBX set id (OBX-1, else the
    OBX's position in the message) and sub-id (OBX-4), a stable identity of the
    observation in its source; the order's namespace; FILL or PLAC."""
    number, namespace, kind = order
    set_id = fields[1].strip() if len(fields) > 1 and fields[1].strip() else str(k)
    sub_id = fields[4].strip() if len(fields) > 4 else ""
    value = f"{number}/{set_id}" + (f"/{sub_id}" if sub_id else "")
    return value, namespace, kind


def _obx_identifier(fields: Segment, k: int, order: tuple[str, str | None, str]) -> Identifier:
    value, namespace, kind = _obx_identifier_parts(fields, k, order)
    # every field a text this reader made (trusted: the same instance, no validation)
    return trusted(Identifier, value=value, assigner=namespace, type=kind)


_Shape = tuple[dict[str, Any], str, "str | None"]
"""An OBX's shape: the Result fields read from everything but its value, flags, time and
identity (left-out fields are not there), its value type, and the status's error (see
``_shape``)."""

_SHAPE_LIMIT = 4096
"""OBX shapes remembered before the cache starts afresh (bounds memory on any input)."""
_SHAPES: dict[tuple[object, ...], tuple[_Shape, object]] = {}


def _shape(
    fields: Segment,
    group: _Group,
    panel: str | None,
    msh_lab: str | None,
    enc: Encoding,
) -> _Shape:
    """What a result takes from every field but OBX-1 (set id), OBX-4 (sub-id), OBX-5
    (value), OBX-8 (flags) and OBX-14 (observation time), with its group's context but
    its collection time.

    Read once per distinct shape: keyed by those raw fields with the context (encoding,
    sending lab, panel, specimen). The specimen object is keyed by identity and checked
    with ``is`` on every hit (the entry holds it, so an id cannot be recycled). The same
    shape object comes back for every OBX of the shape while it is remembered, whatever
    the order's or the observation's time (each order of a feed has its own): the batch
    writer keys its own cache by it. The collection time is each result's own
    (:func:`_collected`).
    """
    n = len(fields)
    specimen = group.specimen
    key = (
        enc,
        msh_lab,
        panel,
        group.specimen_text,
        id(specimen),
        n,
        *fields[2:4],
        *fields[6:8],
        *fields[9:14],
        *fields[15:],
    )
    hit = _SHAPES.get(key)
    if hit is not None and hit[1] is specimen:
        return hit[0]
    made = _read_shape(fields, n, group, panel, msh_lab, enc)
    if len(_SHAPES) >= _SHAPE_LIMIT:
        _SHAPES.clear()
    _SHAPES[key] = (made, specimen)
    return made


def _read_shape(
    fields: Segment,
    n: int,
    group: _Group,
    panel: str | None,
    msh_lab: str | None,
    enc: Encoding,
) -> _Shape:
    vt = fields[2].strip().upper() if n > 2 else ""
    name, code, codes = _codings(fields[3], enc) if n > 3 else (None, None, ())
    unit = _units(fields[6], enc) if n > 6 else None
    lab = msh_lab
    if lab is None and n > 15:
        lab = (_ident_text(_get(fields, 23), enc) if n > 23 else None) or _code_text(
            fields[15], enc
        )
    range_text = unescape(fields[7], enc).strip() if n > 7 and fields[7] else None
    status_code = fields[11].strip().upper() if n > 11 else ""
    static: dict[str, Any] = {
        "name": name,
        "code": code,
        "codes": codes,
        "unit": unit,
        "lab_range": _range_field(fields[7], unit, lab, enc) if range_text else None,
        "lab_range_text": range_text,
        "specimen": group.specimen,
        "specimen_text": group.specimen_text,
        "lab": lab,
        "method": _code_text(fields[17], enc) if n > 17 else None,
        "status": _STATUS.get(status_code, ResultStatus.UNKNOWN),
        "panel": panel,
    }
    # Left-out fields take their defaults without validation: half the cost of a Result.
    # (An empty tuple is false; `v != ()` would call BaseModel.__eq__ on every model.)
    kept = {k: v for k, v in static.items() if v is not None and (v.__class__ is not tuple or v)}
    return kept, vt, _STATUS_ERROR.get(status_code)


def _collected(
    fields: Segment, enc: Encoding, panel_collected: date | datetime | None
) -> date | datetime | None:
    """An OBX's collection time: OBX-14 when given (``None`` when malformed, never the
    order's time then), else the order's (OBR-7). One object per text (``parse_timestamp``
    is cached), so results of one time share it."""
    if len(fields) > 14 and fields[14]:
        return _ts(fields[14], enc)
    return panel_collected


def obx_location(number: int, k: int, lineno: int) -> str:
    """Where an OBX is, as its result's provenance says it."""
    return f"message {number}, OBX {k} (line {lineno})"


def _result(
    shape: _Shape,
    fields: Segment,
    number: int,
    k: int,
    lineno: int,
    order: tuple[str, str | None, str] | None,
    enc: Encoding,
    source: str | None,
    panel_collected: date | datetime | None,
    provenance: Provenance | None = None,
) -> Result:
    """OBX ``k`` of message ``number`` as a Result. With ``provenance``, that provenance and
    no identifiers (the batch writer's stand-in, whose records take both from the tokens)."""
    static, vt, status_error = shape
    n = len(fields)
    value_text, value, value_error = _obx_value(vt, fields[5] if n > 5 else "", enc)
    if status_error is not None:
        value, value_error = None, status_error
    kwargs = dict(static)
    collected = _collected(fields, enc, panel_collected)
    if collected is not None:
        kwargs["collected"] = collected
    kwargs["value_text"] = value_text
    if value is not None:
        kwargs["value"] = value
    if value_error is not None:
        kwargs["value_error"] = value_error
    flags, flag_texts = _flags(fields[8], enc) if n > 8 else ((), ())
    if flags:
        kwargs["lab_flags"] = flags
    if flag_texts:
        kwargs["lab_flag_texts"] = flag_texts
    if provenance is not None:
        kwargs["provenance"] = provenance
    else:
        if order is not None:
            kwargs["identifiers"] = (_obx_identifier(fields, k, order),)
        kwargs["provenance"] = trusted(
            Provenance, source=source, location=obx_location(number, k, lineno), format=_FORMAT
        )
    # Every value above is of its field's type, made by this reader (texts, the cached
    # codings, ranges, specimen and flags, a parsed timestamp, a ResultStatus member), so
    # pydantic's type checks have nothing to do; the one check they would add is the
    # Result's own validator, run here. Anything it refuses goes through the validating
    # constructor, which raises exactly as before.
    if value_text_problem(value_text, value) is None and (
        not flag_texts or len(flag_texts) == len(flags)
    ):
        return trusted(Result, **kwargs)
    return Result(**kwargs)


# --- public entry points -----------------------------------------------------------------


def iter_panels(stream: TextIO, *, source: str | None = None) -> Iterator[Panel]:
    """Panels of an HL7 v2 stream, one per OBR, read one message at a time.

    >>> import io
    >>> msg = "MSH|^~\\\\&|LIS|Lab|||20240301||ORU^R01|7|P|2.5\\rOBX|1|ST|x^pH||6.4||6.0-7.2|||F"
    >>> [p.results[0].value_text for p in iter_panels(io.StringIO(msg))]
    ['6.4']

    Raises :class:`HL7Error` (with ``source`` and ``location``) for input that
    is not HL7 v2 at all; problems of one observation land in its result.
    """
    for msg in _iter_messages(stream, source):
        for raw in _panels(msg, source):
            yield raw.panel()


def iter_raw_panels(stream: TextIO, *, source: str | None = None) -> Iterator[RawPanel]:
    """The panels of :func:`iter_panels` before their results are built (see
    :class:`RawPanel`), for the batch writer's fast path."""
    for msg in _iter_messages(stream, source):
        yield from _panels(msg, source)


def read_hl7v2(text: str, *, source: str | None = None) -> list[Panel]:
    """All panels of an HL7 v2 text (see :func:`iter_panels`).

    >>> read_hl7v2("MSH|^~\\\\&|LIS|Lab|||20240301||ADT^A01|7|P|2.5\\rPID|1||42")
    []
    """
    return list(iter_panels(io.StringIO(text, newline=""), source=source))
