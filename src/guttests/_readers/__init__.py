"""Reading lab results from any supported format: ``read``, ``iter_results``, ``detect_format``.

Four formats are read: HL7 v2 (ORU^R01), FHIR R4 JSON (a resource, a Bundle or
NDJSON), CSV exports (one result per row) and guttests' own JSON
(``guttests-results/1``). The format is detected from the content unless it
is given.

>>> panels = read("Test,Result,Unit\\nCalprotectin,<10,ug/g\\n")
>>> r = panels[0].results[0]
>>> r.name, r.value.comparator, r.unit, r.provenance.location
('Calprotectin', '<', 'ug/g', 'line 2')

What ``source`` may be:

* a :class:`pathlib.Path` (or any ``os.PathLike``): always a file;
* ``bytes``: the content, decoded as UTF-8 (a BOM is stripped) or as ``encoding``;
* a text stream (``TextIO``): read as it is, incrementally;
* a ``str``: the *content* when it contains a line break or starts (after a
  BOM, MLLP start byte or whitespace) with ``{``, ``[``, ``MSH``, ``FHS`` or
  ``BHS``; otherwise the *path* of a file. Wrap one-line content in
  :class:`io.StringIO` to read it as content.

Bytes that are not valid in the encoding raise :class:`~guttests.InputError`
naming the byte offset and line, never a guess at another encoding; pass
``encoding="latin-1"`` (or ``"cp1252"``) to read such an export.

Limits: ``max_bytes`` (bytes for files and ``bytes``; characters for ``str``
and text streams) and ``max_results`` (per call) raise
:class:`~guttests.LimitExceededError`; ``None`` disables a limit.
"""

from __future__ import annotations

import codecs
import importlib
import io
import json
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal, NamedTuple, TextIO, cast, get_args

from .._errors import FormatError, InputError, LimitExceededError
from .._models import Panel, PatientContext, Result
from .csv import CsvMapping  # at run time too: typing.get_type_hints(read)
from .csv import iter_panels as _csv_iter_panels

if TYPE_CHECKING:
    from .jsonio import dump_panels, results_document_schema
else:

    def __getattr__(name: str) -> object:
        # guttests' JSON reader loads on first use: an HL7, FHIR or CSV batch never needs it
        if name in ("dump_panels", "results_document_schema"):
            from . import jsonio

            return getattr(jsonio, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from .hl7v2 import RawPanel

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RESULTS",
    "CsvMapping",
    "InputFormat",
    "ReadItem",
    "Source",
    "detect_format",
    "dump_panels",
    "iter_panels",
    "iter_results",
    "read",
    "results_document_schema",
]

InputFormat = Literal["hl7v2", "fhir", "csv", "json"]
"""The formats guttests reads."""

Source = str | os.PathLike[str] | bytes | IO[str]
"""What :func:`read` accepts: a path, the content as ``bytes`` or ``str``, or a text stream."""

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
"""Default input size limit: 512 MiB."""

DEFAULT_MAX_RESULTS = 5_000_000
"""Default limit on the number of results read in one call."""

_HEAD_CHARS = 64 * 1024
_FORMATS: tuple[str, ...] = get_args(InputFormat)
_CONTENT_START = re.compile(r"^[\ufeff\x0b\s]*(?:\{|\[|MSH|FHS|BHS)")
_HL7_START = re.compile(r"^(?:MSH|FHS|BHS)[^A-Za-z0-9\s]")
_GUTTESTS_MARK = re.compile(r'"format"\s*:\s*"guttests-results/')
_FHIR_MARK = re.compile(r'"resourceType"\s*:\s*"')

_Reader = Callable[[TextIO, str | None], Iterator[Panel]]


class ReadItem(NamedTuple):
    """One result with the patient context and panel name it was read with.

    >>> item = next(iter_results("Test,Result\\nZonulin,45.2\\n"))
    >>> item.result.value.value, item.patient.sex, item.panel_name is None
    (45.2, None, True)
    """

    panel_name: str | None
    patient: PatientContext
    result: Result


