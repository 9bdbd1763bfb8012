"""The vendored conformance files are listed with their source and licence, and equal the
shared copies where ../shared exists."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "conformance"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def _vendored() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.name != "ATTRIBUTION.md")


def test_every_vendored_file_is_attributed() -> None:
    attribution = (FIXTURES / "ATTRIBUTION.md").read_text(encoding="utf-8")
    files = _vendored()
    assert len(files) >= 16
    for path in files:
        rel = path.relative_to(FIXTURES).as_posix()
        line = next((ln for ln in attribution.splitlines() if f"`{rel}`" in ln), None)
        assert line is not None, f"{rel} is not listed in ATTRIBUTION.md"
        assert line.count("|") >= 4, f"{rel}: the line names no source and licence"


def test_vendored_files_are_unchanged_copies() -> None:
    """Where the shared material is present, each vendored file equals its shared copy."""
    if not SHARED.is_dir():
        # a fresh clone: the vendored files are the reference; they must at least parse
        import json

        for path in _vendored():
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".hl7":
                assert path.read_bytes().startswith(b"MSH|"), path.name
            elif path.suffix == ".xml":
                assert path.read_bytes().lstrip().startswith(b"<"), path.name
            else:  # a licence text
                assert path.read_text(encoding="utf-8").strip(), path.name
        return
    for path in _vendored():
        rel = path.relative_to(FIXTURES)
        assert path.read_bytes() == (SHARED / rel).read_bytes(), rel
