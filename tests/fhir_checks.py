"""Checks every FHIR output of the suite must pass: structure (fhir.resources R4B) and
semantics (absolute-URI systems everywhere, identifiers included; UCUM codes that parse;
valid LOINC check digits; unique ids). That identifiers keep the system or assigner the input
gave is checked against the input in tests/test_fhir_out.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from guttests._errors import UnitError
from guttests.units import parse_unit

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
_URI = re.compile(r"^(?:https?://[^\s/]+\S*|urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+)$")
_LOINC_CODE = re.compile(r"^(\d{1,7})-(\d)$")


def loinc_check_digit(number: str) -> int:
    """The LOINC mod-10 check digit of the part before the hyphen.

    >>> loinc_check_digit("2345"), loinc_check_digit("38445"), loinc_check_digit("1742")
    (7, 3, 6)
    """
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10


def valid_loinc(code: str) -> bool:
    """Whether a LOINC code (or LOINC answer/part code) is well formed with a valid check digit."""
    if code.startswith(("LA", "LP", "LL")):
        return bool(re.match(r"^L[APL]\d+-\d$", code))
    m = _LOINC_CODE.match(code)
    return bool(m) and loinc_check_digit(m.group(1)) == int(m.group(2))


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def semantic_problems(doc: dict[str, Any]) -> list[str]:
    """Every semantic problem of a FHIR JSON document (empty when it is faithful)."""
    problems: list[str] = []
    for path, node in _walk(doc):
        system = node.get("system")
        if isinstance(system, str) and not _URI.match(system):
            problems.append(f"{path}.system is not an absolute URI: {system!r}")
        is_quantity = any(k in node for k in ("value", "unit", "comparator"))
        if system == UCUM and "code" in node and is_quantity:
            # a unit guttests writes; a coding the input itself put under UCUM stays as given
            try:
                ok = parse_unit(node["code"]).ucum == node["code"]
            except UnitError:
                ok = False
            if not ok:
                problems.append(f"{path}.code is not a valid UCUM code: {node['code']!r}")
        if system == LOINC and isinstance(node.get("code"), str) and not valid_loinc(node["code"]):
            problems.append(f"{path}.code has no valid LOINC check digit: {node['code']!r}")
    ids = [
        (e["resource"]["resourceType"], e["resource"].get("id"))
        for e in doc.get("entry", [])
        if isinstance(e, dict) and "resource" in e
    ]
    if len(set(ids)) != len(ids):
        problems.append("resource ids are not unique in the bundle")
    urls = [e.get("fullUrl") for e in doc.get("entry", [])]
    if len(set(urls)) != len(urls):
        problems.append("fullUrls are not unique in the bundle")
    return problems


def check_fhir(text: str) -> dict[str, Any]:
    """Validate a FHIR JSON output (R4B models, then semantics); return it parsed."""
    from fhir.resources.R4B.bundle import Bundle

    doc: dict[str, Any] = json.loads(text)
    if doc.get("resourceType") == "Bundle":
        Bundle.model_validate_json(text)
    problems = semantic_problems(doc)
    assert not problems, "FHIR output is not faithful:\n" + "\n".join(problems)
    return doc