def read(
    source: Source,
    format: InputFormat | None = None,
    *,
    csv_mapping: CsvMapping | None = None,
    encoding: str | None = None,
    source_name: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_results: int | None = DEFAULT_MAX_RESULTS,
) -> list[Panel]:
    """Read every panel from ``source`` (see the module docstring for what it may be).

    ``format`` forces a format instead of detecting it; ``source_name`` names
    the input in provenance and errors (default: the file name, if any).

    >>> doc = '{"format": "guttests-results/1", "panels": [{"results": [{"value": "6.5"}]}]}'
    >>> read(doc)[0].results[0].value.value
    6.5
    """
    return list(
        iter_panels(
            source,
            format,
            csv_mapping=csv_mapping,
            encoding=encoding,
            source_name=source_name,
            max_bytes=max_bytes,
            max_results=max_results,
        )
    )


def iter_results(
    source: Source,
    format: InputFormat | None = None,
    *,
    csv_mapping: CsvMapping | None = None,
    encoding: str | None = None,
    source_name: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_results: int | None = DEFAULT_MAX_RESULTS,
) -> Iterator[ReadItem]:
    """Yield every result as a :class:`ReadItem`, one panel in memory at a time.

    >>> [i.result.name for i in iter_results("Test,Result\\npH,6.5\\nSCFA,60 %\\n")]
    ['pH', 'SCFA']
    """
    for panel in iter_panels(
        source,
        format,
        csv_mapping=csv_mapping,
        encoding=encoding,
        source_name=source_name,
        max_bytes=max_bytes,
        max_results=max_results,
    ):
        for result in panel.results:
            yield ReadItem(panel.name, panel.patient, result)


def iter_panels(
    source: Source,
    format: InputFormat | None = None,
    *,
    csv_mapping: CsvMapping | None = None,
    encoding: str | None = None,
    source_name: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_results: int | None = DEFAULT_MAX_RESULTS,
) -> Iterator[Panel]:
    """Yield panels one at a time, reading the input incrementally.

    >>> csv_text = "Patient ID,Test,Result\\nA1,pH,6.5\\nB2,pH,7.0\\n"
    >>> [p.patient.patient_id for p in iter_panels(csv_text)]
    ['A1', 'B2']
    """
    if format is not None and format not in _FORMATS:
        raise FormatError(f"unknown format {format!r}; expected one of {', '.join(_FORMATS)}")
    with ExitStack() as stack:
        stream, name = _open(source, encoding, source_name, max_bytes, stack)
        fmt = format or _detect(stream, name)
        reader = _reader(fmt, csv_mapping, max_results)
        count = 0
        for panel in reader(cast(TextIO, stream), name):
            count += len(panel.results)
            _check_count(count, max_results, name)
            yield panel


def _check_count(count: int, max_results: int | None, name: str | None) -> None:
    """Stop with a :class:`LimitExceededError` once more than ``max_results`` were read."""
    if max_results is not None and count > max_results:
        raise LimitExceededError(
            f"more than {max_results:,} results",
            source=name,
            hint="pass max_results=None (or a higher limit) to read larger files",
        )


def iter_panel_parts(
    source: Source,
    format: InputFormat | None = None,
    *,
    csv_mapping: CsvMapping | None = None,
    encoding: str | None = None,
    source_name: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_results: int | None = DEFAULT_MAX_RESULTS,
    part_size: int = 1_000,
) -> Iterator[tuple[int, Panel]]:
    """``(panel_index, panel)`` pairs, where a long CSV panel comes in parts of at most
    ``part_size`` results that share its index: the batch path's memory does not grow with
    the size of one panel (a CSV without patient columns is one panel).

    >>> rows = "Test,Result\\n" + "pH,6.5\\n" * 5
    >>> [(i, len(p.results)) for i, p in iter_panel_parts(rows, part_size=2)]
    [(0, 2), (0, 2), (0, 1)]
    """
    for index, part in _iter_parts(
        source, format, csv_mapping, encoding, source_name, max_bytes, max_results, part_size
    ):
        yield index, part if isinstance(part, Panel) else part.panel()


def iter_batch_parts(
    source: Source,
    format: InputFormat | None = None,
    *,
    csv_mapping: CsvMapping | None = None,
    encoding: str | None = None,
    source_name: str | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_results: int | None = DEFAULT_MAX_RESULTS,
    part_size: int = 1_000,
) -> Iterator[tuple[int, Panel | RawPanel]]:
    """:func:`iter_panel_parts` for the batch writer: HL7 v2 panels come as
    :class:`~guttests._readers.hl7v2.RawPanel` (their results not built yet)."""
    return _iter_parts(
        source, format, csv_mapping, encoding, source_name, max_bytes, max_results, part_size,
        raw_hl7=True,
    )  # fmt: skip


