"""The NDJSON writer of ``guttests batch``: one JSON record per result, with record caches.

The readers and the engine stay the one source of truth: every result is interpreted by
the engine, and every record is made by the functions :func:`~guttests._reports.
result_record` is made of (:func:`~guttests._reports._model.static_record` and
:func:`~guttests._reports._model.record_from_parts`). What is cached is work that would
give the same bytes again, at two levels:

* **shapes.** Results that differ only in their value and the lab's flags (same analyte,
  codes, unit, range, status, specimen, collection time, lab, panel, under the same patient
  sex, age and birth date, unless the engine interprets them alike for every patient: see
  ``_Engine.patient_free``; then neither the patient nor the collection time is part of the
  shape) share a shape: the record fields that come from neither the value nor
  the interpretation are serialised once per shape (as :class:`orjson.Fragment`), and
  each range once; each record writes its own collection time. A result of a known shape
  is interpreted and only its value-dependent fields are built.
* **values.** Within a shape, a value (with its flags) seen twice gets a template: the
  record's bytes around its per-record fields (``source``, ``panel_index``, ``collected``,
  ``identifiers``, ``source_id``). Later results with that value reuse the bytes.

The key of a :class:`~guttests.Result` is every field except its provenance and
identifiers (the value fields apart, for the value level), every field of the
:class:`~guttests.Panel` except its results, patient and provenance, and every field of
the patient except the identity fields (``patient_id``, ``identifiers``, ``name``).
Nested models (ranges, codings, values) are keyed by identity: the readers share them
between results (they cache them), and the cache keeps each keyed object alive, so an
identity in the key always means the very same object. Results whose objects are not
shared simply miss: slower, never wrong.

HL7 v2 input comes as :class:`~guttests._readers.hl7v2.RawPanel` (``iter_batch_parts``):
panels before their results are built. Its OBX are keyed by the reader's own shape
object (the fields but set id, sub-id, value and flags, read once) and their raw value
and flag fields; a template is filled from the tokens, with no Result built, and a new
value is interpreted on a stand-in Result (the reader's, with the panel's provenance),
the record's source and identifiers coming from the tokens.

Guards: ``tests/test_batch.py`` compares the output byte for byte with the plain path
(:func:`write_records_plain`) on every fixture and on generated inputs, HL7 v2 token path
included; at run time, the first records made from a shape are compared with
``result_record``, the first value templates are checked by building the record again
with the left-out fields changed (another location, no identifiers, an anonymous
patient), and the first records of the token path are compared with the line the plain
path makes from the reader's own result. Any difference turns the caches off for the rest
of the run (the plain path's line is written).

Compact output (``compact=True``) writes each distinct range once, to a separate stream,
as ``{"range_ref": "r1", "range": {...}}`` lines; records carry ``"range_ref"`` in place of
the ``"range"`` object.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any

import orjson

from ._interpret import DEFAULT_POLICY, RangePolicy, _engine, _resolve_catalogue
from ._models import (
    Interpretation,
    Panel,
    PatientContext,
    Provenance,
    ReferenceRange,
    Result,
    trusted,
)
from ._reports._model import (
    _range_record,
    collected_field,
    identifier_fields,
    identity_record,
    record_from_parts,
    result_record,
    source_fields,
    source_record,
    static_record,
    time_field,
)

if TYPE_CHECKING:
    from ._readers.hl7v2 import RawPanel

__all__ = ["BatchCounts", "write_records", "write_records_plain"]

BatchCounts = tuple[int, int, int]
"""(results, interpreted, panels)"""

PATIENT_IDENTITY = frozenset({"patient_id", "identifiers", "name"})
"""Patient fields left out of the cache key: they must not change a record."""
RESULT_PER_RECORD = frozenset({"provenance", "identifiers"})
"""Result fields left out of the cache key: each record's own (see ``_SLOTS``)."""
PANEL_OUTSIDE = frozenset({"results", "patient", "provenance"})

_CACHE_LIMIT = 4_096
"""Entries before the cache is emptied: bounds memory on inputs that never repeat."""
_VALUE_LIMIT = 16_384
"""Values remembered over all shapes (seen once, or a template of about 2 KB) before they
are forgotten: bounds memory at some 40 MB on inputs whose values never repeat."""
_PROBES = 64
"""Misses checked at run time (see the module docstring)."""

