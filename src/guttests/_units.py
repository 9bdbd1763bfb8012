"""Units: UCUM codes and lab spellings, one pint registry, cached conversion factors.

Parse a unit as a lab or an HL7/FHIR message writes it:

>>> parse_unit("µg/g").canonical
'ug/g'
>>> parse_unit("x10E6/g").canonical
'10*6/g'
>>> convert(5.0, "mg/dL", "mg/L")
50.0
>>> conversion_factor("ng/g", "ug/g")
0.001

Assay-specific units never convert into other units, nor into plain numbers:

>>> compatible("U/mL", "[IU]/mL")
False
>>> is_arbitrary("kUA/L")
True
>>> compatible("EU/mL", "U/mL")
False

The unit table (definitions in ``_data/units.txt``) and the UCUM grammar are
built once, on the first call, never when ``guttests`` is imported; the pint
registry itself is built only when :func:`registry` is called. The common units
(those of the shipped catalogue among them) are parsed ahead, in
``_data/units_known.json``: a process that meets only those never builds the grammar. See
``docs/units.md`` for the safety rules and the spellings accepted.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, cast

from pydantic import BaseModel, ConfigDict

from ._errors import UnitError

if TYPE_CHECKING:
    import pint
    from lark import Lark, Tree
    from lark.lexer import Token

    _PintRegistry: TypeAlias = pint.UnitRegistry[Any]
else:
    # pint loads lazily; at run time the annotation resolves to Any, so that
    # typing.get_type_hints(registry) works without importing pint
    _PintRegistry = Any

__all__ = [
    "Unit",
    "compatible",
    "conversion_factor",
    "convert",
    "is_arbitrary",
    "parse_unit",
    "registry",
]

_PHYSICAL = frozenset(
    {
        "[length]",
        "[time]",
        "[mass]",
        "[angle]",
        "[temperature]",
        "[charge]",
        "[luminosity]",
        "[substance]",
    }
)
_SPECIAL_PREFIX = "[special_"
# A quotient of two masses, two amounts or two volumes is a kind of its own (mass
# fraction, substance fraction, volume fraction), never a plain number.
_KINDS = frozenset({"[mass]", "[substance]", "[length]"})
_MICRO_SIGNS = str.maketrans({"\u00b5": "u", "\u03bc": "u"})
# Patterns of the grammar and definitions (used when a unit is parsed, not at import): kept
# as text, compiled by ``re`` on first use and cached there.
_SPACES = r"\s+"
_SCALE = r"^(?:[xX×]\s*)?10\s*(?:\^|[eE]|\*\*|\*)\s*(?P<e>[+-]?\d+)\s*(?P<rest>.*)$"
_UCUM_LINE = r"^(?P<name>[A-Za-z_]\w*)\s*=.*#\s*ucum:\s*(?P<code>\S+)"
_PREFIX_LINE = r"^(?P<name>[A-Za-z]+)-\s*=\s*\S+\s*=\s*(?P<code>[A-Za-z]+)-"
_TERMINAL = r"^[A-Z_]+:"
_LITERALS = r'^(?P<name>[A-Z_]+):\s*(?P<body>(?:"[^"]*"\s*\|?\s*)+)$'
_SPELLING_LINE = r"^#@\s*(?P<kind>[a-z]+):\s*(?P<body>.+?)\s*$"


class Unit(BaseModel):
    """A parsed unit.

    ``text`` is the unit as given; ``canonical`` the normalised UCUM code to show and
    to send as a FHIR ``code``; ``ucum`` the valid UCUM code when one exists.

    >>> u = parse_unit("mcg/g")
    >>> (u.text, u.canonical, u.ucum, u.arbitrary, u.dimensionless)
    ('mcg/g', 'ug/g', 'ug/g', False, False)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    text: str
    canonical: str
    ucum: str | None
    arbitrary: bool
    """True when the unit involves an assay-specific or arbitrary unit or an annotation."""
    dimensionless: bool
    """True for plain numbers: ``1``, ``%``, ``{ratio}``, ``10*3`` (not ug/g: a mass fraction)."""


