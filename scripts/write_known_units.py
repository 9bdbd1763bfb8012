"""Write src/guttests/_data/units_known.json: units parsed ahead, so that most processes
never build the UCUM grammar.

The table holds each unit of the shipped catalogue, of the bundled examples and of
scripts/common_units.txt as the UCUM grammar parses it, keyed by a hash of what that
depends on (``guttests._units.known_units_key``). Run it after changing units.txt, the
grammar, ``_units.py`` or the lark version: ``python scripts/write_known_units.py``. A test
(tests/test_units.py) fails while the committed table differs from a fresh one; a stale
table is never used at run time.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from guttests import Catalogue, read
from guttests._units import KNOWN_UNITS_FILE, known_table

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "guttests" / "_data" / KNOWN_UNITS_FILE


def wanted() -> list[str]:
    """The units to parse ahead (each must parse)."""
    cat = Catalogue.default()
    units = {a.unit for a in cat.analytes} | {r.unit for r in cat.ranges}
    for example in (files("guttests") / "_data" / "examples").iterdir():
        for panel in read(example.read_text("utf-8")):
            for r in panel.results:
                units |= {r.unit, r.lab_range.unit if r.lab_range else None}
    lines = (ROOT / "scripts" / "common_units.txt").read_text("utf-8").splitlines()
    units |= {line for line in lines if line.strip() and not line.startswith("#")}
    return sorted(u for u in units if u)


def main() -> None:
    table = known_table(wanted())
    lines = (ROOT / "scripts" / "common_units.txt").read_text("utf-8").splitlines()
    missing = {u for u in lines if u.strip() and not u.startswith("#")}
    missing -= {row[0] for row in table["units"]}
    if missing:
        raise SystemExit(f"these units of common_units.txt do not parse: {sorted(missing)}")
    rows = ",\n".join("  " + json.dumps(row, ensure_ascii=False) for row in table["units"])
    head = {k: v for k, v in table.items() if k != "units"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2] + f',\n "units": [\n{rows}\n ]\n}}\n'
    assert json.loads(text) == table
    TARGET.write_text(text, encoding="utf-8")
    print(TARGET, len(table["units"]), "units")


if __name__ == "__main__":
    main()
