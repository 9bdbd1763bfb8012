"""CLI ergonomics (issue 15): -o DIR/ is created, help points to installed docs, the bundled
files make the documented --sex/--birth-date example work."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from guttests.cli import cli


def _run(args: list[str], cwd: Path | None = None) -> tuple[int, str]:
    runner = CliRunner()
    if cwd is None:
        result = runner.invoke(cli, args)
    else:
        with runner.isolated_filesystem(temp_dir=cwd):
            result = runner.invoke(cli, args)
    return result.exit_code, result.output


def test_output_directory_ending_in_slash_is_created(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "2024"
    code, out = _run(["report", "--example", "--format", "html", "-o", f"{target}/"])
    assert code == 0, out
    written = sorted(p.name for p in target.iterdir())
    assert written
    assert all(name.endswith(".html") for name in written)


def test_output_file_without_slash_is_a_file(tmp_path: Path) -> None:
    code, out = _run(["report", "--example", "-f", "json", "-o", str(tmp_path / "r.json")])
    assert code == 0, out
    assert (tmp_path / "r.json").is_file()


def test_help_never_points_to_a_docs_path_the_wheel_lacks() -> None:
    from guttests.cli import cli as group

    ctx = group.make_context("guttests", ["--help"], resilient_parsing=True)
    texts = [group.get_help(ctx)]
    for name, command in group.commands.items():
        sub = command.make_context(name, [], parent=ctx, resilient_parsing=True)
        texts.append(command.get_help(sub))
    assert not [t for t in texts if "docs/" in t.replace("guttests docs", "")]


def test_docs_command_lists_and_prints_topics() -> None:
    code, out = _run(["docs"])
    assert code == 0
    topics = out.split()
    assert {"cli", "integration", "range-format", "units"} <= set(topics)
    code, out = _run(["docs", "range-format"])
    assert code == 0
    assert out.startswith("#")
    code, out = _run(["docs", "no-such-topic"])
    assert code == 2
    assert "topics:" in out


def test_documented_sex_birth_date_example_runs_on_a_bundled_file(tmp_path: Path) -> None:
    """`guttests examples` writes no_context.csv (no sex, no birth date); the documented
    command fills both."""
    code, out = _run(["examples", str(tmp_path)])
    assert code == 0, out
    assert (tmp_path / "no_context.csv").is_file()
    text = (tmp_path / "no_context.csv").read_text("utf-8")
    assert "Sex" not in text
    assert "DOB" not in text
    code, out = _run(
        ["report", str(tmp_path / "no_context.csv"), "--sex", "F", "--birth-date", "2019-04-02"]
    )
    assert code == 0, out
    assert "Sex female; Birth date 2019-04-02" in out


@pytest.mark.parametrize("name", ["stool.hl7", "permeability.csv", "food_sensitivity.json"])
def test_examples_command_keeps_existing_files(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("mine", encoding="utf-8")
    code, _ = _run(["examples", str(tmp_path)])
    assert code == 0
    assert (tmp_path / name).read_text("utf-8") == "mine"


def test_fhir_systems_file_maps_authorities_and_local_codes(tmp_path: Path) -> None:
    """--fhir-systems gives HL7 assigning authorities and local coding systems their URIs."""
    import json

    from guttests import read

    example = Path(__file__).resolve().parents[1] / "src" / "guttests" / "_data" / "examples"
    local = {
        c.system for p in read(example / "stool.hl7") for r in p.results for c in r.all_codes()
    } - {None, "LN"}
    assert local
    name = sorted(s for s in local if s)[0]
    config = tmp_path / "systems.toml"
    config.write_text(
        f'[coding_systems]\n"{name}" = "https://lab.example/fhir/CodeSystem/tests"\n',
        encoding="utf-8",
    )
    out_path = tmp_path / "r.fhir.json"
    code, out = _run(
        ["report", str(example / "stool.hl7"), "--fhir-systems", str(config), "-o", str(out_path)]
    )
    assert code == 0, out
    text = out_path.read_text("utf-8")
    assert "https://lab.example/fhir/CodeSystem/tests" in text
    json.loads(text)


def test_fhir_systems_file_refuses_non_uris(tmp_path: Path) -> None:
    config = tmp_path / "systems.toml"
    config.write_text('[identifier_systems]\nHOSP = "MRN"\n', encoding="utf-8")
    code, out = _run(["report", "--example", "-f", "fhir", "--fhir-systems", str(config)])
    assert code == 1
    assert "not an absolute URI" in out
