"""The neutral labels and sentence templates of reports, read once from ``_data``.

>>> label("optimal")
'Practitioner range (configured, not a reference range)'
>>> phrase("in_band", band="borderline")
"in band 'borderline'"
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

from .._errors import ReportError

__all__ = ["label", "phrase", "phrases"]

_FORMAT = "guttests-report-phrases/1"


@cache
def phrases() -> tuple[dict[str, str], dict[str, str]]:
    """Labels and templates from ``report_phrases.toml`` (parsed once)."""
    resource = files("guttests") / "_data" / "report_phrases.toml"
    try:
        data = tomllib.loads(resource.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReportError("cannot read report phrases", source="report_phrases.toml") from exc
    if data.get("format") != _FORMAT:
        raise ReportError(f"report phrases must declare format {_FORMAT!r}")
    return dict(data["labels"]), dict(data["phrases"])


def label(key: str) -> str:
    """One fixed label, e.g. the column heading ``range``."""
    return phrases()[0][key]


def phrase(key: str, **values: object) -> str:
    """One sentence template filled with ``values``."""
    return phrases()[1][key].format(**values)
