"""Range files (``reference_ranges/*.toml``) loaded into an immutable, queryable catalogue.

The shipped catalogue is loaded once, on first use; user range sets add
analytes, ranges and caveats or override entries with the same id:

>>> cat = Catalogue.default()
>>> cat is Catalogue.default()
True
>>> Catalogue.empty().resolve("Calprotectin") is None
True

Every problem in a range file raises :class:`~guttests.CatalogueError` naming
the file and the entry. The format is described in ``docs/range-format.md``
and published as a JSON Schema (:func:`range_file_schema`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import math
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import Enum
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol, TypeVar, cast

from pydantic import BaseModel, ValidationError

from ._errors import CatalogueError, UnitError
from ._models import (
    Age,
    Analyte,
    Applicability,
    Band,
    Caveat,
    Citation,
    Coding,
    Frozen,
    ReferenceRange,
    trusted,
)
from ._types import Evidence, Family, InterpretationCode, RangeCategory, Specimen, ValueKind

__all__ = [
    "FORMAT",
    "Catalogue",
    "Override",
    "RangeSet",
    "food_result",
    "load_optimal",
    "load_range_file",
    "normalise_name",
    "range_file_schema",
    "units_checked",
    "validate_range_files",
]

FORMAT = "guttests-ranges/1"
"""The value of ``format`` every range file must declare."""

PathLike = str | os.PathLike[str] | Traversable

_M = TypeVar("_M", bound=BaseModel)
# patterns of loading and its errors, compiled (by re) when a file is loaded, not at import
_ID = r"^[a-z0-9][a-z0-9_.-]*$"
_TOP_KEYS = ("format", "family", "category", "caveats", "analyte", "range")
_ENTRY_PREFIX = r"^range [^:]*: "
_LINE = r"\(at line (\d+), column (\d+)\)"


class _Default:
    """Sentinel: 'the shipped catalogue', resolved when the call is made."""

    def __repr__(self) -> str:
        return "Catalogue.default()"


_DEFAULT_BASE = _Default()


# --- one file ----------------------------------------------------------------------------


class RangeSet(Frozen):
    """The validated content of one range file.

    >>> rs = RangeSet(source="mine.toml", family="stool")
    >>> rs.analytes, rs.ranges, rs.caveats
    ((), (), ())
    """

    source: str
    family: Family
    category: RangeCategory = RangeCategory.REFERENCE
    analytes: tuple[Analyte, ...] = ()
    ranges: tuple[ReferenceRange, ...] = ()
    caveats: tuple[Caveat, ...] = ()


def load_range_file(
    path: PathLike,
    *,
    default_category: RangeCategory | str | None = None,
    base: Catalogue | None = None,
) -> RangeSet:
    """Read and validate one range file.

    Ranges and analytes may refer to analytes and caveats defined in the same
    file or in ``base`` (the catalogue loaded before this file).
    ``default_category`` applies to ranges when the file sets no ``category``.

    >>> rs = load_range_file(files("guttests") / "reference_ranges" / "stool.toml")
    >>> rs.family, rs.ranges[0].source.text[:4]
    (<Family.STOOL: 'stool'>, 'Mayo')
    """
    category = RangeCategory(default_category) if default_category is not None else None
    return _load_file(path, base=base, default_category=category, only_category=None)


def _load_file(
    path: PathLike,
    *,
    base: Catalogue | None,
    default_category: RangeCategory | None,
    only_category: RangeCategory | None,
) -> RangeSet:
    source = _source_name(path)
    data = _read_toml(path, source)
    return _FileLoader(source, data, base, default_category, only_category).load()


def _source_name(path: PathLike) -> str:
    return os.fspath(path) if isinstance(path, str | os.PathLike) else str(path)


def _as_traversable(path: PathLike) -> Traversable:
    if isinstance(path, str | os.PathLike):
        return Path(path)
    return path


def _read_toml(path: PathLike, source: str) -> dict[str, Any]:
    try:
        raw = _as_traversable(path).read_bytes()
    except FileNotFoundError as exc:
        raise CatalogueError("range file not found", source=source) from exc
    except OSError as exc:
        raise CatalogueError(
            f"cannot read range file: {exc.strerror or exc}", source=source
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise CatalogueError(
            f"not UTF-8 text (byte {exc.start})",
            source=source,
            location=f"line {line}",
            hint="save the file as UTF-8",
        ) from exc
    ahead = _parsed_ahead().get(hashlib.sha256(raw).hexdigest())
    if ahead is not None:
        try:
            parsed: dict[str, Any] = json.loads(ahead)
        except ValueError:  # a damaged table: parse the file
            pass
        else:
            return parsed
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(_LINE, str(exc))
        msg = re.sub(_LINE, "", str(exc)).strip()
        raise CatalogueError(
            f"TOML syntax error: {msg}",
            source=source,
            location=f"line {m.group(1)}, column {m.group(2)}" if m else None,
        ) from exc
    except ValueError as exc:  # e.g. an integer too long for Python to convert
        raise CatalogueError(f"TOML value cannot be read: {exc}", source=source) from exc


PARSED_AHEAD_FILE = "ranges_parsed.json"
"""In ``_data``: the shipped range files as :func:`tomllib.loads` parses them, as JSON text
by the SHA-256 of each file's bytes (written by ``scripts/write_parsed_ahead.py``). A file
with those exact bytes is read from there, in a millisecond rather than the 20 ms of TOML
parsing; any other file (an edited one too: its hash differs) is parsed. Then it is checked
entry by entry as any range file is."""


@functools.cache
def _parsed_ahead() -> dict[str, str]:
    try:
        data = json.loads((files("guttests") / "_data" / PARSED_AHEAD_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    try:
        return {str(k): str(v["toml"]) for k, v in data["files"].items()}
    except (KeyError, TypeError, AttributeError):  # a damaged file: parse every range file
        return {}


def parsed_ahead_table(paths: Iterable[Traversable]) -> dict[str, Any]:
    """The table of range files parsed ahead, as ``scripts/write_parsed_ahead.py`` writes it.

    Raises :class:`TypeError` or :class:`ValueError` for a file JSON cannot hold exactly
    (dates, NaN).
    """
    out: dict[str, Any] = {}
    for path in paths:
        raw = path.read_bytes()
        parsed = tomllib.loads(raw.decode("utf-8"))
        text = json.dumps(parsed, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        if not _same(json.loads(text), parsed):
            raise ValueError(f"{path.name}: JSON does not hold this TOML exactly")
        out[hashlib.sha256(raw).hexdigest()] = {"name": path.name, "toml": text}
    return {
        "about": "the shipped range files, parsed: written by scripts/write_parsed_ahead.py",
        "files": out,
    }


def _same(a: object, b: object) -> bool:
    """Equal, with the same types throughout (1 is not 1.0, nor True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


class _FileLoader:
    """Checks one parsed file entry by entry; every error names the entry."""

    def __init__(
        self,
        source: str,
        data: dict[str, Any],
        base: Catalogue | None,
        default_category: RangeCategory | None,
        only_category: RangeCategory | None,
    ) -> None:
        self.source = source
        self.data = data
        self.base = base
        self.default_category = default_category
        self.only_category = only_category
        self._caveat_ids: set[str] = set()

    def error(self, message: str, location: str | None = None, **kw: str) -> CatalogueError:
        return CatalogueError(message, source=self.source, location=location, **kw)

    def load(self) -> RangeSet:
        data = self.data
        unknown = [k for k in data if k not in _TOP_KEYS]
        if unknown:
            raise self.error(
                f"unknown top-level key {unknown[0]!r} (expected {', '.join(_TOP_KEYS)})",
                unknown[0],
            )
        fmt = data.get("format")
        if fmt is None:
            raise self.error(f'missing format = "{FORMAT}"', "format")
        if fmt != FORMAT:
            raise self.error(f"unsupported format {fmt!r}, expected {FORMAT!r}", "format")
        if data.get("family") is None:
            raise self.error(f"missing family (one of {_choices(Family)})", "family")
        family = Family(self._enum(Family, "family"))
        file_category = (
            None
            if data.get("category") is None
            else RangeCategory(self._enum(RangeCategory, "category"))
        )
        if self.only_category and file_category not in (None, self.only_category):
            raise self.error(
                f"category {data['category']!r} in a file of {self.only_category.value} ranges",
                "category",
            )
        category = file_category or self.default_category or RangeCategory.REFERENCE

        caveats = self._caveats()
        analytes = self._analytes(family)
        known_caveats = self._caveat_ids = {c.id for c in caveats}
        for i, a in enumerate(analytes, 1):
            for cid in a.caveats:
                if cid not in known_caveats and (self.base is None or not self.base.caveat(cid)):
                    raise self.error(f"unknown caveat {cid!r}", _where("analyte", i, a.id))
        ranges = self._ranges(analytes, category)
        rs = RangeSet(
            source=self.source,
            family=family,
            category=category,
            analytes=analytes,
            ranges=ranges,
            caveats=caveats,
        )
        _check_units(rs, self.base)
        return rs

    def _enum(self, enum: type[Family] | type[RangeCategory], key: str) -> str:
        value = self.data[key]
        if not isinstance(value, str) or value not in {m.value for m in enum}:
            raise self.error(f"unknown {key} {value!r} (expected one of {_choices(enum)})", key)
        return value

    def _table_list(self, key: str) -> list[Any]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(f"{key} must be an array of tables: write [[{key}]]", key)
        return value

    def _caveats(self) -> tuple[Caveat, ...]:
        table = self.data.get("caveats", {})
        if not isinstance(table, dict):
            raise self.error("caveats must be a table of tables: write [caveats.<id>]", "caveats")
        out = []
        for cid, entry in table.items():
            where = f"caveat {_quote(cid)}"
            if not re.match(_ID, cid):
                raise self.error("a caveat id is lower-case letters, digits, '_', '.', '-'", where)
            if not isinstance(entry, dict):
                raise self.error("a caveat must be a table with text and citations", where)
            if "id" in entry:
                raise self.error("unknown key 'id': the caveat's id is its table name", where)
            out.append(self._validate(Caveat, {"id": cid, **entry}, where))
        return tuple(out)

    def _analytes(self, family: Family) -> tuple[Analyte, ...]:
        out: list[Analyte] = []
        seen: set[str] = set()
        for i, entry in enumerate(self._table_list("analyte"), 1):
            where = _where("analyte", i, entry.get("id"))
            a = self._validate(Analyte, {"family": family.value, **entry}, where)
            if a.id in seen:
                raise self.error(f"duplicate analyte id {a.id!r} in this file", where)
            if a.kind is ValueKind.QUANTITATIVE and not a.unit:
                raise self.error("a quantitative analyte needs a unit", where)
            seen.add(a.id)
            out.append(a)
        return tuple(out)

    def _ranges(
        self, analytes: tuple[Analyte, ...], category: RangeCategory
    ) -> tuple[ReferenceRange, ...]:
        local = {a.id: a for a in analytes}
        out: list[ReferenceRange] = []
        seen: set[str] = set()
        for i, entry in enumerate(self._table_list("range"), 1):
            where = _where("range", i, entry.get("id"))
            aid = entry.get("analyte")
            if aid is None:
                raise self.error("missing required key 'analyte'", where)
            if not isinstance(aid, str):
                raise self.error(f"analyte must be an analyte id, got {aid!r}", where)
            analyte = local.get(aid) or (self.base.analyte(aid) if self.base else None)
            if analyte is None:
                raise self.error(
                    f"unknown analyte {aid!r}",
                    where,
                    hint="define it in an [[analyte]] table in this file or an earlier loaded one",
                )
            if "source" not in entry:
                raise self.error(
                    "missing citation: every range needs source = { text = ... }", where
                )
            if self.only_category:
                given = entry.get("category", self.only_category.value)
                if given != self.only_category.value:
                    raise self.error(
                        f"category {given!r} in a file of {self.only_category.value} ranges",
                        where,
                    )
            full = {"kind": analyte.kind.value, "category": category.value, **entry}
            r = self._validate(ReferenceRange, full, where)
            if r.kind is ValueKind.QUANTITATIVE and not r.unit:
                raise self.error("a quantitative range needs a unit", where)
            if r.id in seen:
                raise self.error(f"duplicate range id {r.id!r} in this file", where)
            for cid in r.caveats:
                if cid not in self._caveat_ids and (self.base is None or not self.base.caveat(cid)):
                    raise self.error(f"unknown caveat {cid!r}", where)
            seen.add(r.id)
            out.append(r)
        return tuple(out)

    def _validate(self, model: type[_M], entry: dict[str, Any], where: str) -> _M:
        try:
            payload = json.dumps(entry, default=_no_datetimes, allow_nan=False)
        except TypeError as exc:
            raise self.error(str(exc), where) from exc
        except ValueError as exc:
            raise self.error("nan and inf are not allowed in range files", where) from exc
        try:
            return model.model_validate_json(payload, strict=True)
        except ValidationError as exc:
            raise self.error(_readable(exc), where) from None


def _where(kind: str, index: int, entry_id: object) -> str:
    return f"{kind} {_quote(entry_id)}" if isinstance(entry_id, str) else f"{kind}[{index}]"


def _quote(text: str) -> str:
    """Double-quoted as TOML writes strings."""
    return json.dumps(text, ensure_ascii=False)


def _choices(enum: type[Family] | type[RangeCategory]) -> str:
    return ", ".join(m.value for m in enum)


def _no_datetimes(obj: object) -> object:
    raise TypeError(f"dates and times are not allowed in range files (found {obj!r})")


def _readable(exc: ValidationError) -> str:
    """One line per problem, as a range-file author would read it."""
    parts: list[str] = []
    for err in exc.errors(include_url=False):
        loc = _loc_text(err["loc"])
        kind, msg, value = err["type"], err["msg"], err.get("input")
        if kind == "extra_forbidden":
            text = f"unknown key {loc!r}"
        elif kind == "missing":
            text = (
                "missing citation: every range needs source = { text = ... }"
                if loc == "source"
                else f"missing required key {loc!r}"
            )
        elif kind == "string_too_short" and loc.endswith("text") and "source" in loc:
            text = f"missing citation: {loc} must have at least 3 characters, got {value!r}"
        elif kind == "enum" and loc.endswith("flag"):
            text = f"{loc}: unknown flag code {value!r} (expected one of {err['ctx']['expected']})"
        elif kind in ("enum", "literal_error"):
            text = f"{loc}: unknown value {value!r} (expected one of {err['ctx']['expected']})"
        elif kind == "value_error":
            # the models prefix "range <id>: "; the location already names the entry
            text = re.sub(_ENTRY_PREFIX, "", msg.removeprefix("Value error, "))
            text = f"{loc}: {text}" if loc else text
        else:
            shown = "" if isinstance(value, dict | list) else f", got {value!r}"
            text = f"{loc}: {msg[:1].lower()}{msg[1:]}{shown}" if loc else msg
        parts.append(text)
    return "; ".join(parts)


def _loc_text(loc: tuple[int | str, ...]) -> str:
    """('bands', 1, 'flag') -> 'bands[2].flag' (positions count from 1, as in the file)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else part
    return out


# --- units -------------------------------------------------------------------------------


class _UnitsModule(Protocol):
    def parse_unit(self, text: str) -> object: ...

    def compatible(self, a: str, b: str) -> bool: ...


def _units_module() -> _UnitsModule | None:
    """``guttests._units``, or ``None`` while that module does not exist yet."""
    try:
        module = importlib.import_module("guttests._units")
    except ModuleNotFoundError as exc:
        if exc.name != "guttests._units":
            raise
        return None
    return cast(_UnitsModule, module)


def units_checked() -> bool:
    """Whether loading checks units (``guttests._units`` is available)."""
    return _units_module() is not None


def _check_units(rs: RangeSet, base: Catalogue | None) -> None:
    units = _units_module()
    if units is None:
        return
    local = {a.id: a for a in rs.analytes}
    for i, a in enumerate(rs.analytes, 1):
        if a.unit is not None:
            _parse_unit(units, a.unit, rs.source, _where("analyte", i, a.id))
    for i, r in enumerate(rs.ranges, 1):
        where = _where("range", i, r.id)
        if r.unit is not None:
            _parse_unit(units, r.unit, rs.source, where)
        analyte = local.get(r.analyte or "") or (base.analyte(r.analyte or "") if base else None)
        if analyte is not None:
            _check_compatible(units, r, analyte, rs.source, where)


def _parse_unit(units: _UnitsModule, text: str, source: str, where: str) -> None:
    try:
        units.parse_unit(text)
    except UnitError as exc:
        raise CatalogueError(
            f"unknown unit {text!r}: {exc.message}", source=source, location=where
        ) from exc


def _check_compatible(
    units: _UnitsModule, r: ReferenceRange, analyte: Analyte, source: str, where: str
) -> None:
    if r.unit is None:
        return
    if analyte.unit is None:
        raise CatalogueError(
            f"range has unit {r.unit!r} but analyte {analyte.id!r} has no unit",
            source=source,
            location=where,
        )
    try:
        ok = units.compatible(r.unit, analyte.unit)
    except UnitError as exc:
        raise CatalogueError(
            f"unit {r.unit!r} cannot be compared with the analyte's unit {analyte.unit!r}: "
            f"{exc.message}",
            source=source,
            location=where,
        ) from exc
    if not ok:
        raise CatalogueError(
            f"unit {r.unit!r} is not compatible with the unit {analyte.unit!r} "
            f"of analyte {analyte.id!r}",
            source=source,
            location=where,
        )


# --- names -------------------------------------------------------------------------------

_GREEK = {"β": "beta", "α": "alpha", "γ": "gamma"}
_NON_ALNUM = re.compile(r"[\W_]+")
_MICRO = re.compile(r"mc(?=g|l|mol)")


@functools.lru_cache(maxsize=65536)
def normalise_name(name: str) -> str:
    """The form names are matched in: case, spacing, punctuation and µ/mc/u spellings ignored.

    >>> normalise_name("Calprotectin, Stool")
    'calprotectinstool'
    >>> {normalise_name(s) for s in ("IgG4 (mcg/mL)", "igg4 µg/ml", "IgG4 ug/mL")}
    {'igg4ugml'}
    """
    s = unicodedata.normalize("NFKC", name).casefold()
    s = unicodedata.normalize("NFKC", s).replace("μ", "u")
    for greek, latin in _GREEK.items():
        s = s.replace(greek, latin)
    s = _NON_ALNUM.sub("", s)
    return _MICRO.sub("u", s)


# --- how labs print names ------------------------------------------------------------------

_SUGGEST_CUTOFF = 0.85
"""Similarity (difflib ratio of normalised names) from which a known name is suggested."""
_METHOD_SUFFIX = re.compile(
    r"\s*[\(\[]\s*(?:q\s*-?\s*pcr|rt\s*-?\s*q?pcr|pcr|naat|eia|elisa|ifa|dfa|fia|lfa|"
    r"immunoassay|culture|microscopy|antigen|ag)\s*[\)\]]\s*$"
    r"|\s*[,;-]?\s+(?:by\s+)?(?:q-?pcr|pcr)\s*$",
    re.IGNORECASE,
)
_STOOL_SUFFIX = re.compile(
    r"\s*,\s*(?:feces|faeces|stool|fecal|faecal)\s*$"
    r"|\s+(?:in|of)\s+(?:stool|feces|faeces)\s*$",
    re.IGNORECASE,
)
_SHARE_SUFFIX = re.compile(
    r"\s*,?\s*\(?\s*%\s*(?:of\s+)?total(?:\s+(?:scfa|short[- ]chain fatty acids))?\s*\)?\s*$",
    re.IGNORECASE,
)
_FOOD_RESULT = re.compile(
    r"^\s*(?P<food>.+?)[\s,;:-]+(?P<ab>IgG4|IgG|IgA|IgE)(?P<cls>[\s,;:-]+class)?\s*$",
    re.IGNORECASE,
)
_ALLERGEN_CODE = re.compile(r"\s*\(\s*f\d{1,4}\s*\)\s*", re.IGNORECASE)
_FOOD_FAMILY = {"igg4": "food_igg4", "igg": "food_igg", "iga": "food_iga", "ige": "food_ige"}


def _variants(name: str) -> Iterator[tuple[str, Specimen | None]]:
    """The name without the suffixes labs add, each with the specimen a stripped suffix
    requires: "Akkermansia muciniphila (qPCR)", "Eosinophil Protein X, Feces",
    "pH of Stool", "n-Butyrate, % of total SCFA".

    >>> [v for v, _ in _variants("Giardia lamblia (PCR), Stool")]
    ['Giardia lamblia (PCR)', 'Giardia lamblia']
    """
    text, specimen = name, None
    for _ in range(4):
        before = text
        for pattern in (_STOOL_SUFFIX, _METHOD_SUFFIX, _SHARE_SUFFIX):
            stripped = pattern.sub("", text)
            if stripped != text and stripped.strip():
                if pattern is _STOOL_SUFFIX:
                    specimen = Specimen.STOOL
                text = stripped
                yield text, specimen
        if text == before:
            return


@functools.cache
def _foods() -> frozenset[str]:
    text = (files("guttests") / "_data" / "foods.txt").read_text(encoding="utf-8")
    lines = (line.strip() for line in text.splitlines())
    return frozenset(normalise_name(x) for x in lines if x and not x.startswith("#"))


def food_result(name: str) -> tuple[str, str] | None:
    """(food, family analyte id) for a per-food antibody result, else ``None``.

    The food must be a listed food (``_data/foods.txt``) or carry a food allergen code:

    >>> food_result("Peanut (f13) IgE"), food_result("Cow's milk IgG4")
    (('Peanut', 'food_ige'), ("Cow's milk", 'food_igg4'))
    >>> food_result("Peanut (f13) IgE class"), food_result("Secretory IgA")
    (('Peanut', 'food_ige_class'), None)
    """
    m = _FOOD_RESULT.match(name)
    if m is None:
        return None
    raw = m.group("food")
    coded = _ALLERGEN_CODE.search(raw) is not None
    food = _ALLERGEN_CODE.sub(" ", raw).strip(" ,;:-")
    if not food or not (coded or normalise_name(food) in _foods()):
        return None
    ab = m.group("ab").casefold()
    if m.group("cls"):
        return (food, "food_ige_class") if ab == "ige" else None
    return food, _FOOD_FAMILY[ab]


# --- the catalogue -----------------------------------------------------------------------


class Override(NamedTuple):
    """One entry of a loaded file that replaced an entry with the same id."""

    kind: Literal["analyte", "range", "caveat"]
    id: str
    source: str
    """The file that overrides."""
    previous_source: str


_MISS: Any = object()
_NO_ANALYTE: Any = object()  # a code that is not LOINC, or a LOINC code no analyte lists
_CACHE_LIMIT = 100_000


_SUGGEST_CACHE_LIMIT = 4096
"""Queries whose suggestions a catalogue remembers before starting afresh."""


class Catalogue:
    """Analytes, ranges and caveats, indexed for lookup. Immutable and picklable.

    >>> cat = Catalogue.default()
    >>> cat.resolve("FAECAL CALPROTECTIN").id
    'calprotectin'
    >>> cat.resolve(None, [Coding(system="http://loinc.org", code="38445-3")]).id
    'calprotectin'
    >>> [r.id for r in cat.ranges_for("calprotectin")][:1]
    ['calprotectin.mayo']
    >>> cat.resolve("Calprotectin, quantitative") is None  # not a listed spelling: no guess
    True
    >>> len(cat.content_hash)
    64
    """

    __slots__ = (
        "_analyte_list",
        "_analytes",
        "_by_analyte",
        "_cache",
        "_caveats",
        "_code_cache",
        "_content_hash",
        "_display",
        "_loinc",
        "_names",
        "_origin",
        "_overridden",
        "_ranges",
        "_sources",
        "_suggest_cache",
        "_user_ranges",
    )

    _analyte_list: tuple[Analyte, ...]
    _analytes: dict[str, Analyte]
    _by_analyte: dict[str, tuple[ReferenceRange, ...]]
    _cache: dict[str | None, Analyte | None]
    _code_cache: dict[tuple[str | None, str], object]
    _caveats: dict[str, Caveat]
    _content_hash: str | None
    _display: dict[str, str]
    _loinc: dict[str, Analyte | None]
    _names: dict[str, str | None]
    _origin: dict[tuple[str, str], str]
    _overridden: tuple[Override, ...]
    _ranges: dict[str, ReferenceRange]
    _sources: tuple[str, ...]
    _suggest_cache: dict[tuple[str, int], tuple[str, ...]]
    _user_ranges: frozenset[str]

    def __init__(
        self,
        analytes: Iterable[Analyte] = (),
        ranges: Iterable[ReferenceRange] = (),
        caveats: Iterable[Caveat] = (),
        *,
        sources: Iterable[str] = (),
        overridden: Iterable[Override] = (),
        origin: Mapping[tuple[str, str], str] | None = None,
        user_ranges: Iterable[str] = (),
    ) -> None:
        """Build a catalogue from validated entries (later entries with the same id win)."""
        setattr_ = object.__setattr__
        setattr_(self, "_analytes", {a.id: a for a in analytes})
        setattr_(self, "_ranges", {r.id: r for r in ranges})
        setattr_(self, "_caveats", {c.id: c for c in caveats})
        setattr_(self, "_sources", tuple(sources))
        setattr_(self, "_overridden", tuple(overridden))
        setattr_(self, "_origin", dict(origin or {}))
        setattr_(self, "_user_ranges", frozenset(user_ranges))
        setattr_(self, "_analyte_list", tuple(self._analytes.values()))
        by_analyte: dict[str, list[ReferenceRange]] = {}
        for r in self._ranges.values():
            by_analyte.setdefault(r.analyte or "", []).append(r)
        setattr_(self, "_by_analyte", {k: tuple(v) for k, v in by_analyte.items()})
        loinc, names, display = _indexes(self._analyte_list)
        setattr_(self, "_loinc", loinc)
        setattr_(self, "_names", names)
        setattr_(self, "_display", display)
        setattr_(self, "_cache", {})
        setattr_(self, "_code_cache", {})
        setattr_(self, "_suggest_cache", {})
        setattr_(self, "_content_hash", None)  # computed on first use

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Catalogue is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Catalogue is immutable (cannot delete {name!r})")

    def __reduce__(self) -> tuple[Any, ...]:
        # Indexes and the lookup cache are rebuilt on the worker, not shipped.
        return (
            _rebuild_catalogue,
            (
                self._analyte_list,
                tuple(self._ranges.values()),
                tuple(self._caveats.values()),
                self._sources,
                self._overridden,
                self._origin,
                tuple(self._user_ranges),
                self.content_hash,
            ),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Catalogue):
            return NotImplemented
        return self.content_hash == other.content_hash

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def __repr__(self) -> str:
        return (
            f"<Catalogue {len(self._analytes)} analytes, {len(self._ranges)} ranges, "
            f"{len(self._caveats)} caveats, sha256 {self.content_hash[:12]}>"
        )

    # constructors

    @classmethod
    def empty(cls) -> Catalogue:
        """A catalogue with nothing in it.

        >>> Catalogue.empty().analyte("calprotectin") is None
        True
        """
        return cls()

    @classmethod
    def default(cls) -> Catalogue:
        """The shipped catalogue (``guttests/reference_ranges/*.toml``), loaded once.

        >>> Catalogue.default().overridden
        ()
        """
        return _shipped()

    @classmethod
    def load(cls, *paths: PathLike, base: Catalogue | _Default | None = _DEFAULT_BASE) -> Catalogue:
        """``base`` (the shipped catalogue by default) plus the range files or directories given.

        A directory contributes its ``*.toml`` files in name order. Each file may
        refer to analytes and caveats of ``base`` and of files loaded before it;
        an entry with the id of an earlier one replaces it and is listed in
        :attr:`overridden`.

        >>> Catalogue.load(base=None) == Catalogue.empty()
        True
        """
        return _build(paths, _resolve_base(base), only_category=None, user=True)

    # queries

    @property
    def analytes(self) -> tuple[Analyte, ...]:
        """All analytes, in load order."""
        return self._analyte_list

    @property
    def ranges(self) -> tuple[ReferenceRange, ...]:
        """All ranges, in load order."""
        return tuple(self._ranges.values())

    @property
    def caveats(self) -> tuple[Caveat, ...]:
        """All caveats, in load order."""
        return tuple(self._caveats.values())

    @property
    def sources(self) -> tuple[str, ...]:
        """The files loaded, in order (those of the base catalogue first)."""
        return self._sources

    @property
    def overridden(self) -> tuple[Override, ...]:
        """Entries replaced by a later file, in load order."""
        return self._overridden

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical JSON of all analytes, ranges and caveats (sorted by id)."""
        if self._content_hash is None:
            object.__setattr__(self, "_content_hash", _content_hash(self))
        return cast(str, self._content_hash)

    def analyte(self, analyte_id: str) -> Analyte | None:
        """The analyte with this id, or ``None``."""
        return self._analytes.get(analyte_id)

    def range(self, range_id: str) -> ReferenceRange | None:
        """The range with this id, or ``None``."""
        return self._ranges.get(range_id)

    def ranges_for(self, analyte_id: str) -> tuple[ReferenceRange, ...]:
        """The ranges of one analyte, in load order (empty when there are none)."""
        return self._by_analyte.get(analyte_id, ())

    def caveat(self, caveat_id: str) -> Caveat | None:
        """The caveat with this id, or ``None``."""
        return self._caveats.get(caveat_id)

    def source_of(self, kind: Literal["analyte", "range", "caveat"], entry_id: str) -> str | None:
        """The file an entry was loaded from (``None`` for entries built in code)."""
        return self._origin.get((kind, entry_id))

    def range_origin(self, range_id: str) -> Literal["catalogue", "user"] | None:
        """``"catalogue"`` for a shipped range, ``"user"`` for one from a user file."""
        if range_id not in self._ranges:
            return None
        return "user" if range_id in self._user_ranges else "catalogue"

    def resolve(self, name: str | None, codes: Iterable[Coding] = ()) -> Analyte | None:
        """The analyte a result names: by LOINC code first, then by name, id or alias.

        Names match when equal after :func:`normalise_name`; failing that, after removing
        the suffixes labs add ("(qPCR)", ", Feces", " of Stool", ", % of total SCFA"; a
        removed specimen suffix only matches a stool analyte); failing that, a per-food
        antibody result ("Wheat IgG4") matches its family analyte. Anything ambiguous (a
        code or name shared by two analytes, or codes naming two analytes) gives ``None``,
        never a guess.

        >>> Catalogue.default().resolve("Eosinophil Protein X, Feces").id
        'eosinophil_protein_x'
        """
        if codes:  # an empty tuple or list skips this; any other iterable is read once
            found: object = _MISS
            code_cache = self._code_cache
            for c in codes:
                key = (c.system, c.code)
                hit = code_cache.get(key, _MISS)
                if hit is _MISS:
                    hit = self._loinc.get(c.code, _NO_ANALYTE) if c.is_loinc else _NO_ANALYTE
                    if len(code_cache) >= _CACHE_LIMIT:
                        code_cache.clear()
                    code_cache[key] = hit
                if hit is _NO_ANALYTE:
                    continue
                if hit is None or (found is not _MISS and found is not hit):
                    return None  # a code shared by two analytes, or codes naming two
                found = hit
            if found is not _MISS:
                return cast("Analyte", found)
        hit = self._cache.get(name, _MISS)
        if hit is _MISS:
            hit = self._by_name(name)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[name] = hit
        return cast("Analyte | None", hit)

    def _by_name(self, name: str | None) -> Analyte | None:
        if not name:
            return None
        key = normalise_name(name)
        if key in self._names:  # a listed spelling, or one shared by two analytes (None)
            analyte_id = self._names[key]
            return None if analyte_id is None else self._analytes[analyte_id]
        for variant, specimen in _variants(name):
            analyte_id = self._names.get(normalise_name(variant))
            if analyte_id is not None:
                found = self._analytes[analyte_id]
                if specimen is None or found.specimen is specimen:
                    return found
                return None  # "X, Stool" names a stool test: never the serum analyte X
        food = food_result(name)
        if food is not None:
            return self._analytes.get(food[1])
        return None

    def qualifier(self, name: str | None) -> str | None:
        """What a per-food result is about ("Peanut" for "Peanut (f13) IgE"), else ``None``.

        >>> Catalogue.default().qualifier("Cow's milk IgG4")
        "Cow's milk"
        """
        if not name or normalise_name(name) in self._names:
            return None
        food = food_result(name)
        return food[0] if food is not None and food[1] in self._analytes else None

    def suggest(self, name: str, n: int = 3) -> list[str]:
        """Up to ``n`` known names and aliases close to ``name``.

        Close means a similarity of at least 0.85 (``difflib``), or a known name of six or
        more characters contained in ``name``: a blood test such as "Glucose" is never
        offered a stool marker such as "b-Glucuronidase".

        >>> Catalogue.empty().suggest("calprotectin")
        []
        >>> Catalogue.default().suggest("GLUCOSE"), Catalogue.default().suggest("Hematocrit")
        ([], [])
        """
        if n < 1 or not self._display:
            return []
        query = normalise_name(name)
        # difflib over every known name costs milliseconds; the answer depends only on the
        # query and this (immutable) catalogue: remembered per query, bounded.
        known = self._suggest_cache.get((query, n))
        if known is None:
            known = self._suggest(query, n)
            if len(self._suggest_cache) >= _SUGGEST_CACHE_LIMIT:
                self._suggest_cache.clear()
            self._suggest_cache[(query, n)] = known
        return list(known)

    def _suggest(self, query: str, n: int) -> tuple[str, ...]:
        import difflib  # only when a name is not known

        keys = difflib.get_close_matches(
            query, self._display, n=len(self._display), cutoff=_SUGGEST_CUTOFF
        )
        keys += sorted(
            (k for k in self._display if len(k) >= 6 and k in query and k not in keys),
            key=len,
            reverse=True,
        )
        out: list[str] = []
        seen: set[str] = set()
        for k in keys:  # best first; one spelling per analyte
            owner = self._names[k] or k
            if owner not in seen:
                seen.add(owner)
                out.append(self._display[k])
        return tuple(out[:n])


def _rebuild_catalogue(
    analytes: tuple[Analyte, ...],
    ranges: tuple[ReferenceRange, ...],
    caveats: tuple[Caveat, ...],
    sources: tuple[str, ...],
    overridden: tuple[Override, ...],
    origin: dict[tuple[str, str], str],
    user_ranges: tuple[str, ...],
    content_hash: str,
) -> Catalogue:
    cat = Catalogue(
        analytes,
        ranges,
        caveats,
        sources=sources,
        overridden=overridden,
        origin=origin,
        user_ranges=user_ranges,
    )
    object.__setattr__(cat, "_content_hash", content_hash)
    return cat


def _indexes(
    analytes: tuple[Analyte, ...],
) -> tuple[dict[str, Analyte | None], dict[str, str | None], dict[str, str]]:
    """LOINC and name indexes; ``None`` marks a key shared by two analytes."""
    loinc: dict[str, Analyte | None] = {}
    names: dict[str, str | None] = {}
    display: dict[str, str] = {}
    for a in analytes:
        for code in a.loinc:
            loinc[code] = a if loinc.get(code, a) is a else None
        for text in (a.name, a.id, *a.aliases):
            key = normalise_name(text)
            if not key:
                continue
            names[key] = a.id if names.get(key, a.id) == a.id else None
            display.setdefault(key, text)
    return loinc, names, display


def _content_hash(cat: Catalogue) -> str:
    doc = {
        "analytes": [a.model_dump(mode="json") for a in sorted(cat.analytes, key=_by_id)],
        "ranges": [r.model_dump(mode="json") for r in sorted(cat.ranges, key=_by_id)],
        "caveats": [c.model_dump(mode="json") for c in sorted(cat.caveats, key=_by_id)],
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _by_id(entry: Analyte | ReferenceRange | Caveat) -> str:
    return entry.id


def _resolve_base(base: Catalogue | _Default | None) -> Catalogue | None:
    return Catalogue.default() if isinstance(base, _Default) else base


def _expand(path: PathLike) -> Iterator[PathLike]:
    t = _as_traversable(path)
    if not t.is_dir():
        yield path
        return
    found = sorted((c for c in t.iterdir() if c.name.endswith(".toml") and c.is_file()), key=_name)
    if not found:
        raise CatalogueError("no *.toml range files in this directory", source=_source_name(path))
    yield from found


def _name(t: Traversable) -> str:
    return t.name


def _build(
    paths: Iterable[PathLike],
    base: Catalogue | None,
    *,
    only_category: RangeCategory | None,
    user: bool,
    load: _Loader | None = None,
    needs_base: bool = True,
) -> Catalogue:
    """``base`` and the files of ``paths``, each loaded (by ``load``, default
    :func:`_load_file`) with the catalogue of those before it as its base. Without
    ``needs_base`` (the validated table) the files get no base: only the whole catalogue is
    built and indexed."""
    current = base
    analytes = {a.id: a for a in base.analytes} if base else {}
    ranges = {r.id: r for r in base.ranges} if base else {}
    caveats = {c.id: c for c in base.caveats} if base else {}
    sources = list(base.sources) if base else []
    overridden = list(base.overridden) if base else []
    origin = dict(base._origin) if base else {}
    user_ranges = set(base._user_ranges) if base else set()

    def snapshot() -> Catalogue:
        return Catalogue(
            analytes.values(),
            ranges.values(),
            caveats.values(),
            sources=sources,
            overridden=overridden,
            origin=origin,
            user_ranges=user_ranges,
        )

    pending = False  # files merged since ``current`` was made
    for path in (p for given in paths for p in _expand(given)):
        if pending and needs_base:
            current, pending = snapshot(), False
        rs = (load or _load_file)(
            path, base=current, default_category=only_category, only_category=only_category
        )
        merge = functools.partial(_merge, source=rs.source, origin=origin, overridden=overridden)
        merge("caveat", caveats, rs.caveats)
        merge("analyte", analytes, rs.analytes)
        merge("range", ranges, rs.ranges)
        if user:
            user_ranges.update(r.id for r in rs.ranges)
        _recheck_overridden_analytes(rs, ranges, origin)
        sources.append(rs.source)
        pending = True
    if pending:
        current = snapshot()
    return current if current is not None else Catalogue()


_E = TypeVar("_E", Analyte, ReferenceRange, Caveat)


def _merge(
    kind: Literal["analyte", "range", "caveat"],
    store: dict[str, _E],
    entries: tuple[_E, ...],
    *,
    source: str,
    origin: dict[tuple[str, str], str],
    overridden: list[Override],
) -> None:
    for e in entries:
        if e.id in store:
            previous = origin.get((kind, e.id), "(built in code)")
            overridden.append(Override(kind, e.id, source, previous))
        store[e.id] = e
        origin[(kind, e.id)] = source


def _recheck_overridden_analytes(
    rs: RangeSet, ranges: dict[str, ReferenceRange], origin: dict[tuple[str, str], str]
) -> None:
    """An analyte replaced with another unit must still fit the ranges loaded before it."""
    units = _units_module()
    if units is None:
        return
    for a in rs.analytes:
        for r in ranges.values():
            if r.analyte == a.id and r.unit is not None and origin[("range", r.id)] != rs.source:
                where = f"range {_quote(r.id)} (from {origin[('range', r.id)]})"
                _check_compatible(units, r, a, rs.source, where)


def _shipped_dir() -> Traversable:
    return files("guttests") / "reference_ranges"


@functools.cache
def _shipped() -> Catalogue:
    paths = tuple(_as_traversable(p) for p in _expand(_shipped_dir()))
    ahead = _validated_ahead(paths)
    if ahead is None:
        return _build(paths, None, only_category=None, user=False)
    load = functools.partial(_load_ahead, ahead)
    return _build(paths, None, only_category=None, user=False, load=load, needs_base=False)


# --- the shipped catalogue validated ahead -----------------------------------------------

VALIDATED_AHEAD_FILE = "catalogue_validated.json"
"""In ``_data``: the content of each shipped range file as loading it gives it (the validated
models of its :class:`RangeSet`, every field with its exact type), written by
``scripts/write_parsed_ahead.py``. It is used only when its ``key`` is the SHA-256 of what
that result follows from (:func:`validated_ahead_key`): the range files' names and bytes,
the source of this module, of ``_models`` and ``_types``, the key of the units table in use
and the pydantic version (also named in clear, ``validated_with``). Then the shipped catalogue
is built without validating its entries (nor building their validators); any difference, and
it is loaded and checked as any file."""

_AHEAD_MODELS: dict[str, type[BaseModel]] = {
    m.__name__: m for m in (Analyte, Caveat, Citation, ReferenceRange, Band, Applicability, Age)
}
_AHEAD_ENUMS: dict[str, type[Enum]] = {
    e.__name__: e
    for e in (Family, RangeCategory, Specimen, ValueKind, InterpretationCode, Evidence)
}


class _Loader(Protocol):
    def __call__(
        self,
        path: PathLike,
        *,
        base: Catalogue | None,
        default_category: RangeCategory | None,
        only_category: RangeCategory | None,
    ) -> RangeSet: ...


def _validator_versions() -> str:
    """The pydantic that validated: what the table's key and its ``validated_with`` name."""
    import pydantic
    import pydantic_core

    return f"pydantic {pydantic.VERSION}, pydantic-core {pydantic_core.__version__}"


def validated_ahead_key(paths: Iterable[Traversable]) -> str | None:
    """What the shipped catalogue validated ahead must have been computed from (see
    :data:`VALIDATED_AHEAD_FILE`); ``None`` when part of it cannot be read."""
    from . import _age, _models, _types, _values

    units = _units_module()
    # the key of the table of known units, when this process uses it (it then stands for
    # the unit definitions, grammar, units code and lark the catalogue was checked
    # with); without that table, no catalogue table either
    units_key = getattr(units, "known_units_in_use", lambda: None)() if units else "no units"
    if units_key is None:
        return None
    digest = hashlib.sha256()
    digest.update(f"{_validator_versions()}, units {units_key}\0".encode())
    try:
        # this module and every module the models' validators call into
        for module in (
            __file__,
            _models.__file__,
            _types.__file__,
            _age.__file__,
            _values.__file__,
        ):
            digest.update(Path(str(module)).read_bytes())
            digest.update(b"\0")
        for path in paths:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def _encode(value: object) -> Any:
    """``value`` as JSON that :func:`_decode` turns back into an equal value of the same
    types throughout. Scalars stay as they are; everything else is a list whose first item
    says what it is: ``["t", *items]`` a tuple, ``["e", enum, value]`` an enum member,
    ``["m", model, [field values in field order], fields given, private state]``."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    if type(value) is tuple:
        return ["t", *(_encode(v) for v in value)]
    if isinstance(value, Enum) and _AHEAD_ENUMS.get(type(value).__name__) is type(value):
        return ["e", type(value).__name__, _encode(value.value)]
    if isinstance(value, BaseModel) and _AHEAD_MODELS.get(type(value).__name__) is type(value):
        if value.__pydantic_extra__ is not None:
            raise TypeError(f"{type(value).__name__}: extra fields cannot be kept")
        if list(value.__dict__) != list(type(value).model_fields):
            raise TypeError(f"{type(value).__name__}: fields out of order")
        private = value.__pydantic_private__
        return [
            "m",
            type(value).__name__,
            [_encode(v) for v in value.__dict__.values()],
            sorted(value.__pydantic_fields_set__),
            None if private is None else {k: _encode(v) for k, v in private.items()},
        ]
    raise TypeError(f"cannot keep a {type(value).__name__} in {VALIDATED_AHEAD_FILE}")


_new = object.__new__
_set = object.__setattr__


@functools.cache
def _field_names(cls: type[BaseModel]) -> tuple[tuple[str, ...], frozenset[str]]:
    return tuple(cls.__pydantic_fields__), frozenset(cls.__pydantic_fields__)


def _decode(data: Any) -> Any:
    """The value :func:`_encode` gave ``data`` for; :class:`ValueError` (or
    :class:`KeyError`, :class:`TypeError`) for anything else."""
    if type(data) is not list:
        if data is None or type(data) in (bool, int, float, str):
            return data
        raise ValueError("not a value of the table")
    tag = data[0]
    if tag == "t":
        return tuple(_decode(v) if type(v) is list else v for v in data[1:])
    if tag == "e" and len(data) == 3:
        return _AHEAD_ENUMS[data[1]]._value2member_map_[data[2]]
    if tag == "m" and len(data) == 5:
        cls = _AHEAD_MODELS[data[1]]
        names, known = _field_names(cls)
        values, given, private = data[2], data[3], data[4]
        if len(values) != len(names) or type(given) is not list or not known.issuperset(given):
            raise ValueError(f"not a {cls.__name__} of the table")
        m = _new(cls)
        _set(m, "__dict__", dict(zip(names, [_decode(v) for v in values], strict=True)))
        _set(m, "__pydantic_fields_set__", set(given))
        _set(m, "__pydantic_extra__", None)
        _set(
            m,
            "__pydantic_private__",
            None if private is None else {str(k): _decode(v) for k, v in private.items()},
        )
        return m
    raise ValueError("not a value of the table")


def validated_ahead_text(paths: Sequence[Traversable]) -> str:
    """The table of the shipped range files ``paths`` loaded and validated as
    :func:`Catalogue.default` loads them, one entry a line, as
    ``scripts/write_parsed_ahead.py`` writes it. Its first line carries the SHA-256 of the
    lines after it: a damaged or hand-edited table is not used."""
    rows: list[list[Any]] = []

    def load(path: PathLike, **kw: Any) -> RangeSet:
        rs = _load_file(path, **kw)
        name = _as_traversable(path).name
        rows.append([name, "file", {k: _encode(getattr(rs, k)) for k in ("family", "category")}])
        for part in ("caveats", "analytes", "ranges"):
            rows.extend([name, part, _encode(entry)] for entry in getattr(rs, part))
        return rs

    _build(paths, None, only_category=None, user=False, load=load)
    body = (
        ' "rows": [\n'
        + ",\n".join(json.dumps(r, ensure_ascii=False, allow_nan=False) for r in rows)
        + "\n ]\n}\n"
    )
    head = {
        "about": "the shipped catalogue, validated: written by scripts/write_parsed_ahead.py",
        "key": validated_ahead_key(paths),
        "validated_with": _validator_versions(),
        "digest": hashlib.sha256(body.encode("utf-8")).hexdigest(),
    }
    text = json.dumps(head, ensure_ascii=False)[:-1] + ",\n" + body
    assert json.loads(text) == {**head, "rows": rows}
    return text


def _validated_ahead(paths: Sequence[Traversable]) -> dict[str, dict[str, Any]] | None:
    """The parts of each file's :class:`RangeSet` from the table, by file name, or ``None``
    when the table is missing, damaged or was computed from anything else."""
    try:
        raw = (files("guttests") / "_data" / VALIDATED_AHEAD_FILE).read_bytes()
        table = json.loads(raw)
    except (OSError, ValueError):
        return None
    if (
        type(table) is not dict
        or table.get("key") != validated_ahead_key(paths)
        or table.get("digest") != hashlib.sha256(raw.partition(b"\n")[2]).hexdigest()
    ):
        return None
    out: dict[str, dict[str, Any]] = {}
    try:
        for name, part, data in table["rows"]:
            if part == "file":
                if name in out:
                    raise ValueError("a file twice")
                out[name] = {"caveats": [], "analytes": [], "ranges": [], **_decode_parts(data)}
            else:
                out[name][part].append(_decode(data))
        if list(out) != [p.name for p in paths]:
            return None
        for parts in out.values():
            for part in ("caveats", "analytes", "ranges"):
                parts[part] = tuple(parts[part])
            _check_types(parts)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):  # damaged
        return None
    return out


def _decode_parts(data: Any) -> dict[str, Any]:
    if type(data) is not dict or data.keys() != {"family", "category"}:
        raise ValueError("not the parts of a file")
    return {k: _decode(v) for k, v in data.items()}


def _check_types(parts: dict[str, Any]) -> None:
    kinds = {"caveats": Caveat, "analytes": Analyte, "ranges": ReferenceRange}
    if type(parts["family"]) is not Family or type(parts["category"]) is not RangeCategory:
        raise ValueError("not a family and a category")
    for part, cls in kinds.items():
        if any(type(e) is not cls for e in parts[part]):
            raise ValueError(f"not {part}")


def _load_ahead(
    ahead: Mapping[str, Mapping[str, Any]],
    path: PathLike,
    *,
    base: Catalogue | None,
    default_category: RangeCategory | None,
    only_category: RangeCategory | None,
) -> RangeSet:
    parts = ahead[_as_traversable(path).name]
    return trusted(RangeSet, source=_source_name(path), **parts)


# --- practitioner ranges -----------------------------------------------------------------


def load_optimal(*paths: PathLike, base: Catalogue | _Default | None = _DEFAULT_BASE) -> Catalogue:
    """A practitioner (optimal) range set: every range in it has category ``optimal``.

    The result holds the analytes and caveats of ``base`` (the shipped
    catalogue by default) and of the files, but only the files' ranges, so
    ``optimal.ranges_for(analyte_id)`` gives the practitioner's ranges alone.
    A range or file with another category is an error naming it.

    >>> load_optimal(base=None).ranges
    ()
    """
    resolved = _resolve_base(base)
    stripped = (
        None
        if resolved is None
        else Catalogue(
            resolved.analytes,
            (),
            resolved.caveats,
            sources=resolved.sources,
            origin=resolved._origin,
        )
    )
    return _build(paths, stripped, only_category=RangeCategory.OPTIMAL, user=True)


# --- validation --------------------------------------------------------------------------


def validate_range_files(
    *paths: PathLike, base: Catalogue | _Default | None = _DEFAULT_BASE
) -> list[str]:
    """Load range files as :meth:`Catalogue.load` does; return warnings, raise on errors.

    Warnings: stretches of values no band covers, ranges without bands,
    analytes with no range and no note saying a lab range is required, names
    or LOINC codes shared by two analytes, and overrides.

    >>> validate_range_files(base=None)
    []
    """
    resolved = _resolve_base(base)
    cat = Catalogue.load(*paths, base=resolved)
    new_sources = cat.sources[len(resolved.sources) if resolved else 0 :]
    if not new_sources:
        return []
    mine = set(new_sources)
    warnings: list[str] = []
    if not units_checked():
        warnings.append("units were not checked: guttests._units is not available")
    for o in cat.overridden[len(resolved.overridden) if resolved else 0 :]:
        warnings.append(
            f"{o.source}, {o.kind} {_quote(o.id)}: overrides the entry from {o.previous_source}"
        )
    for r in cat.ranges:
        src = cat.source_of("range", r.id)
        if src in mine:
            warnings.extend(f"{src}, range {_quote(r.id)}: {w}" for w in _range_warnings(r))
    for a in cat.analytes:
        src = cat.source_of("analyte", a.id)
        if src not in mine:
            continue
        if not cat.ranges_for(a.id) and "range" not in (a.note or "").lower():
            warnings.append(
                f"{src}, analyte {_quote(a.id)}: no range and no note saying a lab-reported range "
                "is required"
            )
    warnings.extend(_ambiguity_warnings(cat, mine))
    return warnings


def _range_warnings(r: ReferenceRange) -> list[str]:
    if not r.bands:
        return ["no bands: results can only be compared with a lab-reported range"]
    out = []
    first = r.sorted_bands()[0]
    for low, high in r.gaps():
        if low is None and high == 0 and first.low_inclusive:
            continue  # nothing lies below zero for these analytes
        if (
            r.kind is ValueKind.ORDINAL
            and low is not None
            and high is not None
            and math.floor(low) + 1 >= high
        ):
            continue  # classes and scores are whole numbers: none lies in between
        if low is None:
            out.append(f"no band covers values below {high:g}")
        elif high is None:
            out.append(f"no band covers values above {low:g}")
        else:
            out.append(f"no band covers values between {low:g} and {high:g}")
    return out


def _ambiguity_warnings(cat: Catalogue, mine: set[str]) -> list[str]:
    owners: dict[tuple[str, str], list[str]] = {}
    for a in cat.analytes:
        keys = {("LOINC code", c) for c in a.loinc}
        keys |= {("name", normalise_name(t)) for t in (a.name, a.id, *a.aliases)}
        for key in keys:
            owners.setdefault(key, []).append(a.id)
    out = []
    for (what, text), ids in owners.items():
        if len(ids) > 1 and any(cat.source_of("analyte", i) in mine for i in ids):
            shown = text if what == "LOINC code" else cat._display.get(text, text)
            out.append(
                f"{what} {shown!r} is shared by analytes {', '.join(ids)}: "
                "results carrying it are not matched to either"
            )
    return out


# --- JSON Schema -------------------------------------------------------------------------


def range_file_schema() -> dict[str, Any]:
    """The JSON Schema of a range file (published as ``reference_ranges/schema.json``).

    >>> range_file_schema()["properties"]["format"]["const"]
    'guttests-ranges/1'
    """
    from pydantic.json_schema import models_json_schema

    _, top = models_json_schema(
        [(Analyte, "validation"), (ReferenceRange, "validation"), (Caveat, "validation")],
        ref_template="#/$defs/{model}",
    )
    defs: dict[str, Any] = top["$defs"]
    for d in defs.values():
        if "description" in d:
            d["description"] = d["description"].split("\n\n")[0].replace("\n", " ")
    defs["Analyte"]["required"].remove("family")
    defs["Analyte"]["description"] += " ``family`` defaults to the file's family."
    caveat = defs["Caveat"]
    del caveat["properties"]["id"]
    caveat["required"].remove("id")
    rng = defs["ReferenceRange"]
    rng["required"].append("analyte")
    rng["properties"]["analyte"] = {"type": "string", "title": "Analyte"}
    for key in ("kind", "category"):
        rng["properties"][key].pop("default", None)
    rng["description"] += (
        " ``kind`` defaults to the analyte's kind, ``category`` to the file's category."
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://guttests.readthedocs.io/schema/guttests-ranges-1.json",
        "title": "guttests range file",
        "description": f"A TOML range file of format {FORMAT!r} (see docs/range-format.md).",
        "type": "object",
        "additionalProperties": False,
        "required": ["format", "family"],
        "properties": {
            "format": {"const": FORMAT},
            "family": {"$ref": "#/$defs/Family"},
            "category": {"$ref": "#/$defs/RangeCategory"},
            "caveats": {
                "type": "object",
                "propertyNames": {"pattern": "^[a-z0-9][a-z0-9_.-]*$"},
                "additionalProperties": {"$ref": "#/$defs/Caveat"},
            },
            "analyte": {"type": "array", "items": {"$ref": "#/$defs/Analyte"}},
            "range": {"type": "array", "items": {"$ref": "#/$defs/ReferenceRange"}},
        },
        "$defs": defs,
    }


def resolve_catalogue(catalogue: Catalogue | Literal["default"] | None) -> Catalogue:
    """What ``catalogue=`` means everywhere in guttests: ``"default"`` the shipped
    catalogue, ``None`` none (an empty catalogue: lab ranges only), else itself.

    >>> resolve_catalogue(None).analytes, resolve_catalogue("default") is Catalogue.default()
    ((), True)
    """
    if catalogue is None:
        return Catalogue.empty()
    if isinstance(catalogue, str):
        if catalogue != "default":
            raise CatalogueError(
                f"unknown catalogue {catalogue!r}",
                hint='pass "default", a Catalogue, or None for no catalogue',
            )
        return Catalogue.default()
    return catalogue
