"""The JSON report (schema ``guttests-report/1``, published in docs/schemas)."""

from __future__ import annotations

from typing import Any

import orjson

from ._model import SCHEMA_ID, Report

__all__ = ["render_json", "report_document"]


def report_document(report: Report) -> dict[str, Any]:
    """The JSON document of a report as plain data (keys as in the published schema)."""
    return {
        "schema": SCHEMA_ID,
        "title": report.title,
        "guttests_version": report.guttests_version,
        "catalogue_hash": report.catalogue_hash,
        "generated_at": report.generated_at,
        "deidentified": report.deidentified,
        "patient": report.patient.model_dump(mode="json"),
        "collected": list(report.collected),
        "labs": list(report.labs),
        "inputs": list(report.inputs),
        "counts": report.counts.model_dump(mode="json"),
        "summary": report.summary,
        "disclaimer": report.disclaimer,
        "panels": [p.model_dump(mode="json", exclude={"rows"}) for p in report.panels],
        "results": [r.model_dump(mode="json") for r in report.rows],
        "sources": [s.model_dump(mode="json") for s in report.sources],
        "caveats": [c.model_dump(mode="json") for c in report.caveats],
        "serial": [s.model_dump(mode="json") for s in report.serial],
    }


def render_json(report: Report) -> str:
    """The report as JSON: sorted keys, two-space indent, byte-identical across runs."""
    data = orjson.dumps(report_document(report), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    return data.decode("utf-8") + "\n"
