"""Write the published JSON Schemas, generated from the models, to the package and to docs/.

Run after changing a report or input model: ``python scripts/write_schemas.py``. A test
(tests/test_schemas.py) fails while a committed schema differs from the generated one.
"""

from __future__ import annotations

import json
from pathlib import Path

from guttests._reports import schema_documents

ROOT = Path(__file__).resolve().parents[1]
TARGETS = (ROOT / "src" / "guttests" / "_data" / "schemas", ROOT / "docs" / "schemas")


def main() -> None:
    for folder in TARGETS:
        folder.mkdir(parents=True, exist_ok=True)
        for name, schema in schema_documents().items():
            text = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
            (folder / name).write_text(text, encoding="utf-8")
            print(folder / name)


if __name__ == "__main__":
    main()
