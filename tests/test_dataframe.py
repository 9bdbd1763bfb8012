"""The columnar batch API: every row is interpreted exactly as the single-result path does."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

from guttests import Catalogue, CsvMapping, GuttestsError, RangePolicy  # noqa: E402
from guttests._interpret import interpret_panel  # noqa: E402
from guttests._readers.csv import read_csv  # noqa: E402
from guttests._reports import result_record  # noqa: E402
from guttests.dataframe import (  # noqa: E402
    OUTPUT_COLUMNS,
    FrameError,
    MissingDependencyError,
    interpret_frame,
    output_meta,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "dataframe"
CATALOGUE = Catalogue.default()

# --- the reference: CSV reader + single-result engine ------------------------------------


def frame_to_csv(df: pd.DataFrame) -> str:
    """The frame as the CSV export it stands for (missing cells empty)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([str(c) for c in df.columns])
    for row in df.itertuples(index=False):
        w.writerow(["" if v is None else str(v) for v in row])
    return buf.getvalue()


def expected_rows(
    df: pd.DataFrame,
    *,
    catalogue: Catalogue | None = CATALOGUE,
    optimal: Catalogue | None = None,
    policy: RangePolicy | None = None,
    mapping: CsvMapping | None = None,
) -> list[dict[str, Any]]:
    """One dict per row from ``read_csv`` then ``interpret`` per result."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reader's notes on unread columns and dates
        panels = read_csv(frame_to_csv(df), mapping=mapping)
    out = []
    for panel in panels:
        for interp in interpret_panel(
            panel, catalogue=catalogue, optimal=optimal, policy=policy or RangePolicy()
        ):
            rec = result_record(interp)
            rng = rec["range"] or {}
            pos = rec["position"] or {}
            out.append(
                {
                    "analyte": interp.analyte,
                    "status": rec["status"],
                    "interpretation": rec["interpretation"],
                    "band": rec["band"],
                    "range_low": rng.get("low"),
                    "range_high": rng.get("high"),
                    "range_unit": rng.get("unit"),
                    "range_text": rng.get("text"),
                    "range_source": rng.get("source"),
                    "range_origin": interp.range_origin,
                    "reason": rec["reason"],
                    "value_in_range_unit": rec["value_in_range_unit"],
                    "position_times_upper_limit": pos.get("times_upper_limit"),
                }
            )
    return out


def _plain(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def got_rows(out: pd.DataFrame, prefix: str = "") -> list[dict[str, Any]]:
    return [
        {k: _plain(rec[prefix + k]) for k in OUTPUT_COLUMNS}
        for rec in out.to_dict(orient="records")
    ]


def assert_same(df: pd.DataFrame, **kw: Any) -> pd.DataFrame:
    out = interpret_frame(df, **kw)
    assert len(out) == len(df)
    assert list(out.index) == list(df.index)
    got, want = got_rows(out), expected_rows(df, **kw)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"row {i}: {df.iloc[i].to_dict()}"
        if g["status"] == "not_interpretable":
            assert g["reason"]
    return out


# --- generated frames ----------------------------------------------------------------------

HEADERS = {
    "name": "Test",
    "loinc": "LOINC",
    "code": "Code",
    "value": "Result",
    "unit": "Units",
    "reference_range": "Reference Range",
    "flag": "Flag",
    "specimen": "Specimen",
    "status": "Status",
    "sex": "Sex",
    "age": "Age",
    "birth_date": "DOB",
    "collected": "Collected",
    "lab": "Lab",
    "method": "Method",
    "patient_id": "Patient ID",
}

NAMES = [
    "Calprotectin, Feces",
    "Faecal calprotectin",
    "Pancreatic Elastase 1",
    "Secretory IgA",
    "Zonulin",
    "Giardia",
    "Occult blood",
    "Eosinophil protein X",
    "Mystery marker",
    "Specific IgE",
    None,
]
LOINCS = [None, None, "38445-3", "25907-7", "99999-9"]
CODES = [None, None, "CALP", "ELA1"]
NUMBERS = st.one_of(
    st.floats(0, 2000, allow_nan=False).map(lambda x: f"{x:.1f}"),
    st.integers(0, 600).map(str),
    st.sampled_from(["0", "50", "50.0", "50.1", "120", "120.1", "200", "100", "-3", "1.2e5"]),
)
VALUES = st.one_of(
    NUMBERS,
    NUMBERS,
    st.sampled_from(
        [
            "<10",
            "<=50",
            ">200",
            ">=120.1",
            "<dl",
            "OOR >",
            "Not Detected",
            "Detected",
            "Positive",
            "Neg",
            "Rare",
            "Class 3",
            "??",
            "45 H",
            "12 ug/g",
            "",
            "1,5",
            "inf",
            "1e400",
        ]
    ),
)
UNITS = [None, "ug/g", "ug/g", "mg/kg", "µg/g", "ng/mL", "mg/L", "furlongs", "%", ""]
RANGES = [None, None, "<=50", "20-48", "100 to 200", ">200", "Negative", "Not Detected", "abc"]
SPECIMENS = [None, "stool", "Serum", "swab"]
STATUSES = [None, None, "F", "P", "X", "corrected", "done"]
SEXES = [None, "F", "M", "U"]
AGES = [None, None, "45", "6 mo", "2 wk", "3", "adult"]
BIRTHS = [None, "1980-05-01", "2023-12-01", "01/02/2003"]
COLLECTED = [None, "2024-03-01", "2024-03-01T08:30", "yesterday"]
LABS = [None, "Northfield", "Mayo"]
METHODS = [None, "ELISA"]


@st.composite
def rows(draw: st.DrawFn) -> dict[str, str | None]:
    row = {
        "name": draw(st.sampled_from(NAMES)),
        "loinc": draw(st.sampled_from(LOINCS)),
        "code": draw(st.sampled_from(CODES)),
        "value": draw(VALUES),
        "unit": draw(st.sampled_from(UNITS)),
        "reference_range": draw(st.sampled_from(RANGES)),
        "flag": draw(st.sampled_from([None, "H", "N"])),
        "specimen": draw(st.sampled_from(SPECIMENS)),
        "status": draw(st.sampled_from(STATUSES)),
        "sex": draw(st.sampled_from(SEXES)),
        "age": draw(st.sampled_from(AGES)),
        "birth_date": draw(st.sampled_from(BIRTHS)),
        "collected": draw(st.sampled_from(COLLECTED)),
        "lab": draw(st.sampled_from(LABS)),
        "method": draw(st.sampled_from(METHODS)),
        "patient_id": draw(st.sampled_from(["P1", "P2", None])),
    }
    if row["name"] is None and row["code"] is None and row["loinc"] is None:
        row["code"] = "LOCAL-1"  # a row needs a name or a code (a blank CSV row is skipped)
    return row


def to_frame(data: list[dict[str, str | None]], fields: list[str] | None = None) -> pd.DataFrame:
    fields = fields or list(HEADERS)
    return pd.DataFrame({HEADERS[f]: pd.Series([r[f] for r in data], dtype=object) for f in fields})


FIELD_SUBSETS = st.sampled_from(
    [
        list(HEADERS),
        ["name", "value", "unit", "reference_range"],
        ["name", "loinc", "value", "unit", "age", "sex", "specimen"],
        ["code", "value", "unit", "birth_date", "collected", "status"],
    ]
)


@settings(max_examples=40)
@given(st.lists(rows(), min_size=1, max_size=40), FIELD_SUBSETS)
def test_generated_frames_match_the_single_result_path(
    data: list[dict[str, str | None]], fields: list[str]
) -> None:
    """Every row of a generated frame equals interpret() on the Result the CSV reader builds."""
    if "name" not in fields and "code" not in fields:
        fields = ["name", *fields]
    if "name" not in fields:
        for r in data:
            r["code"] = r["code"] or "LOCAL-1"
    assert_same(to_frame(data, fields))


@settings(max_examples=15)
@given(st.lists(rows(), min_size=1, max_size=30))
def test_catalogue_first_policy_and_lab_ranges_only(data: list[dict[str, str | None]]) -> None:
    """The policy and an empty catalogue are honoured exactly as by the engine."""
    df = to_frame(data)
    assert_same(df, policy=RangePolicy(prefer_lab_range=False))
    assert_same(df, catalogue=Catalogue.empty())
    assert_same(df, catalogue=None)  # None means no catalogue, as everywhere


@settings(max_examples=15)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Calprotectin, Feces", "Pancreatic Elastase 1", "Zonulin"]),
            NUMBERS,
            st.sampled_from(["ug/g", "mg/kg", "ng/g", "ng/mL"]),
            st.sampled_from([None, "0.3", "1", "3", "3.5", "45", "10 d", "6 mo"]),
        ),
        min_size=1,
        max_size=200,
    )
)
def test_many_numbers_in_few_groups(data: list[tuple[str, str, str, str | None]]) -> None:
    """The array path (plain numbers sharing a range) equals the engine, across age limits."""
    df = pd.DataFrame(data, columns=["Test", "Result", "Units", "Age"], dtype=object)
    assert_same(df)


def test_decimal_comma_mapping() -> None:
    """A mapping's decimal comma and column names apply as in the CSV reader."""
    df = pd.DataFrame(
        {
            "Parameter": ["Calprotectin, Feces", "Calprotectin, Feces", "Zonulin"],
            "Ergebnis": ["45,5", "130", "<48,0"],
            "Einheit": ["ug/g", "mg/kg", "ng/mL"],
            "Referenz": ["<=50", None, "<48,0"],
            "Alter": ["45", "45", "45"],
        }
    )
    m = CsvMapping(
        columns={
            "value": "Ergebnis",
            "unit": "Einheit",
            "reference_range": "Referenz",
            "age": "Alter",
        },
        decimal_comma=True,
    )
    out = assert_same(df, mapping=m)
    assert list(out["interpretation"]) == ["N", "H", "N"]