_RESULT_FIELDS = tuple(f for f in Result.model_fields if f not in RESULT_PER_RECORD)
_PANEL_FIELDS = tuple(f for f in Panel.model_fields if f not in PANEL_OUTSIDE)
_PATIENT_FIELDS = tuple(f for f in PatientContext.model_fields if f not in PATIENT_IDENTITY)
_SLOTS = ("source", "panel_index", "collected", "identifiers", "source_id")
"""Record fields that belong to one result: its place, its collection time (each order of
a feed has its own) and its source's identifiers."""
_SLOT_MARKERS = {name: orjson.dumps(f"\x00guttests-slot-{name}\x00") for name in _SLOTS}
_PROBE_PROVENANCE = Provenance(source="probe", location="\x00probe\x00", format="probe")
_PROBE_TIME = datetime(1901, 2, 3, 4, 5, tzinfo=UTC)
"""Another collection time, for the probes of shapes whose key leaves it out."""

_dumps = orjson.dumps
_UNSEEN = object()
_SEEN = object()

_TEXT_TYPES = (str, str | None, tuple[str, ...])


def _by_value(name: str) -> bool:
    """Result fields keyed by value: text, optional text and tuples of text (lab flags).

    Equal means the same text there. Every other field (models, datetimes, enum members)
    is keyed by identity: by value, equal instants in two time zones would compare equal
    but are written differently (and 1 == 1.0 == True). The cache entry holds those
    objects, so an identity in a live key always means the very same object.
    """
    return Result.model_fields[name].annotation in _TEXT_TYPES


_PER_VALUE = ("value_text", "value_error", "lab_flags", "lab_flag_texts")
"""Result fields of the value and the lab's flags, keyed by value (the value object by identity)."""
_SHAPE_TEXTS = tuple(f for f in _RESULT_FIELDS if _by_value(f) and f not in _PER_VALUE)
_SHAPE_OBJECTS = tuple(f for f in _RESULT_FIELDS if not _by_value(f) and f != "value")
_TIMELESS_OBJECTS = tuple(f for f in _SHAPE_OBJECTS if f != "collected")
_TIMELESS_PANEL = tuple(f for f in _PANEL_FIELDS if f != "collected")
"""The key of a shape whose results are interpreted alike for every patient (see
``_Engine.patient_free``): nor does their collection time change their interpretation
(it counts only through the patient's age), so the key leaves it out and every record
writes its own (a slot)."""


def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """A fast getter of these keys' values, always as a tuple."""
    if len(names) == 1:
        (name,) = names
        return lambda d: (d[name],)
    return itemgetter(*names)


_shape_texts = _getter(_SHAPE_TEXTS)
_shape_objects = _getter(_SHAPE_OBJECTS)
_timeless_objects = _getter(_TIMELESS_OBJECTS)
_value_texts = _getter(_PER_VALUE)
_panel_values = _getter(_PANEL_FIELDS)
_timeless_panel = _getter(_TIMELESS_PANEL)
_patient_values = _getter(_PATIENT_FIELDS)


_last_datetime: tuple[object, object] = (None, None)


def _other(v: datetime) -> object:
    # Readers share one datetime object between the panels of a time: the last key is
    # kept (by identity; the tuple holds the object, so its id cannot be recycled).
    global _last_datetime
    last = _last_datetime
    if last[0] is v:
        return last[1]
    key = ("datetime", v.isoformat(), v.tzname())
    _last_datetime = (v, key)
    return key


def _value_key(values: Any) -> tuple[Any, ...]:
    # once per panel (panel name, collection time, lab; patient sex, birth date, age):
    # by value, a datetime by its ISO text and zone name
    return tuple([_other(v) if v.__class__ is datetime else v for v in values])