# --- the registry, built once --------------------------------------------------------


# The module's small records are NamedTuples: immutable, compared and hashed by value, and
# made at import in a fraction of a frozen dataclass's cost (start-up).
class _Term(NamedTuple):
    """A unit expression reduced to a factor times base dimensions.

    ``gross`` keeps, for the dimensions of :data:`_KINDS`, the sum of positive and of
    negative exponents as written, so that ug/g (a mass fraction) stays apart from
    mmol/mol and from %, although UCUM reduces all three to 1.
    """

    factor: float
    dims: tuple[tuple[str, int], ...]
    gross: tuple[tuple[str, int, int], ...] = ()

    def times(self, other: _Term, sign: int = 1) -> _Term:
        dims = dict(self.dims)
        for k, v in other.dims:
            n = dims.get(k, 0) + sign * v
            if n:
                dims[k] = n
            else:
                dims.pop(k, None)
        gross = {k: (p, n) for k, p, n in self.gross}
        for k, p, n in other.gross:
            p0, n0 = gross.get(k, (0, 0))
            gross[k] = (p0 + p, n0 + n) if sign > 0 else (p0 + n, n0 + p)
        factor = self.factor * other.factor if sign > 0 else self.factor / other.factor
        return _Term(
            factor,
            tuple(sorted(dims.items())),
            tuple(sorted((k, p, n) for k, (p, n) in gross.items())),
        )

    def power(self, n: int) -> _Term:
        m = abs(n)
        gross = tuple((k, p * m, q * m) if n > 0 else (k, q * m, p * m) for k, p, q in self.gross)
        return _Term(self.factor**n, tuple((k, v * n) for k, v in self.dims), gross)

    @property
    def kind(self) -> tuple[tuple[tuple[str, int], ...], frozenset[str]]:
        """What must match for two units to convert: dimensions and fraction kinds."""
        return self.dims, frozenset(k for k, p, n in self.gross if p and n)


_ONE = _Term(1.0, ())


class _Spellings(NamedTuple):
    whole: Mapping[str, str]
    token: Mapping[str, str]
    canonical: Mapping[str, str]
    dimensionless: frozenset[str]
    suspect: Mapping[str, str]
    assay: Mapping[str, str]
    """Lab spellings of assay-specific units (EU, AU, ...), replaced before UCUM parsing."""


class _State(NamedTuple):
    parser: Lark
    atoms: Mapping[str, str]
    """UCUM atom -> pint name."""
    prefixes: Mapping[str, str]
    """UCUM prefix -> pint prefix name."""
    spellings: _Spellings
    roots: Mapping[str, _Term]
    """pint name -> factor and base dimensions, read from the definitions (see _roots)."""
    prefix_factors: Mapping[str, float]
    """pint prefix name -> factor."""


def _read_data() -> str:
    return (files("guttests") / "_data" / "units.txt").read_text(encoding="utf-8")


def _read_spellings(lines: list[str]) -> _Spellings:
    tables: dict[str, dict[str, str]] = {
        "whole": {},
        "token": {},
        "canonical": {},
        "suspect": {},
        "assay": {},
    }
    dimensionless: set[str] = set()
    for line in lines:
        m = re.match(_SPELLING_LINE, line)
        if not m:
            continue
        kind, body = m["kind"], m["body"]
        if kind == "dimensionless":
            dimensionless.add(body)
            continue
        src, sep, dst = body.partition(" => ")
        if not sep or kind not in tables:
            raise UnitError("bad spelling line in units.txt", text=line)
        key = src.strip().casefold() if kind == "whole" else src.strip()
        tables[kind][key] = dst.strip()
    return _Spellings(
        whole=tables["whole"],
        token=tables["token"],
        canonical=tables["canonical"],
        dimensionless=frozenset(dimensionless),
        suspect=tables["suspect"],
        assay=tables["assay"],
    )


