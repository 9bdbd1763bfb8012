"""Reading CSV exports of lab results: one result per row, under a header.

Columns are found by their header, case- and space-insensitively, under the
names lab portals use (``Test``, ``Result``, ``Units``, ``Reference Range``,
...; see :data:`DEFAULT_COLUMNS`). A :class:`CsvMapping` names the columns of
an export that uses other headers, a decimal comma, or local date formats.

>>> text = '''Patient ID,Test,Result,Units,Reference Range,Collected
... P1,"Calprotectin, Feces",112.4,ug/g,<=50,2024-03-01
... P1,Giardia,Not Detected,,Not Detected,2024-03-01
... '''
>>> [panel] = read_csv(text, source="export.csv")
>>> [(r.name, r.value.kind, r.provenance.location) for r in panel.results]
[('Calprotectin, Feces', 'quantity', 'line 2'), ('Giardia', 'qualitative', 'line 3')]
>>> panel.patient.patient_id, panel.collected
('P1', datetime.date(2024, 3, 1))

Rules:

* The delimiter (``,``, ``;`` or tab) is the one that occurs most often in the
  header line, unless the mapping sets it.
* Every data row becomes one :class:`~guttests._models.Result`. A value that
  is not a lab value gives a result with ``value=None`` and ``value_error`` set.
  Rows that are blank, or hold only delimiters, are skipped.
* Quoting is strict (RFC 4180): a quote that is never closed, or text after a
  closing quote (``"50"0``), is a :class:`~guttests._errors.CSVError` naming the
  line, and so is a row whose number of fields differs from the header's (an
  unquoted comma in ``Doe, Jane`` shifts every cell after it). Empty trailing
  fields are allowed. The error never quotes the row: it may hold patient data.
* Consecutive rows with the same patient (id, name, sex, birth date, age),
  collection date, lab and panel form one panel; the reader holds one panel
  at a time.
* Dates are ISO 8601 unless the mapping lists ``date_formats`` (``strptime``
  formats, tried in order after ISO). A date that matches none is left
  empty, never guessed; one :class:`~guttests._errors.GuttestsWarning` per file summarises such
  cells and columns that were not read.
* An age without a unit (``45``) is in years; ``6 mo``, ``3 wk``, ``10 d`` as written.
* When the unit column is missing or empty and the value reads as a number
  followed by a unit (``45 ug/g``, ``<10 mg/L``), the trailing unit is split
  off. A trailing flag letter (``45 H``) is not a unit: the value is an error.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
import warnings
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from os import PathLike
from pathlib import Path
from typing import Any, Literal, TextIO, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._errors import CSVError, GuttestsWarning, LimitExceededError
from .._models import (
    LOINC_SYSTEM,
    Age,
    AgeUnit,
    Coding,
    Panel,
    PatientContext,
    Provenance,
    ReferenceRange,
    Result,
)
from .._range_text import parse_range_text
from .._types import ResultStatus
from .._values import CensoredValue, QuantityValue, Value
from ._common import sex_from_text, specimen_from_text, status_from_text, value_or_error

__all__ = [
    "DEFAULT_COLUMNS",
    "CsvField",
    "CsvMapping",
    "iter_panels",
    "parse_age",
    "read_csv",
    "sex_from_text",
    "specimen_from_text",
    "status_from_text",
]

CsvField = Literal[
    "name",
    "code",
    "loinc",
    "value",
    "unit",
    "reference_range",
    "flag",
    "collected",
    "specimen",
    "sex",
    "birth_date",
    "age",
    "patient_id",
    "patient_name",
    "lab",
    "status",
    "method",
    "panel",
]
"""The result and patient fields a CSV column can hold."""

DEFAULT_COLUMNS: Mapping[CsvField, tuple[str, ...]] = {
    "name": ("analyte", "test", "test name", "name", "analyte name", "parameter"),
    "code": ("code", "test code", "local code"),
    "loinc": ("loinc", "loinc code"),
    "value": ("value", "result", "result value"),
    "unit": ("unit", "units"),
    "reference_range": ("reference range", "range", "ref range", "reference interval"),
    "flag": ("flag", "flags", "abnormal flag"),
    "collected": ("collected", "collection date", "date", "collection time", "date collected"),
    "specimen": ("specimen", "specimen type", "sample type"),
    "sex": ("sex", "gender"),
    "birth_date": ("birth date", "dob", "date of birth", "birthdate"),
    "age": ("age",),
    "patient_id": ("patient id", "patient", "mrn"),
    "patient_name": ("patient name",),
    "lab": ("lab", "laboratory"),
    "status": ("status", "result status"),
    "method": ("method",),
    "panel": ("panel", "panel name", "profile"),
}
"""Header names recognised for each field when the mapping does not name them."""

_FIELDS: tuple[CsvField, ...] = get_args(CsvField)
_BLANK = re.compile(r"^[\s,;\t|]*$")


def _norm(header: str) -> str:
    return " ".join(re.sub(r"[_\-.:]+", " ", header.replace("\ufeff", "")).casefold().split())


_MAPPING_FORMAT = "guttests-csv-mapping/1"


class CsvMapping(BaseModel):
    """How to read one lab portal's CSV export.

    ``columns`` names the header(s) of each field, replacing the defaults for
    that field only; the other fields keep :data:`DEFAULT_COLUMNS`.

    >>> m = CsvMapping(columns={"value": "Ergebnis", "unit": ["Einheit"]}, decimal_comma=True)
    >>> m.aliases("value"), m.aliases("unit"), "test" in m.aliases("name")
    (('Ergebnis',), ('Einheit',), True)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    columns: dict[CsvField, tuple[str, ...]] = Field(default_factory=dict)
    delimiter: Literal[",", ";", "\t", "|"] | None = None
    """``None``: the most frequent of ``,`` ``;`` tab in the header line."""
    decimal_comma: bool = Field(default=False, strict=True)
    """Read ``0,5`` as 0.5 in values and ranges (never guessed from the delimiter)."""
    date_formats: tuple[str, ...] = ()
    """``strptime`` formats tried in order after ISO 8601, e.g. ``"%d.%m.%Y"``."""
    ignore: tuple[str, ...] = ()
    """Headers of columns known to hold nothing guttests reads (no warning for them)."""
    lab: str | None = None
    """The lab's name, for exports without a lab column."""

    @field_validator("columns", mode="before")
    @classmethod
    def _names_as_tuples(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: (v,) if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _no_header_twice(self) -> CsvMapping:
        seen: dict[str, str] = {}
        for field in _FIELDS:
            for alias in self.aliases(field):
                key = _norm(alias)
                if key in seen and seen[key] != field:
                    raise ValueError(f"header {alias!r} is given for both {seen[key]} and {field}")
                seen[key] = field
        return self

    def aliases(self, field: CsvField) -> tuple[str, ...]:
        """The header names that mean ``field``."""
        return self.columns.get(field, DEFAULT_COLUMNS[field])

    @classmethod
    def from_toml(cls, path: str | PathLike[str]) -> CsvMapping:
        """Load a mapping from a TOML file (keys as the fields of this class).

        >>> import tempfile, os
        >>> with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        ...     _ = f.write('decimal_comma = true\\n[columns]\\nvalue = "Ergebnis"\\n')
        >>> CsvMapping.from_toml(f.name).aliases("value")
        ('Ergebnis',)
        >>> os.unlink(f.name)
        """
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # ValueError: also tomllib's and decoding errors
            raise CSVError(f"cannot read CSV mapping: {exc}", source=str(p)) from exc
        marker = data.pop("format", _MAPPING_FORMAT)  # an optional format marker
        if marker != _MAPPING_FORMAT:
            raise CSVError(
                f"invalid CSV mapping: format must be {_MAPPING_FORMAT!r}",
                source=str(p),
                text=str(marker),
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise CSVError(f"invalid CSV mapping: {where}: {first['msg']}", source=str(p)) from exc


_AGE = re.compile(
    r"^(?P<n>\d+(?:[.,]\d+)?)\s*"
    r"(?P<u>y|yr|yrs|year|years|a|mo|mos|month|months|w|wk|wks|week|weeks|d|day|days)?$",
    re.IGNORECASE,
)
_AGE_UNITS: dict[str, AgeUnit] = {"y": "a", "a": "a", "m": "mo", "w": "wk", "d": "d"}


def parse_age(text: str) -> Age | None:
    """An age as exports write it (``45``, ``45 y``, ``6 mo``, ``3 wk``); years when no unit.

    >>> parse_age("6 mo"), parse_age("45")
    (Age(value=6.0, unit='mo'), Age(value=45.0, unit='a'))
    >>> parse_age("adult") is None
    True
    """
    m = _AGE.match(text.strip())
    if not m:
        return None
    unit = (m.group("u") or "a").lower()
    return Age(value=float(m.group("n").replace(",", ".")), unit=_AGE_UNITS[unit[0]])


def parse_when(text: str, formats: tuple[str, ...] = ()) -> date | datetime | None:
    """An ISO 8601 date or date-time, or one of ``formats``; ``None`` when none matches.

    >>> parse_when("2024-03-01T08:30"), parse_when("01.03.2024", ("%d.%m.%Y",))
    (datetime.datetime(2024, 3, 1, 8, 30), datetime.date(2024, 3, 1))
    """
    s = text.strip()
    if not s:
        return None
    try:
        return date.fromisoformat(s) if len(s) == 10 else datetime.fromisoformat(s)
    except ValueError:
        pass
    for fmt in formats:
        try:
            when = datetime.strptime(s, fmt)
        except ValueError:
            continue
        return when if _TIME_DIRECTIVE.search(fmt) else when.date()
    return None


_TIME_DIRECTIVE = re.compile(r"%[HIMSpfXcz]")


# --- reading -----------------------------------------------------------------------------

_UNIT_TAIL = re.compile(r"^(?P<v>.*\S)\s+(?P<u>[%µμA-Za-z][^\s]*)$")
_NOT_UNITS = {"h", "l", "a", "n", "hh", "ll", "high", "low", "normal", "abnormal", "pos", "neg"}


def _value(text: str, decimal_comma: bool) -> tuple[Value | None, str | None]:
    return value_or_error(text, decimal_comma=decimal_comma)


def _split_unit(text: str, decimal_comma: bool) -> tuple[Value, str] | None:
    m = _UNIT_TAIL.match(text.strip())
    if not m or m.group("u").casefold() in _NOT_UNITS:
        return None
    value, _ = _value(m.group("v"), decimal_comma)
    if isinstance(value, QuantityValue) or (
        isinstance(value, CensoredValue) and value.limit is not None
    ):
        return value, m.group("u")
    return None


class _Columns:
    """Header cells resolved to fields, for one file."""

    def __init__(self, header: list[str], mapping: CsvMapping, source: str | None, line: int):
        self.width = len(header)
        self.index: dict[CsvField, int] = {}
        by_alias = {_norm(a): f for f in _FIELDS for a in mapping.aliases(f)}
        ignored = {_norm(h) for h in mapping.ignore}
        self.unread: list[int] = []
        for i, cell in enumerate(header):
            key = _norm(cell)
            field = by_alias.get(key)
            if field is None:
                if key and key not in ignored:
                    self.unread.append(i)
                continue
            if field in self.index:
                raise CSVError(
                    f"two columns for {field}: {header[self.index[field]]!r} (column "
                    f"{self.index[field] + 1}) and {cell!r} (column {i + 1})",
                    source=source,
                    location=f"line {line}",
                    hint="name the one to read in CsvMapping(columns=...)",
                )
            self.index[field] = i
        missing = []
        if "value" not in self.index:
            missing.append("value (" + ", ".join(mapping.aliases("value")) + ")")
        if not {"name", "code", "loinc"} & self.index.keys():
            missing.append("test name (" + ", ".join(mapping.aliases("name")) + ") or code")
        if missing:
            # The header's cells are not quoted: a file without a header would put a
            # patient's data into the message.
            raise CSVError(
                "no column for "
                + " and no column for ".join(missing)
                + f" among the {len(header)} columns of the header",
                source=source,
                location=f"line {line}",
                hint="name the columns in CsvMapping(columns=...)",
            )

    def get(self, row: list[str], field: CsvField) -> str | None:
        i = self.index.get(field)
        if i is None or i >= len(row):
            return None
        cell = row[i].strip()
        return cell or None


class _Notes:
    """Cells that were read as 'unknown', summarised in one warning per file."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[int, str | None, int]] = {}

    def add(self, what: str, line: int, text: str | None) -> None:
        """Note a cell; ``text=None`` for a cell that identifies the patient (never shown)."""
        first_line, first_text, n = self.items.get(what, (line, text, 0))
        self.items[what] = (first_line, first_text, n + 1)

    def warn(self, source: str | None) -> None:
        for what, (line, text, n) in self.items.items():
            rows = "1 row" if n == 1 else f"{n} rows"
            shown = "" if text is None else f", {_clip(text)!r}"
            warnings.warn(
                GuttestsWarning(
                    f"{source or 'CSV input'}: {rows} with {what} (first: line {line}{shown})",
                    source=source,
                    location=f"line {line}",
                ),
                stacklevel=3,
            )


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _sniff(line: str) -> str:
    counts: dict[str, int] = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    return max(counts, key=lambda d: counts[d])


def iter_panels(
    stream: TextIO,
    *,
    source: str | None = None,
    mapping: CsvMapping | None = None,
    max_results: int | None = None,
) -> Iterator[Panel]:
    """Yield one panel per run of rows that share patient, collection date, lab and panel.

    ``max_results``: a :class:`~guttests._errors.LimitExceededError` as soon as one row more
    is read, not after the panel it belongs to (a CSV without patient columns is one panel).

    >>> import io
    >>> panels = list(iter_panels(io.StringIO("MRN;Test;Result\\n1;pH;6,5\\n2;pH;7\\n"),
    ...                           mapping=CsvMapping(decimal_comma=True)))
    >>> [(p.patient.patient_id, p.results[0].value.value) for p in panels]
    [('1', 6.5), ('2', 7.0)]
    """
    for _, panel in iter_panel_chunks(
        stream, source=source, mapping=mapping, max_results=max_results, size=None
    ):
        yield panel


def iter_panel_chunks(
    stream: TextIO,
    *,
    source: str | None = None,
    mapping: CsvMapping | None = None,
    max_results: int | None = None,
    size: int | None = 1_000,
) -> Iterator[tuple[bool, Panel]]:
    """Like :func:`iter_panels`, but a panel of more than ``size`` results comes in parts of
    ``size`` results, each with ``True`` when it continues the panel before it: memory
    stays bounded by ``size`` however many rows one panel has (the batch path).

    >>> import io
    >>> rows = "Test,Result\\n" + "pH,6.5\\n" * 5
    >>> [(more, len(p.results)) for more, p in iter_panel_chunks(io.StringIO(rows), size=2)]
    [(False, 2), (True, 2), (True, 1)]
    """
    m = mapping or CsvMapping()
    line_no = 0
    header_line = ""
    while not header_line.strip():
        header_line = stream.readline()
        if not header_line:
            raise CSVError("empty CSV input: no header line", source=source)
        line_no += 1
    header_line = header_line.removeprefix("\ufeff")
    delimiter = m.delimiter or _sniff(header_line)
    try:
        header = next(csv.reader([header_line], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise CSVError(
            f"malformed CSV header: {exc}", source=source, location=f"line {line_no}"
        ) from exc
    cols = _Columns(header, m, source, line_no)
    notes = _Notes()
    if cols.unread:
        # Column numbers, never the header cells: a first line that is data, not a header,
        # would put a patient's name or identifier into the warning.
        numbers = ", ".join(str(i + 1) for i in cols.unread)
        warnings.warn(
            GuttestsWarning(
                f"{source or 'CSV input'}: {len(cols.unread)} "
                f"{'column' if len(cols.unread) == 1 else 'columns'} not read "
                f"(column {numbers} of line {line_no}; list their headers in "
                "CsvMapping(ignore=...) to silence this)",
                source=source,
                location=f"line {line_no}",
            ),
            stacklevel=2,
        )

    reader = csv.reader(_text_lines(stream, source, line_no), delimiter=delimiter, strict=True)
    builder = _PanelBuilder(source, size)
    last_patient: _PatientKey | None = None
    last_when: tuple[str | None, date | datetime | None] = (None, None)
    base = line_no
    count = 0
    try:
        for row in reader:
            # reader.line_num counts physical lines, so quoted line breaks keep numbers right
            start = line_no + 1
            line_no = base + reader.line_num
            if _blank(row):
                continue
            if len(row) != cols.width and not (len(row) > cols.width and _blank(row[cols.width :])):
                raise CSVError(
                    f"row has {len(row)} fields, header has {cols.width} (an unquoted "
                    f"{_DELIMITER_NAMES.get(delimiter, repr(delimiter))} inside a cell, or a "
                    "missing one?)",
                    source=source,
                    location=f"line {start}",
                    hint="quote cells that hold the delimiter, and give every row the "
                    "header's columns",
                )
            key = tuple(cols.get(row, f) for f in _PATIENT_FIELDS)
            if last_patient is None or last_patient[0] != key:
                last_patient = (key, *_patient(key, m.date_formats))
            _, patient, problems = last_patient
            for what, text in problems:
                notes.add(what, start, text)
            when_text = cols.get(row, "collected")
            if when_text != last_when[0]:
                when = parse_when(when_text, m.date_formats) if when_text else None
                last_when = (when_text, when)
            if when_text and last_when[1] is None:
                # A date is not quoted: dates from the input can identify the patient.
                notes.add("a collection date that matches no date format", start, None)
            collected = last_when[1]
            count += 1
            if max_results is not None and count > max_results:
                raise LimitExceededError(
                    f"more than {max_results:,} results",
                    source=source,
                    location=f"line {start}",
                    hint="pass max_results=None (or a higher limit) to read larger files",
                )
            lab = cols.get(row, "lab") or m.lab
            panel_name = cols.get(row, "panel")
            result = _result(row, cols, m, delimiter, source, start, collected, lab, panel_name)
            if result.status is ResultStatus.UNKNOWN and cols.get(row, "status"):
                text = cols.get(row, "status") or ""
                if status_from_text(text) is None:
                    notes.add("a status guttests does not know (read as unknown)", start, text)
            done = builder.add((patient, collected, lab, panel_name), result, start)
            if done is not None:
                yield done
    except csv.Error as exc:
        # The row began on the line after the last one read; an unterminated quote runs
        # to the end of the input, so the line where the row began is the one to fix.
        first = line_no + 1
        problem = str(exc)
        if "unexpected end of data" in problem:
            problem = "a quote that is never closed (the quoted cell runs to the end of the input)"
        elif "expected after" in problem:
            problem = f"text after a closing quote ({problem})"
        raise CSVError(
            f"malformed CSV: {problem}",
            source=source,
            location=f"line {first}",
            hint='quote a cell as a whole ("a, b"), and double a quote inside it ("")',
        ) from exc
    last = builder.finish()
    if last is not None:
        yield last
    notes.warn(source)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text_lines(stream: TextIO, source: str | None, before: int) -> Iterator[str]:
    """The stream's lines, refusing a lone surrogate (text given as ``str`` can hold one;
    it is not text, and no output format can write it)."""
    for n, line in enumerate(stream, before + 1):
        if _SURROGATE.search(line):
            raise CSVError(
                "a lone surrogate (U+D800-U+DFFF) is not text",
                source=source,
                location=f"line {n}",
                hint="decode the export with errors='strict' before passing it",
            )
        yield line


_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}


def _blank(row: list[str]) -> bool:
    return all(not c.strip() for c in row)


_PatientKey = tuple[tuple[str | None, ...], PatientContext, list[tuple[str, str | None]]]
_PATIENT_FIELDS: tuple[CsvField, ...] = ("patient_id", "patient_name", "sex", "birth_date", "age")


def _patient(
    key: tuple[str | None, ...], formats: tuple[str, ...]
) -> tuple[PatientContext, list[tuple[str, str | None]]]:
    pid, name, sex, birth, age_text = key
    problems: list[tuple[str, str | None]] = []
    birth_date: date | None = None
    if birth:
        when = parse_when(birth, formats)
        if when is None:
            problems.append(("a birth date that matches no date format", None))
        birth_date = when.date() if isinstance(when, datetime) else when
    age = parse_age(age_text) if age_text else None
    if age_text and age is None:
        problems.append(("an age that is not a number of years, months, weeks or days", age_text))
    context = PatientContext(
        patient_id=pid, name=name, sex=sex_from_text(sex), birth_date=birth_date, age=age
    )
    return context, problems


def _result(
    row: list[str],
    cols: _Columns,
    m: CsvMapping,
    delimiter: str,
    source: str | None,
    line: int,
    collected: date | datetime | None,
    lab: str | None,
    panel_name: str | None,
) -> Result:
    provenance = Provenance(source=source, location=f"line {line}", format="csv")
    loinc = cols.get(row, "loinc")
    local = cols.get(row, "code")
    code = Coding(system=LOINC_SYSTEM, code=loinc) if loinc else None
    local_code = Coding(code=local) if local else None
    common: dict[str, Any] = {
        "name": cols.get(row, "name"),
        "code": code or local_code,
        "codes": (local_code,) if code and local_code else (),
        "collected": collected,
        "lab": lab,
        "panel": panel_name,
        "provenance": provenance,
    }
    value_text = row[cols.index["value"]]
    unit = cols.get(row, "unit")
    value, error = _value(value_text, m.decimal_comma)
    if value is None and unit is None and value_text.strip():
        split = _split_unit(value_text, m.decimal_comma)
        if split is not None:
            (value, unit), error = split, None
    range_text = cols.get(row, "reference_range")
    specimen_text = cols.get(row, "specimen")
    status_text = cols.get(row, "status")
    flags = cols.get(row, "flag")
    common.update(
        value_text=value_text,
        value=value,
        value_error=error,
        unit=unit,
        lab_range=_lab_range(range_text, unit, lab, m.decimal_comma),
        lab_range_text=range_text,
        lab_flags=tuple(f.strip() for f in re.split(r"[~,;]", flags) if f.strip()) if flags else (),
        specimen=specimen_from_text(specimen_text),
        specimen_text=specimen_text,
        method=cols.get(row, "method"),
        status=(status_from_text(status_text) or ResultStatus.UNKNOWN)
        if status_text
        else ResultStatus.FINAL,
    )
    return _new_result(common)


def _new_result(fields: dict[str, Any]) -> Result:
    # Fields left out take their defaults without validation: a large share of a Result's cost.
    return Result(**{k: v for k, v in fields.items() if v is not None and v != ()})


def _lab_range(
    text: str | None, unit: str | None, lab: str | None, decimal_comma: bool
) -> ReferenceRange | None:
    if not text:
        return None
    if decimal_comma and "." not in text:
        text = text.replace(",", ".")
    try:
        return parse_range_text(text, unit=unit, lab=lab)
    except ValueError:
        return None  # e.g. a numeric range without a unit; the text stays in lab_range_text


class _PanelBuilder:
    def __init__(self, source: str | None, size: int | None = None) -> None:
        self.source = source
        self.size = size
        self.continues = False  # the panel being built continues the one yielded before
        self.key: tuple[PatientContext, date | datetime | None, str | None, str | None] | None
        self.key = None
        self.results: list[Result] = []
        self.first = self.last = 0

    def add(
        self,
        key: tuple[PatientContext, date | datetime | None, str | None, str | None],
        result: Result,
        line: int,
    ) -> tuple[bool, Panel] | None:
        done = None
        if self.key is not None and key != self.key:
            done = self.finish()
        elif self.size is not None and len(self.results) >= self.size:
            done = self.finish(continued=True)
        if not self.results:
            self.key, self.first = key, line
        self.results.append(result)
        self.last = line
        return done

    def finish(self, *, continued: bool = False) -> tuple[bool, Panel] | None:
        if self.key is None or not self.results:
            return None
        continues, self.continues = self.continues, continued
        patient, collected, lab, name = self.key
        first, last = self.first, self.last
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        panel = Panel(
            name=name,
            patient=patient,
            collected=collected,
            lab=lab,
            results=tuple(self.results),
            provenance=Provenance(source=self.source, location=where, format="csv"),
        )
        self.results = []
        self.key = None
        return continues, panel


def read_csv(
    text: str, *, source: str | None = None, mapping: CsvMapping | None = None
) -> list[Panel]:
    """Read all panels of a CSV export given as text.

    >>> read_csv("Test,Result\\nZonulin,45.2 ng/mL\\n")[0].results[0].unit
    'ng/mL'
    """
    return list(iter_panels(io.StringIO(text, newline=""), source=source, mapping=mapping))
