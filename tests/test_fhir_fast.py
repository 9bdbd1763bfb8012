"""The FHIR reader's fast NDJSON path reads exactly what its strict path reads.

An NDJSON line is parsed with orjson only when ``_fast_loads`` proves that the strict
decoder (exact decimal text, duplicate keys refused, lone surrogates refused) reads the
very same thing; anything else goes to the strict decoder. These tests compare the two
paths (``fhir._FAST`` on and off): the parsed JSON (numbers by their text), the panels
(``==``), the errors (type and message) and the batch output (byte for byte), on every
FHIR fixture written as NDJSON and on generated lines with tricky numbers, duplicate keys,
escapes and surrogates. They also check that Observations that differ only in their
value share the reader's objects (codes, range, collection time, flags), which the batch
writer's cache keys by identity.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from guttests._batch import write_records
from guttests._errors import GuttestsError
from guttests._models import Panel
from guttests._readers import fhir

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
SHARED = Path(__file__).parents[1] / ".." / "shared"
FHIR_FILES = sorted(p for p in FIXTURES.iterdir() if p.suffix in {".json", ".ndjson"}) + sorted(
    p
    for d in (SHARED / "conformance" / "fhir-r4", SHARED / "realworld")
    if d.is_dir()
    for p in d.iterdir()
    if p.suffix in {".json", ".ndjson"}
)


# --- helpers ------------------------------------------------------------------------------


def _canon(obj: object) -> object:
    """Parsed JSON with each number as the reader sees it: its text, and int or not."""
    if isinstance(obj, dict):
        return ("object", [(k, _canon(v)) for k, v in obj.items()])
    if isinstance(obj, list):
        return ("array", [_canon(v) for v in obj])
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return ("int", obj)
    assert isinstance(obj, float)
    return ("number", fhir._number_text(obj), repr(float(obj)))


def _as_read(obj: object) -> object:
    """Parsed JSON as the reader uses it: numbers by kind and float value, and the text of
    each value number (the only numbers whose text it keeps)."""

    def values(node: object) -> object:
        if isinstance(node, dict):
            return ("object", [(k, values(v)) for k, v in node.items()])
        if isinstance(node, list):
            return ("array", [values(v) for v in node])
        if isinstance(node, bool) or node is None or isinstance(node, str):
            return node
        if isinstance(node, int):
            return ("int", node)
        assert isinstance(node, float)
        return ("number", repr(float(node)))

    texts = []
    if isinstance(obj, dict):
        for part in (obj, *fhir._list(obj, "component")):
            for path in fhir._NUMBER_FIELDS:
                holder: object = part
                for key in path:
                    holder = holder.get(key) if isinstance(holder, dict) else None
                if isinstance(holder, int | float) and not isinstance(holder, bool):
                    texts.append((path, fhir._number_text(holder)))
    return values(obj), texts


def _strict(line: str) -> object:
    """The strict decoder's reading of one line, or the error it raises."""
    text = fhir._Text(io.StringIO(line), None)
    try:
        return text.value("line 1")
    except GuttestsError as exc:
        return exc


def _read(text: str, *, fast: bool) -> tuple[list[Panel] | None, str | None, list[str]]:
    """Panels (or the error) and the warnings of reading ``text`` as FHIR."""
    saved = fhir._FAST
    fhir._FAST = fast
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                panels = list(fhir.iter_panels(io.StringIO(text), source="in.ndjson"))
                error = None
            except GuttestsError as exc:
                panels, error = None, f"{type(exc).__name__}: {exc}"
    finally:
        fhir._FAST = saved
    return panels, error, [f"{w.category.__name__}: {w.message}" for w in caught]


def _batch_bytes(panels: list[Panel]) -> bytes:
    out = io.BytesIO()
    write_records(panels, out)
    return out.getvalue()


def _same_both_ways(text: str) -> list[Panel] | None:
    fast = _read(text, fast=True)
    strict = _read(text, fast=False)
    assert fast[1:] == strict[1:]
    assert fast[0] == strict[0]
    if fast[0] is not None and strict[0] is not None:
        assert _batch_bytes(fast[0]) == _batch_bytes(strict[0])
    return fast[0]


def _resources(obj: object) -> Iterator[object]:
    """The resources of a parsed document: a Bundle's entries (nested too), else itself."""
    if isinstance(obj, dict) and obj.get("resourceType") == "Bundle":
        for entry in obj.get("entry") or []:
            if isinstance(entry, dict) and "resource" in entry:
                yield from _resources(entry["resource"])
    else:
        yield obj


# --- fixtures, written as NDJSON ----------------------------------------------------------