@lru_cache(maxsize=1)
def _state() -> _State:
    # Imported here so that `import guttests` stays cheap: lark loads on first use.
    from lark import Lark

    lines = _read_data().splitlines()
    atoms = {m["code"]: m["name"] for line in lines if (m := re.match(_UCUM_LINE, line))}
    prefixes = {m["code"]: m["name"] for line in lines if (m := re.match(_PREFIX_LINE, line))}
    parser = Lark(_grammar(), start="main_term", strict=True)
    roots, prefix_factors = _roots(lines)
    return _State(parser, atoms, prefixes, _read_spellings(lines), roots, prefix_factors)


@lru_cache(maxsize=1)
def _registry() -> pint.UnitRegistry[Any]:
    import pint

    reg: pint.UnitRegistry[Any] = pint.UnitRegistry(None, on_redefinition="raise")
    reg.load_definitions(_read_data().splitlines())
    return reg


_NUMBER = r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
_BASE_DEF = r"^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<dim>\[\w+\])$"
_UNIT_DEF = (
    rf"^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<number>{_NUMBER})"
    r"(?P<refs>(?:\s*\*\s*[A-Za-z_]\w*(?:\s*\*\*\s*-?[0-9]+)?)*)$"
)
_REF = r"\*\s*(?P<unit>[A-Za-z_]\w*)(?:\s*\*\*\s*(?P<exp>-?[0-9]+))?"
_PREFIX_DEF = rf"^(?P<name>[A-Za-z]+)-\s*=\s*(?P<number>{_NUMBER})\s*="


def _roots(lines: list[str]) -> tuple[dict[str, _Term], dict[str, float]]:
    """Each unit's factor and base dimensions, read from its definition line.

    The definitions are resolved to base units (``N = 1000.0 * g * m * s ** -2``), so
    a unit's factor is its number and its dimensions those of the units it names: what
    pint computes, without building pint's registry (that takes most of a second, a
    cold start's largest part). Lines of any other shape are left to pint (see
    :func:`_atom_term`); a test checks that both give the same for every atom and prefix.
    """
    roots: dict[str, _Term] = {}
    prefixes: dict[str, float] = {}
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if m := re.match(_PREFIX_DEF, line):
            prefixes[m["name"]] = float(m["number"])
        elif m := re.match(_BASE_DEF, line):
            roots[m["name"]] = _Term(1.0, ((m["dim"], 1),))
        elif m := re.match(_UNIT_DEF, line):
            term = _Term(float(m["number"]), ())
            for ref in re.finditer(_REF, m["refs"]):
                known = roots.get(ref["unit"])
                if known is None:
                    break
                term = term.times(known.power(int(ref["exp"] or 1)))
            else:
                roots[m["name"]] = _Term(term.factor, term.dims)
    return roots, prefixes


def _grammar() -> str:
    """The UCUM grammar (vendored from ucumvert 0.3.2 with its MIT licence notice, in
    ``_data/ucum_grammar.lark``), its long lists of atoms joined into one regex each.

    The trees are the same (checked by the conformance tests); lark builds the parser
    three to five times faster, which matters for the CLI's cold start.
    """
    path = files("guttests") / "_data" / "ucum_grammar.lark"
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if lines and line.lstrip().startswith("|") and re.match(_TERMINAL, lines[-1]):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return "\n".join(_as_regex(line) for line in lines) + "\n"


def _as_regex(line: str) -> str:
    m = re.match(_LITERALS, line)
    if not m:
        return line
    # longest first, so that a regex alternation finds what lark's literal matching finds
    literals = sorted(set(re.findall(r'"([^"]*)"', m["body"])), key=len, reverse=True)
    pattern = "|".join(re.escape(x).replace("/", "\\/") for x in literals)
    return f"{m['name']}: /(?:{pattern})/"


