"""The ``guttests`` command: reports, bulk interpretation, and the range catalogue.

Only :mod:`click` is imported at start-up; each command imports the readers,
engine and renderers it needs, so a text report never loads the HTML or FHIR
machinery. Errors are one or two plain sentences on stderr (``--debug``
shows the traceback); stdout carries nothing but the requested output.

Exit codes: 0 written (even when some results were not interpretable),
1 input that could not be read, 2 usage errors.

>>> from click.testing import CliRunner
>>> result = CliRunner().invoke(cli, ["ranges", "schema"])
>>> result.exit_code, '"guttests-ranges/1"' in result.output
(0, True)
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar, cast

import click

from ._errors import CatalogueError, GuttestsError, InputError
from ._version import __version__

if TYPE_CHECKING:
    from ._catalogue import Catalogue
    from ._cli._context import ContextOptions
    from ._interpret import RangePolicy
    from ._models import Panel
    from ._readers import CsvMapping, InputFormat
    from ._reports import Format

__all__ = ["cli", "main"]

_F = TypeVar("_F", bound=Callable[..., Any])

_DEBUG_KEY = "guttests.debug"
_UMASK_KEY = "guttests.umask"
_REPORT_FORMATS = ("text", "md", "html", "json", "fhir", "pdf", "hl7")
_INPUT_FORMATS = ("hl7v2", "fhir", "csv", "json")
_FAMILIES = ("permeability", "stool", "food_sensitivity", "other")
_SUFFIX = {
    "text": ".txt",
    "md": ".md",
    "html": ".html",
    "json": ".json",
    "fhir": ".fhir.json",
    "pdf": ".pdf",
    "hl7": ".hl7",
}
_BY_SUFFIX = {
    ".fhir.json": "fhir",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".json": "json",
    ".txt": "text",
    ".pdf": "pdf",
    ".hl7": "hl7",
}
_SEPARATOR = {"text": "\n" + "=" * 100 + "\n\n", "md": "\n\n---\n\n", "hl7": ""}
_CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# --- errors ------------------------------------------------------------------------------


def _debugging(ctx: click.Context) -> bool:
    return bool(ctx.meta.get(_DEBUG_KEY)) or os.environ.get("GUTTESTS_DEBUG") == "1"


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_DEBUG_KEY] = True


def _debug_option(f: _F) -> _F:
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show the Python traceback when something goes wrong.",
    )(f)


def _set_umask_mode(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_UMASK_KEY] = True


def _umask_option(f: _F) -> _F:
    return click.option(
        "--umask-mode",
        is_flag=True,
        expose_value=False,
        callback=_set_umask_mode,
        help="Create new output files with the mode the umask gives (e.g. 0644) instead of "
        "0600 (owner only: reports hold patient data). A replaced file keeps its mode.",
    )(f)


def _error(message: str, hint: str | None = None) -> None:
    from ._safe_text import neutralise

    click.echo(f"guttests: error: {neutralise(_redacted(message))}", err=True)
    if hint:
        click.echo(f"hint: {neutralise(_redacted(hint))}", err=True)


_REDACT_KEY = "guttests.redact"


def _redact(names: Sequence[str], patient_id: str | None = None) -> None:
    """Under ``--deidentify``, messages name the inputs by position (``input 1``), never by
    the file name (it may name the patient), and never quote the ``--patient`` value."""
    table: dict[str, str] = {}
    for n, name in enumerate(names, 1):
        if name == "-":
            continue
        table[name] = f"input {n}"
        table.setdefault(Path(name).name, f"input {n}")
    if patient_id:
        table[repr(patient_id)] = "(the given patient)"  # as messages quote it
    click.get_current_context().meta[_REDACT_KEY] = table


def _redaction() -> dict[str, str]:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_REDACT_KEY, {}) if ctx is not None else {}


def _redacted(text: str, source: str | None = None) -> str:
    """``text`` with the inputs' names replaced (under ``--deidentify``): the ``source`` a
    message starts with, then names that look like files (a dot or a slash) and the quoted
    ``--patient`` value wherever they stand as whole words. A bare name such as ``12`` is
    replaced only as the message's source, so that "line 12" stays."""
    table = _redaction()
    if not table:
        return text
    import re

    if source and source in table and text.startswith(source):
        text = table[source] + text[len(source) :]
    for name in sorted(table, key=len, reverse=True):
        if name and (any(c in name for c in "./\\") or name.startswith("'")):
            # Whole names only: a file "lab.csv" must not change "mylab.csv" or "lab.csv.bak".
            pattern = rf"(?<![\w.\-/]){re.escape(name)}(?![\w\-]|\.\w)"
            alias = table[name]
            text = re.sub(pattern, lambda _m: alias, text)  # noqa: B023 - used at once
    return text


