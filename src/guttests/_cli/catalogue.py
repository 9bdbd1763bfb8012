"""``guttests ranges`` and ``guttests analytes``: the range catalogue."""

from __future__ import annotations

from pathlib import Path

import click

from .._errors import InputError
from ._common import (
    _CONTEXT_SETTINGS,
    _F,
    _FAMILIES,
    _catalogues,
    _debug_option,
    _safe,
    _stdout,
)

# --- catalogue commands ------------------------------------------------------------------


@click.group(
    short_help="Browse the range catalogue; validate your range files.",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests ranges list --family stool
  guttests ranges show calprotectin
  guttests ranges show "Faecal calprotectin" --ranges my_lab.toml
  guttests ranges validate my_lab.toml
  guttests ranges schema > schema.json""",
)
def ranges() -> None:
    """Browse the reference-range catalogue and check your own range files."""


def _catalogue_option(f: _F) -> _F:
    return click.option(
        "--ranges",
        "range_paths",
        multiple=True,
        type=click.Path(dir_okay=True, path_type=Path),
        metavar="PATH",
        help="Include this range file or directory (repeatable), as report --ranges does.",
    )(f)


def _family_option(f: _F) -> _F:
    return click.option(
        "--family", type=click.Choice(_FAMILIES), help="Only analytes of this family."
    )(f)


@ranges.command(
    "list",
    context_settings=_CONTEXT_SETTINGS,
    epilog="\b\nExamples:\n  guttests ranges list\n  guttests ranges list --family permeability",
)
@_family_option
@_catalogue_option
@_debug_option
def ranges_list(family: str | None, range_paths: tuple[Path, ...]) -> None:
    """List every range: id, analyte, category, origin, unit, what it applies to, interval."""
    from ._tables import range_line, table

    cat, _ = _catalogues(range_paths, ())
    families = {a.id: a.family.value for a in cat.analytes}
    rows = [
        range_line(cat, r)
        for r in cat.ranges
        if family is None or families.get(r.analyte or "") == family
    ]
    headers = ["RANGE", "ANALYTE", "CATEGORY", "ORIGIN", "UNIT", "APPLIES TO", "REFERENCE"]
    _stdout(_safe(table(headers, rows)))


@ranges.command(
    "show",
    context_settings=_CONTEXT_SETTINGS,
    epilog='\b\nExamples:\n  guttests ranges show calprotectin\n  guttests ranges show "LPS IgG"',
)
@click.argument("analyte")
@_catalogue_option
@_debug_option
def ranges_show(analyte: str, range_paths: tuple[Path, ...]) -> None:
    """Show one analyte (by id, name, alias or LOINC code): its ranges, sources and notes."""
    from .._models import Coding
    from ._tables import describe_analyte

    cat, _ = _catalogues(range_paths, ())
    found = cat.analyte(analyte) or cat.resolve(
        analyte, [Coding(system="http://loinc.org", code=analyte)]
    )
    if found is None:
        close = cat.suggest(analyte)
        hint = f"; closest known: {', '.join(close)}" if close else ""
        raise click.BadParameter(
            f"no analyte {analyte!r} in the catalogue{hint} (see guttests analytes)",
            param_hint="ANALYTE",
        )
    _stdout(_safe(describe_analyte(cat, found)))


@ranges.command(
    "validate",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests ranges validate my_lab.toml
  guttests ranges validate my_ranges/ --optimal

\b
Errors name the file and the entry (exit 1). Warnings (gaps between bands, ranges
without bands, shared names, overrides) are printed; the set is valid (exit 0).""",
)
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH..."
)
@click.option("--optimal", is_flag=True, help="Check the files as a practitioner (optimal) set.")
@_debug_option
def ranges_validate(paths: tuple[Path, ...], optimal: bool) -> None:
    """Check range files exactly as they are loaded; print warnings."""
    from .._catalogue import load_optimal, validate_range_files

    for path in paths:
        if not path.exists():
            raise InputError("no such file or directory", source=str(path))
    found = validate_range_files(*paths)
    if optimal:
        load_optimal(*paths)
    for w in found:
        click.echo(_safe(f"warning: {w}"))
    kind = "practitioner range set" if optimal else "range set"
    names = ", ".join(str(p) for p in paths)
    count = f"{len(found)} warning{'s' if len(found) != 1 else ''}"
    click.echo(f"{names}: valid {kind} ({count})")


@ranges.command(
    "schema",
    context_settings=_CONTEXT_SETTINGS,
    epilog="\b\nExample:\n  guttests ranges schema > guttests-ranges.schema.json",
)
@_debug_option
def ranges_schema() -> None:
    """Print the JSON Schema of range files (for editors and CI)."""
    import json

    from .._catalogue import range_file_schema

    _stdout(json.dumps(range_file_schema(), indent=2, ensure_ascii=False, sort_keys=True))


@click.command(
    short_help="List known analytes: aliases, units, LOINC codes.",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests analytes
  guttests analytes --family stool
  guttests analytes --format json --ranges my_lab.toml""",
)
@_family_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@_catalogue_option
@_debug_option
def analytes(family: str | None, fmt: str, range_paths: tuple[Path, ...]) -> None:
    """The known analytes: id, name, specimen, unit, LOINC codes and the aliases matched."""
    from ._tables import analyte_record, table

    cat, _ = _catalogues(range_paths, ())
    chosen = [a for a in cat.analytes if family is None or a.family.value == family]
    if fmt == "json":
        import json

        _stdout(
            _safe(json.dumps([analyte_record(a) for a in chosen], indent=2, ensure_ascii=False))
        )
        return
    rows = [
        [
            a.id,
            a.family.value,
            a.specimen.value,
            a.unit or "",
            ", ".join(a.loinc),
            "; ".join((a.name, *a.aliases)),
        ]
        for a in chosen
    ]
    headers = ["ID", "FAMILY", "SPECIMEN", "UNIT", "LOINC", "NAME AND ALIASES"]
    _stdout(_safe(table(headers, rows, wrap_last=50)))