def registry() -> _PintRegistry:
    """The one pint registry of guttests (built on first use).

    Its unit names are pint identifiers (``g``, ``IU_``, ``in_i_``); use
    :func:`parse_unit` and :func:`convert` for UCUM codes and lab spellings.

    >>> registry() is registry()
    True
    """
    return _registry()


# --- parsing ---------------------------------------------------------------------------


class _Parsed(NamedTuple):
    unit: Unit
    term: _Term


class _Node(NamedTuple):
    term: _Term
    text: str
    compound: bool


def _atom_term(state: _State, prefix: str | None, atom: str) -> _Term:
    name = state.atoms[atom]
    root = state.roots.get(name)
    prefix_name = state.prefixes[prefix] if prefix is not None else None
    if root is not None and (prefix_name is None or prefix_name in state.prefix_factors):
        factor = root.factor
        if prefix_name is not None:
            factor = state.prefix_factors[prefix_name] * factor
        gross = tuple((k, max(v, 0), max(-v, 0)) for k, v in root.dims if k in _KINDS)
        return _Term(factor, root.dims, gross)
    return _pint_atom_term(state, prefix, atom)


def _pint_atom_term(state: _State, prefix: str | None, atom: str) -> _Term:
    """The same as :func:`_atom_term`, computed by pint."""
    reg = _registry()
    name = state.atoms[atom]
    if prefix is not None:
        name = state.prefixes[prefix] + name
    factor, _root = reg.get_root_units(name)
    dims = tuple(
        sorted((str(k), int(cast(float, v))) for k, v in reg.get_dimensionality(name).items())
    )
    gross = tuple((k, max(v, 0), max(-v, 0)) for k, v in dims if k in _KINDS)
    return _Term(float(cast(float, factor)), dims, gross)


def _walk(state: _State, node: Tree[Token] | Token) -> _Node:
    from lark.lexer import Token

    if isinstance(node, Token):  # a lone annotation
        return _annotation(state, str(node))
    ch = node.children
    if node.data == "main_term":
        if len(ch) == 2:
            inner = _walk(state, ch[1])
            text = f"/({inner.text})" if inner.text.startswith("/") else "/" + inner.text
            return _Node(_ONE.times(inner.term, -1), text, True)
        return _walk(state, ch[0])
    if node.data == "term":
        left, op, right = _walk(state, ch[0]), str(ch[1]), _walk(state, ch[2])
        rtext = f"({right.text})" if right.compound else right.text
        return _Node(
            left.term.times(right.term, 1 if op == "." else -1), left.text + op + rtext, True
        )
    if node.data == "component":
        inner = _walk(state, ch[0])
        ann = _annotation(state, str(ch[1]))
        text = f"({inner.text})" if inner.compound else inner.text
        return _Node(inner.term.times(ann.term), text + ann.text, False)
    if node.data == "annotatable":
        if _is_number(ch[0]):
            raise UnitError("a number cannot carry an exponent", hint="write 10*3 for a thousand")
        inner = _walk(state, ch[0])
        raw_exp = str(ch[1])
        if len(raw_exp.lstrip("+-").lstrip("0")) > 3:
            raise UnitError("exponent out of range")
        exp = int(raw_exp)
        return _Node(inner.term.power(exp), f"{inner.text}{exp}", False)
    # simple_unit: FACTOR | ATOM | PREFIX ATOM
    tokens = [str(t) for t in ch]
    if len(tokens) == 1 and tokens[0].isdigit():
        if len(tokens[0]) > 400:
            raise UnitError("number out of range")
        return _Node(_Term(float(int(tokens[0])), ()), tokens[0], False)
    prefix, atom = (None, tokens[0]) if len(tokens) == 1 else (tokens[0], tokens[1])
    written = (prefix or "") + atom
    if written in state.spellings.suspect:
        raise UnitError(
            f"unit {written!r} is valid UCUM but not a unit a lab reports",
            hint=state.spellings.suspect[written],
        )
    shown = (prefix or "") + state.spellings.canonical.get(atom, atom)
    return _Node(_atom_term(state, prefix, atom), shown, False)