def _ndjson_variants(path: Path) -> list[str]:
    """The file's resources as NDJSON, written three ways (orjson, json with spaces and
    escapes, and the original text of each number where orjson would lose it)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix == ".ndjson":
        docs = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        docs = [json.loads(text)]
    resources = [r for d in docs for r in _resources(d)]
    return [
        "\n".join(orjson.dumps(r).decode() for r in resources) + "\n",
        "\n".join(json.dumps(r) for r in resources),
        "\r\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in resources),
    ]


@pytest.mark.parametrize("path", FHIR_FILES, ids=lambda p: p.name)
def test_fixture_as_ndjson_reads_the_same(path: Path) -> None:
    for text in _ndjson_variants(path):
        _same_both_ways(text)


@pytest.mark.parametrize("path", FHIR_FILES, ids=lambda p: p.name)
def test_fixture_reads_the_same(path: Path) -> None:
    _same_both_ways(path.read_text(encoding="utf-8-sig"))


# --- generated lines ----------------------------------------------------------------------

TRICKY_NUMBERS = [
    "0",
    "-0",
    "0.0",
    "-0.0",
    "1.10",
    "1.0",
    "1.00",
    "62",
    "12.40",
    "54.61",
    "1e2",
    "1E2",
    "1e+2",
    "1e400",
    "-1e400",
    "1e-400",
    "1e-7",
    "1e-07",
    "0.00001",
    "1e-05",
    "0.0001",
    "1e16",
    "1e+16",
    "1.5e+300",
    "0.1000000000000000055",
    "0.30000000000000004",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "1" * 700,
]

numbers = st.one_of(
    st.sampled_from(TRICKY_NUMBERS),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: orjson.dumps(f).decode()),
    st.integers().map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
)

RAW_STRINGS = [
    '"a\\"b"',  # an escaped quote
    '"a\\":b"',  # an escaped quote and a colon: looks like a key's end
    '"x\\\\"',  # ends with an escaped backslash
    '"\\u00b5g/g"',  # a unicode escape
    '"\\ud83d\\ude00"',  # a surrogate pair
    '"\\ud800"',  # a lone surrogate
    '"\\udc00x"',
    '"\\/"',
    '":5"',
    '"1,05"',
    '"example-lab 1e-7"',
    '"0.00001"',
    '"tab\\tnew\\nline"',
]
strings = st.one_of(
    st.sampled_from(RAW_STRINGS),
    st.text(max_size=8).map(lambda s: json.dumps(s, ensure_ascii=False)),
    st.text(max_size=8).map(json.dumps),
    st.sampled_from(["value", "code", "unit", "text", "low", "high"]).map(json.dumps),
)
SEPARATORS = [(",", ":"), (", ", ": "), (" ,", " : "), (",\t", ":\r")]


def _object(pairs: list[tuple[str, str]], sep: tuple[str, str]) -> str:
    return "{" + sep[0].join(f"{k}{sep[1]}{v}" for k, v in pairs) + "}"


json_values = st.recursive(
    st.one_of(numbers, strings, st.sampled_from(["true", "false", "null"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.tuples(st.lists(st.tuples(strings, inner), max_size=3), st.sampled_from(SEPARATORS)).map(
            lambda t: _object(*t)
        ),
    ),
    max_leaves=8,
)


# lines the fast path can take: numbers as repr writes them, strings without escapes
plain_numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15).map(repr),
    st.integers(-(10**15), 10**15).map(str),
    st.sampled_from(["0.0", "-0.0", "0.0001", "1e+16", "1.5e+300", "1e-10", "62", "54.61"]),
)
# value numbers orjson would write otherwise: their text is put back on the fast path
respelled_numbers = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6).map(lambda f: f"{f:.3f}"),
    st.floats(min_value=1e-300, max_value=1e300).map(lambda f: f"{f:.4E}"),
    st.sampled_from(["12.50", "1E2", "5.0e1", "0.50", "-0", "100", "7.000"]),
)
plain_strings = st.text(st.characters(codec="utf-8"), max_size=8).flatmap(
    lambda s: st.sampled_from(
        [
            json.dumps(s, ensure_ascii=False),  # escapes only a quote, backslash, controls
            json.dumps(s),  # and every other character past ASCII as \\uXXXX
            json.dumps(s).replace("/", "\\/"),
        ]
    )
)
plain_values = st.recursive(
    st.one_of(plain_numbers, plain_strings, st.sampled_from(["true", "false", "null"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.tuples(
            st.lists(st.tuples(plain_strings, inner), max_size=3), st.sampled_from(SEPARATORS)
        ).map(lambda t: _object(*t)),
    ),
    max_leaves=8,
)


EFFECTIVE_PAIRS = [
    ('"effectiveDateTime"', '"2024-03-11T08:15:00+01:00"'),
    ('"effectiveDateTime"', '"2024-03-12T09:30:00Z"'),
    ('"effectiveDateTime"', '"2024-03-11"'),
    ('"effectiveDateTime"', '"2024-03"'),
    ('"effectiveInstant"', '"2024-03-11T08:15:00.5+01:00"'),
    ('"effectivePeriod"', '{"start":"2024-03-10T22:00:00-05:00"}'),
    ('"identifier"', '[{"system":"urn:x","value":"ACC-1"}]'),  # and no time
]
"""A line's collection time (each form guttests reads, or none), drawn per line."""


