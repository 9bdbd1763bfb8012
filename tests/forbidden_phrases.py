"""Wording a guttests report must never contain (docs/reports.md, neutral-language policy).

Import it from any test: it is a plain module next to the tests, loaded by path::

    path = TESTS / "forbidden_phrases.py"
    spec = importlib.util.spec_from_file_location("forbidden_phrases", path)

``find_forbidden(text)`` returns the phrases found (case-insensitive, whole words), so an
assertion message names them.
"""

from __future__ import annotations

import re

__all__ = ["FORBIDDEN", "find_forbidden"]

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