# --- fixtures and known cases ----------------------------------------------------------------


def test_fixture_export_matches_and_keeps_every_row() -> None:
    """A realistic export: same rows, in order, each not-interpretable row with its reason."""
    df = pd.read_csv(FIXTURES / "portal_export.csv", dtype=str, keep_default_na=False)
    df = df.replace({"": None})
    out = assert_same(df)
    assert len(out) == len(df) == 14
    assert out.loc[out["status"] == "not_interpretable", "reason"].notna().all()
    assert (out["Test"] == df["Test"]).all()


@pytest.mark.parametrize(
    ("value", "unit", "age", "flag", "band"),
    [
        ("49.9", "ug/g", "45", "N", "normal"),
        ("50.1", "ug/g", "45", "H", "borderline"),
        ("120.1", "mg/kg", "45", "H", "abnormal"),
        ("0.0501", "mg/g", "45", "H", "borderline"),
        ("400", "ug/g", "4 mo", "N", "normal for age"),
        ("<50", "ug/g", "45", "N", "normal"),
    ],
)
def test_calprotectin_table(value: str, unit: str, age: str, flag: str, band: str) -> None:
    """Band edges, unit conversion, infant ranges and censored values on calprotectin."""
    df = pd.DataFrame({"Test": ["Calprotectin"], "Result": [value], "Units": [unit], "Age": [age]})
    out = assert_same(df)
    assert (out.loc[0, "interpretation"], out.loc[0, "band"]) == (flag, band)


