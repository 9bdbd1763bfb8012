"""Write what guttests parses ahead, so that a process starts without parsing it:

* ``src/guttests/_data/units_known.json``: each unit of the shipped catalogue, of the bundled
  examples and of ``scripts/common_units.txt`` as the UCUM grammar parses it, keyed by a hash
  of what that depends on (``guttests._units.known_units_key``): a stale table is never used;
* ``src/guttests/_data/ranges_parsed.json``: the shipped range files as TOML parses them, by
  the SHA-256 of each file's bytes: an edited file is parsed again;
* ``src/guttests/_data/catalogue_validated.json``: the shipped catalogue as loading and
  validating its files gives it, keyed by a hash of the files, of ``_catalogue.py``,
  ``_models.py`` and ``_types.py``, of the units table's key and of the pydantic version
  (``guttests._catalogue.validated_ahead_key``): ``Catalogue.default()`` then builds no
  validators.

Run ``python scripts/write_parsed_ahead.py`` after changing units.txt, the grammar,
``_units.py``, ``_models.py``, ``_types.py``, ``_catalogue.py``, the lark or pydantic version,
or a shipped range file. Tests (tests/test_startup.py) fail while a table differs from a
fresh one (the validated catalogue's test is skipped under another pydantic: the table is
then not used).
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

from guttests import Catalogue, read
from guttests._catalogue import (
    PARSED_AHEAD_FILE,
    VALIDATED_AHEAD_FILE,
    parsed_ahead_table,
    validated_ahead_text,
)
from guttests._units import KNOWN_UNITS_FILE, _known_units, known_table

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "guttests" / "_data"


def common_units() -> set[str]:
    lines = (ROOT / "scripts" / "common_units.txt").read_text("utf-8").splitlines()
    return {line for line in lines if line.strip() and not line.startswith("#")}


def wanted_units() -> list[str]:
    """The units to parse ahead (those that do not parse are left out)."""
    cat = Catalogue.default()
    units = {a.unit for a in cat.analytes} | {r.unit for r in cat.ranges}
    for example in (files("guttests") / "_data" / "examples").iterdir():
        for panel in read(example.read_text("utf-8")):
            for r in panel.results:
                units |= {r.unit, r.lab_range.unit if r.lab_range else None}
    return sorted(u for u in units | common_units() if u)


def _write(path: Path, table: dict[str, Any], rows_key: str) -> None:
    """JSON with one row of ``table[rows_key]`` a line (readable diffs)."""
    rows = table[rows_key]
    items = rows.items() if isinstance(rows, dict) else enumerate(rows)
    lines = [
        ("  " if isinstance(rows, list) else f"  {json.dumps(k)}: ")
        + json.dumps(v, ensure_ascii=False)
        for k, v in items
    ]
    open_, close = ("[", "]") if isinstance(rows, list) else ("{", "}")
    head = {k: v for k, v in table.items() if k != rows_key}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    text += f',\n "{rows_key}": {open_}\n' + ",\n".join(lines) + f"\n {close}\n}}\n"
    assert json.loads(text) == table
    path.write_text(text, encoding="utf-8")
    print(path, len(rows), rows_key)


def main() -> None:
    units = known_table(wanted_units())
    missing = common_units() - {row[0] for row in units["units"]}
    if missing:
        raise SystemExit(f"these units of common_units.txt do not parse: {sorted(missing)}")
    _write(DATA / KNOWN_UNITS_FILE, units, "units")
    shipped = sorted(
        (f for f in (files("guttests") / "reference_ranges").iterdir() if f.name.endswith(".toml")),
        key=lambda f: f.name,
    )
    _write(DATA / PARSED_AHEAD_FILE, parsed_ahead_table(shipped), "files")
    # after the units table: the key of the validated catalogue includes the key of the
    # units table in use, which is the table just written
    _known_units.cache_clear()
    text = validated_ahead_text(shipped)
    if json.loads(text)["key"] is None:
        raise SystemExit("the table of known units is not in use: the catalogue has no key")
    (DATA / VALIDATED_AHEAD_FILE).write_text(text, encoding="utf-8")
    print(DATA / VALIDATED_AHEAD_FILE)


if __name__ == "__main__":
    main()
