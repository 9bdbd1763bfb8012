"""Bounded resources, safe files and hostile text (issue 14 §2-§6, issue 12 §5).

Each test here would have caught one defect class found by the adversarial review.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from guttests.cli import cli

BAD = Path(__file__).resolve().parent / "fixtures" / "bad"


def _run(*args: str | Path, input: bytes | str | None = None) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    return res.exit_code, res.stdout, res.stderr


# --- JSON input: duplicate keys and lone surrogates ----------------------------------------


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json", "fhir"])
def test_lone_surrogates_and_duplicate_keys_never_reach_a_renderer(fmt: str) -> None:
    """Refused lines are listed as not interpretable; no renderer fails (exit 0, no
    'internal error')."""
    code, out, err = _run(
        "report", BAD / "json_ndjson_refused_lines.ndjson", "--input-format", "json", "-f", fmt
    )
    assert code == 0, err
    assert "internal error" not in err
    assert "\ud800" not in out
    assert "\udc00" not in out


def test_lone_surrogate_in_batch_is_a_result_not_a_crash() -> None:
    code, out, err = _run(
        "batch", BAD / "json_ndjson_refused_lines.ndjson", "--input-format", "json", "-q"
    )
    assert code == 0, err
    assert len(out.splitlines()) == 3