def test_infant_rows_use_calendar_age_bands() -> None:
    """Rows a few days apart in age but on either side of a calendar boundary (exactly 6
    months; the 3rd birthday) are grouped apart and match the one-result path."""
    df = pd.DataFrame(
        {
            "Test": ["Calprotectin"] * 4,
            "Result": ["300", "300", "100", "100"],
            "Units": ["ug/g"] * 4,
            "DOB": ["2024-01-01", "2024-01-03", "2024-01-01", "2024-01-03"],
            "Collected": ["2024-07-01", "2024-07-01", "2027-01-01", "2027-01-01"],
        }
    )
    out = assert_same(df)
    assert list(out["interpretation"]) == ["H", "N", "H", "N"]


@pytest.mark.parametrize(
    ("value", "unit", "reason_part"),
    [
        ("??", "ug/g", "not a lab value"),
        ("45", "furlongs", "furlongs"),
        ("45", None, "no unit"),
        ("-3", "ug/g", "negative value"),
        ("45", "ug/g", "age at collection"),
    ],
)
def test_not_interpretable_rows_say_why(value: str, unit: str | None, reason_part: str) -> None:
    """Bad values, bad or missing units, negative numbers and missing age each give a reason."""
    age = None if reason_part == "age at collection" else "45"
    df = pd.DataFrame(
        {"Test": ["Calprotectin"], "Result": [value], "Units": [unit], "Age": [age]}, dtype=object
    )
    out = assert_same(df)
    assert out.loc[0, "status"] == "not_interpretable"
    assert reason_part in out.loc[0, "reason"]


# --- table types, columns, errors ------------------------------------------------------------