# The library's hints name Python arguments; on the command line they are options.
_HINT_OPTIONS = (
    ("pass format= to force one", "--input-format forces one"),
    ("pass encoding='latin-1' (or 'cp1252')", "pass --encoding latin-1 (or cp1252)"),
    ("pass max_results=None (or a higher limit)", "pass a higher --max-results"),
    ("name the columns in CsvMapping(columns=...)", "name the columns in a --csv-mapping file"),
)


def _guttests_message(exc: GuttestsError) -> tuple[str, str | None]:
    text = str(exc)
    hint = exc.hint
    if hint:
        text = text.removesuffix(f". Hint: {hint}")
        for api, option in _HINT_OPTIONS:
            hint = hint.replace(api, option)
    if hint is None and isinstance(exc, CatalogueError):
        hint = "the range file format is described by: guttests docs range-format"
    elif hint is None and isinstance(exc, InputError):
        hint = (
            "guttests reads HL7 v2 (ORU^R01), FHIR R4 JSON, CSV with a header row and "
            "guttests JSON; --input-format forces one, --debug shows the details"
        )
    return text, hint


class _Group(click.Group):
    """Turns errors into one or two sentences and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.ClickException as exc:
            vars(exc)["message"] = _redacted(exc.message)  # Final in the stubs
            raise
        except (click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader of our stdout went away (``| head``): stop quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(1)
        except KeyboardInterrupt:
            if _debugging(ctx):
                raise
            _error("interrupted")
            ctx.exit(130)
        except GuttestsError as exc:
            if _debugging(ctx):
                raise
            if exc.source in _redaction():
                exc.source = _redaction()[exc.source]
            _error(*_guttests_message(exc))
            ctx.exit(1)
        except UnicodeError as exc:
            # A decoder's own error (utf-16 without a byte-order mark): the --encoding given
            # does not fit the input. Decoding errors with a position are InputErrors.
            if _debugging(ctx) or not ctx.meta.get(_ENCODING_KEY):
                raise
            raise click.BadParameter(
                f"cannot read the input as {ctx.meta[_ENCODING_KEY]} ({exc}); utf-16 and "
                "utf-32 need a byte-order mark: give utf-16-le, utf-16-be, utf-32-le or "
                "utf-32-be",
                param_hint="'--encoding'",
            ) from exc
        except OSError as exc:
            if _debugging(ctx):
                raise
            where = f"{_redacted(str(exc.filename))}: " if exc.filename else ""
            _error(f"{where}{exc.strerror or exc}", "check the path and its permissions")
            ctx.exit(1)
        except Exception as exc:
            if _debugging(ctx):
                raise
            # Only the type: the text of an unexpected error may quote patient data.
            _error(
                f"internal error ({type(exc).__name__})",
                "run the same command with --debug and report the traceback",
            )
            ctx.exit(1)


@contextmanager
def _collect_warnings() -> Iterator[None]:
    """Show readers' warnings as plain ``warning:`` lines on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            from ._safe_text import neutralise

            for w in caught:
                source = getattr(w.message, "source", None)
                shown = neutralise(_redacted(str(w.message), source))
                click.echo(f"guttests: warning: {shown}", err=True)


