"""``guttests docs`` and ``guttests examples``: what is installed with the package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._common import (
    _CONTEXT_SETTINGS,
    _stdout,
)

# --- documentation and example files (installed with the package) -----------------------

_EXTRA_EXAMPLES = ("no_context.csv",)
"""Bundled example files beyond those of ``report --example``: ``no_context.csv`` has no
sex or birth date (for the --sex/--birth-date example of the docs)."""


def _docs_dir() -> Any:
    from importlib.resources import files

    packaged = files("guttests") / "_docs"
    if packaged.is_dir():
        return packaged
    # a source checkout or editable install: the repository's docs/ (src/guttests/_cli/ is 3 deep)
    return Path(__file__).resolve().parents[3] / "docs"


@click.command(
    "docs",
    short_help="Print the documentation installed with guttests.",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests docs                  list the topics
  guttests docs cli              the command-line reference
  guttests docs range-format     how to write a range file""",
)
@click.argument("topic", required=False)
def docs_command(topic: str | None) -> None:
    """Print a documentation TOPIC (Markdown), or list the topics."""
    base = _docs_dir()
    topics = sorted(p.name.removesuffix(".md") for p in base.iterdir() if p.name.endswith(".md"))
    if topic is None:
        _stdout("\n".join(topics))
        return
    name = topic.removesuffix(".md")
    if name not in topics:
        raise click.UsageError(f"no documentation topic {topic!r}; topics: {', '.join(topics)}")
    _stdout((base / f"{name}.md").read_text(encoding="utf-8"))


@click.command(
    "examples",
    short_help="Copy the bundled example input files into a directory.",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests examples                   copy them into the current directory
  guttests examples demo/ && guttests report demo/stool.hl7
  guttests report no_context.csv --sex F --birth-date 2019-04-02""",
)
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def examples_command(directory: Path | None) -> None:
    """Copy the bundled example files (HL7 v2, CSV, guttests JSON) into DIRECTORY (default:
    the current directory); an existing file of the same name is left alone."""
    from importlib.resources import files

    from ._examples import EXAMPLES

    target = directory or Path(".")
    target.mkdir(parents=True, exist_ok=True)
    base = files("guttests") / "_data" / "examples"
    for name in (*EXAMPLES, *_EXTRA_EXAMPLES):
        path = target / name
        if path.exists():
            click.echo(f"kept existing {path}", err=True)
            continue
        path.write_bytes((base / name).read_bytes())
        click.echo(f"wrote {path}", err=True)