@st.composite
def observation_lines(draw: st.DrawFn, *, plain: bool = False) -> str:
    """One Observation line, its numbers, strings and spacing drawn; perhaps a key twice.

    ``plain`` draws numbers and strings the fast path can take (and sometimes a key twice).
    """
    nums, texts, values = (
        (st.one_of(plain_numbers, respelled_numbers), plain_strings, plain_values)
        if plain
        else (numbers, strings, json_values)
    )
    sep = draw(st.sampled_from(SEPARATORS))
    q = _object(
        [
            ('"value"', draw(nums)),
            ('"unit"', '"ug/g"'),
            *draw(st.lists(st.tuples(texts, values), max_size=2)),
        ],
        sep,
    )
    rr = _object([('"low"', _object([('"value"', draw(nums))], sep))], sep)
    rr2 = _object([('"high"', _object([('"value"', draw(nums))], sep))], sep)
    pairs = [
        ('"resourceType"', '"Observation"'),
        ('"id"', draw(texts)),
        ('"status"', '"final"'),
        ('"code"', _object([('"text"', draw(texts))], sep)),
        ('"subject"', _object([('"reference"', '"Patient/p1"')], sep)),
        draw(st.sampled_from(EFFECTIVE_PAIRS)),
        (draw(st.sampled_from(['"valueQuantity"', '"valueRange"', '"valueInteger"'])), q),
        ('"referenceRange"', "[" + rr + "," + rr2 + "]"),
    ]
    if draw(st.booleans()):
        comp = _object([('"code"', '{"text":"c"}'), ('"valueQuantity"', q)], sep)
        pairs.append(('"component"', "[" + comp + "]"))
    pairs += draw(st.lists(st.tuples(texts, values), max_size=3))
    if draw(st.integers(0, 3)) == 0:  # a key given twice, at the top or nested
        i = draw(st.integers(0, len(pairs) - 1))
        key, value = pairs[i]
        if value.startswith("{") and value != "{}" and draw(st.booleans()):
            inner = value[1:].split(sep[0], 1)[0]
            pairs[i] = (key, "{" + inner + sep[0] + value[1:])
        else:
            pairs.insert(draw(st.integers(0, len(pairs))), (key, draw(values)))
    return _object(pairs, sep)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(observation_lines(), observation_lines(plain=True), json_values, plain_values))
def test_fast_loads_accepts_only_what_strict_reads_the_same(line: str) -> None:
    fast = fhir._fast_loads(line)
    strict = _strict(line)
    if fast is fhir._MISS:
        return
    assert not isinstance(strict, Exception), line
    assert _as_read(fast) == _as_read(strict), line


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(observation_lines(), observation_lines(plain=True)), min_size=1, max_size=4),
    st.sampled_from(["\n", "\r\n"]),
)
def test_generated_ndjson_reads_the_same(lines: list[str], newline: str) -> None:
    patient = '{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1980-02-01"}'
    _same_both_ways(newline.join([patient, *lines]) + newline)


# --- the fast path is taken ----------------------------------------------------------------

CALPROTECTIN = {
    "resourceType": "Observation",
    "id": "obs-1",
    "status": "final",
    "code": {
        "coding": [{"system": "http://loinc.org", "code": "38445-3", "display": "Calprotectin"}],
        "text": "Calprotectin, Feces",
    },
    "subject": {"reference": "Patient/pt-1"},
    "effectiveDateTime": "2024-03-11T08:15:00+01:00",
    "performer": [{"reference": "Organization/lab1", "display": "Northfield Gut Diagnostics"}],
    "specimen": {"display": "Stool"},
    "valueQuantity": {
        "value": 54.61,
        "unit": "µg/g",
        "system": "http://unitsofmeasure.org",
        "code": "ug/g",
    },
    "interpretation": [{"coding": [{"code": "N"}]}],
    "referenceRange": [{"low": {"value": 0.0, "unit": "µg/g"}, "high": {"value": 50.0}}],
}


@pytest.mark.parametrize(
    "line",
    [
        orjson.dumps(CALPROTECTIN).decode(),
        json.dumps(CALPROTECTIN, ensure_ascii=False),
        json.dumps(CALPROTECTIN, ensure_ascii=False, indent=None, separators=(" , ", " : ")),
    ],
)
def test_common_lines_take_the_fast_path(line: str) -> None:
    assert fhir._fast_loads(line) == CALPROTECTIN


@pytest.mark.parametrize(
    "line",
    [
        '{"a":1,"a":2}',
        '{"a":{"b":1,"b":1}}',
        '{"a":1.10}',
        '{"a":1E2}',
        '{"a":-0}',
        '{"resourceType":"Patient","a":1.10}',
        '{"resourceType":"Observation","contained":[{}],"a":1.10}',
        '{"a":1e-07}',
        '{"a":1e-05}',
        '{"a":"\\ud83d\\ude00"}',
        '{"a":"\\u0022"}',
        '{"a":"\\ud800"}',
        '{"a":"x"} {"b":1}',
        '{"a":NaN}',
        "[1, 2]",
        '"text"',
    ],
)
def test_what_the_fast_path_leaves_to_the_strict_decoder(line: str) -> None:
    assert fhir._fast_loads(line) is fhir._MISS


