"""``guttests report``: one readable report per patient, in every format."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import click

from .._errors import InputError
from .._version import __version__
from ._common import (
    _BY_SUFFIX,
    _CONTEXT_SETTINGS,
    _REPORT_FORMATS,
    _SEPARATOR,
    _SUFFIX,
    _catalogues,
    _collect_warnings,
    _debug_option,
    _existing,
    _input_options,
    _mapping,
    _note_inputs,
    _policy,
    _range_options,
    _redact,
    _stdout,
    _umask_option,
    _write_file,
)

if TYPE_CHECKING:
    from .._models import Panel
    from .._readers import CsvMapping, InputFormat
    from .._reports import Format
    from ._context import ContextOptions


# --- report ------------------------------------------------------------------------------


def _parse_sex(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    return "female" if value.casefold() in ("f", "female") else "male"


def _parse_age(ctx: click.Context, _param: click.Parameter, value: str | None) -> object:
    if value is None:
        return None
    ctx.meta["guttests.age_text"] = value
    from .._readers.csv import parse_age

    age = parse_age(value)
    if age is None:
        raise click.BadParameter(
            f"{value!r} is not an age; write years (45) or a number and unit (6 mo, 3 wk, 10 d)"
        )
    return age


def _read_inputs(
    inputs: Sequence[str],
    input_format: InputFormat | None,
    mapping: CsvMapping | None,
    encoding: str | None,
) -> list[Panel]:
    from .. import _readers
    from .._readers import read

    panels: list[Panel] = []
    for name in inputs:
        if name == "-":
            # Streamed, as a file is: decoded and counted while it is read, so that a huge
            # stdin stops at the byte limit instead of being read whole into memory.
            limit = _readers.DEFAULT_MAX_BYTES
            stream = _readers._decoded(sys.stdin.buffer, encoding, "stdin", limit)
            panels += read(
                stream, input_format, csv_mapping=mapping, source_name="stdin", max_bytes=limit
            )
        else:
            panels += read(_existing(name), input_format, csv_mapping=mapping, encoding=encoding)
    return panels


def _read_examples() -> list[Panel]:
    from .._readers import read
    from ._examples import example_sources

    panels: list[Panel] = []
    for name, data in example_sources():
        panels += read(data, source_name=name)
    return panels


class _OutputPath(click.Path):
    """``-o``: a path ending in ``/`` names a directory, created when missing."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else value
        if isinstance(text, str) and text.endswith(("/", os.sep)) and text != "-":
            try:
                Path(text).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.fail(f"cannot create directory {text}: {exc.strerror}", param, ctx)
        return super().convert(value, param, ctx)


def _output_format(fmt: str | None, output: Path | None) -> Format:
    """--format, else the format -o's extension names; an unknown extension is an error.

    A device or FIFO (``/dev/null``, ``/dev/stdout``) names no format: text, as on stdout.
    """
    if fmt is not None:
        return cast("Format", fmt)
    if output is not None and _regular_or_new(output) and str(output) != "-":
        name = output.name.lower()
        for suffix, found in _BY_SUFFIX.items():
            if name.endswith(suffix):
                return cast("Format", found)
        raise click.UsageError(
            f"-o {output.name}: the extension names no report format; use one of "
            f"{', '.join(_BY_SUFFIX)}, or give --format"
        )
    return "text"


def _regular_or_new(path: Path) -> bool:
    """Whether ``path`` is a regular file (through links) or does not exist yet."""
    import stat

    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return True


def _default_stem(inputs: Sequence[str], example: bool) -> str:
    if example:
        return "guttests-example"
    first = inputs[0] if inputs else "-"
    return "report" if first == "-" else Path(first).name.split(".")[0] or "report"