class _Template:
    """A record's bytes around its per-record fields (the ``_SLOTS``), in record order."""

    __slots__ = ("interpreted", "keep", "order", "pieces")

    def __init__(self, data: bytes, interpreted: bool, keep: object) -> None:
        found: list[tuple[int, str, bytes]] = []
        for name, marker in _SLOT_MARKERS.items():
            if data.count(marker) != 1:
                raise ValueError("slot marker not found once")
            found.append((data.index(marker), name, marker))
        found.sort()
        order = tuple(name for _, name, _ in found)
        self.order = _SLOTS if order == _SLOTS else order
        pieces, rest = [], data
        for _, _, marker in found:
            head, rest = rest.split(marker)
            pieces.append(head)
        pieces.append(rest)
        self.pieces = tuple(pieces)
        self.interpreted = interpreted
        self.keep = keep

    def fill_slots(
        self, source: bytes, index: bytes, collected: bytes, identifiers: bytes, source_id: bytes
    ) -> bytes:
        """:meth:`fill` with the slots' bytes in ``_SLOTS`` order."""
        if self.order is not _SLOTS:
            return self.fill(
                dict(zip(_SLOTS, (source, index, collected, identifiers, source_id), strict=True))
            )
        p = self.pieces
        return b"".join(
            (p[0], source, p[1], index, p[2], collected, p[3], identifiers, p[4], source_id, p[5])
        )

    def fill(self, values: dict[str, bytes]) -> bytes:
        pieces = self.pieces
        out = [pieces[0]]
        for n, name in enumerate(self.order, 1):
            out.append(values[name])
            out.append(pieces[n])
        return b"".join(out)