def test_arrow_table_gives_the_same_columns_and_keeps_input_types() -> None:
    """An Arrow table gets the same appended values as the pandas frame; input columns stay."""
    df = pd.read_csv(FIXTURES / "portal_export.csv", dtype=str, keep_default_na=False)
    df = df.replace({"": None})
    table = pa.Table.from_pandas(df, preserve_index=False)
    out = interpret_frame(table)
    assert isinstance(out, pa.Table)
    assert out.schema.field("range_low").type == pa.float64()
    assert out.schema.field("status").type == pa.string()
    assert out.select(table.column_names).equals(table)
    assert got_rows(out.to_pandas()) == got_rows(interpret_frame(df))


def test_non_text_columns_are_read_as_their_text() -> None:
    """Numeric and date columns (as Parquet gives them) are read as the text they stand for."""
    df = pd.DataFrame(
        {
            "Test": ["Calprotectin", "Calprotectin"],
            "Result": [45.5, float("nan")],
            "Units": ["ug/g", "ug/g"],
            "Age": [45, 45],
            "Collected": pd.to_datetime(["2024-03-01", "2024-03-02"]),
        }
    )
    out = interpret_frame(df)
    assert [_plain(v) for v in out["interpretation"]] == ["N", None]
    assert out.loc[1, "reason"] == "empty value (text '')"


def test_index_order_and_other_columns_are_kept() -> None:
    """A frame with a non-default index keeps it, its order and its unrelated columns."""
    df = pd.DataFrame(
        {"Test": ["Zonulin", "Calprotectin"], "Result": ["30", "60"], "Units": ["ng/mL", "ug/g"]},
        index=[10, 3],
    )
    df["extra"] = [1, 2]
    out = interpret_frame(df)
    assert list(out.index) == [10, 3]
    assert list(out.columns[:4]) == ["Test", "Result", "Units", "extra"]
    assert list(out["extra"]) == [1, 2]


def test_empty_frame_has_the_meta_columns_and_types() -> None:
    """No rows: the appended columns exist with the types output_meta declares."""
    df = pd.DataFrame({"Test": pd.Series([], dtype=object), "Result": pd.Series([], dtype=object)})
    out = interpret_frame(df)
    meta = output_meta(df)
    assert list(out.columns) == list(meta.columns)
    assert list(out.dtypes) == list(meta.dtypes)


def test_clashing_column_names_need_a_prefix() -> None:
    """A table that already has a 'status' column is refused unless a prefix is given."""
    df = pd.DataFrame({"Analyte": ["Zonulin"], "Result": ["30"], "Units": ["ng/mL"]})
    df["status"] = ["final"]
    with pytest.raises(FrameError, match="prefix"):
        interpret_frame(df)
    out = interpret_frame(df, prefix="gt_")
    assert out.loc[0, "gt_status"] == "not_interpretable"


def test_missing_columns_and_wrong_types_are_errors() -> None:
    """A table without a value column, or not a table at all, raises a GuttestsError."""
    with pytest.raises(GuttestsError, match="no column for value"):
        interpret_frame(pd.DataFrame({"Test": ["Zonulin"]}))
    with pytest.raises(FrameError, match="DataFrame"):
        interpret_frame([{"Test": "Zonulin"}])  # type: ignore[type-var]


# --- optional dependencies ---------------------------------------------------------------------


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_import_guttests_does_not_import_pandas_pyarrow_or_dask() -> None:
    """The core import stays light: the dataframe stack loads only on demand."""
    proc = _python(
        "import sys, guttests\n"
        "heavy = ('pandas', 'pyarrow', 'dask', 'distributed')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "guttests.Catalogue.default()\n"  # pint itself may import dask; never pandas/pyarrow
        "print(sorted(m for m in ('pandas', 'pyarrow', 'distributed') if m in sys.modules))\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "[]"]


def test_missing_pandas_gives_an_install_hint() -> None:
    """Without pandas, importing guttests.dataframe raises an ImportError with the extra's name."""
    proc = _python(
        "import sys; sys.modules['pandas'] = None\n"
        "from guttests import GuttestsError\n"
        "try:\n"
        "    import guttests.dataframe\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, isinstance(exc, GuttestsError), exc)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("MissingDependencyError True")
    assert "pip install 'guttests[dataframe]'" in proc.stdout
    assert issubclass(MissingDependencyError, ImportError)