@pytest.mark.parametrize(
    "text",
    [
        '{"a":"say \\"hi\\"\\n\\\\"}',
        '{"div":"<div xmlns=\\"x\\">µ</div>"}',
        '{"unit":"\\u00b5g\\/L","system":"http:\\/\\/unitsofmeasure.org"}',
        '{"a":"x\\\\u00b5"}',
        '{"a":"\\u0020\\u007f\\u2028"}',
    ],
)
def test_escapes_orjson_writes_take_the_fast_path(text: str) -> None:
    fast = fhir._fast_loads(text)
    assert fast is not fhir._MISS
    assert _canon(fast) == _canon(_strict(text))


@pytest.mark.parametrize("number", ["1e-7", "0.00001", "1e+16", "-0.0", "54.61", "62"])
def test_numbers_the_fast_path_takes_keep_their_text(number: str) -> None:
    line = '{"v":' + number + "}"
    fast = fhir._fast_loads(line)
    assert isinstance(fast, dict)
    assert fhir._number_text(fast["v"]) == number
    assert _canon(fast) == _canon(_strict(line))


@pytest.mark.parametrize(
    ("value", "low"),
    [("12.50", "0.50"), ("1E2", "0"), ("-0.0", "-0"), ("5.461e1", "10.00"), ("0.10", "0.25")],
)
def test_value_numbers_keep_the_text_orjson_would_respell(value: str, low: str) -> None:
    line = orjson.dumps(CALPROTECTIN).decode()
    line = line.replace('"value":54.61', f'"value":{value}').replace(
        '"low":{"value":0.0', f'"low":{{"value":{low}'
    )
    fast = fhir._fast_loads(line)
    assert isinstance(fast, dict)  # the orjson path, with the value's text put back
    assert fhir._number_text(fast["valueQuantity"]["value"]) == value
    assert _as_read(fast) == _as_read(_strict(line))
    panels = _same_both_ways(line)
    assert panels is not None
    assert panels[0].results[0].value_text == value


def test_minus_zero_int_reads_as_zero_both_ways() -> None:
    line = orjson.dumps(CALPROTECTIN).decode().replace('"value":54.61', '"value":-0')
    assert fhir._fast_loads(line) is not fhir._MISS
    panels = _same_both_ways(line)
    assert panels is not None
    assert panels[0].results[0].value_text == "0"  # an int, as the strict decoder reads it


@pytest.mark.parametrize("value", ["50.00", "50.0e0"])
def test_one_spelling_for_two_texts_goes_to_the_strict_decoder(value: str) -> None:
    line = orjson.dumps(CALPROTECTIN).decode().replace("54.61", value)
    assert '"value":50.0' in line  # the range's high bound, as orjson writes 50.0
    assert fhir._fast_loads(line) is fhir._MISS
    panels = _same_both_ways(line)
    assert panels is not None
    assert panels[0].results[0].value_text == value


def test_duplicate_key_error_is_the_same_on_a_fast_file() -> None:
    good = orjson.dumps(CALPROTECTIN).decode()
    bad = good.replace('"status":"final"', '"status":"final","status":"amended"')
    panels, error, _ = _read("\n".join([good, good, bad, good]), fast=True)
    assert panels is None
    assert error is not None
    assert "duplicate key 'status'" in error
    assert "line 3" in error
    assert _read("\n".join([good, good, bad, good]), fast=False)[1] == error


def test_exact_decimal_text_on_a_fast_file() -> None:
    good = orjson.dumps(CALPROTECTIN).decode()
    lines = [good, good.replace("54.61", "54.610"), good.replace("54.61", "5.461E1")]
    panels = _same_both_ways("\n".join(lines))
    assert panels is not None
    assert [p.results[0].value_text for p in panels] == ["54.61", "54.610", "5.461E1"]
    assert fhir._fast_loads(lines[0]) is not fhir._MISS  # the first went the fast way


# --- shared objects -----------------------------------------------------------------------


def test_observations_differing_only_in_value_share_objects() -> None:
    other = json.loads(json.dumps(CALPROTECTIN))
    other["id"] = "obs-2"
    other["valueQuantity"]["value"] = 12.5
    text = "\n".join(orjson.dumps(r).decode() for r in (CALPROTECTIN, other))
    panels = _same_both_ways(text)
    assert panels is not None
    a, b = (p.results[0] for p in panels)
    assert (a.value_text, b.value_text) == ("54.61", "12.5")
    assert a.lab_range is not None
    assert a.lab_range is b.lab_range
    assert a.code is not None
    assert a.code is b.code
    assert a.codes is b.codes
    assert a.collected is not None
    assert a.collected is b.collected
    assert a.lab_flags is b.lab_flags
    assert a.specimen is b.specimen
    assert a.specimen_text == b.specimen_text == "Stool"
    assert a.lab == b.lab == "Northfield Gut Diagnostics"
    # the same value text gives the very same value object
    third = json.loads(json.dumps(other))
    third["id"] = "obs-3"
    text = "\n".join(orjson.dumps(r).decode() for r in (other, third))
    panels = _same_both_ways(text)
    assert panels is not None
    assert panels[0].results[0].value is panels[1].results[0].value