class _Ranges:
    """Compact output: each distinct range record written once, referred to by id."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.refs: dict[bytes, str] = {}

    def ref(self, record: dict[str, Any]) -> str:
        data = _dumps(record)
        ref = self.refs.get(data)
        if ref is None:
            ref = self.refs[data] = f"r{len(self.refs) + 1}"
            self.out.write(_dumps({"range_ref": ref, "range": record}) + b"\n")
        return ref


def _compact(record: dict[str, Any], ranges: _Ranges) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        if k == "range":
            out["range_ref"] = ranges.ref(v) if v is not None else None
        else:
            out[k] = v
    return out


_CHUNK = 1 << 16
"""Bytes of records gathered before one write to the output."""

_GC_THRESHOLD0 = 20_000
"""Allocations between young-generation collections while a batch runs (CPython: 700)."""


@contextmanager
def relaxed_gc() -> Generator[None, None, None]:
    """The garbage collector tuned for a long batch loop, restored afterwards.

    Every young-generation collection also ages objects toward the full collections, and
    each full collection walks every live object: the catalogue, the models' schemas, the
    imported modules. Measured on the benchmark's 40,000-OBX batch, that work was 20-25 %
    of the process's CPU time. While the loop runs, what exists before it is frozen
    (:func:`gc.freeze`: left out of collections, still freed normally when released), and
    young collections run every 20,000 allocations instead of 700. Collections still run,
    so cycles made in the loop are still freed; the memory between collections stays
    bounded by the threshold.
    """
    before = gc.get_threshold()
    freeze = gc.get_freeze_count() == 0  # a caller's own freeze is left as it is
    if freeze:
        gc.freeze()
    gc.set_threshold(max(before[0], _GC_THRESHOLD0), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if freeze:
            gc.unfreeze()


def _resolve_default() -> Any:
    return _resolve_catalogue("default")


def write_records_plain(
    panels: Iterable[Panel | RawPanel] | Iterable[tuple[int, Panel | RawPanel]],
    out: IO[bytes],
    *,
    catalogue: Any = "default",
    optimal: Any = None,
    policy: RangePolicy = DEFAULT_POLICY,
    deidentify: bool = False,
    ranges_out: IO[bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchCounts:
    """The reference path: interpret, build and serialise every result, no cache."""
    from ._interpret import interpret_panel

    ranges = _Ranges(ranges_out) if ranges_out is not None else None
    total = interpreted = count = 0
    for index, item in _indexed(panels):
        panel = item if isinstance(item, Panel) else item.panel()
        count = index + 1
        lines = []
        for interp in interpret_panel(panel, catalogue=catalogue, optimal=optimal, policy=policy):
            record = result_record(interp, panel=panel, panel_index=index, deidentify=deidentify)
            if ranges is not None:
                record = _compact(record, ranges)
            lines.append(_dumps(record))
            interpreted += interp.interpreted
        total += len(lines)
        if lines:
            out.write(b"\n".join(lines) + b"\n")
        if progress is not None:
            progress(total, count)
    return total, interpreted, count


def write_records(
    panels: Iterable[Panel | RawPanel] | Iterable[tuple[int, Panel | RawPanel]],
    out: IO[bytes],
    *,
    catalogue: Any = "default",
    optimal: Any = None,
    policy: RangePolicy = DEFAULT_POLICY,
    deidentify: bool = False,
    ranges_out: IO[bytes] | None = None,
    progress: Callable[[int, int], None] | None = None,
    stats: dict[str, int] | None = None,
) -> BatchCounts:
    """Write one NDJSON record per result of ``panels`` to ``out``, in input order.

    Byte for byte what :func:`write_records_plain` writes, faster on repeating results.
    ``ranges_out``: compact output, the distinct ranges go there (see the module doc).
    Returns (results, interpreted, panels); ``stats`` (if given) gets the cache's
    ``hits`` and whether the run-time check turned it ``off`` (1) or not (0).
    """
    with relaxed_gc():
        return _write_records(
            panels, out, catalogue, optimal, policy, deidentify, ranges_out, progress, stats
        )


class _Shape:
    """What results of one shape share: their static record fields, serialised once.

    A shape is everything a record is made from but the value, the lab's flags, the
    interpretation and the per-record fields (see ``_SLOTS``); its records differ only in
    what :func:`~guttests._reports._model.record_from_parts` computes from the
    interpretation. ``values`` holds the record templates of the values seen (see
    :class:`_Template`) by value key.
    """

    __slots__ = ("keep", "static", "values")

    def __init__(self, static: dict[str, Any], keep: object) -> None:
        self.static = {k: _Fragment(_dumps(v)) for k, v in static.items()}
        self.keep = keep
        self.values: dict[tuple[Any, ...], object] = {}


_Fragment = orjson.Fragment


class _Writer:
    """The state of one :func:`write_records` run (see the module docstring)."""

    def __init__(
        self,
        run: Callable[..., Interpretation],
        deidentify: bool,
        ranges: _Ranges | None,
        patient_free: Callable[[ReferenceRange | None], bool] = lambda rng: False,
    ) -> None:
        self.run = run
        self.patient_free = patient_free
        """Whether results with this lab range are interpreted alike for every patient
        (``_Engine.patient_free``): their shapes leave the patient out of the key."""
        self.deidentify = deidentify
        self.ranges = ranges
        self.shapes: dict[tuple[Any, ...], _Shape] = {}
        self.entries = 0
        self.enabled = True
        self.probes = _PROBES  # value templates checked against other per-record fields
        self.shape_probes = _PROBES  # records from a shape checked against result_record
        self.fill_probes = _PROBES  # records filled from tokens checked against the reader's
        self.hits = self.interpreted = 0
        self.range_bytes: dict[tuple[int, str | None], tuple[ReferenceRange, Any]] = {}

    def off(self) -> None:
        self.enabled = False
        self.shapes.clear()

    def _range(self, rng: ReferenceRange, origin: str | None) -> Any:
        key = (id(rng), origin)
        hit = self.range_bytes.get(key)
        if hit is not None and hit[0] is rng:
            return hit[1]
        made = _Fragment(_dumps(_range_record(rng, origin)))
        if len(self.range_bytes) >= _CACHE_LIMIT:
            self.range_bytes.clear()
        self.range_bytes[key] = (rng, made)
        return made

    def _shape(self, key: tuple[Any, ...], static: dict[str, Any], keep: object) -> _Shape:
        if len(self.shapes) >= _CACHE_LIMIT or self.entries >= _VALUE_LIMIT:
            self.shapes.clear()
            self.entries = 0
        made = self.shapes[key] = _Shape(static, keep)
        return made

    def record(
        self,
        r: Result,
        panel: Panel,
        index: int,
        patient: PatientContext,
        shape: _Shape | None,
        skey: tuple[Any, ...] | None,
        keep: object,
        vkey: tuple[Any, ...] | None,
        value: object,
        where: tuple[dict[str, Any], dict[str, Any]] | None = None,
    ) -> bytes:
        """The line of a result not answered by a template (and the templates it makes).

        ``where``: the record's ``source`` and identity fields, when ``r`` is a stand-in
        (see :meth:`raw_panel`); else they come from ``r``.
        """
        interp = self.run(r, patient, panel.collected)
        self.interpreted += interp.interpreted
        deidentify = self.deidentify
        if where is not None:
            static = (
                _timed(shape.static, r, panel) if shape is not None else static_record(r, panel)
            )
            full = record_from_parts(interp, static, where[0], index, where[1], self._range)
            if shape is None and skey is not None:
                shape = self._shape(skey, static, keep)
        elif shape is None or not self.enabled:
            full = result_record(interp, panel=panel, panel_index=index, deidentify=deidentify)
            if self.enabled and skey is not None:
                shape = self._shape(skey, static_record(r, panel), keep)
        else:
            full = record_from_parts(
                interp,
                _timed(shape.static, r, panel),
                source_record(r.provenance, deidentify),
                index,
                identity_record(r, deidentify),
                self._range,
            )
            if self.shape_probes > 0:
                self.shape_probes -= 1
                plain = result_record(interp, panel=panel, panel_index=index, deidentify=deidentify)
                if _dumps(plain) != _dumps(full):
                    self.off()
                    full = plain
        ranges = self.ranges
        record = _compact(full, ranges) if ranges is not None else full
        data = _dumps(record)
        if not self.enabled or shape is None or vkey is None:
            return data
        seen = shape.values.get(vkey, _UNSEEN)
        if seen is _UNSEEN:  # a template pays from the second sighting on
            if self.entries >= _VALUE_LIMIT:  # values that never repeat: memory stays bounded
                for known in self.shapes.values():
                    known.values.clear()
                self.entries = 0
            shape.values[vkey] = _SEEN
            self.entries += 1
            return data
        if seen is not _SEEN:
            return data
        if self.probes > 0:
            self.probes -= 1
            timeless = self.patient_free(r.lab_range)
            if not _same_without_per_record(r, panel, full, deidentify, self.run, timeless):
                self.off()
                return data
        for name in _SLOTS:
            record[name] = f"\x00guttests-slot-{name}\x00"
        try:
            shape.values[vkey] = _Template(_dumps(record), interp.interpreted, value)
        except ValueError:  # a marker also inside the data: never cached
            shape.values[vkey] = None
        return data

    def panel(self, index: int, panel: Panel) -> list[bytes]:
        pd = panel.__dict__
        patient = pd["patient"]
        contexts = (
            (_value_key(_panel_values(pd)), _value_key(_patient_values(patient.__dict__))),
            (_value_key(_timeless_panel(pd)), None),
        )
        patient_free = self.patient_free
        deidentify = self.deidentify
        index_bytes = str(index).encode()
        lines = []
        for r in pd["results"]:
            d = r.__dict__
            free = patient_free(d["lab_range"])
            context = contexts[free]
            skey: tuple[Any, ...] | None = None
            vkey: tuple[Any, ...] | None = None
            shape = None
            objects: tuple[Any, ...] | None = None
            value: object = None
            if self.enabled:
                objects = _timeless_objects(d) if free else _shape_objects(d)
                skey = (context, _shape_texts(d), tuple(map(id, objects)))
                value = d["value"]
                vkey = (_value_texts(d), id(value))
                shape = self.shapes.get(skey)
                if shape is not None:
                    tpl = shape.values.get(vkey)
                    if tpl.__class__ is _Template and tpl.keep is value:
                        ident = identity_record(r, deidentify)
                        lines.append(
                            tpl.fill_slots(
                                _dumps(source_record(r.provenance, deidentify)),
                                index_bytes,
                                _dumps(collected_field(r, panel)),
                                _dumps(ident["identifiers"]),
                                _dumps(ident["source_id"]),
                            )
                        )
                        self.interpreted += tpl.interpreted
                        self.hits += 1
                        continue
            lines.append(self.record(r, panel, index, patient, shape, skey, objects, vkey, value))
        return lines

    def raw_panel(self, index: int, raw: RawPanel) -> list[bytes]:
        """An HL7 v2 panel from its tokens: each record's source and identifiers come from
        the tokens; a result is built (as a stand-in, see ``RawPanel.stand_in``) only when
        no template answers. The first records of each kind are checked against the
        reader's own results (:meth:`_plain_line`): any difference turns the fast path
        off for the rest of the run."""
        if not self.enabled:
            return self.panel(index, raw.panel())
        panel = trusted(Panel, results=(), **raw.fields)
        pd = panel.__dict__
        patient = pd["patient"]
        panel_collected = pd["collected"]
        contexts = (
            (_value_key(_panel_values(pd)), _value_key(_patient_values(patient.__dict__))),
            (_value_key(_timeless_panel(pd)), None),
        )
        patient_free = self.patient_free
        deidentify = self.deidentify
        file = raw.source
        fmt = raw.format
        index_bytes = str(index).encode()
        lines = []
        shapes = self.shapes
        for i, reader_shape in enumerate(raw.shapes):
            fields = raw.rows[i][2]
            n = len(fields)
            vkey = (fields[5] if n > 5 else "", fields[8] if n > 8 else "")
            skey: tuple[Any, ...]
            if patient_free(reader_shape[0].get("lab_range")):
                skey = (contexts[1], id(reader_shape))
            else:  # the result's own time (OBX-14) with the order's
                skey = (contexts[0], id(reader_shape), fields[14] if n > 14 else "")
            shape = shapes.get(skey)
            if shape is not None and shape.keep is not reader_shape:
                shape = None
            source = source_fields(file, raw.location(i), fmt, deidentify)
            ident = None if deidentify else raw.identifier(i)
            identifiers = (
                [identifier_fields(ident[0], None, ident[1], ident[2])] if ident is not None else []
            )
            tpl = shape.values.get(vkey) if shape is not None else None
            if tpl.__class__ is _Template:
                data = tpl.fill_slots(
                    _dumps(source),
                    index_bytes,
                    _dumps(time_field(raw.collected(i), panel_collected)),
                    _dumps(identifiers),
                    b"null",
                )
                counted = int(tpl.interpreted)
                self.interpreted += counted
                self.hits += 1
            else:
                before = self.interpreted
                data = self.record(
                    raw.stand_in(i),
                    panel,
                    index,
                    patient,
                    shape,
                    skey,
                    reader_shape,
                    vkey,
                    None,
                    (source, {"identifiers": identifiers, "source_id": None}),
                )
                counted = self.interpreted - before
            if self.fill_probes > 0:
                self.fill_probes -= 1
                plain, interpreted = self._plain_line(raw.result(i), panel, index, patient)
                if plain != data:
                    self.off()
                    data = plain
                    self.interpreted += interpreted - counted
            lines.append(data)
            if not self.enabled:
                return lines + self.panel(index, _rest(raw, panel, i + 1))
        return lines

    def _plain_line(
        self, r: Result, panel: Panel, index: int, patient: PatientContext
    ) -> tuple[bytes, int]:
        """The line of the plain path for ``r`` (a result as the reader builds it), and
        whether it was interpreted."""
        interp = self.run(r, patient, panel.collected)
        full = result_record(interp, panel=panel, panel_index=index, deidentify=self.deidentify)
        ranges = self.ranges
        record = _compact(full, ranges) if ranges is not None else full
        return _dumps(record), int(interp.interpreted)


def _timed(static: dict[str, Any], r: Result, panel: Panel) -> dict[str, Any]:
    """A shape's static fields with the record's own collection time (``_SLOTS``)."""
    own = dict(static)
    own["collected"] = collected_field(r, panel)
    return own


def _rest(raw: RawPanel, panel: Panel, start: int) -> Panel:
    """The panel of ``raw`` with its results from ``start`` on (the plain path takes over)."""
    results = tuple(raw.result(i) for i in range(start, len(raw.rows)))
    return panel.model_copy(update={"results": results})


def _write_records(
    panels: Iterable[Panel | RawPanel] | Iterable[tuple[int, Panel | RawPanel]],
    out: IO[bytes],
    catalogue: Any,
    optimal: Any,
    policy: RangePolicy,
    deidentify: bool,
    ranges_out: IO[bytes] | None,
    progress: Callable[[int, int], None] | None,
    stats: dict[str, int] | None,
) -> BatchCounts:
    engine = _engine(_resolve_catalogue(catalogue), optimal, policy)
    ranges = _Ranges(ranges_out) if ranges_out is not None else None
    writer = _Writer(engine.run, deidentify, ranges, engine.patient_free)
    total = count = 0
    # Lines go out in chunks of _CHUNK bytes or more: one write per small panel (a FHIR
    # line is a panel of one result) cost more than the join. Whatever is pending when the
    # input fails is still written, as it was when each panel was written at once.
    pending: list[bytes] = []
    size = 0
    try:
        for index, panel in _indexed(panels):
            count = index + 1
            if isinstance(panel, Panel):
                lines = writer.panel(index, panel)
            else:
                lines = writer.raw_panel(index, panel)
            total += len(lines)
            if lines:
                pending += lines
                size += sum(map(len, lines))
                if size >= _CHUNK:
                    pending.append(b"")
                    out.write(b"\n".join(pending))
                    pending.clear()
                    size = 0
            if progress is not None:
                progress(total, count)
    finally:
        if pending:
            pending.append(b"")
            out.write(b"\n".join(pending))
    if stats is not None:
        stats.update(hits=writer.hits, off=int(not writer.enabled))
    return total, writer.interpreted, count


def _indexed(
    panels: Iterable[Panel | RawPanel] | Iterable[tuple[int, Panel | RawPanel]],
) -> Iterator[tuple[int, Panel | RawPanel]]:
    """``(panel_index, panel)`` pairs: panels are numbered in order; pairs (the parts of a
    long panel from :func:`guttests._readers.iter_panel_parts` share its index) pass as
    they are."""
    for n, item in enumerate(panels):
        yield item if isinstance(item, tuple) else (n, item)


def _same_without_per_record(
    r: Result,
    panel: Panel,
    record: dict[str, Any],
    deidentify: bool,
    run: Callable[..., Any],
    timeless: bool = False,
) -> bool:
    """Whether ``record`` stays the same, but for its slots, without what the key omits
    (``timeless``: the collection time too, see ``_TIMELESS_PANEL``)."""
    patient = panel.patient.model_copy(
        update={f: PatientContext.model_fields[f].default for f in PATIENT_IDENTITY}
    )
    change: dict[str, Any] = {"provenance": _PROBE_PROVENANCE, "identifiers": ()}
    collected = panel.collected
    if timeless:
        collected = _PROBE_TIME
        if r.collected is not None:
            change["collected"] = _PROBE_TIME
    probe_r = r.model_copy(update=change)
    probe_panel = panel.model_copy(
        update={"patient": patient, "results": (probe_r,), "collected": collected}
    )
    interp = run(probe_r, patient, collected)
    other = result_record(interp, panel=probe_panel, panel_index=-1, deidentify=deidentify)
    return _dumps({k: v for k, v in record.items() if k not in _SLOTS}) == _dumps(
        {k: v for k, v in other.items() if k not in _SLOTS}
    )


# --- choosing the engine -----------------------------------------------------------------

DASK_MIN_ROWS = 10_000_000
"""Parquet rows from which ``batch --engine auto`` starts a local Dask cluster.