def _iter_parts(
    source: Source,
    format: InputFormat | None,
    csv_mapping: CsvMapping | None,
    encoding: str | None,
    source_name: str | None,
    max_bytes: int | None,
    max_results: int | None,
    part_size: int,
    *,
    raw_hl7: bool = False,
) -> Iterator[tuple[int, Panel | RawPanel]]:
    if format is not None and format not in _FORMATS:
        raise FormatError(f"unknown format {format!r}; expected one of {', '.join(_FORMATS)}")
    with ExitStack() as stack:
        stream, name = _open(source, encoding, source_name, max_bytes, stack)
        fmt = format or _detect(stream, name)
        parts: Iterator[tuple[bool, Panel | RawPanel]]
        if fmt == "hl7v2" and raw_hl7:
            from .hl7v2 import iter_raw_panels

            parts = ((False, p) for p in iter_raw_panels(cast(TextIO, stream), source=name))
        elif fmt != "csv":
            reader = _reader(fmt, csv_mapping, max_results)
            parts = ((False, p) for p in reader(cast(TextIO, stream), name))
        else:
            from .csv import iter_panel_chunks

            parts = iter_panel_chunks(
                cast(TextIO, stream),
                source=name,
                mapping=csv_mapping,
                max_results=max_results,
                size=part_size,
            )
        count = 0
        index = -1
        for continues, panel in parts:
            count += len(panel.results) if isinstance(panel, Panel) else len(panel.rows)
            _check_count(count, max_results, name)
            if not continues:
                index += 1
            yield index, panel


def detect_format(
    source: Source,
    *,
    encoding: str | None = None,
    source_name: str | None = None,
) -> InputFormat:
    """The format of ``source``, from its first lines.

    >>> detect_format("MSH|^~\\\\&|LAB|...\\r")
    'hl7v2'
    >>> detect_format('{"resourceType": "Observation"}')
    'fhir'
    >>> detect_format("Analyte;Value;Unit\\n")
    'csv'
    """
    with ExitStack() as stack:
        stream, name = _open(source, encoding, source_name, None, stack)
        return _detect(stream, name)


# --- opening -----------------------------------------------------------------------------


def _open(
    source: Source,
    encoding: str | None,
    source_name: str | None,
    max_bytes: int | None,
    stack: ExitStack,
) -> tuple[_Peekable, str | None]:
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not _is_content(source)):
        path = Path(os.fspath(source))
        name = source_name or path.name
        try:
            binary = stack.enter_context(path.open("rb"))
            size = os.fstat(binary.fileno()).st_size
        except (OSError, ValueError) as exc:  # ValueError: a NUL character in the path
            reason = getattr(exc, "strerror", None) or "not a valid file path"
            hint = (
                "a str without a line break is read as a file path; pass content as io.StringIO"
                if isinstance(source, str)
                else None
            )
            raise InputError(f"cannot open file: {reason}", source=str(path), hint=hint) from exc
        if max_bytes is not None and size > max_bytes:
            raise _too_large(name, max_bytes, size)
        return _Peekable(_decoded(binary, encoding, name, max_bytes)), name
    if isinstance(source, bytes):
        if max_bytes is not None and len(source) > max_bytes:
            raise _too_large(source_name, max_bytes, len(source))
        return _Peekable(_decoded(io.BytesIO(source), encoding, source_name, max_bytes)), (
            source_name
        )
    if isinstance(source, str):
        return _Peekable(io.StringIO(source, newline=""), max_bytes, source_name), source_name
    if hasattr(source, "read"):
        stream_name = source_name or _stream_name(source)
        return _Peekable(source, max_bytes, stream_name), stream_name
    raise TypeError(f"cannot read from {type(source).__name__}")


def _is_content(text: str) -> bool:
    return "\n" in text or "\r" in text or bool(_CONTENT_START.match(text))


