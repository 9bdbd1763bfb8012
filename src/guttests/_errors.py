"""The guttests exception hierarchy.

Every error guttests raises derives from :class:`GuttestsError`, so one
``except GuttestsError`` catches them all. Each error is also the builtin
exception whose meaning fits, so callers that already catch ``ValueError``
keep working::

    GuttestsError (Exception)
    ├── InputError (ValueError)          input that cannot be read at all
    │   ├── FormatError                  not the format it claims / cannot be detected
    │   ├── HL7Error                     malformed HL7 v2 message or segment
    │   ├── FHIRError                    malformed FHIR resource
    │   ├── CSVError                     malformed CSV export
    │   └── LimitExceededError           file size or result count above the limit
    ├── ValueParseError (ValueError)     text that is not a lab value
    ├── UnitError (ValueError)           unknown unit, or two units that do not convert
    ├── RangeError (ValueError)          a reference range that is not valid
    │   └── CatalogueError               a range file that cannot be loaded
    ├── ContextError (ValueError)        patient context needed but missing
    └── ReportError (RuntimeError)       a report that cannot be rendered

    GuttestsWarning (UserWarning)        read, but worth knowing (cells read as unknown,
                                         columns not read); never an error downgraded

Errors carry structured fields (``source``, ``location``, ``analyte``,
``unit``, ``to_unit``, ``text``: the offending value text, ``hint``) and build
their message from them, so a message always says *where* and *what*.
Messages and warnings never contain patient names or identifiers: only file
names, locations (line, segment, entry) and the offending lab text.
Exceptions of other libraries (``json``, ``csv``, ``tomllib``, pydantic, pint,
``UnicodeDecodeError``) never escape the public API: they are wrapped with
``raise ... from exc`` so that ``__cause__`` keeps them.

>>> err = UnitError("no conversion", unit="ng/mL", to_unit="ug/g", analyte="calprotectin")
>>> str(err)
'no conversion (analyte calprotectin; unit ng/mL; to unit ug/g)'
>>> isinstance(err, ValueError)
True
"""

from __future__ import annotations

__all__ = [
    "CSVError",
    "CatalogueError",
    "ContextError",
    "FHIRError",
    "FormatError",
    "GuttestsError",
    "GuttestsWarning",
    "HL7Error",
    "InputError",
    "LimitExceededError",
    "RangeError",
    "ReportError",
    "UnitError",
    "ValueParseError",
]

_MAX_TEXT = 80


def _clip(text: str) -> str:
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"


class GuttestsError(Exception):
    """Root of every error guttests raises.

    ``message`` says what went wrong; the optional fields say where and on what.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        location: str | None = None,
        analyte: str | None = None,
        unit: str | None = None,
        to_unit: str | None = None,
        text: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.location = location
        self.analyte = analyte
        self.unit = unit
        self.to_unit = to_unit
        self.text = text
        self.hint = hint
        super().__init__(message)

    def where(self) -> str:
        """``file, location`` as far as known, or an empty string."""
        return ", ".join(p for p in (self.source, self.location) if p)

    def __str__(self) -> str:
        details = []
        if self.analyte:
            details.append(f"analyte {self.analyte}")
        if self.unit is not None:
            details.append(f"unit {self.unit}")
        if self.to_unit is not None:
            details.append(f"to unit {self.to_unit}")
        if self.text is not None:
            details.append(f"text {_clip(self.text)!r}")
        msg = self.message
        if details:
            msg = f"{msg} ({'; '.join(details)})"
        where = self.where()
        if where:
            msg = f"{where}: {msg}"
        if self.hint:
            msg = f"{msg}. Hint: {self.hint}"
        return msg

    def __reduce__(self) -> tuple[object, ...]:
        # Keep keyword fields when pickled (multiprocessing, Dask workers).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[GuttestsError], message: str, fields: dict[str, object]) -> GuttestsError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(fields)
    return err


class InputError(GuttestsError, ValueError):
    """Input that cannot be read at all (whole-file problems)."""


class FormatError(InputError):
    """Input that is not in the format it claims, or whose format cannot be detected."""


class HL7Error(InputError):
    """A malformed HL7 v2 message or segment."""


class FHIRError(InputError):
    """A malformed FHIR resource or bundle."""


class CSVError(InputError):
    """A malformed CSV export (header, columns, encoding)."""


class LimitExceededError(InputError):
    """Input larger than the configured limit (bytes or results)."""


class ValueParseError(GuttestsError, ValueError):
    """Text that is not a lab value guttests can read."""


class UnitError(GuttestsError, ValueError):
    """An unknown unit, or two units that cannot be converted into one another."""


class RangeError(GuttestsError, ValueError):
    """A reference range that is not valid (overlapping bands, inverted bounds, ...)."""


class CatalogueError(RangeError):
    """A range file that cannot be loaded; names the file and the entry."""


class ContextError(GuttestsError, ValueError):
    """Patient context (sex, age) needed for a range but not given."""


class ReportError(GuttestsError, RuntimeError):
    """A report that cannot be rendered."""


class GuttestsWarning(UserWarning):
    """Something read but worth knowing (a cell read as unknown, a column not read).

    Carries ``source`` and ``location`` like the errors; the message names
    files, lines and lab text, never patient names or identifiers.

    >>> w = GuttestsWarning("columns not read: 'Comment'", source="export.csv")
    >>> str(w), w.source, isinstance(w, UserWarning)
    ("columns not read: 'Comment'", 'export.csv', True)
    """

    def __init__(
        self, message: str, *, source: str | None = None, location: str | None = None
    ) -> None:
        self.message = message
        self.source = source
        self.location = location
        super().__init__(message)