def _is_number(node: Tree[Token] | Token) -> bool:
    from lark import Tree

    return (
        isinstance(node, Tree)
        and node.data == "simple_unit"
        and len(node.children) == 1
        and str(node.children[0]).isdigit()
    )


def _annotation(state: _State, text: str) -> _Node:
    if text in state.spellings.dimensionless:
        return _Node(_ONE, text, False)
    return _Node(_Term(1.0, ((text, 1),)), text, False)


def _lab_to_ucum(state: _State, text: str) -> str | None:
    """A UCUM code for a lab spelling that is not UCUM itself, or ``None``."""
    parts = []
    for part in text.split("/"):
        p = part.strip()
        scale = re.match(_SCALE, p)
        if scale:
            if len(scale["e"].lstrip("+-").lstrip("0")) > 3:
                # beyond any float (and beyond int()'s 4300-digit limit): no unit
                raise UnitError("power of ten out of range", text=text)
            exp = int(scale["e"])
            rest = scale["rest"].strip()
            p = f"10*{exp}"
            if rest:
                token = state.spellings.token.get(rest, rest)
                p = f"{p}.{token}"
        else:
            p = state.spellings.token.get(p, p)
        parts.append(p)
    candidate = "/".join(parts)
    return None if candidate == text else candidate


def _assay_spelling(state: _State, code: str) -> tuple[str, bool]:
    """Replace the lab spellings of assay-specific units (``EU/mL`` -> ``{EU}/mL``).

    Done before UCUM parsing: EU, AU, TU, PU would otherwise parse as UCUM prefixes or
    units (exa-U, astronomical unit, tera-U, peta-U).
    """
    table = state.spellings.assay
    if not table:
        return code, False
    parts = code.split("/")
    swapped = [table.get(p.strip(), p) for p in parts]
    if swapped == parts:
        return code, False
    return "/".join(swapped), True


def _try_parse(state: _State, code: str) -> Tree[Token] | None:
    from lark.exceptions import LarkError

    if not code or any(c.isspace() for c in code):
        return None
    try:
        return state.parser.parse(code)
    except LarkError:
        return None


# --- the known units, parsed ahead -----------------------------------------------------

KNOWN_UNITS_FILE = "units_known.json"
"""In ``_data``: the units of the shipped catalogue, of the bundled examples and the most
common lab spellings, each as :func:`_parse_with_grammar` parses it (written by
``scripts/write_parsed_ahead.py``). A process that meets only these units never imports lark
nor builds the UCUM grammar (a tenth of a second, most of a small batch's start-up)."""


def known_units_key() -> str | None:
    """What the table of known units must have been computed from: a SHA-256 of the unit
    definitions, the UCUM grammar, this module's source and the installed lark (its
    ``__init__.py``, which carries its version); ``None`` when one of them cannot be read
    (then the table is not used). Lark is found, not imported, and ``importlib.metadata``
    is not needed."""
    from importlib.util import find_spec

    digest = hashlib.sha256()
    try:
        for name in ("units.txt", "ucum_grammar.lark"):
            digest.update((files("guttests") / "_data" / name).read_bytes())
            digest.update(b"\0")
        digest.update(Path(__file__).read_bytes())
        lark = find_spec("lark")
        if lark is None or lark.origin is None:
            return None
        digest.update(b"\0lark\0" + Path(lark.origin).read_bytes())
    except (OSError, ImportError, ValueError):
        return None
    return digest.hexdigest()


