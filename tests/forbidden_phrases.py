"""Wording a guttests report must never contain (docs/reports.md, neutral-language policy).

Import it from any test: it is a plain module next to the tests, loaded by path::

    path = TESTS / "forbidden_phrases.py"
    spec = importlib.util.spec_from_file_location("forbidden_phrases", path)

``find_forbidden(text)`` returns the phrases found (case-insensitive, whole words), so an
assertion message names them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

__all__ = ["FORBIDDEN", "catalogue_citations", "find_forbidden", "find_forbidden_in_report"]

FORBIDDEN: tuple[str, ...] = (
    # diagnosis or a condition named as the patient's
    "leaky gut",
    "you have",
    "you may have",
    "patient has",
    "suffer",
    "suffers",
    "suffering",
    "diagnosed with",
    "consistent with",
    "suggestive of",
    "indicative of",
    "inflammation is present",
    "infection",
    "dysbiosis",
    "intolerance to",
    "allergic to",
    # value judgements
    "good",
    "bad",
    "healthy",
    "unhealthy",
    "optimal health",
    "poor",
    "excellent",
    "worrying",
    "alarming",
    "concerning",
    # advice
    "should",
    "consider",
    "recommend",
    "recommended",
    "recommendation",
    "advise",
    "advised",
    "supplement",
    "supplements",
    "supplementation",
    "probiotic",
    "probiotics",
    "prebiotic",
    "eliminate",
    "elimination diet",
    "your diet",
    "start treatment",
    "treatment options",
    "retest",
    "re-test",
    "follow-up test",
    "cure",
    "heal",
    "healing",
    "detox",
)

_PATTERN = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(p) for p in sorted(FORBIDDEN, key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)


def find_forbidden(text: str) -> list[str]:
    """The forbidden phrases in ``text`` (lower-cased, sorted, unique)."""
    return sorted({m.group(1).lower() for m in _PATTERN.finditer(text)})


def find_forbidden_in_report(out: str, fmt: str, citations: Iterable[str]) -> list[str]:
    """Forbidden phrases in a rendered report, leaving out quoted citation titles.

    A report cites publications by their titles, and a title may say "healthy
    children" or "not recommended": that is the source's wording, quoted, not the
    report's. ``citations`` are the citation texts of the catalogue used.
    """
    if fmt in ("html", "md"):
        out = html.unescape(out.replace("\\", ""))
    if fmt == "hl7":  # HL7 v2 escapes of the encoding characters
        for escaped, char in (("\\F\\", "|"), ("\\S\\", "^"), ("\\T\\", "&"), ("\\R\\", "~")):
            out = out.replace(escaped, char)
        out = out.replace("\\E\\", "\\")
    flat = " ".join(out.split())
    for c in sorted(citations, key=len, reverse=True):
        flat = flat.replace(" ".join(c.split()), "")
    return find_forbidden(flat)


def catalogue_citations(catalogue: object) -> list[str]:
    """Every citation text of a catalogue, as reports print them."""
    ranges = getattr(catalogue, "ranges", ())
    caveats = getattr(catalogue, "caveats", ())
    texts = {r.source.short() for r in ranges}
    texts |= {c.short() for cav in caveats for c in cav.citations}
    return sorted(texts, key=len, reverse=True)