def _stream_name(stream: IO[str]) -> str | None:
    name = getattr(stream, "name", None)
    return Path(name).name if isinstance(name, str) and not name.startswith("<") else None


def _too_large(name: str | None, limit: int, size: int | None = None) -> LimitExceededError:
    got = f" ({size:,} bytes)" if size is not None else ""
    return LimitExceededError(
        f"input larger than {limit:,} bytes{got}",
        source=name,
        hint="pass max_bytes=None (or a higher limit) to read larger files",
    )


def _decoded(
    binary: IO[bytes], encoding: str | None, name: str | None, max_bytes: int | None
) -> TextIO:
    enc = encoding or "utf-8"
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise InputError(f"unknown encoding {enc!r}", source=name) from exc
    checked = io.BufferedReader(_CheckedRaw(binary, enc, name, max_bytes))
    # utf-8-sig strips a BOM; the raw layer has already checked every byte.
    text_enc = "utf-8-sig" if codecs.lookup(enc).name == "utf-8" else enc
    return io.TextIOWrapper(checked, encoding=text_enc, errors="strict", newline="")


class _CheckedRaw(io.RawIOBase):
    """Binary pass-through that checks the encoding and the size while bytes flow.

    It reports a decoding error with the absolute byte offset and line number,
    which the text layer above cannot know.
    """

    def __init__(self, raw: IO[bytes], encoding: str, name: str | None, limit: int | None):
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self._encoding = codecs.lookup(encoding).name.upper()
        self._name = name
        self._limit = limit
        self._offset = 0
        self._newlines = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        if self._limit is not None and self._offset + n > self._limit:
            raise _too_large(self._name, self._limit)
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(data, final=n == 0)
        except UnicodeDecodeError as exc:
            consumed = exc.start - pending  # position of the bad byte within ``data``
            at = self._offset + consumed
            line = self._newlines + data[: max(consumed, 0)].count(b"\n") + 1
            # Only the offending bytes, in hex: the text around them may be a name.
            bad = exc.object[exc.start : max(exc.end, exc.start + 1)][:4]
            raise InputError(
                f"not {self._encoding} ({exc.reason})",
                source=self._name,
                location=f"line {line}, byte {at}",
                text=" ".join(f"0x{b:02X}" for b in bad),
                hint="re-export the file as UTF-8, or pass encoding='latin-1' (or 'cp1252')",
            ) from exc
        self._offset += n
        self._newlines += data.count(b"\n")
        buffer[:n] = data
        return n


class _Peekable(io.TextIOBase):
    """A text stream whose first lines can be looked at before a reader consumes them."""

    def __init__(self, stream: IO[str], limit: int | None = None, name: str | None = None):
        self._stream = stream
        self._head: deque[str] = deque()  # popped from the left: a list would be quadratic
        self._peeked = False
        self._limit = limit
        self._name = name
        self._chars = 0
        self._first = True

    def readable(self) -> bool:
        return True

    def peek_lines(self, chars: int = _HEAD_CHARS) -> list[str]:
        """The first lines (about ``chars`` characters), left in place for readers."""
        if not self._peeked:
            self._peeked = True
            total = 0
            while total < chars:
                line = self._next_raw(chars - total)
                if not line:
                    break
                self._head.append(line)
                total += len(line)
        return list(self._head)

    def _next_raw(self, size: int = -1) -> str:
        line = self._stream.readline(size)
        if self._first and line:
            self._first = False
            line = line.removeprefix("\ufeff")
        self._count(len(line))
        return line

    def _count(self, n: int) -> None:
        self._chars += n
        if self._limit is not None and self._chars > self._limit:
            raise _too_large(self._name, self._limit)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        if self._head:
            line = self._head.popleft()
            if not self._head and not line.endswith(("\n", "\r")):
                line += self._next_raw()  # the peek stopped inside a line
            return line
        return self._next_raw(-1 if size is None else size)

    def read(self, size: int | None = -1) -> str:
        head = "".join(self._head)
        self._head.clear()
        if size is None or size < 0:
            rest = self._stream.read()
            if self._first and rest:
                self._first = False
                rest = rest.removeprefix("\ufeff")
            self._count(len(rest))
            return head + rest
        if len(head) >= size:
            self._head.extend(head[size:].splitlines(keepends=True))
            return head[:size]
        rest = self._stream.read(size - len(head))
        if self._first and rest:
            self._first = False
            rest = rest.removeprefix("\ufeff")
        self._count(len(rest))
        return head + rest