def test_lines_naming_a_patient_by_identifier_share_the_patient() -> None:
    first = json.loads(json.dumps(CALPROTECTIN))
    first["subject"] = {"identifier": {"system": "urn:oid:1.2.3", "value": "MRN-1"}}
    second = json.loads(json.dumps(first))
    second["valueQuantity"]["value"] = 12.5
    other = json.loads(json.dumps(first))
    other["subject"]["identifier"]["value"] = "MRN-2"
    text = "\n".join(orjson.dumps(r).decode() for r in (first, second, other))
    panels = _same_both_ways(text)
    assert panels is not None
    assert [p.patient.patient_id for p in panels] == ["MRN-1", "MRN-1", "MRN-2"]
    assert panels[0].patient is panels[1].patient
    assert panels[1].patient != panels[2].patient


def test_a_very_long_line_goes_to_the_strict_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    good = orjson.dumps(CALPROTECTIN).decode()
    monkeypatch.setattr(fhir, "_FAST_LINE", len(good) - 1)
    called: list[str] = []
    monkeypatch.setattr(fhir, "_fast_loads", lambda line: called.append(line) or fhir._MISS)
    panels = list(fhir.iter_panels(io.StringIO(good + "\n" + good + "\n"), source="x"))
    assert [p.results[0].value_text for p in panels] == ["54.61", "54.61"]
    assert called == []


def test_the_reader_takes_the_fast_path_for_ndjson_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    good = orjson.dumps(CALPROTECTIN).decode()
    real = fhir._fast_loads
    taken: list[bool] = []

    def counting(line: str) -> object:
        obj = real(line)
        taken.append(obj is not fhir._MISS)
        return obj

    monkeypatch.setattr(fhir, "_fast_loads", counting)
    panels = list(fhir.iter_panels(io.StringIO("\r\n".join([good] * 4)), source="x"))
    assert len(panels) == 4
    assert taken == [True, True, True]  # the first value is read before NDJSON is known


# --- one-Observation lines: the same panel as the document path ----------------------------

PATIENTS = {
    "Patient/p1": fhir._patient(
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-02-01"}
    )
}


def _both_paths(obj: object) -> None:
    """``_Line`` (the NDJSON shortcut) against ``_document`` on one parsed Observation."""
    if not (isinstance(obj, dict) and obj.get("resourceType") == "Observation"):
        return
    if obj.get("contained"):
        return
    outcomes = []
    for read in (
        lambda: [fhir._Line("in.ndjson", PATIENTS, obj, "line 7 (Observation)").panel()],
        lambda: list(
            fhir._document(obj, "in.ndjson", prefix="line 7", patients=PATIENTS, top_level=False)
        ),
    ):
        try:
            outcomes.append(read())
        except Exception as exc:  # the same refusal both ways
            outcomes.append([f"{type(exc).__name__}: {exc}"])
    line, document = outcomes
    assert line == document
    if all(isinstance(p, Panel) for p in line + document):
        assert _batch_bytes(line) == _batch_bytes(document)


def _fixture_observations() -> list[object]:
    found = []
    for path in FHIR_FILES:
        text = path.read_text(encoding="utf-8-sig")
        docs = (
            [json.loads(x) for x in text.splitlines() if x.strip()]
            if path.suffix == ".ndjson"
            else [json.loads(text)]
        )
        for doc in docs:
            for res in _resources(doc):
                found.append(res)
                if isinstance(res, dict):  # and the contained ones, each on its own
                    found.extend(c for c in res.get("contained") or [] if isinstance(c, dict))
    return found


def test_line_shortcut_equals_the_document_path_on_fixtures() -> None:
    observations = [o for o in _fixture_observations() if isinstance(o, dict)]
    assert any(o.get("resourceType") == "Observation" for o in observations)
    for obs in observations:
        _both_paths(obs)
        _both_paths({**obs, "subject": {"reference": "Patient/p1"}})


def _by_sex(code: str, low: float, high: float) -> dict[str, Any]:
    sex = {"coding": [{"system": "http://snomed.info/sct", "code": code}]}
    return {"low": {"value": low}, "high": {"value": high}, "appliesTo": [sex]}


