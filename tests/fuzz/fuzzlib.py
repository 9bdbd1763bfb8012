"""Fuzzing helpers: seeds, mutations and the wall-clock bound every input must meet.

The strategies here build inputs from the project's own fixtures (tests/fixtures) and
mutate them the ways real files break: cut short, lines repeated or shuffled, the wrong
delimiters, HL7 encoding characters where they do not belong, bytes that are not UTF-8,
and one huge field.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
FORMATS = ("hl7v2", "fhir", "csv", "json")

# Generous: a 2-core CI machine under load reads any of these inputs in milliseconds.
TIME_LIMIT_S = 2.0

T = TypeVar("T")


def bounded(fn: Callable[[], T], limit: float = TIME_LIMIT_S) -> T:
    """Run ``fn``; fail when it takes longer than ``limit`` seconds (a hang or a blow-up)."""
    start = time.perf_counter()
    try:
        return fn()
    finally:
        took = time.perf_counter() - start
        assert took < limit, f"took {took:.2f} s (limit {limit} s)"


def _seed_files(fmt: str) -> list[Path]:
    return sorted(p for p in (FIXTURES / fmt).iterdir() if p.suffix != ".toml" and p.is_file())


SEEDS: dict[str, list[bytes]] = {fmt: [p.read_bytes() for p in _seed_files(fmt)] for fmt in FORMATS}
ALL_SEEDS: list[bytes] = [b for fmt in FORMATS for b in SEEDS[fmt]]
RANGE_SEEDS: list[tuple[str, bytes]] = [
    (p.name, p.read_bytes())
    for p in sorted(
        [*(FIXTURES / "ranges").glob("*.toml"), *(REPO / "reference_ranges").glob("*.toml")]
    )
]

_TOKENS = [
    b"|", b"^", b"~", b"\\", b"&", b"\r", b"\n", b"\r\n", b",", b";", b"\t", b'"', b"{", b"}",
    b"[", b"]", b":", b"\x0b", b"\x1c", b"\xef\xbb\xbf", b"\x00", b"\xff", b"\xc3", b"\xb5",
    b"nan", b"NaN", b"inf", b"-Infinity", b"1e999", b"-1", b"-0", b"0", b"1e308", b"<", b"<=",
    b">", b"<dl", b"\xc2\xb5g/g", b"ng/mL", b"%", b"10*6/g", b"Class 3", b"2+", b"Not detected",
    b"MSH|^~\\&|", b"MSH|", b"OBX|1|NM|", b"OBX|1|SN|X^Calprotectin^LN||<^10|",
    b"OBX|1|TX|X^Note||a~b~c|", b"SPM|1|||", b"PID|1||X||Doe^J||19800101|F", b"OBR|1|||",
    b'"resourceType": "Bundle"', b'"resourceType": "Observation"', b"null", b"{}", b"[]",
    b'"valueQuantity": {"value": -5, "unit": "ug/g"}', b"2024-02-30", b"19000101",
    b"\xe2\x80\xae", b"<script>", b"`", b"high = ", b"low = ", b"[[range]]", b"[[analyte]]",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed file with one to four mutations."""
    data = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        data = draw(_mutation(data))
    return data


def _mutation(data: bytes) -> st.SearchStrategy[bytes]:
    n = len(data)
    at = st.integers(0, n)
    lines = data.splitlines(keepends=True)
    options: list[st.SearchStrategy[bytes]] = [
        at.map(lambda i: data[:i]),  # truncated
        st.tuples(at, at, st.integers(2, 5)).map(  # a slice duplicated
            lambda t: data[: min(t[:2])] + data[min(t[:2]) : max(t[:2])] * t[2] + data[min(t[:2]) :]
        ),
        st.tuples(at, st.sampled_from(_TOKENS)).map(lambda t: data[: t[0]] + t[1] + data[t[0] :]),
        st.tuples(at, st.integers(0, 40)).map(lambda t: data[: t[0]] + data[t[0] + t[1] :]),
        st.tuples(st.sampled_from([b"|", b",", b";", b"\t", b"\r", b"\n", b"^", b":"]),
                  st.sampled_from([b"|", b",", b";", b"\t", b"\n", b"\r", b"^", b"~", b"#"])).map(
            lambda t: data.replace(t[0], t[1])  # the wrong delimiter throughout
        ),
        st.tuples(at, st.sampled_from([b"9", b"x", b"\xc3\xa9", b"|", b"^~", b"\\"]),
                  st.integers(1_000, 200_000)).map(  # a huge field
            lambda t: data[: t[0]] + t[1] * t[2] + data[t[0] :]
        ),
        st.tuples(at, st.binary(min_size=1, max_size=8)).map(  # random bytes
            lambda t: data[: t[0]] + t[1] + data[t[0] :]
        ),
    ]  # fmt: skip
    if len(lines) > 1:
        options.append(st.permutations(lines).map(b"".join))  # reordered lines
        options.append(
            st.tuples(st.integers(0, len(lines) - 1), st.integers(2, 4)).map(
                lambda t: b"".join(lines[: t[0]] + [lines[t[0]]] * t[1] + lines[t[0] + 1 :])
            )
        )
    return st.one_of(options)