@click.command(
    short_help="Interpret lab results; write one report per patient.",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests report --example
  guttests report lab.hl7
  guttests report lab.hl7 --format html              writes ./lab.html
  guttests report stool.hl7 perm.csv -o report.md    one report, serial results
  cat lab.hl7 | guttests report - --format json > report.json
  guttests report no_context.csv --sex F --birth-date 1980-04-02   (guttests examples)
  guttests report export.hl7 --format html -o reports/    one file per patient
                                                  (reports/ is created if missing)
  guttests report lab.hl7 --ranges my_lab.toml --optimal practice.toml

\b
--sex, --birth-date and --age fill context the input lacks; a value that contradicts
the input is a usage error. Several patients: text and md reports are concatenated;
html, json and fhir need -o DIRECTORY (one file per patient) or --patient ID.""",
)
@click.argument("inputs", nargs=-1, metavar="INPUT...", type=click.Path(allow_dash=True))
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(_REPORT_FORMATS),
    help="Report format. Default: from the -o suffix (.html, .md, .json, .fhir.json, .txt, "
    ".pdf, .hl7), else text. pdf needs the guttests[pdf] extra.",
)
@click.option(
    "--attach-pdf",
    is_flag=True,
    help="FHIR only: carry the PDF report in DiagnosticReport.presentedForm (needs guttests[pdf]).",
)
@click.option(
    "--page-size",
    type=click.Choice(["a4", "letter"], case_sensitive=False),
    default="a4",
    show_default=True,
    help="Paper size of PDF reports.",
)
@click.option(
    "-o",
    "--output",
    type=_OutputPath(dir_okay=True, path_type=Path),
    help="Write to this file, or to this directory (one file per patient; a path ending in / "
    "is created if missing). Default: stdout; HTML goes to INPUT-NAME.html in the current "
    "directory.",
)
@_range_options
@click.option(
    "--sex",
    type=click.Choice(["F", "M", "female", "male"], case_sensitive=False),
    metavar="F|M",
    callback=_parse_sex,
    help="The patient's sex, when the input does not give it.",
)
@click.option(
    "--birth-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="The patient's birth date (YYYY-MM-DD), when the input does not give it.",
)
@click.option(
    "--age",
    callback=_parse_age,
    metavar="AGE",
    help="Age at collection (45, 6 mo, 3 wk, 10 d), when the input gives no birth date.",
)
@click.option("--deidentify", is_flag=True, help="Leave out patient name, identifiers, file names.")
@click.option(
    "--fhir-systems",
    "fhir_systems_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE.toml",
    help="FHIR output: map HL7 assigning authorities ([identifier_systems]) and local coding "
    "systems ([coding_systems]) to URIs (see: guttests docs integration).",
)
@click.option("--patient", "patient_id", metavar="ID", help="Report only this patient's panels.")
@click.option(
    "--example",
    is_flag=True,
    help="Report on the bundled example panels (stool, permeability, food sensitivity).",
)
@click.option(
    "--timestamp", is_flag=True, help="Print the generation time (default: none, reproducible)."
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour flags in text reports (default: on a terminal, unless NO_COLOR is set).",
)
@_input_options
@_umask_option
@_debug_option
def report(
    inputs: tuple[str, ...],
    fmt: str | None,
    attach_pdf: bool,
    page_size: str,
    output: Path | None,
    range_paths: tuple[Path, ...],
    optimal_paths: tuple[Path, ...],
    prefer_catalogue: bool,
    sex: str | None,
    birth_date: datetime | None,
    age: Any,
    deidentify: bool,
    fhir_systems_path: Path | None,
    patient_id: str | None,
    example: bool,
    timestamp: bool,
    color: bool | None,
    input_format: str | None,
    csv_mapping: Path | None,
    encoding: str | None,
) -> None:
    """Interpret lab results and write one neutral report per patient.

    INPUT is an HL7 v2, FHIR R4, CSV or guttests JSON file (detected from its content), or -
    for stdin. Several inputs of one patient give one report, with serial results.
    """
    from ._context import ContextOptions

    if example and inputs:
        raise click.UsageError("give either INPUT files or --example, not both")
    if not example and not inputs:
        raise click.UsageError("no INPUT given (use - for stdin, or --example for a demo)")
    if inputs.count("-") > 1:
        raise click.UsageError("stdin (-) can be read only once")
    if birth_date is not None and age is not None:
        raise click.UsageError("give --birth-date or --age, not both")
    if deidentify:
        _redact(inputs, patient_id)
    _note_inputs(inputs)
    options = ContextOptions(
        sex=cast("Any", sex),
        birth_date=birth_date.date() if birth_date else None,
        age=age,
        age_text=click.get_current_context().meta.get("guttests.age_text"),
    )
    report_format = _output_format(fmt, output)
    if attach_pdf and report_format != "fhir":
        raise click.UsageError("--attach-pdf applies to --format fhir only")

    with _collect_warnings():
        panels = (
            _read_examples()
            if example
            else _read_inputs(inputs, cast("Any", input_format), _mapping(csv_mapping), encoding)
        )
    if not panels:
        names = "the examples" if example else ", ".join(inputs)
        raise InputError(
            f"no lab results found in {names}",
            hint="check that the file holds observations (OBX segments, FHIR Observations, "
            "CSV rows)",
        )
    texts = _build_reports(
        panels,
        options,
        patient_id=patient_id,
        report_format=report_format,
        range_paths=range_paths,
        optimal_paths=optimal_paths,
        prefer_catalogue=prefer_catalogue,
        deidentify=deidentify,
        timestamp=timestamp,
        color=_use_colour(color, report_format, output),
        several_ok=output is not None and output.is_dir(),
        attach_pdf=attach_pdf,
        page_size=cast("Any", page_size.lower()),
        fhir_systems=_fhir_systems(fhir_systems_path),
    )
    # De-identified: the default file name does not repeat the input's (it may name the patient).
    _emit(texts, report_format, output, _default_stem(() if deidentify else inputs, example))


def _fhir_systems(path: Path | None) -> dict[str, dict[str, str]]:
    """The ``--fhir-systems`` file: ``[identifier_systems]`` and ``[coding_systems]`` tables
    of names to absolute URIs."""
    if path is None:
        return {}
    import tomllib

    from .._reports._fhir import is_absolute_uri

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read the FHIR systems file: {exc}", source=str(path)) from exc
    out: dict[str, dict[str, str]] = {}
    for table in ("identifier_systems", "coding_systems"):
        entries = data.get(table, {})
        if not isinstance(entries, dict):
            raise InputError(f"[{table}] must be a table of names to URIs", source=str(path))
        for name, uri in entries.items():
            if not isinstance(uri, str) or not is_absolute_uri(uri):
                raise InputError(
                    f"[{table}] {name!r}: not an absolute URI",
                    source=str(path),
                    hint="write the system as an http(s) URL or a urn:oid:/urn:uuid: URN",
                )
        out[table] = dict(entries)
    unknown = set(data) - {"identifier_systems", "coding_systems"}
    if unknown:
        raise InputError(f"unknown table(s) {sorted(unknown)}", source=str(path))
    return out


def _use_colour(color: bool | None, fmt: str, output: Path | None) -> bool:
    if fmt != "text" or output is not None:
        return False
    if color is not None:
        return color
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _build_reports(
    panels: list[Panel],
    options: ContextOptions,
    *,
    patient_id: str | None,
    report_format: Format,
    range_paths: Sequence[Path],
    optimal_paths: Sequence[Path],
    prefer_catalogue: bool,
    deidentify: bool,
    timestamp: bool,
    color: bool,
    several_ok: bool,
    attach_pdf: bool = False,
    page_size: Literal["a4", "letter"] = "a4",
    fhir_systems: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str | bytes]:
    from .._interpret import interpret_panel
    from .._reports import build_report, render, render_pdf
    from ._context import annotate, fill_context, group_by_patient

    if patient_id is not None:
        panels = [p for p in panels if p.patient.patient_id == patient_id]
        if not panels:
            raise click.UsageError(f"no panel of patient {patient_id!r} in the input")
    groups = group_by_patient(panels)
    if len(groups) > 1 and options.given:
        raise click.UsageError(
            f"the input holds {len(groups)} patients: --sex, --birth-date and --age apply to "
            "one patient; add --patient ID"
        )
    if len(groups) > 1 and report_format not in _SEPARATOR and not several_ok:
        raise click.UsageError(
            f"the input holds {len(groups)} patients and one {report_format} report covers "
            "one patient. Give -o DIRECTORY (one file per patient) or --patient ID"
        )
    filled = fill_context(panels, options)
    catalogue, optimal = _catalogues(range_paths, optimal_paths)
    policy = _policy(prefer_catalogue)
    generated = datetime.now().astimezone() if timestamp else None
    texts: list[str | bytes] = []
    for group in groups:
        chosen = [filled[i] for i in group]
        group_panels = [f.panel for f in chosen]
        interps = [
            annotate(
                interpret_panel(f.panel, catalogue=catalogue, optimal=optimal, policy=policy),
                f.filled,
                options,
            )
            for f in chosen
        ]
        built = build_report(
            group_panels,
            interps,
            catalogue_hash=catalogue.content_hash,
            version=__version__,
            deidentify=deidentify,
            generated_at=generated,
            catalogue=catalogue,
        )
        systems = fhir_systems or {}
        if report_format == "pdf":
            texts.append(render_pdf(built, page_size=page_size))
        else:
            texts.append(
                render(
                    built,
                    report_format,
                    colour=color,
                    attach_pdf=attach_pdf,
                    page_size=page_size,
                    identifier_systems=systems.get("identifier_systems"),
                    coding_systems=systems.get("coding_systems"),
                )
            )
    return texts


def _emit(texts: Sequence[str | bytes], fmt: Format, output: Path | None, stem: str) -> None:
    if output is not None and output.is_dir():
        width = len(str(len(texts)))
        for n, text in enumerate(texts, 1):
            numbered = "" if len(texts) == 1 else f"-patient-{n:0{width}}"
            path = output / f"{stem}{numbered}{_SUFFIX[fmt]}"
            _write_file(path, text)
            click.echo(f"wrote {path}", err=True)
        return
    if fmt == "pdf":  # binary: a file, never the terminal
        _write_file(output or Path(f"{stem}.pdf"), texts[0])
        click.echo(f"wrote {output or Path(f'{stem}.pdf')}", err=True)
        return
    text = _SEPARATOR.get(fmt, "").join(t for t in texts if isinstance(t, str))
    if output is None and fmt == "html":
        output = Path(f"{stem}.html")
    if output is None:
        _stdout(text)
        return
    _write_file(output, text)
    click.echo(f"wrote {output}", err=True)