@pytest.mark.parametrize("subject", ["Patient/p1", "Patient/unknown", None])
def test_line_shortcut_chooses_ranges_by_patient_as_the_document_path(
    subject: str | None,
) -> None:
    obs: dict[str, Any] = json.loads(json.dumps(CALPROTECTIN))
    obs["referenceRange"] = [_by_sex("248153007", 0, 40), _by_sex("248152002", 0, 60)]
    obs["effectiveDateTime"] = "2024-03-11"
    if subject is None:
        del obs["subject"]
    else:
        obs["subject"] = {"reference": subject}
    _both_paths(obs)
    panel = fhir._Line("in.ndjson", PATIENTS, obs, "line 7 (Observation)").panel()
    rng = panel.results[0].lab_range
    assert rng is not None
    if subject == "Patient/p1":  # female: the second range
        assert rng.applies_to.sex == "female"
        assert rng.describe() == "0–60"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(observation_lines(), observation_lines(plain=True)))
def test_line_shortcut_equals_the_document_path_on_generated(line: str) -> None:
    obj = _strict(line)
    if not isinstance(obj, Exception):
        _both_paths(obj)


# --- the short way of a one-Observation line (_line_panel) ----------------------------------


def _layout(obj: object) -> object:
    """A model's whole state as pydantic keeps it: its type, fields in order (nested models
    too), the fields given, extra and private; numbers by repr (``-0.0`` is not ``0.0``)."""
    if isinstance(obj, BaseModel):
        return (
            type(obj).__name__,
            [(k, _layout(v)) for k, v in obj.__dict__.items()],
            sorted(obj.__pydantic_fields_set__),
            obj.__pydantic_extra__,
            obj.__pydantic_private__,
        )
    if isinstance(obj, tuple | list):
        return [_layout(v) for v in obj]
    if isinstance(obj, float):
        return ("float", repr(obj))
    return obj


def _three_ways(obj: dict[str, Any], patients: dict[str, Any] | None = None) -> Panel | None:
    """``_line_panel`` against ``_Line.panel`` and ``_document``: the same panel, laid out
    the same way (or the same refusal)."""
    patients = PATIENTS if patients is None else patients
    outcomes = []
    for read in (
        lambda: [fhir._line_panel("in.ndjson", patients, obj, "line 7 (Observation)")],
        lambda: [fhir._Line("in.ndjson", patients, obj, "line 7 (Observation)").panel()],
        lambda: list(
            fhir._document(obj, "in.ndjson", prefix="line 7", patients=patients, top_level=False)
        ),
    ):
        try:
            outcomes.append(read())
        except Exception as exc:
            outcomes.append([f"{type(exc).__name__}: {exc}"])
    short, line, document = outcomes
    assert short == line == document
    assert _layout(short) == _layout(document)
    if all(isinstance(p, Panel) for p in short + document):
        assert _batch_bytes(short) == _batch_bytes(document)  # type: ignore[arg-type]
        return short[0]  # type: ignore[return-value]
    return None


def test_line_panel_equals_the_document_path_on_fixtures() -> None:
    for obs in _fixture_observations():
        if isinstance(obs, dict) and obs.get("resourceType") == "Observation":
            if obs.get("contained"):
                continue
            _three_ways(obs)
            _three_ways({**obs, "subject": {"reference": "Patient/p1"}})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(observation_lines(), observation_lines(plain=True)))
def test_line_panel_equals_the_document_path_on_generated(line: str) -> None:
    obj = _strict(line)
    if (
        isinstance(obj, dict)
        and obj.get("resourceType") == "Observation"
        and not obj.get("contained")
    ):
        _three_ways(obj)


VALUE_FORMS: list[dict[str, Any]] = [
    {"valueQuantity": {"value": 12.5, "unit": "ug/g", "comparator": "<="}},
    {"valueQuantity": {"value": 12.5, "comparator": "~"}},
    {"valueQuantity": {"unit": "ug/g"}},
    {"valueQuantity": "12"},
    {"valueQuantity": {"value": "12"}},
    {"valueString": "<5"},
    {"valueString": "Detected"},
    {"valueString": "12 H"},
    {"valueString": 5},
    {"valueInteger": 7},
    {"valueInteger": 10**400},
    {"valueBoolean": True},
    {
        "valueCodeableConcept": {
            "coding": [{"system": "http://snomed.info/sct", "code": "260373001"}]
        }
    },
    {"valueCodeableConcept": {"text": "Not detected"}},
    {"valueRange": {"low": {"value": 1}, "high": {"value": 2}}},
    {"dataAbsentReason": {"text": "specimen lost"}},
    {},
    {"valueString": "1", "valueInteger": 1},
]


@pytest.mark.parametrize("value", VALUE_FORMS, ids=lambda v: ",".join(v) or "none")
@pytest.mark.parametrize("subject", ["Patient/p1", None])
def test_line_panel_reads_every_value_form_as_the_document_path(
    value: dict[str, Any], subject: str | None
) -> None:
    obs: dict[str, Any] = {
        k: v for k, v in CALPROTECTIN.items() if k != "valueQuantity" and k != "subject"
    }
    obs.update(value)
    if subject is not None:
        obs["subject"] = {"reference": subject}
    obs["identifier"] = [{"system": "urn:oid:1.2", "value": "A-1"}]
    _three_ways(obs)
    obs["referenceRange"] = [_by_sex("248153007", 0, 40), _by_sex("248152002", 0, 60)]
    _three_ways(obs)


