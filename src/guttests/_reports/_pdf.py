"""The PDF report: the HTML report laid out for print by WeasyPrint (the ``guttests[pdf]`` extra).

The PDF is the same report model as the HTML report, through the same template, plus a
print stylesheet made here: A4 or US Letter, a header with the patient's identity (or the
de-identified label) and the report title on every page, "page N of M", table rows that
never split across pages, and the range and trend graphics as vector SVG.

Archival and accessible: PDF/A-3b with tags (``pdf_variant="pdf/a-3b"``,
``pdf_tags=True``); title, language and creator (guttests and its version) in the
metadata; fonts embedded as subsets. The same report gives the same bytes: no creation
time is written unless ``SOURCE_DATE_EPOCH`` is set (then that time is the creation and
modification date).

WeasyPrint is imported on the first PDF render only. Without it, rendering raises
:class:`~guttests.ReportError` naming the extra.
"""

from __future__ import annotations

import importlib
import os
import re
from datetime import UTC, datetime
from typing import Any, Literal

from .._errors import ReportError
from ._html import render_html
from ._model import Report
from ._phrases import label

__all__ = ["PDF_VARIANT", "print_stylesheet", "render_pdf"]

PDF_VARIANT = "pdf/a-3b"
_SIZES = {"a4": "A4", "letter": "letter"}
_EXTRA = "PDF reports need the guttests[pdf] extra (WeasyPrint)"
_INSTALL = "pip install 'guttests[pdf]'"
# analyte, result, unit, range, graphic, position, flag (and practitioner range)
_COLUMNS = (21, 9, 7, 13, 18, 19, 13)
_COLUMNS_OPTIMAL = (16, 9, 6, 12, 16, 15, 11, 15)
_SVG_OPEN = re.compile(r"(<svg\b[^>]*>)")
# WeasyPrint draws inline SVG with the SVG's own <style> only (not the page's CSS, nor
# var()): the graphics' classes, with the HTML report's colours, go into each SVG.
_SVG_CSS = (
    "<style>"
    ".b-n{fill:#cfe3cf}.b-h{fill:#f6d9a8}.b-a{fill:#eeb4ad}"
    ".b-e{fill:#dcdcdc;stroke:#888;stroke-dasharray:2 2}"
    ".bar{fill:none;stroke:#8a929c;stroke-width:.6}.tick{stroke:#555;stroke-width:.8}"
    "text{font-size:8.5px;fill:#333;font-family:'DejaVu Sans',sans-serif}"
    ".val{stroke:#000;stroke-width:2}.dot{fill:#000}.cens{fill:#fff;stroke:#000;stroke-width:1.5}"
    ".tr-band{fill:#cfe3cf;opacity:.75}.tr-axis{stroke:#8a929c;stroke-width:.8}"
    ".tr-line{stroke:#2b4c7e;stroke-width:1.4}.tr-dot{fill:#2b4c7e}"
    ".tr-open{fill:#fff;stroke:#2b4c7e;stroke-width:1.6}"
    ".tr-cens{fill:none;stroke:#2b4c7e;stroke-width:1.2}.tr-lim,.tr-unit,.tr-date{fill:#5b6470}"
    "</style>"
)


def _css_string(text: str) -> str:
    r"""A CSS string literal: every character outside a small safe set as a hex escape.

    Each escape ends with one space, which CSS consumes as its terminator (so a real space
    after it survives).

    >>> _css_string('Doe, "J" \\ 1')
    '"Doe, \\000022 J\\000022  \\00005c  1"'
    """
    safe = " ,.-:()'/"
    body = "".join(ch if ch.isalnum() or ch in safe else f"\\{ord(ch):06x} " for ch in text)
    return f'"{body}"'


def identity(report: Report) -> str:
    """The patient line printed at the top of every page."""
    if report.deidentified:
        return label("deidentified")
    p = report.patient
    parts = [
        f"{label('patient_name')}: {p.name}" if p.name else None,
        f"{label('patient_id')}: {p.id}" if p.id else None,
        f"{label('birth_date')}: {p.birth_date}" if p.birth_date else None,
        f"{label('sex')}: {p.sex}" if p.sex else None,
    ]
    return " · ".join(x for x in parts if x) or f"{label('patient')}: –"