Below it the job runs in this process (``workers=0``). Measured on the 2-core development
machine (``benchmarks/run.py --only dask``, docs/performance.md): the in-process path costs
about 8 s fixed and about 1 us per row (the columnar engine); a local cluster of 2 workers
about 29 s fixed, so even a perfect 2x on the rows would pay only after some 40M rows (the
noisy fit of the measured times: 15M). Rounded down to 10M. ``--engine dask`` without
``--workers``, or ``--workers N``, starts the cluster whatever the size.
"""


def is_parquet(source: str) -> bool:
    """Whether ``source`` is a Parquet file or a directory holding Parquet files."""
    from pathlib import Path

    path = Path(source)
    if path.is_dir():
        return any(path.rglob("*.parquet"))
    return path.suffix.lower() in {".parquet", ".parq"} and path.is_file()


def parquet_rows(source: str) -> int:
    """Rows of a Parquet file or directory, from the files' footers (no data read)."""
    from pathlib import Path

    import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]

    path = Path(source)
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    return sum(int(pq.read_metadata(f).num_rows) for f in files)


def choose_engine(
    source: str, workers: int | None, scheduler: str | None
) -> tuple[str, int | None]:
    """``batch --engine auto``: ("dask", workers) for Parquet input, else ("stream", workers).

    A Parquet input below :data:`DASK_MIN_ROWS` rows runs in this process (``workers=0``)
    unless ``workers`` or ``scheduler`` ask for a cluster.
    """
    if source == "-" or not is_parquet(source):
        return "stream", workers
    if workers is None and scheduler is None:
        try:
            rows = parquet_rows(source)
        except ImportError:  # no pyarrow: the Dask engine says what to install
            return "dask", workers
        if rows < DASK_MIN_ROWS:
            return "dask", 0
    return "dask", workers