def test_line_panels_share_the_shape_objects() -> None:
    a = dict(CALPROTECTIN)
    quantity = {**CALPROTECTIN["valueQuantity"], "value": 7}  # type: ignore[dict-item]
    b = {**CALPROTECTIN, "id": "obs-2", "valueQuantity": quantity}
    pa, pb = (fhir._line_panel("x", {}, o, "line 1 (Observation)") for o in (a, b))
    ra, rb = pa.results[0], pb.results[0]
    for name in ("code", "codes", "lab_range", "collected", "lab_flags", "status", "specimen"):
        assert getattr(ra, name) is getattr(rb, name), name
    assert ra.value_text == "54.61"
    assert rb.value_text == "7"
    assert ra.provenance.source_id == "obs-1"
    assert rb.provenance.source_id == "obs-2"
    assert pa.provenance is ra.provenance
    # each Result has a fields dict of its own: filling one line never changes another
    assert ra.__dict__ is not rb.__dict__
    assert ra.__pydantic_fields_set__ is not rb.__pydantic_fields_set__


# --- plain numbers (parse_value's own short way) ---------------------------------------------

plain_decimals = st.one_of(
    st.from_regex(r"\A-?(0|[1-9][0-9]{0,16})(\.[0-9]{1,17})?\Z"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: orjson.dumps(f).decode()),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["0", "-0", "0.0", "-0.0", "0.000000000000001", "999999999999999.9"]),
)
number_texts = st.one_of(
    plain_decimals,
    st.tuples(st.sampled_from(["<", "<=", ">", ">=", "=", "< ", "~", "=<"]), plain_decimals).map(
        "".join
    ),
    st.sampled_from(TRICKY_NUMBERS),
    numbers,
)


@settings(max_examples=500, deadline=None)
@given(number_texts)
def test_numbers_read_as_parse_value_reads_them(text: str) -> None:
    """A JSON number's text is read by parse_value (whose plain-number short way is
    checked against its general path in tests/test_values.py), laid out as it lays it
    out: only a number too small for a float is refused on top."""
    from guttests._readers._common import value_or_error

    value, error = fhir._number_value.__wrapped__(text)
    parsed, parse_error = value_or_error(text)
    if value is not None:
        assert parsed is not None
        assert _layout(value) == _layout(parsed)
    else:
        assert error is not None
        assert parsed is None or error != parse_error


# --- numbers no float or orjson holds -------------------------------------------------------


def test_a_huge_value_integer_is_a_value_error() -> None:
    obs = {**CALPROTECTIN, "valueInteger": 10**400}
    del obs["valueQuantity"]
    text = json.dumps(obj=obs)
    panels = _same_both_ways(text + "\n" + text)
    assert panels is not None
    result = panels[0].results[0]
    assert result.value is None
    assert result.value_error is not None
    assert "valueInteger is too large" in result.value_error
    assert result.value_text == str(10**400)


def test_ranges_codes_and_flags_with_integers_past_64_bits_are_read() -> None:
    big = 10**30
    obs: dict[str, Any] = json.loads(json.dumps(CALPROTECTIN))
    obs["code"]["coding"][0]["extension"] = [{"url": "x", "valueInteger": big}]
    obs["interpretation"] = [{"coding": [{"code": "H"}], "extension": [{"valueInteger": big}]}]
    obs["referenceRange"] = [{"low": {"value": 0}, "high": {"value": big}}]
    text = json.dumps(obs)
    panels = _same_both_ways(text + "\n" + text)
    assert panels is not None
    for panel in panels:
        result = panel.results[0]
        assert result.code is not None
        assert result.code.code == "38445-3"
        assert result.lab_flags == ("H",)
        assert result.lab_range is not None  # kept, not dropped
        assert result.lab_range.describe() == "0–1 x 10^30"
    _three_ways(obs)


@pytest.mark.parametrize("chunk", [64, 1000, 1 << 16])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_line_numbers_on_the_fast_path(
    monkeypatch: pytest.MonkeyPatch, chunk: int, newline: str
) -> None:
    """Lines counted as the fast path reads them: the locations and the error's line are
    those of the strict path, across blank lines and chunk boundaries."""
    monkeypatch.setattr(fhir._Text, "_CHUNK", chunk)
    good = orjson.dumps(CALPROTECTIN).decode()
    bad = good.replace('"status":"final"', '"status":"final","status":"final"')
    lines = [good, "", good, "  ", "", good, good.replace("54.61", "54.610"), good]
    panels = _same_both_ways(newline.join(lines) + newline)
    assert panels is not None
    assert [p.provenance.location for p in panels] == [
        f"line {n} (Observation)" for n in (1, 3, 6, 7, 8)
    ]
    panels, error, _ = _read(newline.join([*lines, "", bad, good]), fast=True)
    assert panels is None
    assert error is not None
    assert "line 10" in error
    assert _read(newline.join([*lines, "", bad, good]), fast=False)[1] == error


