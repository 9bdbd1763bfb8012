"""Plain-text (terminal) and Markdown renderers: layout only, all wording from the report."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

from ._model import RangeSource, Report, ResultRow, SerialSeries, fmt_number
from ._phrases import label

__all__ = ["ascii_text", "md_escape", "render_markdown", "render_text"]

_ASCII = str.maketrans(
    {
        "×": "x",
        "≤": "<=",
        "≥": ">=",
        "–": "-",
        "—": "-",
        "−": "-",
        "±": "+/-",
        "…": "...",
        "’": "'",
        "‘": "'",
        "“": '"',
        "”": '"',
        "·": ".",
        "μ": "µ",
        "\u00a0": " ",
        "▲": "^",
        "▼": "v",
    }
)


def _strip_controls(s: str) -> str:
    s = s.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    return "".join(ch for ch in s if unicodedata.category(ch) not in ("Cc", "Cf"))


def ascii_text(s: str) -> str:
    """Text for a terminal: no control characters; the lab's own letters kept as written.

    Only typographic symbols are written in ASCII (``≤`` as ``<=``, ``×`` as ``x``): same
    meaning, readable on any terminal. Letters are never folded (``Müller`` stays).

    >>> ascii_text("≤50 µg/g\\x1b[31m × 2 – Müller")
    '<=50 µg/g[31m x 2 - Müller'
    """
    return _strip_controls(s).translate(_ASCII)


_MD = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "~": "\\~",
        "#": "\\#",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
    }
)


def md_escape(s: str | None) -> str:
    """Text made inert for a Markdown table cell or paragraph.

    >>> md_escape("a|b *c* <script>")
    'a\\\\|b \\\\*c\\\\* &lt;script&gt;'
    """
    if not s:
        return ""
    return " ".join(_strip_controls(s).translate(_MD).split())


# --- shared pieces -------------------------------------------------------------------------


def _columns(report: Report) -> list[tuple[str, str, Callable[[ResultRow], str]]]:
    """The table columns: (phrase key, header, cell) for each, in order."""
    cols: list[tuple[str, Callable[[ResultRow], str]]] = [
        ("analyte", lambda r: r.display_name),
        ("result", lambda r: r.value),
        ("unit", lambda r: r.unit or ""),
        ("range", _range_cell),
        ("position", lambda r: (r.position.text or "") if r.position else ""),
    ]
    if any(r.lab_flags for r in report.rows):
        # the lab's own flag beside guttests' (as HTML, JSON and FHIR show it)
        cols.append(("lab_flags", lambda r: ", ".join(r.lab_flags)))
    cols.append(("flag", lambda r: r.flag_text))
    if report.has_optimal:
        cols.append(("optimal", lambda r: r.optimal.text if r.optimal else ""))
    return [(key, _header(key), fn) for key, fn in cols]


def _header(key: str) -> str:
    name = label(key)
    return name[:1].upper() + name[1:]


def _range_cell(row: ResultRow) -> str:
    if row.range is None:
        return row.lab_range_text or label("no_range")
    ref = f" [{row.range_ref}]" if row.range_ref is not None else ""
    return row.range.text + ref


def _patient_line(report: Report) -> list[tuple[str, str]]:
    p = report.patient
    pairs = [
        (label("patient_id"), p.id),
        (label("patient_name"), p.name),
        (label("sex"), p.sex),
        (label("birth_date"), p.birth_date),
        (label("age"), p.age),
    ]
    return [(k, v) for k, v in pairs if v]


def _meta(report: Report) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if report.collected:
        pairs.append((label("collected"), ", ".join(report.collected)))
    if report.labs:
        pairs.append((label("lab"), ", ".join(report.labs)))
    if report.inputs:
        pairs.append((label("input_files"), ", ".join(report.inputs)))
    pairs.append((label("version"), report.guttests_version))
    pairs.append((label("catalogue"), report.catalogue_hash))
    if report.generated_at:
        pairs.append((label("generated"), report.generated_at))
    return pairs


def _source_line(s: RangeSource) -> str:
    """A range source without its number: citation (origin; applies to; evidence)."""
    origin_text = label(f"origin_{s.origin}") if s.origin else s.category
    extra = f"; {label('evidence')}: {s.evidence}" if s.evidence else ""
    return f"{s.source} ({origin_text}; {label('applies_to')}: {s.applies_to}{extra})"


def _serial_rows(series: SerialSeries) -> list[list[str]]:
    changes = {c.to_index: c.text for c in series.changes}
    return [
        [p.collected, p.value_text or fmt_number(p.value), changes.get(p.result_index, "")]
        for p in series.points
    ]


def _serial_notes(series: SerialSeries) -> list[str]:
    notes = [c.rcv_statement for c in series.changes if c.rcv_statement]
    if series.note:
        notes.append(series.note)
    return notes


def _not_interpreted(report: Report) -> list[ResultRow]:
    return [r for r in report.rows if r.status == "not_interpretable"]


def _noted(report: Report) -> list[ResultRow]:
    """Interpreted rows that carry notes (status labels, range-choice remarks)."""
    return [r for r in report.rows if r.status == "interpreted" and r.notes]


def _where(row: ResultRow) -> str:
    return ", ".join(x for x in (row.source.file, row.source.location) if x)


# --- plain text ----------------------------------------------------------------------------

_CAPS = {"analyte": 30, "result": 16, "unit": 10, "range": 24, "position": 34, "lab_flags": 12}
"""Widest a text-report column grows before its cells wrap, by phrase key (others: 36)."""
_WIDTH = 100
"""The text report fits this many columns."""
_RED, _YELLOW, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[0m"
_BREAK_AFTER = re.compile(r"(?<=[./;:,_-])(?=[^./;:,_\s-])")
"""Where a word too long for its line may break: after . / ; : , _ - (never inside letters)."""


def _pieces(text: str, width: int) -> list[tuple[str, bool]]:
    """Words as (piece, starts a word); a word wider than ``width`` is cut after
    punctuation, and only a run without any punctuation longer than ``width`` is cut hard."""
    out: list[tuple[str, bool]] = []
    for word in text.split():
        if len(word) <= width:
            out.append((word, True))
            continue
        first = True
        for part in _BREAK_AFTER.split(word):
            while len(part) > width:
                out.append((part[:width], first))
                part, first = part[width:], False
            if part:
                out.append((part, first))
                first = False
    return out


def _wrap(text: str, width: int, initial: str = "", subsequent: str = "") -> list[str]:
    """Greedy wrapping at word boundaries (see :func:`_pieces`) to ``width`` columns.

    >>> _wrap("Hemoglobin.gastrointestinal.lower [Presence] in Stool", 20)
    ['Hemoglobin.', 'gastrointestinal.', 'lower [Presence] in', 'Stool']
    """
    lines: list[str] = []
    line = initial
    empty = True
    for piece, new_word in _pieces(text, max(width - max(len(initial), len(subsequent)), 1)):
        glue = " " if new_word and not empty else ""
        if not empty and len(line) + len(glue) + len(piece) > width:
            lines.append(line)
            line, glue = subsequent, ""
        line += glue + piece
        empty = False
    if not empty:
        lines.append(line)
    return lines


def _fit(widths: list[int], minimum: list[int], total: int) -> list[int]:
    """Narrow the columns in proportion to their width, never below their minimum, until
    the row (with 2-space gaps) fits ``total``."""
    room = total - 2 * (len(widths) - 1)
    if sum(widths) <= room:
        return list(widths)
    flexible = [i for i, w in enumerate(widths) if w > minimum[i]]
    fixed = sum(w for i, w in enumerate(widths) if i not in flexible)
    share = max(room - fixed, 0)
    preferred = sum(widths[i] for i in flexible) or 1
    out = list(widths)
    for i in flexible:
        out[i] = max(minimum[i], widths[i] * share // preferred)
    while sum(out) > room:  # rounding up to a minimum can overshoot: take from the widest
        candidates = [i for i in flexible if out[i] > minimum[i]]
        if not candidates:
            break
        out[max(candidates, key=lambda k: out[k])] -= 1
    while sum(out) < room:  # and rounding down leaves room: give it back, widest first
        candidates = [i for i in flexible if out[i] < widths[i]]
        if not candidates:
            break
        out[max(candidates, key=lambda k: widths[k] - out[k])] += 1
    return out


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    caps: Sequence[int],
    whole: Sequence[int] = (),
    below: Sequence[Sequence[str]] = (),
) -> list[str]:
    """An aligned table of at most ``_WIDTH`` columns; the cells of the columns in ``whole``
    (the result as the lab wrote it) are kept on one line whenever the table can fit;
    ``below[i]`` are lines printed under row ``i``."""
    widths = [
        min(max([len(h), *(len(r[i]) for r in rows)]), caps[i] if i < len(caps) else 40)
        for i, h in enumerate(headers)
    ]
    # A column keeps its longest word whole when the table can still fit (names such as
    # "Clostridioides" are never cut); only then are long words broken after punctuation.
    longest = [
        max([len(x) for x in (headers[i], *(r[i] for r in rows)) for x in x.split()] or [1])
        for i in range(len(headers))
    ]
    for i in whole:
        longest[i] = max([longest[i], *(len(r[i]) for r in rows)])
        widths[i] = max(widths[i], min(longest[i], 30))
    for cap in (20, 14, 12, 8):  # narrower and narrower until the table fits
        minimum = [
            min(w, m) if i in whole else min(w, max(6, min(m, cap)))
            for i, (w, m) in enumerate(zip(widths, longest, strict=True))
        ]
        if sum(minimum) + 2 * (len(minimum) - 1) <= _WIDTH:
            break
    widths = _fit(widths, minimum, _WIDTH)
    lines = _wrapped_row(headers, widths)
    lines.append("  ".join("-" * w for w in widths))
    for i, row in enumerate(rows):
        lines += _wrapped_row(row, widths)
        lines += below[i] if i < len(below) else ()
    return lines


def _wrapped_row(row: Sequence[str], widths: Sequence[int]) -> list[str]:
    cells = [_wrap(c, w) or [""] for c, w in zip(row, widths, strict=True)]
    return [
        "  ".join(
            (c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)
        ).rstrip()
        for k in range(max(len(c) for c in cells))
    ]


def render_text(report: Report, *, colour: bool = False) -> str:
    """The report for a terminal: aligned columns, ASCII except µ, colour only when asked."""
    t = ascii_text
    out: list[str] = [t(report.title).upper(), "=" * len(report.title), ""]
    # every line below is wrapped to _WIDTH columns at word boundaries
    patient = _patient_line(report)
    if patient:
        line = f"{t(label('patient'))}: " + "; ".join(f"{t(k)} {t(v)}" for k, v in patient)
        out += _wrap(line, _WIDTH, "", "  ")
    if report.deidentified:
        out.append(t(label("deidentified")))
    for k, v in _meta(report):
        out += _wrap(f"{t(k)}: {t(v)}", _WIDTH, "", "  ")
    out += ["", t(label("summary")), "-" * len(label("summary"))]
    out += [line for p in report.panels for line in _wrap(t(p.summary), _WIDTH)]
    cols = _columns(report)
    for panel in report.panels:
        heading = t(panel.title)
        out += ["", heading, "-" * len(heading)]
        meta = [x for x in (panel.collected, panel.lab, panel.source) if x]
        if meta:
            out += _wrap(t("; ".join(meta)), _WIDTH, "", "  ")
        # In 100 columns the practitioner range is a line under its row, not a column.
        shown = [c for c in cols if c[0] != "optimal"]
        rows = [[t(fn(r)) for _, _, fn in shown] for r in panel.rows]
        headers = [t(h) for _, h, _ in shown]
        keys = [k for k, _, _ in shown]
        caps = [_CAPS.get(k, 36) for k in keys]
        whole = [keys.index("result"), keys.index("flag")]  # as the lab wrote it; the flag
        below = [
            _wrap(t(f"{_header('optimal')}: {r.optimal.text}"), _WIDTH, "    ", "    ")
            if r.optimal
            else []
            for r in panel.rows
        ]
        table = _table(headers, rows, caps, whole=whole, below=below)
        if colour:
            table = table[:2] + [_colourise(line) for line in table[2:]]
        out += table
    if report.sources:
        out += ["", t(label("sources")), "-" * len(label("sources"))]
        for s in report.sources:
            out += _wrap(t(f"[{s.ref}] {_source_line(s)}"), _WIDTH, "", "    ")
            if s.url:
                out += _wrap(t(s.url), _WIDTH, "    ", "    ")
            if s.note:
                out += _wrap(t(f"{label('range_note')}: {s.note}"), _WIDTH, "    ", "    ")
    out += _section(
        label("caveats"),
        [f"{', '.join(c.analytes)}: {c.text} ({'; '.join(c.citations)})" for c in report.caveats],
    )
    out += _section(
        label("result_notes"),
        [
            f'{r.display_name} "{r.value}": {"; ".join(r.notes)} ({_where(r)})'
            for r in _noted(report)
        ],
    )
    out += _section(
        label("not_interpreted"),
        [
            f'{r.display_name} "{r.value}": {r.reason or ""} ({_where(r)})'
            for r in _not_interpreted(report)
        ],
    )
    if report.serial:
        out += ["", t(label("serial")), "-" * len(label("serial"))]
        for series in report.serial:
            out += ["", t(f"{series.name} ({series.unit})")]
            out += _table(
                [label("date"), label("result"), label("change")],
                [[t(c) for c in row] for row in _serial_rows(series)],
                (20, 16, 40),
            )
            for note in _serial_notes(series):
                out += _wrap(t(note), _WIDTH)
    out += ["", *_wrap(t(report.disclaimer), _WIDTH)]
    return "\n".join(out) + "\n"


def _section(title: str, items: Sequence[str]) -> list[str]:
    """A titled list of wrapped '- ' items, or nothing when there are no items."""
    if not items:
        return []
    out = ["", ascii_text(title), "-" * len(title)]
    for item in items:
        out += _wrap(ascii_text(item), _WIDTH, "- ", "  ")
    return out


def _colourise(line: str) -> str:
    for code, colour in ((" (Critical", _RED), (" (High)", _YELLOW), (" (Low)", _YELLOW)):
        if code in line:
            return colour + line + _RESET
    return line


# --- Markdown ------------------------------------------------------------------------------


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(md_escape(h) for h in headers) + " |"]
    out.append("|" + "|".join("---" for _ in headers) + "|")
    out += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    return out


def _md_url(url: str | None) -> str | None:
    """A link target that is safe in Markdown: http(s) only, no spaces or brackets."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    if any(ch in url for ch in ' ()<>[]"\n\r\t`'):
        return None
    return url


def render_markdown(report: Report) -> str:
    """The report as Markdown: one table per panel, every input string escaped."""
    e = md_escape
    out: list[str] = [f"# {e(report.title)}", ""]
    patient = _patient_line(report)
    if patient:
        out.append(f"**{e(label('patient'))}:** " + "; ".join(f"{e(k)} {e(v)}" for k, v in patient))
        out.append("")
    if report.deidentified:
        out += [f"*{e(label('deidentified'))}*", ""]
    out += [f"- **{e(k)}:** {e(v)}" for k, v in _meta(report)]
    out += ["", f"## {e(label('summary'))}", ""]
    for p in report.panels:
        number = f"{p.index + 1}. "
        if len(report.panels) > 1 and p.summary.startswith(number):
            out.append(f"{number}{e(p.summary.removeprefix(number))}")  # an ordered list
        else:
            out.append(f"- {e(p.summary)}")
    cols = _columns(report)
    for panel in report.panels:
        out += ["", f"## {e(panel.title)}", ""]
        meta = [x for x in (panel.collected, panel.lab, panel.source) if x]
        if meta:
            out += [e("; ".join(meta)), ""]
        out += _md_table(
            [h for _, h, _ in cols], [[fn(r) for _, _, fn in cols] for r in panel.rows]
        )
    if report.sources:
        out += ["", f"## {e(label('sources'))}", ""]
        for src in report.sources:
            url = _md_url(src.url)
            cite = f"[{e(src.source)}]({url})" if url else e(src.source)
            line = f"{src.ref}. {cite} {e(_source_line(src).removeprefix(src.source).strip())}"
            if src.note:
                line += f" {e(label('range_note'))}: {e(src.note)}"
            out.append(line)
    if report.caveats:
        out += ["", f"## {e(label('caveats'))}", ""]
        out += [
            f"- **{e(', '.join(c.analytes))}:** {e(c.text)} ({e('; '.join(c.citations))})"
            for c in report.caveats
        ]
    noted = _noted(report)
    if noted:
        out += ["", f"## {e(label('result_notes'))}", ""]
        out += _md_table(
            [label("analyte"), label("result"), label("result_notes"), label("source")],
            [[r.display_name, r.value, "; ".join(r.notes), _where(r)] for r in noted],
        )
    bad = _not_interpreted(report)
    if bad:
        out += ["", f"## {e(label('not_interpreted'))}", ""]
        out += _md_table(
            [label("analyte"), label("result"), label("reason"), label("source")],
            [[r.display_name, r.value, r.reason or "", _where(r)] for r in bad],
        )
    if report.serial:
        out += ["", f"## {e(label('serial'))}"]
        for s in report.serial:
            out += ["", f"### {e(s.name)} ({e(s.unit)})", ""]
            out += _md_table([label("date"), label("result"), label("change")], _serial_rows(s))
            notes = _serial_notes(s)
            if notes:
                out += ["", *(f"- {e(n)}" for n in notes)]
    out += ["", f"*{e(report.disclaimer)}*"]
    return "\n".join(out) + "\n"