def print_stylesheet(report: Report, page_size: Literal["a4", "letter"] = "a4") -> str:
    """The print CSS added to the HTML report for the PDF.

    WeasyPrint gives these stylesheets user origin: ``!important`` lets them win over the
    HTML report's own print rules.
    """
    if page_size not in _SIZES:
        raise ReportError(f"unknown page size {page_size!r}", hint="choose a4 or letter")
    ident = _css_string(identity(report))
    title = _css_string(report.title)
    page, of = _css_string(label("page") + " "), _css_string(" " + label("page_of") + " ")
    version = _css_string(f"guttests {report.guttests_version}")
    # fixed column widths (per cent) so that every column, the flag above all, fits the page
    percents = _COLUMNS_OPTIMAL if report.has_optimal else _COLUMNS
    widths = "\n".join(
        f".results thead th:nth-child({n}) {{ width: {w}% !important; }}"
        for n, w in enumerate(percents, 1)
    )
    graphic_mm = 30 if not report.has_optimal else 26
    return f"""
@page {{
  size: {_SIZES[page_size]} portrait !important;
  margin: 22mm 12mm 16mm 12mm !important;
  @top-left {{ content: {ident}; font: 600 8pt "DejaVu Sans", sans-serif; color: #1b1f24;
              vertical-align: bottom; padding-bottom: 3mm; }}
  @top-right {{ content: {title}; font: 8pt "DejaVu Sans", sans-serif; color: #5b6470;
               vertical-align: bottom; padding-bottom: 3mm; }}
  @bottom-left {{ content: {version}; font: 7pt "DejaVu Sans", sans-serif; color: #5b6470; }}
  @bottom-right {{ content: {page} counter(page) {of} counter(pages);
                  font: 8pt "DejaVu Sans", sans-serif; color: #1b1f24; }}
}}
html {{ font-family: "DejaVu Sans", sans-serif !important; }}
body {{ font-size: 8.5pt !important; font-family: "DejaVu Sans", sans-serif !important; }}
main {{ max-width: none !important; padding: 0 !important; }}
h1 {{ font-size: 15pt !important; }}
tr, li, .serial-block, .trend {{ break-inside: avoid !important; }}
thead {{ display: table-header-group !important; }}
table.results {{ table-layout: fixed !important; width: 100% !important; }}
.results td, .results th {{ padding: 2.5pt 3pt !important; overflow-wrap: anywhere !important; }}
.results td.num, .results td.flag {{ white-space: normal !important; }}
{widths}
svg.rg {{ width: {graphic_mm}mm !important; height: {graphic_mm * 0.17:.1f}mm !important; }}
section.panel + section.panel {{ break-before: auto !important; }}
footer {{ break-inside: avoid !important; }}
"""


def _created() -> str | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    try:
        when = datetime.fromtimestamp(int(epoch), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise ReportError(
            "SOURCE_DATE_EPOCH is not a number of seconds", hint="unset it or give an integer"
        ) from exc
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def _weasyprint() -> Any:
    try:
        weasyprint = importlib.import_module("weasyprint")
    except ImportError as exc:
        raise ReportError(_EXTRA, hint=_INSTALL) from exc
    except OSError as exc:  # WeasyPrint is installed but pango/harfbuzz are not
        raise ReportError(
            f"{_EXTRA}, and its system libraries (pango, harfbuzz) are missing",
            hint="install them, e.g. apt-get install libpango-1.0-0 libpangoft2-1.0-0 "
            "libharfbuzz-subset0",
        ) from exc
    return weasyprint


def render_pdf(report: Report, *, page_size: Literal["a4", "letter"] = "a4") -> bytes:
    """The report as a tagged PDF/A-3b document (bytes)."""
    css = print_stylesheet(report, page_size)
    weasyprint = _weasyprint()
    html = _SVG_OPEN.sub(lambda m: m.group(1) + _SVG_CSS, render_html(report))
    document = weasyprint.HTML(string=html, base_url=None).render(
        stylesheets=[weasyprint.CSS(string=css)], presentational_hints=False
    )
    created = _created()
    document.metadata.created = created
    document.metadata.modified = created
    data = document.write_pdf(pdf_variant=PDF_VARIANT, pdf_tags=True, srgb=True)
    if not isinstance(data, bytes):  # pragma: no cover - WeasyPrint returns bytes without target
        raise ReportError("WeasyPrint returned no PDF data")
    return data