def _from_json(row: list[Any]) -> tuple[str, _Parsed]:
    text, canonical, ucum, arbitrary, dimensionless, factor, dims, gross = row
    term = _Term(
        float(factor),
        tuple((str(d), int(e)) for d, e in dims),
        tuple((str(d), int(p), int(n)) for d, p, n in gross),
    )
    if not (
        type(text) is str
        and type(canonical) is str
        and (ucum is None or type(ucum) is str)
        and type(arbitrary) is bool
        and type(dimensionless) is bool
    ):
        raise ValueError("not a unit of the table")
    # every field given, each of its declared type: what validation would build, without
    # building Unit's validator at start-up
    unit = Unit.model_construct(
        text=text,
        canonical=canonical,
        ucum=ucum,
        arbitrary=arbitrary,
        dimensionless=dimensionless,
    )
    return text, _Parsed(unit, term)


def _to_json(parsed: _Parsed) -> list[Any]:
    u, t = parsed.unit, parsed.term
    dims = [list(d) for d in t.dims]
    gross = [list(g) for g in t.gross]
    return [u.text, u.canonical, u.ucum, u.arbitrary, u.dimensionless, t.factor, dims, gross]


def known_table(units: Iterable[str]) -> dict[str, Any]:
    """The table of known units for ``units`` (those that parse; the others are left out,
    so that they are refused as they come), as ``scripts/write_parsed_ahead.py`` writes it."""
    rows = []
    for text in sorted(set(units)):
        try:
            rows.append(_to_json(_parse_with_grammar(text)))
        except UnitError:
            continue
    return {
        "about": "guttests units parsed ahead: written by scripts/write_parsed_ahead.py",
        "key": known_units_key(),
        "units": rows,
    }