# --- the group ---------------------------------------------------------------------------


@click.group(
    cls=_Group,
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests report --example                     a full report on the bundled example panels
  guttests report lab.hl7                       text report on the terminal
  guttests report lab.hl7 --format html         writes lab.html
  guttests batch export.ndjson -o out.ndjson    bulk interpretation, streaming
  guttests ranges list                          the shipped reference ranges
  guttests analytes --family stool              known analytes, aliases, units, LOINC

Exit codes: 0 written, 1 input could not be read, 2 usage error.""",
)
@click.version_option(
    __version__, "--version", prog_name="guttests", message="%(prog)s %(version)s"
)
@_debug_option
def cli() -> None:
    """Interpret gut-health lab results against cited reference ranges.

    Reads HL7 v2 ORU^R01, FHIR R4, CSV and guttests JSON; writes neutral reports that state
    the value, the range it was compared with and the range's source. No diagnosis.
    """


# --- shared options ----------------------------------------------------------------------


def _range_options(f: _F) -> _F:
    f = click.option(
        "--prefer-catalogue",
        is_flag=True,
        help="Compare with the catalogue's range first; the lab's range is used only when no "
        "catalogue range applies (default: the lab's own range wins).",
    )(f)
    f = click.option(
        "--optimal",
        "optimal_paths",
        multiple=True,
        type=click.Path(dir_okay=True, path_type=Path),
        metavar="PATH",
        help="A practitioner (optimal) range set, reported beside the reference range, "
        "never instead of it. Repeatable.",
    )(f)
    return click.option(
        "--ranges",
        "range_paths",
        multiple=True,
        type=click.Path(dir_okay=True, path_type=Path),
        metavar="PATH",
        help="A range file or directory of *.toml files that adds to or overrides the shipped "
        "catalogue. Repeatable; later files win.",
    )(f)


def _input_options(f: _F) -> _F:
    f = click.option(
        "--encoding",
        metavar="NAME",
        callback=_check_encoding,
        help="Text encoding of the input (default UTF-8), e.g. latin-1 or cp1252.",
    )(f)
    f = click.option(
        "--csv-mapping",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        metavar="PATH",
        help="A TOML file naming the columns of a CSV export (see: guttests docs input-formats).",
    )(f)
    return click.option(
        "--input-format",
        type=click.Choice(_INPUT_FORMATS),
        help="Read the input as this format instead of detecting it.",
    )(f)


_ENCODING_KEY = "guttests.encoding"


def _check_encoding(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A text encoding for files: not a bytes-to-bytes codec (rot13's cousins hex, base64,
    bz2), not punycode/idna (domain names)."""
    if value is None:
        return None
    import codecs

    try:
        info = codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(
            f"unknown encoding {value!r} (e.g. utf-8, latin-1, cp1252, utf-16-le)"
        ) from None
    if not getattr(info, "_is_text_encoding", True) or info.name in ("rot-13", "rot13"):
        raise click.BadParameter(
            f"{value!r} is not a text encoding (e.g. utf-8, latin-1, cp1252, utf-16-le)"
        )
    if info.name in ("punycode", "idna"):
        raise click.BadParameter(f"{value!r} encodes domain names, not files")
    ctx.meta[_ENCODING_KEY] = value
    return value


def _catalogues(
    range_paths: Sequence[Path], optimal_paths: Sequence[Path]
) -> tuple[Catalogue, Catalogue | None]:
    from ._catalogue import Catalogue, load_optimal

    cat = Catalogue.load(*range_paths) if range_paths else Catalogue.default()
    optimal = load_optimal(*optimal_paths, base=cat) if optimal_paths else None
    _warn_overrides(cat)
    return cat, optimal


def _warn_overrides(cat: Catalogue) -> None:
    """Say once per command which shipped analytes and caveats a user file replaced, and
    which shipped caveats an analyte lost that way: never a silent removal."""
    from ._catalogue import Catalogue

    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        if ctx.meta.get("guttests.overrides_warned"):
            return
        ctx.meta["guttests.overrides_warned"] = True
    shipped = Catalogue.default()
    for over in cat.overridden:
        if over.kind == "range" or shipped.source_of(over.kind, over.id) != over.previous_source:
            continue  # ranges are labelled "user" in every report; user-over-user is theirs
        lost = ""
        if over.kind == "analyte":
            before, now = shipped.analyte(over.id), cat.analyte(over.id)
            gone = [c for c in (before.caveats if before else ()) if now and c not in now.caveats]
            if gone:
                lost = f"; its shipped caveats {', '.join(gone)} no longer apply"
        click.echo(
            _safe(
                f"guttests: warning: {over.source} replaces the shipped {over.kind} "
                f"{over.id!r}{lost}; reports label it as user content"
            ),
            err=True,
        )


def _policy(prefer_catalogue: bool) -> RangePolicy:
    from ._interpret import RangePolicy

    return RangePolicy(prefer_lab_range=not prefer_catalogue)


def _mapping(path: Path | None) -> CsvMapping | None:
    if path is None:
        return None
    from ._readers import CsvMapping

    return CsvMapping.from_toml(path)


# --- report ------------------------------------------------------------------------------


def _parse_sex(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    return "female" if value.casefold() in ("f", "female") else "male"


def _parse_age(ctx: click.Context, _param: click.Parameter, value: str | None) -> object:
    if value is None:
        return None
    ctx.meta["guttests.age_text"] = value
    from ._readers.csv import parse_age

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
    from . import _readers
    from ._readers import read

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


def _existing(name: str) -> Path:
    path = Path(name)
    if path.is_dir():
        raise InputError("is a directory, not a file", source=name, hint="give the file's path")
    if not path.exists():
        raise InputError(
            "no such file", source=name, hint="check the path; give - to read from stdin"
        )
    return path


def _read_examples() -> list[Panel]:
    from ._cli._examples import example_sources
    from ._readers import read

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


def _write_file(path: Path, text: str | bytes) -> None:
    """Write atomically: a reader never sees half a report."""
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    _to_file_atomically(path, lambda out: out.write(data))


def _safe(text: str) -> str:
    """Text from range files and input, made inert for a terminal (ESC, C0/C1, bidi)."""
    from ._safe_text import neutralise

    return neutralise(text)


def _stdout(text: str) -> None:
    out = sys.stdout
    out.write(text if text.endswith("\n") else text + "\n")
    out.flush()


@cli.command(
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
    from ._cli._context import ContextOptions

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

    from ._reports._fhir import is_absolute_uri

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
    from ._cli._context import annotate, fill_context, group_by_patient
    from ._interpret import interpret_panel
    from ._reports import build_report, render, render_pdf

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


# --- batch -------------------------------------------------------------------------------


class _Progress:
    """A counter line on stderr, redrawn at most a few times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0

    def update(self, results: int, panels: int) -> None:
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.2:
            self._last = now
            click.echo(f"\r{results:,} results in {panels:,} panels", err=True, nl=False)

    def close(self) -> None:
        if self.enabled and self._last:
            click.echo("\r\033[K", err=True, nl=False)


@cli.command(
    short_help="Interpret a large file into NDJSON, streaming.",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests batch export.ndjson -o interpreted.ndjson
  guttests batch big.hl7 -o out.ndjson --ranges my_lab.toml --quiet
  cat export.csv | guttests batch - > out.ndjson
  guttests batch --engine dask --workers 2 lake/results/ -o lake/interpreted/

\b
One JSON object per result (the shape of a result in the JSON report), one line each,
in input order. The input is read incrementally: memory stays constant however large
it is. The output file appears only when the whole input was read.

\b
With --engine dask, INPUT is a Parquet file or directory in the CSV column set and -o a
directory: the interpretation columns are appended row for row (needs guttests[dask]).""",
)
@click.argument("source", metavar="INPUT", type=click.Path(allow_dash=True))
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    type=click.Path(allow_dash=True, path_type=Path),
    help="The NDJSON file to write (- for stdout); a directory with --engine dask.",
)
@_range_options
@click.option("--deidentify", is_flag=True, help="Leave out file names from the records.")
@click.option("-q", "--quiet", is_flag=True, help="No progress line and no final count.")
@click.option(
    "--engine",
    type=click.Choice(["auto", "stream", "dask"]),
    default="auto",
    show_default=True,
    help="stream: one process, any input format. dask: Parquet in, Parquet out, on Dask. "
    "auto: dask for Parquet input (in this process below the size where a local cluster "
    "pays, see docs/performance.md), else stream.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Dask worker processes on this machine (default: one per CPU; 0: in-process).",
)
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@click.option("--overwrite", is_flag=True, help="Replace an existing Dask output directory.")
@click.option(
    "--max-results",
    type=click.IntRange(min=1),
    default=None,
    help="Stop with an error after this many results (default: no limit).",
)
@click.option(
    "--compact",
    is_flag=True,
    help="Write each distinct range once, to OUTPUT's .ranges.ndjson beside it; records "
    'carry "range_ref" instead of the "range" object.',
)
@_input_options
@_umask_option
@_debug_option
def batch(
    source: str,
    output: Path,
    range_paths: tuple[Path, ...],
    optimal_paths: tuple[Path, ...],
    prefer_catalogue: bool,
    deidentify: bool,
    quiet: bool,
    max_results: int | None,
    input_format: str | None,
    csv_mapping: Path | None,
    encoding: str | None,
    engine: str = "auto",
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    compact: bool = False,
) -> None:
    """Interpret every result of a large file into NDJSON, streaming, in constant memory."""
    if deidentify:
        _redact([source])
    _note_inputs([source])
    catalogue, optimal = _catalogues(range_paths, optimal_paths)
    policy = _policy(prefer_catalogue)
    mapping = _mapping(csv_mapping)
    if engine == "auto":
        from ._batch import choose_engine

        engine, workers = choose_engine(source, workers, scheduler)
    if engine == "dask":
        if source == "-" or str(output) == "-":
            raise click.UsageError(
                "--engine dask reads a Parquet file or directory and writes -o DIR"
            )
        if deidentify or max_results or input_format or encoding or compact:
            raise click.UsageError(
                "--deidentify, --max-results, --input-format, --encoding and --compact do not "
                "apply to "
                "--engine dask (Parquet in, Parquet out)"
            )
        from .dask import interpret_parquet

        summary = interpret_parquet(
            source,
            output,
            workers=workers,
            scheduler=scheduler,
            catalogue=catalogue,
            optimal=optimal,
            policy=policy,
            mapping=mapping,
            overwrite=overwrite,
        )
        if not quiet:
            click.echo(
                f"{summary.rows:,} results in {summary.partitions:,} partitions: "
                f"{summary.interpreted:,} interpreted, {summary.not_interpretable:,} not "
                f"interpretable; written to {summary.output_dir}",
                err=True,
            )
        return
    if workers is not None or scheduler or overwrite:
        raise click.UsageError("--workers, --scheduler and --overwrite go with --engine dask")
    if output.is_dir():
        raise click.UsageError(f"-o {output} is a directory; batch writes one NDJSON file")
    to_stdout = str(output) == "-"
    progress = _Progress(not quiet and sys.stderr.isatty())
    run = functools.partial(
        _run_batch,
        catalogue=catalogue,
        optimal=optimal,
        policy=policy,
        mapping=mapping,
        input_format=input_format,
        encoding=encoding,
        deidentify=deidentify,
        max_results=max_results,
        progress=progress,
    )
    if compact and to_stdout:
        raise click.UsageError("--compact writes a ranges file beside -o FILE: give -o")
    with _collect_warnings(), _batch_source(source, encoding) as src:
        try:
            if to_stdout:
                counts = run(src, sys.stdout.buffer)
            elif compact:
                counts = _to_file_atomically(
                    compact_ranges_path(output),
                    lambda ranges: _to_file_atomically(
                        output, lambda out: run(src, out, ranges_out=ranges)
                    ),
                )
            else:
                counts = _to_file_atomically(output, lambda out: run(src, out))
        finally:
            progress.close()
    if not quiet:
        total, interpreted, panels = counts
        where = "stdout" if to_stdout else str(output)
        click.echo(
            f"{total:,} results in {panels:,} panels: {interpreted:,} interpreted, "
            f"{total - interpreted:,} not interpretable; written to {where}",
            err=True,
        )


_T = TypeVar("_T")


def compact_ranges_path(output: Path) -> Path:
    """Where ``batch --compact -o OUT`` writes ranges: ``a.ndjson`` -> ``a.ranges.ndjson``."""
    return output.with_name(f"{output.stem}.ranges.ndjson")


_INPUTS_KEY = "guttests.inputs"


def _note_inputs(names: Sequence[str]) -> None:
    """Remember the input files: an output never replaces one of them."""
    click.get_current_context().meta[_INPUTS_KEY] = [Path(n) for n in names if n != "-"]


class _Terminated(SystemExit):
    """SIGTERM while an output file is written: unwinds like Ctrl-C, so the temporary
    file is removed; the exit status is 143 (128 + SIGTERM)."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated(143)


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_not_an_input(path: Path) -> None:
    ctx = click.get_current_context(silent=True)
    inputs: list[Path] = ctx.meta.get(_INPUTS_KEY, []) if ctx is not None else []
    for given in inputs:
        try:
            same = os.path.samefile(given, path)
        except OSError:
            continue  # one of them does not exist: not the same file
        if same:
            raise click.UsageError(
                f"the output {path} is the input {given}; an input is never overwritten. "
                "Give another -o path"
            )


def _to_file_atomically(path: Path, write: Callable[[IO[bytes]], _T]) -> _T:
    """Call ``write`` on a temporary file that replaces ``path`` only when it succeeds.

    ``path`` through a symbolic link is its target (the link stays); something that is not
    a regular file (a FIFO, ``/dev/null``, ``/dev/stdout``) is written to directly, never
    replaced. An input file is never the output. A replaced file keeps its mode; a new one
    is 0600 (or the umask's with ``--umask-mode``). SIGTERM, like Ctrl-C, removes the
    temporary file. Errors name ``path`` as the user gave it, never the temporary name.
    """
    import stat

    _check_not_an_input(path)
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    if st is not None and not stat.S_ISREG(st.st_mode):
        try:
            with open(path, "wb") as direct:
                return write(direct)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
    target = Path(os.path.realpath(path))
    directory = target.parent
    with _sigterm_unwinds():
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        try:
            with os.fdopen(fd, "wb") as out:
                got = write(out)
            if st is not None:
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
            elif click.get_current_context().meta.get(_UMASK_KEY):
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, target)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise OSError(exc.errno, exc.strerror, str(path)) from exc
            raise
    return got


@contextmanager
def _batch_source(source: str, encoding: str | None) -> Iterator[Path | IO[str]]:
    if source != "-":
        yield _existing(source)
        return
    import io

    stream = io.TextIOWrapper(
        sys.stdin.buffer,
        encoding=encoding or "utf-8-sig",
        errors="strict",
        newline="",
    )
    try:
        yield stream
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not {exc.encoding} ({exc.reason})",
            source="stdin",
            hint="pass --encoding latin-1 (or cp1252), or re-export the file as UTF-8",
        ) from exc
    finally:
        stream.detach()


def _run_batch(
    src: Path | IO[str],
    out: IO[bytes],
    *,
    catalogue: Catalogue,
    optimal: Catalogue | None,
    policy: RangePolicy,
    mapping: CsvMapping | None,
    input_format: str | None,
    encoding: str | None,
    deidentify: bool,
    max_results: int | None,
    progress: _Progress,
    ranges_out: IO[bytes] | None = None,
) -> tuple[int, int, int]:
    from ._batch import write_records
    from ._readers import iter_panel_parts

    # Results stream: a long CSV panel comes in parts that share its index, so memory does
    # not grow with the size of one panel.
    panels = iter_panel_parts(
        src,
        cast("Any", input_format),
        csv_mapping=mapping,
        encoding=encoding if isinstance(src, Path) else None,
        source_name="stdin" if not isinstance(src, Path) else None,
        max_bytes=None,
        max_results=max_results,
    )
    total, interpreted, count = write_records(
        panels,
        out,
        catalogue=catalogue,
        optimal=optimal,
        policy=policy,
        deidentify=deidentify,
        ranges_out=ranges_out,
        progress=progress.update,
    )
    out.flush()
    return total, interpreted, count


# --- catalogue commands ------------------------------------------------------------------


@cli.group(
    short_help="Browse the range catalogue; validate your range files.",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests ranges list --family stool
  guttests ranges show calprotectin
  guttests ranges show "Faecal calprotectin" --ranges my_lab.toml
  guttests ranges validate my_lab.toml
  guttests ranges schema > schema.json""",
)
def ranges() -> None:
    """Browse the reference-range catalogue and check your own range files."""


def _catalogue_option(f: _F) -> _F:
    return click.option(
        "--ranges",
        "range_paths",
        multiple=True,
        type=click.Path(dir_okay=True, path_type=Path),
        metavar="PATH",
        help="Include this range file or directory (repeatable), as report --ranges does.",
    )(f)


def _family_option(f: _F) -> _F:
    return click.option(
        "--family", type=click.Choice(_FAMILIES), help="Only analytes of this family."
    )(f)


@ranges.command(
    "list",
    context_settings=_CONTEXT_SETTINGS,
    epilog="\b\nExamples:\n  guttests ranges list\n  guttests ranges list --family permeability",
)
@_family_option
@_catalogue_option
@_debug_option
def ranges_list(family: str | None, range_paths: tuple[Path, ...]) -> None:
    """List every range: id, analyte, category, origin, unit, what it applies to, interval."""
    from ._cli._tables import range_line, table

    cat, _ = _catalogues(range_paths, ())
    families = {a.id: a.family.value for a in cat.analytes}
    rows = [
        range_line(cat, r)
        for r in cat.ranges
        if family is None or families.get(r.analyte or "") == family
    ]
    headers = ["RANGE", "ANALYTE", "CATEGORY", "ORIGIN", "UNIT", "APPLIES TO", "REFERENCE"]
    _stdout(_safe(table(headers, rows)))


@ranges.command(
    "show",
    context_settings=_CONTEXT_SETTINGS,
    epilog='\b\nExamples:\n  guttests ranges show calprotectin\n  guttests ranges show "LPS IgG"',
)
@click.argument("analyte")
@_catalogue_option
@_debug_option
def ranges_show(analyte: str, range_paths: tuple[Path, ...]) -> None:
    """Show one analyte (by id, name, alias or LOINC code): its ranges, sources and notes."""
    from ._cli._tables import describe_analyte
    from ._models import Coding

    cat, _ = _catalogues(range_paths, ())
    found = cat.analyte(analyte) or cat.resolve(
        analyte, [Coding(system="http://loinc.org", code=analyte)]
    )
    if found is None:
        close = cat.suggest(analyte)
        hint = f"; closest known: {', '.join(close)}" if close else ""
        raise click.BadParameter(
            f"no analyte {analyte!r} in the catalogue{hint} (see guttests analytes)",
            param_hint="ANALYTE",
        )
    _stdout(_safe(describe_analyte(cat, found)))


@ranges.command(
    "validate",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests ranges validate my_lab.toml
  guttests ranges validate my_ranges/ --optimal

\b
Errors name the file and the entry (exit 1). Warnings (gaps between bands, ranges
without bands, shared names, overrides) are printed; the set is valid (exit 0).""",
)
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH..."
)
@click.option("--optimal", is_flag=True, help="Check the files as a practitioner (optimal) set.")
@_debug_option
def ranges_validate(paths: tuple[Path, ...], optimal: bool) -> None:
    """Check range files exactly as they are loaded; print warnings."""
    from ._catalogue import load_optimal, validate_range_files

    for path in paths:
        if not path.exists():
            raise InputError("no such file or directory", source=str(path))
    found = validate_range_files(*paths)
    if optimal:
        load_optimal(*paths)
    for w in found:
        click.echo(_safe(f"warning: {w}"))
    kind = "practitioner range set" if optimal else "range set"
    names = ", ".join(str(p) for p in paths)
    count = f"{len(found)} warning{'s' if len(found) != 1 else ''}"
    click.echo(f"{names}: valid {kind} ({count})")


@ranges.command(
    "schema",
    context_settings=_CONTEXT_SETTINGS,
    epilog="\b\nExample:\n  guttests ranges schema > guttests-ranges.schema.json",
)
@_debug_option
def ranges_schema() -> None:
    """Print the JSON Schema of range files (for editors and CI)."""
    import json

    from ._catalogue import range_file_schema

    _stdout(json.dumps(range_file_schema(), indent=2, ensure_ascii=False, sort_keys=True))


@cli.command(
    short_help="List known analytes: aliases, units, LOINC codes.",
    context_settings=_CONTEXT_SETTINGS,
    epilog="""\b
Examples:
  guttests analytes
  guttests analytes --family stool
  guttests analytes --format json --ranges my_lab.toml""",
)
@_family_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@_catalogue_option
@_debug_option
def analytes(family: str | None, fmt: str, range_paths: tuple[Path, ...]) -> None:
    """The known analytes: id, name, specimen, unit, LOINC codes and the aliases matched."""
    from ._cli._tables import analyte_record, table

    cat, _ = _catalogues(range_paths, ())
    chosen = [a for a in cat.analytes if family is None or a.family.value == family]
    if fmt == "json":
        import json

        _stdout(
            _safe(json.dumps([analyte_record(a) for a in chosen], indent=2, ensure_ascii=False))
        )
        return
    rows = [
        [
            a.id,
            a.family.value,
            a.specimen.value,
            a.unit or "",
            ", ".join(a.loinc),
            "; ".join((a.name, *a.aliases)),
        ]
        for a in chosen
    ]
    headers = ["ID", "FAMILY", "SPECIMEN", "UNIT", "LOINC", "NAME AND ALIASES"]
    _stdout(_safe(table(headers, rows, wrap_last=50)))


# --- documentation and example files (installed with the package) -----------------------

_EXTRA_EXAMPLES = ("no_context.csv",)
"""Bundled example files beyond those of ``report --example``: ``no_context.csv`` has no
sex or birth date (for the --sex/--birth-date example of the docs)."""


def _docs_dir() -> Any:
    from importlib.resources import files

    packaged = files("guttests") / "_docs"
    if packaged.is_dir():
        return packaged
    # a source checkout or editable install: the repository's docs/
    return Path(__file__).resolve().parents[2] / "docs"


@cli.command(
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


@cli.command(
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

    from ._cli._examples import EXAMPLES

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


# --- entry point -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``guttests`` command (the console script and ``python -m guttests``).

    With ``--debug`` an error propagates, so Python prints its traceback (exit 1).
    """
    cli.main(args=None if argv is None else list(argv), prog_name="guttests")
