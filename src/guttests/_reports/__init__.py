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
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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
    "report_json_schema",
    "report_schema",
    "result_record",
    "schema_documents",
]

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


Format = Literal["text", "md", "html", "json", "fhir"]
FORMATS: tuple[Format, ...] = ("text", "md", "html", "json", "fhir")


def render(
    report: Report,
    format: Format,
    *,
    colour: bool = False,
    identifier_systems: Mapping[str, str] | None = None,
    coding_systems: Mapping[str, str] | None = None,
) -> str:
    """Render a report; ``colour`` adds ANSI colour to the text format only.

    ``identifier_systems`` (FHIR only) maps an HL7 v2 assigning authority (CX.4, as the
    input wrote it) to the identifier system URI your organisation registered for it;
    without a mapping an identifier keeps its assigner and type but gets no system
    (docs/integration.md). ``coding_systems`` (FHIR only) maps a local coding-system name
    (``99LAB``) to a URI; local systems are otherwise written without a system.

    The renderers only read the :class:`Report`: they never re-decide a flag or
    re-convert a unit.
    """
    if format == "text":
        from ._text import render_text

        return render_text(report, colour=colour)
    if format == "md":
        from ._text import render_markdown

        return render_markdown(report)
    if format == "json":
        from ._json import render_json

        return render_json(report)
    if format == "html":
        from ._html import render_html

        return render_html(report)
    if format == "fhir":
        from ._fhir import render_fhir

        return render_fhir(
            report, identifier_systems=identifier_systems, coding_systems=coding_systems
        )
    raise ReportError(f"unknown report format {format!r}", hint=f"choose one of {FORMATS}")
