"""Start-up: what ``import guttests`` and ``guttests batch`` load, and the units parsed ahead.

No timings here (benchmarks/ measures them): these tests guard the structure that keeps the
start-up short, and that it changes no answer.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import guttests
import guttests.testing as gst
from guttests import _catalogue, _units
from guttests._errors import UnitError
from guttests._units import (
    KNOWN_UNITS_FILE,
    _known_units,
    _parse,
    _parse_with_grammar,
    _to_json,
    known_units_key,
    parse_unit,
)

ONE_OBX = (
    "MSH|^~\\&|A|B|C|D|20240305141522||ORU^R01|1|P|2.5.1\r"
    "PID|1||M1^^^H^MR||Doe^J||19860410|F\r"
    "OBR|1|||X^Y^L\r"
    "OBX|1|NM|38445-3^Calprotectin^LN||12|ug/g|<=50|N|||F\r"
)

FIXTURES = Path(__file__).parent / "fixtures"

REPORT_WRITERS = (
    "guttests._reports._html",
    "guttests._reports._pdf",
    "guttests._reports._fhir",
    "guttests._reports._hl7",
    "guttests._reports._text",
    "guttests._reports._trend",
    "guttests._reports._json",
)


def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (files("guttests") / "_data" / KNOWN_UNITS_FILE).read_text("utf-8")
    )
    return data


# --- the units parsed ahead -------------------------------------------------------------


def test_known_units_table_is_current() -> None:
    """The committed table was computed from today's definitions, grammar, code and lark;
    each row is what the grammar gives. Run scripts/write_parsed_ahead.py when this fails."""
    table = _table()
    assert table["key"] == known_units_key(), "run: python scripts/write_parsed_ahead.py"
    assert len(table["units"]) > 40
    for row in table["units"]:
        assert _to_json(_parse_with_grammar(row[0])) == row, row[0]


def test_known_units_cover_the_shipped_catalogue() -> None:
    """Loading the shipped catalogue needs no grammar: every unit in it is in the table."""
    cat = guttests.Catalogue.default()
    units = {a.unit for a in cat.analytes} | {r.unit for r in cat.ranges}
    known = set(_known_units())
    assert units - {None} <= known


def test_the_table_and_the_grammar_give_the_same_unit() -> None:
    for text, parsed in _known_units().items():
        assert parsed == _parse_with_grammar(text)
        assert parse_unit(text) == _parse_with_grammar(text).unit


def test_a_stale_table_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table computed from anything else (another key) is ignored: units are parsed."""
    monkeypatch.setattr(_units, "known_units_key", lambda: "0" * 64)
    _known_units.cache_clear()
    try:
        assert _known_units() == {}
    finally:
        monkeypatch.undo()
        _known_units.cache_clear()
    assert _known_units()


def test_without_the_source_the_table_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """When what the key hashes cannot be read, there is no key, and no table."""
    monkeypatch.setattr(_units, "__file__", "/nonexistent/_units.py")
    assert known_units_key() is None


def test_the_units_key_follows_the_installed_lark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another lark (its ``__init__.py``, which names its version) gives another key; no
    lark, no key. Lark is found, never imported, to compute it."""
    import importlib.util
    from importlib.machinery import ModuleSpec

    key = known_units_key()
    assert key is not None
    other = tmp_path / "__init__.py"
    other.write_text('__version__: str = "0.0.1"\n', encoding="utf-8")
    with monkeypatch.context() as m:
        spec = ModuleSpec("lark", None, origin=str(other))
        m.setattr(importlib.util, "find_spec", lambda _n: spec)
        assert known_units_key() not in (None, key)
    with monkeypatch.context() as m:
        m.setattr(importlib.util, "find_spec", lambda _n: None)
        assert known_units_key() is None
    assert known_units_key() == key
    assert (
        _run(
            "import sys; from guttests import _units; _units.known_units_key(); "
            "print(sorted({'lark', 'importlib.metadata'} & set(sys.modules)))"
        )
        == "[]"
    )


def test_a_damaged_table_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table with the right key but a row that cannot be read: every unit is parsed."""
    data = tmp_path / "_data"
    data.mkdir()
    for name in ("units.txt", "ucum_grammar.lark"):
        (data / name).write_bytes((files("guttests") / "_data" / name).read_bytes())
    table = _table()
    (data / KNOWN_UNITS_FILE).write_text(
        json.dumps({"key": table["key"], "units": [*table["units"], ["ug/g", 1.0]]}), "utf-8"
    )
    monkeypatch.setattr(_units, "files", lambda _package: tmp_path)
    _known_units.cache_clear()
    try:
        assert known_units_key() == table["key"]
        assert _known_units() == {}
    finally:
        monkeypatch.undo()
        _known_units.cache_clear()


