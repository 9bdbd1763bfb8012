"""Words labs use for specimens, sex and result status, mapped once for every reader.

Each reader keeps the text as given (``specimen_text``) and maps it through
these functions; a text that does not name exactly one thing maps to ``None``
(or :attr:`~guttests.ResultStatus.UNKNOWN`), never to a guess.

>>> specimen_from_text("FEC"), specimen_in_text("Venous blood specimen")
(<Specimen.STOOL: 'stool'>, <Specimen.BLOOD: 'blood'>)
>>> sex_from_text("W"), status_from_text("canceled")
('female', <ResultStatus.CANCELLED: 'cancelled'>)
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from types import MappingProxyType

from .._errors import ValueParseError
from .._types import ResultStatus, Sex, Specimen
from .._values import QualitativeValue, Value, parse_value, term_polarity

__all__ = [
    "MAX_VALUE_CHARS",
    "SEX_WORDS",
    "SPECIMEN_WORDS",
    "STATUS_WORDS",
    "CodedEntry",
    "coded_entry",
    "coded_value",
    "sex_from_text",
    "specimen_from_text",
    "specimen_in_text",
    "specimens_in_text",
    "status_from_text",
    "value_or_error",
]

SPECIMEN_WORDS: Mapping[str, Specimen] = MappingProxyType(
    {
        **dict.fromkeys(
            ("stool", "stools", "feces", "faeces", "fecal", "faecal", "stl", "fec"),
            Specimen.STOOL,
        ),
        **dict.fromkeys(("serum", "ser"), Specimen.SERUM),
        **dict.fromkeys(("plasma", "plas", "pla"), Specimen.PLASMA),
        **dict.fromkeys(
            ("blood", "bld", "bldv", "bldc", "blda", "wb", "whole blood"), Specimen.BLOOD
        ),
        **dict.fromkeys(("urine", "ur", "urn"), Specimen.URINE),
        **dict.fromkeys(("saliva", "sal"), Specimen.SALIVA),
    }
)
"""Specimen words and abbreviations (HL7 table 0487 codes among them), lower case."""

SEX_WORDS: Mapping[str, Sex] = MappingProxyType(
    {"f": "female", "female": "female", "w": "female", "m": "male", "male": "male"}
)
"""Sex as inputs write it (``W``: weiblich); other and unknown are deliberately absent."""

STATUS_WORDS: Mapping[str, ResultStatus] = MappingProxyType(
    {
        **{s.value: s for s in ResultStatus},
        **dict.fromkeys(("f",), ResultStatus.FINAL),
        **dict.fromkeys(("prelim", "p"), ResultStatus.PRELIMINARY),
        **dict.fromkeys(("c",), ResultStatus.CORRECTED),
        **dict.fromkeys(("canceled", "x"), ResultStatus.CANCELLED),
        **dict.fromkeys(("entered in error", "w"), ResultStatus.ENTERED_IN_ERROR),
    }
)
"""FHIR ObservationStatus codes, their spellings, and the common HL7 OBX-11 letters."""

_WORD = re.compile(r"[a-z]+")


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def specimen_from_text(text: str | None) -> Specimen | None:
    """The specimen a whole text (a word or code) names, or ``None``.

    >>> specimen_from_text("Faeces"), specimen_from_text("SER"), specimen_from_text("swab")
    (<Specimen.STOOL: 'stool'>, <Specimen.SERUM: 'serum'>, None)
    """
    return SPECIMEN_WORDS.get(_key(text)) if text else None


def specimen_in_text(text: str | None) -> Specimen | None:
    """The specimen the words of a text name, when they name exactly one kind.

    >>> specimen_in_text("Stool, 3-day collection"), specimen_in_text("Serum or plasma")
    (<Specimen.STOOL: 'stool'>, None)
    """
    found = specimens_in_text(text)
    return next(iter(found)) if len(found) == 1 else None


def specimens_in_text(text: str | None) -> frozenset[Specimen]:
    """Every specimen kind the words of a text name.

    >>> sorted(specimens_in_text("Serum or plasma"))
    [<Specimen.PLASMA: 'plasma'>, <Specimen.SERUM: 'serum'>]
    """
    if not text:
        return frozenset()
    return frozenset(
        SPECIMEN_WORDS[w] for w in _WORD.findall(text.casefold()) if w in SPECIMEN_WORDS
    )


def sex_from_text(text: str | None, *, codes_only: bool = False) -> Sex | None:
    """``female`` for F/female/W, ``male`` for M/male, else ``None``.

    ``codes_only`` accepts only the codes ``female`` and ``male`` as written
    (FHIR administrative gender), not letters or other cases.

    >>> sex_from_text("F"), sex_from_text("Male"), sex_from_text("U")
    ('female', 'male', None)
    >>> sex_from_text("F", codes_only=True) is None
    True
    """
    if not text:
        return None
    if codes_only:
        return SEX_WORDS.get(text) if text in ("female", "male") else None
    return SEX_WORDS.get(text.strip().casefold())


def status_from_text(text: str | None, *, codes_only: bool = False) -> ResultStatus | None:
    """The result status a text names (FHIR codes and spellings, HL7 letters), else ``None``.

    ``codes_only`` accepts only FHIR ObservationStatus codes as written.

    >>> status_from_text("Final"), status_from_text("P"), status_from_text("done")
    (<ResultStatus.FINAL: 'final'>, <ResultStatus.PRELIMINARY: 'preliminary'>, None)
    >>> status_from_text("Final", codes_only=True) is None
    True
    """
    if not text:
        return None
    if codes_only:
        try:
            return ResultStatus(text)
        except ValueError:
            return None
    return STATUS_WORDS.get(_key(text))


MAX_VALUE_CHARS = 1000
"""Longer text is no lab value; it is refused without being parsed (or cached)."""


def value_or_error(text: str, *, decimal_comma: bool = False) -> tuple[Value | None, str | None]:
    """The value of a lab's text, or ``None`` and the reason it is not one.

    This is how every reader turns an observation's text into ``Result.value``
    and ``Result.value_error``: an unreadable value is kept, with its reason.

    >>> value_or_error("<10")[0].comparator
    '<'
    >>> value_or_error("12 H")
    (None, "not a lab value (text '12 H')")
    """
    if len(text) > MAX_VALUE_CHARS:
        err = ValueParseError(f"not a lab value ({len(text):,} characters)", text=text)
        return None, str(err)
    try:
        return parse_value(text, decimal_comma=decimal_comma), None
    except ValueParseError as exc:
        return None, str(exc)


# --- coded qualitative results (one table for every reader) ------------------------------


@dataclass(frozen=True, slots=True)
class CodedEntry:
    """One code of ``_data/coded_values.toml``: a result term, or a yes/no answer."""

    table: str
    code: str
    display: str
    term: str | None
    """Canonical term of :func:`~guttests.parse_value`; ``None`` for an answer (table 0136)."""


@cache
def _coded_table() -> tuple[dict[str, str], dict[tuple[str, str], CodedEntry]]:
    data = tomllib.loads(
        (files("guttests") / "_data" / "coded_values.toml").read_text(encoding="utf-8")
    )
    systems = {name.casefold(): table for table, names in data["systems"].items() for name in names}
    entries: dict[tuple[str, str], CodedEntry] = {}
    for table in data["systems"]:
        for code, entry in data.get(table, {}).items():
            term = None if entry.get("answer") else entry["term"]
            if term is not None:
                term_polarity(term)  # a term parse_value does not know is a data error
            entries[(table, code)] = CodedEntry(table, code, entry["display"], term)
    return systems, entries


def coded_entry(system: str | None, code: str | None) -> CodedEntry | None:
    """The table's entry for a code under a system (URI or HL7 v2 name), else ``None``.

    >>> coded_entry("SCT", "260415000").term, coded_entry("http://snomed.info/sct", "1")
    ('not_detected', None)
    """
    if not system or not code:
        return None
    systems, entries = _coded_table()
    table = systems.get(system.strip().casefold())
    return None if table is None else entries.get((table, code.strip()))


@lru_cache(maxsize=4096)
def coded_value(system: str | None, code: str | None, text: str) -> tuple[Value | None, str | None]:
    """The value of a coded result (HL7 CWE/CE, FHIR CodeableConcept), or why there is none.

    ``text`` is the text sent with the code (CWE.2, ``CodeableConcept.text`` or the
    display), or the code itself when no text came. A code in the table gives its term;
    a text of the same polarity keeps its own words; a text that says something else is
    never guessed between:

    >>> coded_value("SCT", "260373001", "Detected")[0].term
    'detected'
    >>> coded_value("SCT", "260373001", "Not detected")[1]
    "code 260373001 (SCT: Detected) contradicts its text 'Not detected'"

    A code not in the table leaves the text to :func:`value_or_error`.
    """
    entry = coded_entry(system, code)
    if entry is None:
        return value_or_error(text)
    where = f"{code} ({system}: {entry.display})"
    if entry.term is None:
        return None, (
            f"code {where} is a yes/no answer (HL7 table 0136), not a lab result; "
            "it is not read as positive or negative"
        )
    coded = _term_value(text or entry.display, entry.term)
    if not text or text.strip() == entry.code:
        return coded, None
    said, _ = value_or_error(text)
    if said is None:
        return coded, None  # the text is no value word: the code says what the result is
    if not isinstance(said, QualitativeValue) or said.polarity != term_polarity(entry.term):
        return None, f"code {where} contradicts its text {text!r}"
    # the same meaning in other words ("Negative" for 260415000 Not detected): the lab's words
    return said, None


def _term_value(text: str, term: str) -> QualitativeValue:
    polarity = term_polarity(term)
    said = parse_value(term.replace("_", " ")) if not term.startswith("grade_") else None
    grade = said.grade if isinstance(said, QualitativeValue) else None
    return QualitativeValue(text=text, term=term, polarity=polarity, grade=grade)
