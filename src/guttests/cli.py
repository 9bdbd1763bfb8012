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

from collections.abc import Sequence

import click

from ._cli._common import _CONTEXT_SETTINGS, _debug_option, _Group
from ._version import __version__

__all__ = ["cli", "main"]

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


from ._cli.batch import batch  # noqa: E402  (each command module imports only click)
from ._cli.catalogue import analytes, ranges  # noqa: E402
from ._cli.docs import docs_command, examples_command  # noqa: E402
from ._cli.report import report  # noqa: E402

for _command in (report, batch, ranges, analytes, docs_command, examples_command):
    cli.add_command(_command)


# --- entry point -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``guttests`` command (the console script and ``python -m guttests``).

    With ``--debug`` an error propagates, so Python prints its traceback (exit 1).
    """
    cli.main(args=None if argv is None else list(argv), prog_name="guttests")