@given(
    st.one_of(
        st.sampled_from(sorted(_known_units())),
        st.sampled_from(sorted(_known_units())).map(lambda u: u + "x"),
        st.text(alphabet="umgkLdl/%{}[]0123456789*.^ µ", max_size=12),
    )
)
def test_any_unit_parses_as_the_grammar_parses_it(text: str) -> None:
    """Known or not, a unit gives what the grammar gives; what it refuses stays refused."""
    try:
        expected = _parse_with_grammar(text)
    except UnitError:
        with pytest.raises(UnitError):
            _parse.__wrapped__(text)
        return
    assert _parse.__wrapped__(text) == expected


def test_a_refused_unit_is_refused_at_catalogue_load(tmp_path: Path) -> None:
    """Units outside the table still go through the grammar when a range file is loaded."""
    (tmp_path / "r.toml").write_text(
        'format = "guttests-ranges/1"\nfamily = "stool"\n\n[[analyte]]\nid = "x-thing"\n'
        'name = "X thing"\nspecimen = "stool"\nkind = "quantitative"\nunit = "ug/gx"\n',
        encoding="utf-8",
    )
    assert "ug/gx" not in _known_units()
    assert "ug/g" in _known_units()
    with pytest.raises(guttests.CatalogueError, match="unknown unit"):
        guttests.Catalogue.load(tmp_path / "r.toml", base=None)


# --- the shipped range files parsed ahead ----------------------------------------------


def _shipped_files() -> list[Any]:
    folder = files("guttests") / "reference_ranges"
    return sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)


def test_range_files_parsed_ahead_are_current() -> None:
    """Each shipped range file is in the table, as TOML parses it (types included).
    Run scripts/write_parsed_ahead.py when this fails."""
    ahead = _catalogue._parsed_ahead()
    for f in _shipped_files():
        raw = f.read_bytes()
        key = hashlib.sha256(raw).hexdigest()
        assert key in ahead, f"{f.name}: run python scripts/write_parsed_ahead.py"
        assert _catalogue._same(json.loads(ahead[key]), tomllib.loads(raw.decode("utf-8")))
    assert len(ahead) == len(_shipped_files())


def test_an_edited_range_file_is_parsed_not_taken_from_the_table(tmp_path: Path) -> None:
    """The table is found by the hash of the file's bytes: one changed byte and the file is
    parsed, with its errors reported as for any file."""
    stool = next(f for f in _shipped_files() if f.name == "stool.toml")
    text = stool.read_text("utf-8")
    same, edited = tmp_path / "same.toml", tmp_path / "edited.toml"
    same.write_text(text, encoding="utf-8", newline="")
    edited.write_text(text + "\n[broken\n", encoding="utf-8", newline="")
    shipped = _catalogue.load_range_file(stool)
    assert _catalogue.load_range_file(same).ranges == shipped.ranges
    with pytest.raises(guttests.CatalogueError, match="TOML syntax error"):
        _catalogue.load_range_file(edited)


