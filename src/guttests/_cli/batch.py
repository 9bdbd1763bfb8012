"""``guttests batch``: every result of a large file into NDJSON (or Parquet with Dask)."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import click

from .._errors import InputError
from ._common import (
    _CONTEXT_SETTINGS,
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
    _to_file_atomically,
    _umask_option,
)

if TYPE_CHECKING:
    from .._catalogue import Catalogue
    from .._interpret import RangePolicy
    from .._readers import CsvMapping


# --- batch -------------------------------------------------------------------------------


def compact_ranges_path(output: Path) -> Path:
    """Where ``batch --compact -o OUT`` writes ranges: ``a.ndjson`` -> ``a.ranges.ndjson``."""
    return output.with_name(f"{output.stem}.ranges.ndjson")


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


@click.command(
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
    "pays: guttests docs performance), else stream.",
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
        from .._batch import choose_engine

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
        from ..dask import interpret_parquet

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
    from .._batch import write_records
    from .._readers import iter_batch_parts

    # Results stream: a long CSV panel comes in parts that share its index, so memory does
    # not grow with the size of one panel; HL7 v2 panels come before their results are
    # built (the writer builds only those its templates do not answer).
    panels = iter_batch_parts(
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