@lru_cache(maxsize=1)
def _known_units() -> Mapping[str, _Parsed]:
    """The table of known units, or nothing when it was computed from other definitions,
    another grammar, another version of this module or of lark: a stale table is never
    used (a test fails until ``scripts/write_parsed_ahead.py`` is run again)."""
    try:
        data = json.loads((files("guttests") / "_data" / KNOWN_UNITS_FILE).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("key") != known_units_key():
        return {}
    try:
        table = dict(_from_json(row) for row in data["units"])
    except (KeyError, TypeError, ValueError):  # a damaged file: parse every unit
        return {}
    global _known_units_key
    _known_units_key = data["key"]
    return table


_known_units_key: str | None = None


def known_units_in_use() -> str | None:
    """The key of the table of known units when this process uses it, else ``None``."""
    return _known_units_key if _known_units() else None


MAX_UNIT_CHARS = 64
"""Units longer than this are refused before parsing (the longest lab unit is far shorter;
a 120 KB unit took 32 s and 840 MB to parse)."""


@lru_cache(maxsize=4096)
def _parse(text: str) -> _Parsed:
    if not isinstance(text, str):
        raise UnitError("a unit must be text", text=repr(text))
    if len(text) > MAX_UNIT_CHARS:
        raise UnitError(
            f"unit longer than {MAX_UNIT_CHARS} characters ({len(text):,}); not read",
            text=text,
        )
    known = _known_units().get(text)
    if known is not None:
        return known
    return _parse_with_grammar(text)


def _parse_with_grammar(text: str) -> _Parsed:
    """Parse with the UCUM grammar (lark): what :func:`_parse` does for any unit not in
    the table of known units."""
    state = _state()
    cleaned = re.sub(_SPACES, " ", text.translate(_MICRO_SIGNS).strip())
    code = state.spellings.whole.get(cleaned.casefold(), cleaned)
    code, assay = _assay_spelling(state, code)
    tree = _try_parse(state, code)
    if tree is None:
        alt = _lab_to_ucum(state, code)
        tree = _try_parse(state, alt) if alt else None
    if tree is None:
        raise UnitError("unknown unit", text=text)
    try:
        node = _walk(state, tree)
    except UnitError as exc:
        raise UnitError(exc.message, text=text, hint=exc.hint) from exc
    except Exception as exc:  # pint or lark surprises: never let them escape unwrapped
        raise UnitError("unit cannot be interpreted", text=text) from exc
    dims, fractions = node.term.kind
    unit = Unit(
        text=text,
        canonical=node.text,
        # an assay spelling (EU/mL) has no UCUM code: {EU}/mL would mean 'per mL' to UCUM
        ucum=None if assay else node.text,
        arbitrary=any(_is_arbitrary_dim(d) for d, _ in dims),
        dimensionless=not dims and not fractions,
    )
    return _Parsed(unit, node.term)


def _is_arbitrary_dim(dim: str) -> bool:
    return dim not in _PHYSICAL and not dim.startswith(_SPECIAL_PREFIX)


def _is_special(term: _Term) -> bool:
    return any(k.startswith(_SPECIAL_PREFIX) for k, _ in term.dims)


def parse_unit(text: str) -> Unit:
    """Parse a UCUM code or a lab spelling; raise :class:`UnitError` naming unknown text.

    >>> parse_unit("genome copies/g").canonical
    '{genome_copies}/g'
    >>> parse_unit("% of total").dimensionless
    True
    """
    return _parse(text).unit


# --- conversion ------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def conversion_factor(from_unit: str, to_unit: str) -> float:
    """The number that multiplies a value in ``from_unit`` to give it in ``to_unit``.

    Computed once per pair of strings and cached.

    >>> conversion_factor("ug/g", "mg/kg")
    1.0
    >>> conversion_factor("ng/mL", "ug/g")
    Traceback (most recent call last):
    ...
    guttests._errors.UnitError: units do not convert into one another (unit ng/mL; to unit ug/g)
    """
    a, b = _parse(from_unit), _parse(to_unit)
    if a.term.kind != b.term.kind:
        raise UnitError(
            "units do not convert into one another",
            unit=from_unit,
            to_unit=to_unit,
            hint=_hint(a, b),
        )
    fa, fb = a.term.factor, b.term.factor
    factor = fa / fb if fb and math.isfinite(fa) and math.isfinite(fb) else math.nan
    if not (math.isfinite(factor) and factor > 0):
        # e.g. 'u14' (a dalton to the 14th power) underflows to 0: no usable factor
        raise UnitError(
            "conversion factor out of the range of floating-point numbers",
            unit=from_unit,
            to_unit=to_unit,
        )
    if _is_special(a.term) and factor != 1.0:
        raise UnitError(
            "non-linear (offset or logarithmic) units are not converted",
            unit=from_unit,
            to_unit=to_unit,
        )
    return _tidy(factor)


def _tidy(x: float) -> float:
    """Round off the last-bit noise of decimal prefixes (1e-3/1e-6 -> 1000.0000000000001)."""
    tidy = float(f"{x:.15g}")
    return tidy if abs(tidy - x) <= 4 * abs(x) * 2.2e-16 else x


def _hint(a: _Parsed, b: _Parsed) -> str | None:
    if a.unit.arbitrary or b.unit.arbitrary:
        return "assay-specific and arbitrary units convert only to scaled forms of themselves"
    return None


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit``.

    >>> convert(50.0, "mcg/g", "mg/kg")
    50.0
    >>> convert(1.0, "kU/L", "U/mL")
    1.0
    """
    return value * conversion_factor(from_unit, to_unit)


def compatible(a: str, b: str) -> bool:
    """Whether values in ``a`` convert to ``b``; unknown units raise :class:`UnitError`.

    >>> compatible("ng/mL", "ug/L"), compatible("ng/mL", "ug/g")
    (True, False)
    """
    _parse(a)
    _parse(b)
    try:
        conversion_factor(a, b)
    except UnitError:
        return False
    return True


def is_arbitrary(text: str) -> bool:
    """Whether the unit is assay-specific, arbitrary or annotated (never converts to 1).

    >>> is_arbitrary("[IU]/mL"), is_arbitrary("ug/g")
    (True, False)
    """
    return parse_unit(text).arbitrary