def test_a_damaged_range_table_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged entry is parsed from the TOML instead; a damaged table is not used."""
    stool = next(f for f in _shipped_files() if f.name == "stool.toml")
    expected = _catalogue.load_range_file(stool)
    key = hashlib.sha256(stool.read_bytes()).hexdigest()
    real = _catalogue._parsed_ahead
    with monkeypatch.context() as m:
        m.setattr(_catalogue, "_parsed_ahead", lambda: {key: "{not json"})
        assert _catalogue.load_range_file(stool) == expected
    with monkeypatch.context() as m:
        m.setattr(_catalogue, "files", lambda _package: Path("/nonexistent"))
        real.cache_clear()
        assert real() == {}
    real.cache_clear()
    assert key in real()


def test_same_is_exact_about_types() -> None:
    same = _catalogue._same
    assert same({"a": [1, 2.5, True, "x"]}, {"a": [1, 2.5, True, "x"]})
    assert not same({"a": 1}, {"a": 1.0})
    assert not same({"a": 1}, {"a": True})
    assert not same({"a": [1]}, {"a": [1, 2]})
    assert not same({"a": 1}, {"b": 1})


def test_parsed_ahead_refuses_what_json_cannot_hold(tmp_path: Path) -> None:
    (tmp_path / "d.toml").write_text("when = 2024-03-05\n", encoding="utf-8")
    with pytest.raises(TypeError):
        _catalogue.parsed_ahead_table([tmp_path / "d.toml"])
    (tmp_path / "n.toml").write_text("x = nan\n", encoding="utf-8")
    with pytest.raises(ValueError, match="Out of range float"):
        _catalogue.parsed_ahead_table([tmp_path / "n.toml"])


# --- the shipped catalogue validated ahead ---------------------------------------------


def _same_model(a: object, b: object, where: str = "") -> None:
    """``a`` and ``b`` equal with the same types throughout, the same fields given and the
    same private state (what pydantic's ``==`` does not look at: 1 == 1.0, "N" == flag N)."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, tuple) and isinstance(b, tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_model(x, y, f"{where}[{i}]")
    elif isinstance(a, BaseModel) and isinstance(b, BaseModel):
        assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__, where
        assert a.__pydantic_private__ == b.__pydantic_private__, where
        assert a.__pydantic_extra__ is None, where
        assert b.__pydantic_extra__ is None, where
        assert list(vars(a)) == list(vars(b)), where
        for k in vars(a):
            _same_model(vars(a)[k], vars(b)[k], f"{where}.{k}")
    else:
        assert a == b, (where, a, b)


def _shipped_paths() -> tuple[Any, ...]:
    return tuple(_catalogue._expand(_catalogue._shipped_dir()))


def _validated_in_full() -> guttests.Catalogue:
    """The shipped catalogue loaded and checked file by file, as without the table."""
    return _catalogue._build(_shipped_paths(), None, only_category=None, user=False)


def _same_catalogue(a: guttests.Catalogue, b: guttests.Catalogue) -> None:
    for part in ("analytes", "ranges", "caveats"):
        _same_model(getattr(a, part), getattr(b, part), part)
    assert (a.sources, a.overridden, a._origin, a._user_ranges) == (
        b.sources,
        b.overridden,
        b._origin,
        b._user_ranges,
    )
    assert a.content_hash == b.content_hash


def test_validated_catalogue_is_current_and_gives_the_validated_catalogue() -> None:
    """The committed table was computed from today's range files, code, units and versions,
    and the catalogue built from it is the validated one, type for type.
    Run scripts/write_parsed_ahead.py when this fails."""
    table = json.loads(
        (files("guttests") / "_data" / _catalogue.VALIDATED_AHEAD_FILE).read_text("utf-8")
    )
    if table["validated_with"] != _catalogue._validator_versions():
        # validated by another pydantic: not used here (its key differs), nothing to check
        assert _catalogue._validated_ahead(_shipped_paths()) is None
        pytest.skip(f"table written with {table['validated_with']}")
    paths = _shipped_paths()
    assert table["key"] == _catalogue.validated_ahead_key(paths), (
        "run: python scripts/write_parsed_ahead.py"
    )
    assert _catalogue._validated_ahead(paths) is not None
    _same_catalogue(_catalogue._shipped.__wrapped__(), _validated_in_full())
    _same_catalogue(guttests.Catalogue.default(), _validated_in_full())


def _count_file_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loaded: list[str] = []
    real = _catalogue._load_file

    def spy(path: Any, **kw: Any) -> Any:
        loaded.append(Path(str(path)).name)
        return real(path, **kw)

    monkeypatch.setattr(_catalogue, "_load_file", spy)
    return loaded


def test_the_default_catalogue_comes_from_the_table_without_validators(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded = _count_file_loads(monkeypatch)
    _catalogue._shipped.__wrapped__()
    assert loaded == []
    code = (
        "import guttests, sys\n"
        "cat = guttests.Catalogue.default()\n"
        "from guttests._models import Analyte, Caveat, ReferenceRange\n"
        "from pydantic._internal._mock_val_ser import MockValSer\n"
        "print([isinstance(m.__pydantic_validator__, MockValSer) "
        "for m in (Analyte, Caveat, ReferenceRange)])"
    )
    assert _run(code) == "[True, True, True]"


def test_a_stale_validated_table_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table computed from anything else (another key) is not used: every file is loaded
    and checked, and gives the same catalogue."""
    loaded = _count_file_loads(monkeypatch)
    monkeypatch.setattr(_catalogue, "validated_ahead_key", lambda _paths: "0" * 64)
    assert _catalogue._validated_ahead(_shipped_paths()) is None
    _same_catalogue(_catalogue._shipped.__wrapped__(), _validated_in_full())
    assert loaded[:3] == [p.name for p in _shipped_paths()]


def test_the_key_follows_every_file_code_and_version(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _shipped_paths()
    key = _catalogue.validated_ahead_key(paths)
    assert key is not None
    assert key == _catalogue.validated_ahead_key(paths)
    assert _catalogue.validated_ahead_key(paths[:-1]) != key
    with monkeypatch.context() as m:
        m.setattr(_units, "known_units_in_use", lambda: "1" * 64)
        assert _catalogue.validated_ahead_key(paths) != key
    with monkeypatch.context() as m:
        # a stale table of units: units are parsed by the grammar, the catalogue is checked
        m.setattr(_units, "known_units_key", lambda: "1" * 64)
        _known_units.cache_clear()
        assert _units.known_units_in_use() is None
        assert _catalogue.validated_ahead_key(paths) is None
    _known_units.cache_clear()
    assert _catalogue.validated_ahead_key(paths) == key
    import pydantic

    with monkeypatch.context() as m:
        m.setattr(pydantic, "VERSION", "0.0.0")
        assert _catalogue.validated_ahead_key(paths) != key
    with monkeypatch.context() as m:
        m.setattr(_catalogue, "__file__", "/nonexistent/_catalogue.py")
        assert _catalogue.validated_ahead_key(paths) is None


def test_an_edited_shipped_file_is_loaded_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped folder with one file changed: its key differs, so every file is loaded and
    checked; an error in the edit is reported as for any range file."""
    for f in _shipped_files():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(_catalogue, "_shipped_dir", lambda: tmp_path)
    loaded = _count_file_loads(monkeypatch)
    stool = tmp_path / "stool.toml"
    stool.write_bytes(stool.read_bytes() + b"\n# a comment\n")
    _same_model(_catalogue._shipped.__wrapped__().ranges, _validated_in_full().ranges)
    assert "stool.toml" in loaded
    stool.write_bytes(stool.read_bytes().replace(b'unit = "ug/g"', b'unit = "ug/gx"', 1))
    with pytest.raises(guttests.CatalogueError, match="unknown unit 'ug/gx'"):
        _catalogue._shipped.__wrapped__()


def _lines_left_out(lines: list[str]) -> list[str]:
    return [lines[0], *lines[2:]]  # the first file's "file" row


_DAMAGES = {
    "a row left out": _lines_left_out,
    "a range taken for an analyte": lambda lines: [
        ln.replace('"analytes", ["m", "Analyte"', '"ranges", ["m", "Analyte"') for ln in lines
    ],
    "a model of another class": lambda lines: [
        ln.replace('["m", "Band"', '["m", "Result"') for ln in lines
    ],
    "a field left out": lambda lines: [
        ln.replace('["m", "Age", [', '["m", "Age", [[') for ln in lines
    ],
    "an unknown enum member": lambda lines: [
        ln.replace('["e", "Family", "stool"]', '["e", "Family", "gut"]') for ln in lines
    ],
    "a list where a tuple was": lambda lines: [ln.replace('["t", ', "[[], ", 1) for ln in lines],
}


@pytest.mark.parametrize("damage", sorted(_DAMAGES))
@pytest.mark.parametrize("digest_recomputed", [False, True])
def test_a_damaged_validated_table_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, digest_recomputed: bool
) -> None:
    """A table whose rows were changed is not used: by its digest; and when the digest was
    recomputed too, by its rows, which must fit the files (none left out, none of another
    kind, class, field count or value): entries are never dropped or taken for others."""
    text = _catalogue.validated_ahead_text(_shipped_paths())
    head, _, body = text.partition("\n")
    new_body = "\n".join(_DAMAGES[damage](body.split("\n")))
    assert new_body != body
    if digest_recomputed:
        digest = hashlib.sha256(new_body.encode("utf-8")).hexdigest()
        head = head.replace(json.loads(text)["digest"], digest)
    data = tmp_path / "_data"
    data.mkdir()
    (data / _catalogue.VALIDATED_AHEAD_FILE).write_text(f"{head}\n{new_body}", encoding="utf-8")
    monkeypatch.setattr(_catalogue, "files", lambda _package: tmp_path)
    assert _catalogue._validated_ahead(_shipped_paths()) is None


def test_a_table_that_is_not_json_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "_data"
    data.mkdir()
    (data / _catalogue.VALIDATED_AHEAD_FILE).write_text("{not json", encoding="utf-8")
    monkeypatch.setattr(_catalogue, "files", lambda _package: tmp_path)
    assert _catalogue._validated_ahead(_shipped_paths()) is None
    monkeypatch.setattr(_catalogue, "files", lambda _package: tmp_path / "missing")
    assert _catalogue._validated_ahead(_shipped_paths()) is None


@given(
    st.one_of(
        gst.reference_ranges(),
        gst.analytes(),
        gst.citations(),
        st.sampled_from(guttests.Catalogue.default().caveats),
    )
)
def test_encoding_keeps_every_type(entry: Any) -> None:
    """What the table holds turns back into the same value, type for type."""
    text = json.dumps(_catalogue._encode(entry), allow_nan=False)
    _same_model(_catalogue._decode(json.loads(text)), entry)


def test_encoding_refuses_what_it_cannot_keep() -> None:
    with pytest.raises(TypeError, match="cannot keep a list"):
        _catalogue._encode([1])
    with pytest.raises(TypeError, match="cannot keep a Result"):
        _catalogue._encode(guttests.Result(provenance=guttests.Provenance(location="x")))
    with pytest.raises(ValueError, match="not a value of the table"):
        _catalogue._decode([1])


# --- what a process loads ---------------------------------------------------------------


def _run(code: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_import_guttests_loads_no_models_readers_or_writers() -> None:
    code = (
        "import sys, guttests\n"
        "print(sorted(m for m in sys.modules if m.startswith(('guttests.', 'pydantic', "
        "'click', 'lark', 'tomllib', 'difflib'))))"
    )
    assert _run(code) == "['guttests._errors', 'guttests._version']"


def test_public_names_load_on_first_use_and_stay() -> None:
    code = (
        "import sys, guttests\n"
        "assert 'guttests._models' not in sys.modules\n"
        "r = guttests.Result\n"
        "assert 'guttests._models' in sys.modules and 'Result' in vars(guttests)\n"
        "assert guttests.Result is r and guttests.__dict__['Result'] is r\n"
        "assert set(guttests.__all__) <= set(dir(guttests))\n"
        "from guttests import *\n"
        "assert all(n in globals() for n in guttests.__all__ if n != '__version__')\n"
        "print('ok')"
    )
    assert _run(code) == "ok"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        guttests.no_such_name  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(ImportError):
        from guttests import no_such_name  # type: ignore[attr-defined]  # noqa: F401


def test_one_obx_batch_loads_no_writers_nor_lark_and_gives_the_grammar_s_answer(
    tmp_path: Path,
) -> None:
    """A 1-OBX HL7 batch imports no report writer, JSON reader nor lark; its
    output is byte-identical to the output with the tables of known units and of the
    validated catalogue switched off."""
    src = tmp_path / "one.hl7"
    src.write_text(ONE_OBX, encoding="utf-8", newline="")
    fast, slow = tmp_path / "fast.ndjson", tmp_path / "slow.ndjson"
    code = (
        "import sys\n"
        "from guttests import _catalogue, _units\n"
        "if sys.argv[2] == 'grammar':\n"
        "    _units._known_units = lambda: {}\n"
        "    _catalogue._validated_ahead = lambda _paths: None\n"
        "from guttests.cli import main\n"
        "try:\n"
        "    main(['batch', sys.argv[1], '-o', sys.argv[3], '-q'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"heavy = ('lark', 'guttests._readers.jsonio', *{REPORT_WRITERS!r})\n"
        "print(sorted(m for m in sys.modules if m in heavy))"
    )
    assert _run(code, str(src), "table", str(fast)) == "[]"
    assert _run(code, str(src), "grammar", str(slow)) == "['lark']"
    assert fast.read_bytes() == slow.read_bytes()
    record = json.loads(fast.read_text("utf-8"))
    assert (record["status"], record["interpretation"], record["unit"]) == (
        "interpreted",
        "N",
        "ug/g",
    )


# What ``guttests batch`` loads: only the reader of its input's format, no report writer,
# no other engine, and none of the shipped catalogue's validators (the catalogue comes
# from its validated table). Structure, not timing: the modules present after the command.
NOT_FOR_BATCH = (
    "lark",
    "pint",
    "jinja2",
    "pandas",
    "pyarrow",
    "dask",
    "guttests.dataframe",
    "guttests._dask",
    "guttests._readers.jsonio",
    "guttests._cli._context",
    "guttests._cli._tables",
    *REPORT_WRITERS,
)


@pytest.mark.parametrize(
    ("name", "other_reader"),
    [("one.hl7", "guttests._readers.fhir"), ("one.ndjson", "guttests._readers.hl7v2")],
)
def test_batch_loads_only_what_it_needs(tmp_path: Path, name: str, other_reader: str) -> None:
    src = tmp_path / name
    if name.endswith(".hl7"):
        src.write_text(ONE_OBX, encoding="utf-8", newline="")
    else:
        lines = (FIXTURES / "fhir" / "food-igg-export.ndjson").read_text("utf-8").splitlines()
        src.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")  # patient, result
    code = (
        "import sys\n"
        "from guttests.cli import main\n"
        "try:\n"
        "    main(['batch', sys.argv[1], '-o', sys.argv[2], '-q'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "from pydantic._internal._mock_val_ser import MockValSer\n"
        "from guttests._catalogue import RangeSet\n"
        "from guttests._models import Analyte, Caveat\n"
        "from guttests._readers.csv import CsvMapping\n"
        "built = [m.__name__ for m in (Analyte, Caveat, RangeSet, CsvMapping)\n"
        "         if not isinstance(m.__pydantic_validator__, MockValSer)]\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[3:])))\n"
        "print(built, loaded)"
    )
    out = tmp_path / "out.ndjson"
    assert _run(code, str(src), str(out), other_reader, *NOT_FOR_BATCH) == "[] []"
    assert json.loads(out.read_text("utf-8").splitlines()[0])["status"] == "interpreted"
