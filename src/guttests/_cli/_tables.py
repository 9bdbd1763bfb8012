"""Plain-text tables and catalogue listings for ``guttests analytes`` and ``guttests ranges``.

>>> print(table(["id", "unit"], [["calprotectin", "ug/g"], ["giardia", ""]]))
id            unit
------------  ----
calprotectin  ug/g
giardia
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from .._catalogue import Catalogue
from .._models import Analyte, ReferenceRange

__all__ = ["analyte_record", "describe_analyte", "range_line", "table"]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, wrap_last: int = 0) -> str:
    """Columns padded to their widest cell; ``wrap_last`` > 0 wraps the last column."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row[:-1] if wrap_last else row):
            widths[i] = max(widths[i], len(cell))
    if wrap_last:
        widths[-1] = max(
            len(headers[-1]), min(wrap_last, max((len(r[-1]) for r in rows), default=0))
        )
    lines = [_line(headers, widths), _line(["-" * w for w in widths], widths)]
    indent = sum(w + 2 for w in widths[:-1])
    for row in rows:
        if wrap_last:
            parts = textwrap.wrap(row[-1], wrap_last) or [""]
            lines.append(_line([*row[:-1], parts[0]], widths))
            lines.extend(" " * indent + p for p in parts[1:])
        else:
            lines.append(_line(row, widths))
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def analyte_record(a: Analyte) -> dict[str, Any]:
    """One analyte as a JSON object (``guttests analytes --format json``)."""
    return {
        "id": a.id,
        "name": a.name,
        "family": a.family.value,
        "specimen": a.specimen.value,
        "kind": a.kind.value,
        "unit": a.unit,
        "aliases": list(a.aliases),
        "loinc": list(a.loinc),
        "note": a.note,
    }


def range_line(cat: Catalogue, r: ReferenceRange) -> list[str]:
    """The cells of one row of ``guttests ranges list``."""
    unit = r.unit or ""
    return [
        r.id,
        r.analyte or "",
        r.category.value,
        cat.range_origin(r.id) or "",
        unit,
        r.applies_to.describe(),
        f"{r.describe()} {unit}".strip() if r.bands else "(no bands)",
    ]


def describe_analyte(cat: Catalogue, a: Analyte) -> str:
    """Everything the catalogue holds about one analyte, for ``guttests ranges show``."""
    out = [f"{a.name} ({a.id})", "=" * len(f"{a.name} ({a.id})")]
    facts = [
        ("family", a.family.value),
        ("specimen", a.specimen.value),
        ("kind", a.kind.value),
        ("unit", a.unit or "none"),
        ("aliases", ", ".join(a.aliases) or "none"),
        ("LOINC", ", ".join(a.loinc) or "none"),
        ("defined in", cat.source_of("analyte", a.id) or "?"),
    ]
    if a.cv_analytical is not None and a.cv_within_subject is not None:
        facts.append(("variation", f"CVa {a.cv_analytical:g} %, CVi {a.cv_within_subject:g} %"))
    out.extend(f"{k + ':':<12}{v}" for k, v in facts)
    if a.note:
        out.append(
            textwrap.fill(a.note, 96, initial_indent="note:       ", subsequent_indent=" " * 12)
        )
    ranges = cat.ranges_for(a.id)
    out += ["", f"Ranges ({len(ranges)})", "-" * len(f"Ranges ({len(ranges)})")]
    if not ranges:
        out.append("none: results are compared with the range the lab reports with them")
    for r in ranges:
        origin = cat.range_origin(r.id) or "catalogue"
        out.append(f"{r.id}  [{r.category.value}; {origin}; from {cat.source_of('range', r.id)}]")
        out.append(f"    applies to: {r.applies_to.describe()}")
        if r.unit:
            std = f" (traceable to {r.unit_standard})" if r.unit_standard else ""
            out.append(f"    unit: {r.unit}{std}")
        for b in r.sorted_bands() if r.kind.value != "qualitative" else r.bands:
            out.append(f"    {b.flag.value:<4} {b.describe():<24} {b.label}")
        if not r.bands:
            out.append(f"    no bands{': ' + r.text if r.text else ''}")
        out.append(
            textwrap.fill(
                r.source.short(), 96, initial_indent="    source: ", subsequent_indent=" " * 12
            )
        )
        if r.source.url:
            out.append(f"    {r.source.url}")
        if r.evidence is not None:
            out.append(f"    evidence: {r.evidence.label}")
        if r.note:
            out.append(
                textwrap.fill(r.note, 96, initial_indent="    note: ", subsequent_indent=" " * 10)
            )
    caveats = [c for c in (cat.caveat(i) for i in a.caveats) if c is not None]
    if caveats:
        out += ["", "Assay notes", "-----------"]
        for c in caveats:
            out.append(textwrap.fill(c.text, 96, initial_indent="- ", subsequent_indent="  "))
            for cit in c.citations:
                out.append(
                    textwrap.fill(cit.short(), 96, initial_indent="  · ", subsequent_indent="    ")
                )
    return "\n".join(out)