# --- detection ---------------------------------------------------------------------------


def _detect(stream: _Peekable, name: str | None) -> InputFormat:
    lines = stream.peek_lines()
    head = "".join(lines)
    stripped = head.lstrip("\ufeff\x0b \t\r\n")
    if not stripped.strip():
        raise FormatError("empty input: nothing to read", source=name)
    if "\x00" in head:
        raise FormatError("binary data, not text", source=name, text=_escaped(head))
    if _HL7_START.match(stripped):
        return "hl7v2"
    if stripped.startswith("{"):
        first = next(line for line in lines if line.strip())
        try:
            obj = json.loads(first)
        except (ValueError, RecursionError):
            obj = None  # a multi-line document: look for its markers instead
        if isinstance(obj, dict) and obj.keys() >= _OUTPUT_KEYS:
            raise _output_refused(name, "a `guttests batch` NDJSON line (an interpreted result)")
        if isinstance(obj, dict):
            return "fhir" if "resourceType" in obj else "json"
        if _REPORT_MARK.search(head):
            raise _output_refused(name, "a guttests JSON report (guttests-report/1)")
        if _GUTTESTS_MARK.search(head):
            return "json"
        if _FHIR_MARK.search(head):
            return "fhir"
        raise FormatError(
            'a JSON object that is neither a FHIR resource (no "resourceType") nor a guttests '
            'results document (no "format": "guttests-results/1") in its first 64 KiB',
            source=name,
            text=_escaped(stripped),
        )
    if stripped.startswith("["):
        raise FormatError(
            "a JSON array: guttests reads a FHIR resource or Bundle, FHIR NDJSON, or a "
            "guttests-results/1 document or NDJSON",
            source=name,
            text=_escaped(stripped),
        )
    first_line = next((line for line in lines if line.strip()), "")
    if _looks_like_csv_header(first_line):
        return "csv"
    raise FormatError(
        "format not recognised (expected HL7 v2, FHIR JSON, guttests JSON or a CSV with a header)",
        source=name,
        text=_escaped(stripped),
        hint="pass format= to force one",
    )


_OUTPUT_KEYS = frozenset({"status", "flag_text", "interpretation_display", "value_kind", "source"})
"""Keys every record of guttests' own output has (``result_record``), and no input has."""
_REPORT_MARK = re.compile(r'"schema"\s*:\s*"guttests-report/1"')


def _output_refused(name: str | None, what: str) -> FormatError:
    return FormatError(
        f"this is guttests output, not lab input: {what}",
        source=name,
        hint="interpret the original lab file again (HL7 v2, FHIR, CSV or a guttests-results/1 "
        "document); guttests output is not read back as results",
    )


def _looks_like_csv_header(line: str) -> bool:
    line = line.strip("\r\n")
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0:
        return False
    import csv

    cells = next(csv.reader([line], delimiter=delimiter), [])
    named = [c for c in cells if re.search(r"[^\W\d_]", c)]
    return len(cells) >= 2 and len(named) * 2 >= len(cells)


def _escaped(text: str, n: int = 4) -> str:
    # A signature (``%PDF``, ``PID|``), never more: the text may go on with a patient's name.
    return text[:n].encode("unicode_escape").decode("ascii")


# --- dispatch ----------------------------------------------------------------------------


def _reader(
    fmt: InputFormat, mapping: CsvMapping | None, max_results: int | None = None
) -> _Reader:
    if fmt == "csv":
        # The CSV reader counts rows as it reads: one panel can be the whole file.
        return lambda stream, name: _csv_iter_panels(
            stream, source=name, mapping=mapping, max_results=max_results
        )
    if fmt == "json":
        from .jsonio import iter_panels as _json_iter_panels

        return lambda stream, name: _json_iter_panels(stream, source=name)
    module_name = {"hl7v2": "hl7v2", "fhir": "fhir"}[fmt]
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ImportError as exc:
        raise FormatError(f"the {fmt} reader is not available: {exc}") from exc
    func = cast(Callable[..., Iterator[Panel]], module.iter_panels)
    return lambda stream, name: func(stream, source=name)
