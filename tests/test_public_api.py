"""The public API is small, deliberate and locked: nothing leaks, nothing goes missing."""

from __future__ import annotations

import subprocess
import sys

import guttests

EXPECTED = {
    # reading
    "read", "iter_panels", "iter_results", "detect_format", "ReadItem", "CsvMapping",
    "dump_panels", "range_file_schema",
    # values and units
    "parse_value", "parse_range_text", "parse_unit", "convert", "Unit",
    "QuantityValue", "CensoredValue", "QualitativeValue", "OrdinalValue",
    # models
    "Age", "Analyte", "Applicability", "Band", "Caveat", "Citation", "Coding", "Identifier",
    "Interpretation", "OptimalAssessment", "Panel", "PatientContext", "Position", "Provenance",
    "ReferenceRange", "Result", "CalendarAge",
    # enums
    "Evidence", "Family", "InterpretationCode", "RangeCategory", "ResultStatus", "Specimen",
    "ValueKind",
    # catalogue and interpretation
    "Catalogue", "load_optimal", "validate_range_files", "RangePolicy",
    "interpret", "interpret_panel", "interpret_panels",
    # reports
    "Report", "build_report", "render", "report_schema", "result_record",
    # errors
    "GuttestsError", "InputError", "FormatError", "HL7Error", "FHIRError", "CSVError",
    "LimitExceededError", "ValueParseError", "UnitError", "RangeError", "CatalogueError",
    "ContextError", "ReportError", "GuttestsWarning",
    "__version__",
}  # fmt: skip


def test_all_is_exactly_the_public_api() -> None:
    """__all__ lists exactly the intended names, and each is importable."""
    assert set(guttests.__all__) == EXPECTED
    for name in guttests.__all__:
        assert hasattr(guttests, name), name


def test_one_exception_root() -> None:
    """Every exported exception derives from GuttestsError."""
    errors = [getattr(guttests, n) for n in guttests.__all__ if n.endswith(("Error", "Warning"))]
    assert errors
    for err in errors:
        assert issubclass(err, (guttests.GuttestsError, UserWarning)), err


def test_import_is_light() -> None:
    """Importing guttests loads no pint, lark, jinja2, pandas or FHIR machinery."""
    code = (
        "import sys, guttests; "
        "heavy = [m for m in ('pint', 'lark', 'jinja2', 'pandas', 'dask', 'fhir.resources', "
        "'hl7') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_type_hints_resolve_on_every_public_function_and_model() -> None:
    """typing.get_type_hints works on every public function, model and model method."""
    import inspect
    import typing

    import guttests.dask
    import guttests.dataframe
    import guttests.testing
    import guttests.units

    modules = (guttests, guttests.units, guttests.dataframe, guttests.dask, guttests.testing)
    checked = 0
    for module in modules:
        for name in module.__all__:
            obj = getattr(module, name)
            targets: list[object] = []
            if inspect.isclass(obj):
                targets.append(obj)
                targets += [
                    f
                    for fname, f in vars(obj).items()
                    if inspect.isfunction(f)
                    and not fname.startswith("_")
                    and f.__module__.startswith("guttests")
                ]
            elif inspect.isfunction(obj):
                targets.append(obj)
            for target in targets:
                typing.get_type_hints(target)
                checked += 1
    assert checked > 100


def test_public_modules_are_documented_homes() -> None:
    """What the docs use has a public home."""
    import guttests.dask
    import guttests.units
    from guttests._readers import jsonio

    assert guttests.units.compatible("EU/mL", "U/mL") is False
    assert guttests.dask.DaskJobError.__mro__[1] is guttests.GuttestsError
    assert guttests.dump_panels is jsonio.dump_panels
    assert guttests.range_file_schema()["$schema"].startswith("https://json-schema.org/")
