"""Docs are code: every Python and shell block in README.md and docs/*.md runs (issue 15).

* ``python`` blocks with ``>>>`` prompts run as doctests; other ``python`` blocks run as a
  script (``python block.py``, so ``if __name__ == "__main__":`` behaves as for a user).
* ``bash``/``sh``/``shell`` blocks run with ``bash -e`` (``-o pipefail``).
* Blocks run in a fresh temporary directory holding the bundled example files (what
  ``guttests examples`` writes), with the ``guttests`` command of this environment first on
  PATH. Untagged blocks (command synopses, output) and data blocks (toml, json, csv) are not run.
* A block that cannot run offline is marked, on the line just before its fence, with
  ``<!-- doc-test: skip (why) -->``; the reason is required.

A failure names the file, the line of the block and the block's first line.
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "src" / "guttests" / "_data" / "examples"
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PYTHON = {"python", "py", "pycon"}
SHELL = {"bash", "sh", "shell"}
_FENCE = re.compile(r"^(?P<indent> {0,3})```(?P<lang>[A-Za-z0-9_+-]*)\s*$")
_SKIP = re.compile(r"^<!--\s*doc-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->\s*$")
TIMEOUT = 300


@dataclass(frozen=True)
class Block:
    file: Path
    line: int
    lang: str
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(REPO).as_posix()}:{self.line}"

    def describe(self) -> str:
        first = next((ln for ln in self.code.splitlines() if ln.strip()), "")
        return f"{self.id} ({self.lang} block starting {first.strip()!r})"


def blocks_of(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file, with their skip markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m["lang"].lower()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith("```"):
            j += 1
        body = "\n".join(ln[len(m["indent"]) :] for ln in lines[start + 1 : j]) + "\n"
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        skip = _SKIP.match(prev.strip())
        found.append(Block(path, start + 1, lang, body, skip["reason"] if skip else None))
        i = j + 1
    return found


def runnable() -> list[Block]:
    return [b for f in DOC_FILES for b in blocks_of(f) if b.lang in PYTHON | SHELL]


def _workdir(tmp_path: Path) -> Path:
    for example in EXAMPLES.iterdir():
        if example.is_file():
            shutil.copy(example, tmp_path / example.name)
    return tmp_path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("NO_COLOR", None)
    env["NO_COLOR"] = "1"
    return env


BLOCKS = runnable()
SCRIPTS = [b for b in BLOCKS if not (b.lang in PYTHON and ">>>" in b.code)]
DOCTEST_FILES = sorted({b.file for b in BLOCKS if b not in SCRIPTS})

# Blocks known to fail (docs edited in parallel on other branches). Keyed by file and the
# block's first line; strict: a block that starts to pass fails here until its entry is
# removed. Empty since issue 15's docs pass: keep it so; never add a block to it.
KNOWN_BROKEN: set[tuple[str, str]] = set()


def _key(block: Block) -> tuple[str, str]:
    first = next((ln for ln in block.code.splitlines() if ln.strip()), "").strip()
    return (block.file.relative_to(REPO).as_posix(), first)


@pytest.mark.parametrize("block", SCRIPTS, ids=[b.id for b in SCRIPTS])
def test_doc_block_runs(block: Block, tmp_path: Path) -> None:
    """A script block runs to exit status 0 in a directory holding the bundled examples."""
    if block.skip is not None:
        pytest.skip(f"{block.id}: marked doc-test: skip ({block.skip})")
    cwd = _workdir(tmp_path)
    if block.lang in PYTHON:
        script = cwd / "doc_block.py"
        script.write_text(block.code, encoding="utf-8")
        cmd = [sys.executable, str(script)]
    else:
        cmd = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT
        )
        ok = proc.returncode == 0
        detail = (
            f"(exit {proc.returncode}):\n--- stdout ---\n{proc.stdout[-3000:]}\n"
            f"--- stderr ---\n{proc.stderr[-3000:]}"
        )
    except subprocess.TimeoutExpired:
        ok, detail = False, f"did not finish in {TIMEOUT} s"
    if _key(block) in KNOWN_BROKEN:
        assert not ok, f"{block.describe()} passes now: remove it from KNOWN_BROKEN"
        pytest.xfail(f"{block.describe()} is listed in KNOWN_BROKEN")
    assert ok, f"{block.describe()} failed {detail}"


@pytest.mark.parametrize(
    "path", DOCTEST_FILES, ids=[p.relative_to(REPO).as_posix() for p in DOCTEST_FILES]
)
def test_doc_doctests_run(path: Path, tmp_path: Path) -> None:
    """The ``>>>`` blocks of one file run in order as one session (later blocks use names
    earlier ones defined), in a directory holding the bundled examples."""
    cwd = _workdir(tmp_path)
    globs: dict[str, object] = {"__name__": "__doc__"}
    parser = doctest.DocTestParser()
    failed: list[str] = []
    old = Path.cwd()
    os.chdir(cwd)
    try:
        for block in (b for b in BLOCKS if b.file == path and b not in SCRIPTS):
            if block.skip is not None:
                continue
            test = parser.get_doctest(block.code, globs, block.id, str(block.file), block.line)
            runner = doctest.DocTestRunner(
                optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
            )
            out: list[str] = []
            runner.run(test, out=out.append, clear_globs=False)
            globs = test.globs
            if runner.failures and _key(block) not in KNOWN_BROKEN:
                failed.append(f"{block.describe()}:\n" + "".join(out))
            elif not runner.failures and _key(block) in KNOWN_BROKEN:
                failed.append(f"{block.describe()} passes now: remove it from KNOWN_BROKEN")
    finally:
        os.chdir(old)
    assert not failed, "\n".join(failed)


def test_skip_markers_are_few_and_give_reasons() -> None:
    """Skipping is the exception: every marker names why, and most blocks run."""
    skipped = [b for b in BLOCKS if b.skip is not None]
    assert all(b.skip and b.skip.strip() for b in skipped)
    assert len(skipped) * 4 < len(BLOCKS), [b.id for b in skipped]


def test_block_parser_reads_markers_and_languages(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "text\n\n<!-- doc-test: skip (needs a cluster) -->\n```python\nprint(1)\n```\n\n"
        "```bash\necho hi\n```\n\n```\nguttests report FILE\n```\n",
        encoding="utf-8",
    )
    got = blocks_of(doc)
    assert [(b.lang, b.skip, b.code) for b in got] == [
        ("python", "needs a cluster", "print(1)\n"),
        ("bash", None, "echo hi\n"),
        ("", None, "guttests report FILE\n"),
    ]


def test_docs_import_no_private_module() -> None:
    """Docs send users to public names only: no `import guttests._x` / `from guttests._x`."""
    private = re.compile(r"^\s*(?:>>>\s*|\.\.\.\s*)?(?:from|import)\s+guttests\._", re.M)
    offenders = [
        b.describe()
        for f in DOC_FILES
        if f.name != "architecture.md"  # the developers' map of the modules
        for b in blocks_of(f)
        if private.search(b.code)
    ]
    assert not offenders, "docs import private modules:\n" + "\n".join(offenders)
