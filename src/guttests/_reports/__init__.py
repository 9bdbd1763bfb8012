"""Neutral summary reports: one report model, built once, and one renderer per format.

>>> from guttests._models import Interpretation, Panel, Provenance, Result
>>> from guttests._values import parse_value
>>> r = Result(name="Calprotectin", value_text="32", value=parse_value("32"), unit="ug/g",
...            provenance=Provenance(location="OBX 1"))
>>> rep = build_report([Panel(results=(r,))], [[Interpretation(result=r, status="interpreted")]],
...                    catalogue_hash="0" * 64, version="0.1.0")
>>> print(render(rep, "json").splitlines()[0])
{
>>> "Calprotectin" in render(rep, "text")
True

Jinja2 (HTML) and the FHIR code are imported only when those formats are rendered.
PDF is bytes: :func:`render_pdf` (needs the ``guttests[pdf]`` extra, WeasyPrint).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import partial
from importlib.resources import files
from typing import Any, Literal

from .._errors import ReportError
from ._model import (
    SCHEMA_ID,
    AnalyteLookup,
    Report,
    ReportDocument,
    ResultRow,
    build_report,
    report_json_schema,
    result_record,
)

__all__ = [
    "FORMATS",
    "SCHEMA_ID",
    "AnalyteLookup",
    "Format",
    "Report",
    "ReportDocument",
    "ResultRow",
    "build_report",
    "render",
    "render_pdf",
    "report_json_schema",
    "report_schema",
    "result_record",
    "schema_documents",
]

Format = Literal["text", "md", "html", "json", "fhir", "hl7", "pdf"]
FORMATS: tuple[Format, ...] = ("text", "md", "html", "json", "fhir", "hl7")
"""The formats :func:`render` returns as text (PDF is bytes: :func:`render_pdf`)."""
PageSize = Literal["a4", "letter"]


def render_pdf(report: Report, *, page_size: PageSize = "a4") -> bytes:
    """The report as an archival PDF (PDF/A-3b, tagged), A4 or US Letter.

    Raises :class:`~guttests.ReportError` naming the ``guttests[pdf]`` extra when
    WeasyPrint is not installed.
    """
    from ._pdf import render_pdf as _render_pdf

    return _render_pdf(_neutralised(report), page_size=page_size)


SCHEMA_FILES: dict[str, str] = {
    "report": "guttests-report-1.schema.json",
    "results": "guttests-results-1.schema.json",
}
"""Published JSON Schemas: packaged in ``guttests/_data/schemas`` and copied to
``docs/schemas`` (both generated from the models by ``scripts/write_schemas.py``)."""


def schema_documents() -> dict[str, dict[str, Any]]:
    """The published JSON Schemas, generated from the models, by file name."""
    from .._readers.jsonio import results_document_schema

    return {
        SCHEMA_FILES["report"]: report_json_schema(),
        SCHEMA_FILES["results"]: results_document_schema(),
    }


def report_schema(kind: Literal["report", "results"] = "report") -> dict[str, Any]:
    """The JSON Schema shipped with guttests: ``"report"`` for the JSON report (and, in its
    ``$defs``, the ``ResultRow`` line of ``guttests batch``), ``"results"`` for the
    ``guttests-results/1`` input document.

    >>> report_schema()["properties"]["schema"]["const"]
    'guttests-report/1'
    """
    if kind not in SCHEMA_FILES:
        raise ReportError(f"unknown schema {kind!r}", hint=f"choose one of {tuple(SCHEMA_FILES)}")
    text = (files("guttests") / "_data" / "schemas" / SCHEMA_FILES[kind]).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def render(
    report: Report,
    format: Format,
    *,
    colour: bool = False,
    attach_pdf: bool = False,
    page_size: PageSize = "a4",
    identifier_systems: Mapping[str, str] | None = None,
    coding_systems: Mapping[str, str] | None = None,
) -> str:
    """Render a report; ``colour`` adds ANSI colour to the text format only.

    ``attach_pdf`` (FHIR only) carries the PDF report as ``DiagnosticReport.presentedForm``.
    PDF itself is binary: use :func:`render_pdf`.

    ``identifier_systems`` (FHIR only) maps an HL7 v2 assigning authority (CX.4, as the
    input wrote it) to the identifier system URI your organisation registered for it;
    without a mapping an identifier keeps its assigner and type but gets no system
    (docs/integration.md). ``coding_systems`` (FHIR only) maps a local coding-system name
    (``99LAB``) to a URI; local systems are otherwise written without a system.

    The renderers only read the :class:`Report`: they never re-decide a flag or
    re-convert a unit.
    """
    if format in ("text", "md", "html"):
        report = _neutralised(report)
    if format == "text":
        from ._text import render_text

        return render_text(report, colour=colour)
    if format == "md":
        from ._text import render_markdown

        return render_markdown(report)
    if format == "json":
        from ._json import render_json

        return _surrogate_safe(render_json, report)
    if format == "html":
        from ._html import render_html

        return render_html(report)
    if format == "fhir":
        from ._fhir import render_fhir

        fhir = partial(
            render_fhir, identifier_systems=identifier_systems, coding_systems=coding_systems
        )
        if attach_pdf:
            from ._fhir import attach_presented_form

            return attach_presented_form(
                _surrogate_safe(fhir, report),
                render_pdf(report, page_size=page_size),
                report,
            )
        return _surrogate_safe(fhir, report)
    if format == "hl7":
        from ._hl7 import render_hl7

        return render_hl7(report)
    if format == "pdf":
        raise ReportError("a PDF report is binary", hint="use render_pdf(report)")
    raise ReportError(f"unknown report format {format!r}", hint=f"choose one of {FORMATS}")


def _surrogate_safe(renderer: Callable[[Report], str], report: Report) -> str:
    """Render; a lone surrogate (possible only in text built in code: the readers refuse
    them) cannot be written as JSON, so such a report is rendered with it replaced."""
    try:
        return renderer(report)
    except (TypeError, ValueError) as exc:
        if "surrogate" not in str(exc):
            raise
    from .._safe_text import neutralised_model

    return renderer(neutralised_model(report))


def _neutralised(report: Report) -> Report:
    """The report with control characters and bidirectional overrides from the input made
    inert (see :mod:`guttests._safe_text`); JSON escapes them, FHIR output drops them.

    One pass over the report's JSON finds the rare report that needs it."""
    from .._safe_text import UNSAFE, neutralised_model

    try:
        dumped = report.model_dump_json()
    except ValueError:  # e.g. a lone surrogate, which JSON output cannot hold
        return neutralised_model(report)
    # In the JSON, C0 characters are \u00XX escapes and CR is \r; the others are raw.
    if not (UNSAFE.search(dumped) or _ESCAPED_CONTROL.search(dumped)):
        return report
    return neutralised_model(report)


_ESCAPED_CONTROL = re.compile(r"\\u00[0189][0-9a-fA-F]|\\u007[fF]|\\r|\\b|\\f")
