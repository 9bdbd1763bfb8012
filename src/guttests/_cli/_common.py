"""Shared pieces of the ``guttests`` command: error handling, options, output files."""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from .._errors import CatalogueError, GuttestsError, InputError

if TYPE_CHECKING:
    from .._catalogue import Catalogue
    from .._interpret import RangePolicy
    from .._readers import CsvMapping


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


def _meta_flag(option: str, key: str, help: str, *, eager: bool = False) -> Callable[[_F], _F]:
    """A flag that only records itself in the click context's ``meta[key]``."""

    def remember(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta[key] = True

    def decorate(f: _F) -> _F:
        return click.option(
            option,
            is_flag=True,
            expose_value=False,
            is_eager=eager,
            callback=remember,
            help=help,
        )(f)

    return decorate


_debug_option = _meta_flag(
    "--debug", _DEBUG_KEY, "Show the Python traceback when something goes wrong.", eager=True
)
_umask_option = _meta_flag(
    "--umask-mode",
    _UMASK_KEY,
    "Create new output files with the mode the umask gives (e.g. 0644) instead of "
    "0600 (owner only: reports hold patient data). A replaced file keeps its mode.",
)


def _error(message: str, hint: str | None = None) -> None:
    from .._safe_text import neutralise

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
            from .._safe_text import neutralise

            for w in caught:
                source = getattr(w.message, "source", None)
                shown = neutralise(_redacted(str(w.message), source))
                click.echo(f"guttests: warning: {shown}", err=True)


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
    from .._catalogue import Catalogue, load_optimal

    cat = Catalogue.load(*range_paths) if range_paths else Catalogue.default()
    optimal = load_optimal(*optimal_paths, base=cat) if optimal_paths else None
    _warn_overrides(cat)
    return cat, optimal


def _warn_overrides(cat: Catalogue) -> None:
    """Say once per command which shipped analytes and caveats a user file replaced, and
    which shipped caveats an analyte lost that way: never a silent removal."""
    from .._catalogue import Catalogue

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
    from .._interpret import RangePolicy

    return RangePolicy(prefer_lab_range=not prefer_catalogue)


def _mapping(path: Path | None) -> CsvMapping | None:
    if path is None:
        return None
    from .._readers import CsvMapping

    return CsvMapping.from_toml(path)


def _write_file(path: Path, text: str | bytes) -> None:
    """Write atomically: a reader never sees half a report."""
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    _to_file_atomically(path, lambda out: out.write(data))


def _safe(text: str) -> str:
    """Text from range files and input, made inert for a terminal (ESC, C0/C1, bidi)."""
    from .._safe_text import neutralise

    return neutralise(text)


def _stdout(text: str) -> None:
    out = sys.stdout
    out.write(text if text.endswith("\n") else text + "\n")
    out.flush()


_T = TypeVar("_T")


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


def _existing(name: str) -> Path:
    path = Path(name)
    if path.is_dir():
        raise InputError("is a directory, not a file", source=name, hint="give the file's path")
    if not path.exists():
        raise InputError(
            "no such file", source=name, hint="check the path; give - to read from stdin"
        )
    return path