EFFECTIVE_FORMS: list[dict[str, Any]] = [
    {"effectiveDateTime": "2024-03-11T08:15:00+01:00"},
    {"effectiveDateTime": "2024-03-12T09:00:00Z"},
    {"effectiveDateTime": "2024-03-11"},
    {"effectiveDateTime": "2024-03"},
    {"effectiveDateTime": "2024-02-30"},
    {"effectiveDateTime": 20240311},
    {"effectiveInstant": "2024-03-11T08:15:00.123+01:00"},
    {"effectivePeriod": {"start": "2024-03-10T22:00:00-05:00", "end": "2024-03-11"}},
    {"effectivePeriod": {"end": "2024-03-11"}},
    {"effectiveDateTime": "2024-03-11T08:15:00+01:00", "effectiveInstant": "2025-01-01"},
    {},
]


@pytest.mark.parametrize("effective", EFFECTIVE_FORMS, ids=lambda e: json.dumps(e))
def test_line_panel_reads_the_collection_time_of_each_line(effective: dict[str, Any]) -> None:
    obs: dict[str, Any] = {k: v for k, v in CALPROTECTIN.items() if k != "effectiveDateTime"}
    obs.update(effective)
    _three_ways(obs)
    obs["referenceRange"] = [  # an age-dependent range: chosen by the age at collection
        {"high": {"value": 50}, "age": {"low": {"value": 40, "unit": "a"}}},
        {"high": {"value": 120}, "age": {"high": {"value": 39, "unit": "a"}}},
    ]
    obs["subject"] = {"reference": "Patient/p1"}  # born 1980-02-01
    panel = _three_ways(obs)
    assert panel is not None
    rng = panel.results[0].lab_range
    assert rng is not None
    if isinstance(panel.collected, datetime | date):  # 44 years old: the first range
        assert rng.describe().startswith("≤50")


def test_lines_of_other_times_share_the_shape_and_each_time_one_object() -> None:
    times = ["2024-03-11T08:15:00+01:00", "2024-03-12T10:00:00+01:00"] * 2
    lines = [
        {**CALPROTECTIN, "id": f"obs-{n}", "effectiveDateTime": t} for n, t in enumerate(times)
    ]
    panels = [fhir._line_panel("x", {}, o, f"line {n} (Observation)") for n, o in enumerate(lines)]
    results = [p.results[0] for p in panels]
    assert [r.collected for r in results] == [
        datetime.fromisoformat(t) for t in times
    ]  # each line its own time
    assert results[0].collected is results[2].collected  # one object per time
    assert results[1].collected is results[3].collected
    assert all(p.collected is r.collected for p, r in zip(panels, results, strict=True))
    for name in ("code", "codes", "lab_range", "lab_flags"):
        assert len({id(getattr(r, name)) for r in results}) == 1, name


IDENTIFIER_FORMS: list[object] = [
    {"value": "ACC-1"},
    {"value": "ACC-1", "system": "http://lab.example.org/acc"},
    {"value": " ACC 2 ", "system": " ", "assigner": {"display": "Northfield"}},
    {"value": "ACC-3", "assigner": {"reference": "Organization/1"}, "assigner2": 1},
    {"value": "ACC-4", "type": {"coding": [{"code": "FILL"}, {"code": "PLAC"}]}},
    {"value": "ACC-5", "type": {"text": "filler"}, "system": 5},
    {"value": "µ-ünï", "period": {"start": "2024"}},
]


@pytest.mark.parametrize("raw", IDENTIFIER_FORMS, ids=lambda r: json.dumps(r, ensure_ascii=True))
def test_identifiers_are_laid_out_as_pydantic_validates_them(raw: dict[str, Any]) -> None:
    from guttests._models import Identifier

    made = fhir._identifier(raw)
    assert made is not None
    validated = Identifier(
        value=made.value, system=made.system, assigner=made.assigner, type=made.type
    )
    assert _layout(made) == _layout(validated)
    assert made.value == raw["value"]  # as given, never stripped
    assert hash(made.key) == hash(validated.key)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"valueString": 10**30}, "valueString is not a string"),
        ({"valueBoolean": -(10**25)}, "valueBoolean is not supported"),
        ({"valueQuantity": {"value": [10**20]}}, "valueQuantity.value is not a JSON number"),
    ],
)
def test_an_integer_past_64_bits_keeps_its_text(value: dict[str, Any], reason: str) -> None:
    obs: dict[str, Any] = {k: v for k, v in CALPROTECTIN.items() if k != "valueQuantity"}
    obs.update(value)
    text = json.dumps(obs)
    panels = _same_both_ways(text + "\n" + text)
    assert panels is not None
    result = panels[0].results[0]
    assert result.value is None
    assert result.value_error is not None
    assert reason in result.value_error
    (raw,) = value.values()
    assert result.value_text == json.dumps(raw["value"] if isinstance(raw, dict) else raw)
    _three_ways(obs)
