"""PDF reports: every result, range and source in the text; PDF/A-3b, tags, metadata, fonts,
page header and numbers, page sizes, determinism; a clear error without the extra."""

from __future__ import annotations

import importlib
import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from guttests import ReportError, interpret_panel, read
from guttests._cli._examples import example_sources
from guttests._models import Panel, PatientContext, Provenance, Result
from guttests._reports import Report, build_report, render_pdf
from guttests._values import parse_value
from guttests.cli import cli


def _weasyprint_works() -> bool:
    try:
        importlib.import_module("weasyprint")
    except (ImportError, OSError):
        return False
    return True


needs_pdf = pytest.mark.skipif(
    not _weasyprint_works(), reason="WeasyPrint or its system libraries (pango) not installed"
)
pypdf = pytest.importorskip("pypdf")
HASH = "cd" * 32


def _example(deidentify: bool = False) -> Report:
    ps: list[Panel] = []
    for name, data in example_sources():
        ps += read(data, source_name=name)
    return build_report(
        ps,
        [interpret_panel(p) for p in ps],
        catalogue_hash=HASH,
        version="0.1.0",
        deidentify=deidentify,
    )


def _small(name: str = "Doe, Jane") -> Report:
    r = Result(
        name="Calprotectin",
        value_text="112.4",
        value=parse_value("112.4"),
        unit="ug/g",
        lab_flags=("H",),
        provenance=Provenance(location="OBX 1"),
    )
    p = Panel(name="Stool", patient=PatientContext(patient_id="P-77", name=name), results=(r,))
    return build_report([p], [interpret_panel(p)], catalogue_hash=HASH, version="0.1.0")


def _flat(text: str) -> str:
    """Text without any white space: PDF text extraction breaks lines where the layout did."""
    return re.sub(r"\s+", "", text)


def _pages(data: bytes) -> list[str]:
    return [page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages]


@pytest.fixture(scope="module")
def example_pdf() -> tuple[Report, bytes]:
    if not _weasyprint_works():
        pytest.skip("WeasyPrint not installed")
    rep = _example()
    return rep, render_pdf(rep)


@needs_pdf
def test_every_result_range_source_and_caveat_is_in_the_text(
    example_pdf: tuple[Report, bytes],
) -> None:
    """Nothing lost on paper: each value, range, flag, source and caveat is in the PDF text."""
    rep, data = example_pdf
    text = _flat("\n".join(_pages(data)))
    assert rep.rows
    for row in rep.rows:
        assert _flat(row.display_name) in text, row.display_name
        assert _flat(row.value) in text, row.value
        assert _flat(row.flag_text) in text, row.flag_text
        if row.range is not None:
            assert _flat(row.range.text) in text, row.range.text
        if row.reason:
            assert _flat(row.reason) in text, row.reason
    for source in rep.sources:
        assert _flat(source.source) in text, source.source
    for cav in rep.caveats:
        assert _flat(cav.text) in text, cav.id
    assert _flat(rep.disclaimer) in text


@needs_pdf
def test_caveats_and_sources_come_after_all_results(example_pdf: tuple[Report, bytes]) -> None:
    """The caveats and range sources are at the end, after every result and the serial section."""
    rep, data = example_pdf
    text = _flat("\n".join(_pages(data)))
    sources_at = text.index(_flat("Range sources"))
    for row in rep.rows:
        assert text.index(_flat(row.display_name)) < sources_at
    assert text.index(_flat("Serial results")) < sources_at < text.index(_flat("Assay notes"))


@needs_pdf
def test_every_page_has_the_patient_and_page_n_of_m(example_pdf: tuple[Report, bytes]) -> None:
    """Each page's header names the patient; each footer says 'page N of M'."""
    _, data = example_pdf
    pages = _pages(data)
    assert len(pages) >= 2
    for n, page in enumerate(pages, 1):
        assert "Example, Robin" in page
        assert "EX-1001" in page
        assert f"page {n} of {len(pages)}" in page


@needs_pdf
def test_pdf_a_3b_tagged_with_title_language_creator_and_embedded_fonts(
    example_pdf: tuple[Report, bytes],
) -> None:
    """PDF/A-3b claimed in the XMP metadata, tagged (MarkInfo, StructTreeRoot), /Lang en,
    title and creator set, an sRGB output intent, every font embedded."""
    _, data = example_pdf
    reader = pypdf.PdfReader(io.BytesIO(data))
    xmp = reader.xmp_metadata
    assert xmp is not None
    xml = xmp.rdf_root.toxml()
    assert 'pdfaid:part="3"' in xml
    assert 'pdfaid:conformance="B"' in xml
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root
    assert root["/Lang"] == "en"
    assert root["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"
    meta = reader.metadata
    assert meta is not None
    assert meta.title == "Laboratory results summary – Example, Robin"
    assert meta.creator == "guttests 0.1.0"
    assert (meta.producer or "").startswith("WeasyPrint")
    fonts = 0
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if "/DescendantFonts" in font:
                font = font["/DescendantFonts"][0].get_object()
            descriptor = font["/FontDescriptor"].get_object()
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts += 1
    assert fonts


@needs_pdf
def test_same_report_same_bytes_and_no_date(example_pdf: tuple[Report, bytes]) -> None:
    """Deterministic output: no creation date unless SOURCE_DATE_EPOCH is set."""
    rep, data = example_pdf
    assert render_pdf(rep) == data
    meta = pypdf.PdfReader(io.BytesIO(data)).metadata
    assert meta is not None
    assert "/CreationDate" not in meta
    assert "/ModDate" not in meta


@needs_pdf
def test_source_date_epoch_sets_the_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    meta = pypdf.PdfReader(io.BytesIO(render_pdf(_small()))).metadata
    assert meta is not None
    assert str(meta["/CreationDate"]).startswith("D:20231114221320")


@needs_pdf
@pytest.mark.parametrize(("size", "points"), [("a4", (595, 842)), ("letter", (612, 792))])
def test_page_sizes(size: Any, points: tuple[int, int]) -> None:
    page = pypdf.PdfReader(io.BytesIO(render_pdf(_small(), page_size=size))).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == points


@needs_pdf
def test_range_graphics_are_vector() -> None:
    """The range graphic is drawn with vector paths: the PDF holds no raster image."""
    data = render_pdf(_small())
    page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    assert not list(page.images)
    assert "112.4" in (page.extract_text() or "")


@needs_pdf
def test_deidentified_pdf_has_no_identity() -> None:
    rep = _example(deidentify=True)
    data = render_pdf(rep)
    text = "\n".join(_pages(data))
    for secret in ("Example, Robin", "EX-1001", "1984-05-17", "stool.hl7"):
        assert secret not in text
        assert secret.encode() not in data
    assert "De-identified report" in _pages(data)[-1]


@needs_pdf
def test_patient_text_cannot_inject_css() -> None:
    """A patient name with quotes, braces and backslashes is printed as text in the header."""
    name = 'Doe"; } @page { size: 10mm } x{ content: "\\'
    data = render_pdf(_small(name=name))
    pages = _pages(data)
    assert _flat(name) in _flat(pages[0])
    page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    assert round(float(page.mediabox.width)) == 595


@needs_pdf
@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_pdftoppm_renders_the_first_page(example_pdf: tuple[Report, bytes], tmp_path: Path) -> None:
    """poppler renders the pages (the docs' PDF screenshot is made the same way)."""
    _, data = example_pdf
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(data)
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", pdf, tmp_path / "page"],
        check=True,
        timeout=120,
    )
    [png] = list(tmp_path.glob("page*.png"))
    assert png.read_bytes().startswith(b"\x89PNG")
    assert png.stat().st_size > 5000


@needs_pdf
def test_cli_pdf_from_output_suffix(tmp_path: Path) -> None:
    """`-o report.pdf` infers the format and writes a PDF; stdout stays empty."""
    out = tmp_path / "report.pdf"
    res = CliRunner().invoke(cli, ["report", "--example", "-o", str(out), "--page-size", "letter"])
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"%PDF-")
    page = pypdf.PdfReader(out).pages[0]
    assert round(float(page.mediabox.width)) == 612


def test_without_weasyprint_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No WeasyPrint: a ReportError naming the guttests[pdf] extra, from the API and the CLI."""
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> Any:
        if name == "weasyprint":
            raise ImportError("No module named 'weasyprint'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ReportError, match=re.escape("guttests[pdf]")) as info:
        render_pdf(_small())
    assert info.value.hint is not None
    assert "pip install" in info.value.hint
    res = CliRunner().invoke(cli, ["report", "--example", "--format", "pdf", "-o", "x.pdf"])
    assert res.exit_code == 1
    assert "guttests[pdf]" in res.output
    assert not Path("x.pdf").exists()


# --- FHIR DiagnosticReport.presentedForm --------------------------------------------------


@needs_pdf
def test_fhir_presented_form_carries_the_pdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """--attach-pdf: the DiagnosticReport carries the PDF (contentType, base64 data, size,
    hash, title, language, creation) and the bundle validates with fhir.resources R4B."""
    import base64
    import hashlib
    import json

    from fhir.resources.R4B.bundle import Bundle

    from guttests._reports import render

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    rep = _small()
    out = render(rep, "fhir", attach_pdf=True)
    bundle = Bundle.model_validate_json(out)
    [dr] = [e.resource for e in bundle.entry if e.resource.__resource_type__ == "DiagnosticReport"]
    [form] = dr.presentedForm
    assert form.contentType == "application/pdf"
    assert form.language == "en"
    assert form.title == rep.title
    assert form.creation is not None
    assert form.creation.isoformat() == "2023-11-14T22:13:20+00:00"
    doc = json.loads(out)
    raw = next(
        e["resource"] for e in doc["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"
    )["presentedForm"][0]
    pdf = base64.b64decode(raw["data"])
    assert pdf == render_pdf(rep)
    assert raw["size"] == len(pdf)
    assert base64.b64decode(raw["hash"]) == hashlib.sha1(pdf).digest()
    assert "112.4" in _pages(pdf)[0]
    # without SOURCE_DATE_EPOCH or --timestamp no creation time is invented
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    plain = json.loads(render(rep, "fhir", attach_pdf=True))
    forms = [
        e["resource"]["presentedForm"][0]
        for e in plain["entry"]
        if e["resource"]["resourceType"] == "DiagnosticReport"
    ]
    assert "creation" not in forms[0]
    # the bundle without --attach-pdf is unchanged
    assert "presentedForm" not in render(rep, "fhir")


@needs_pdf
def test_cli_attach_pdf(tmp_path: Path) -> None:
    out = tmp_path / "r.fhir.json"
    res = CliRunner().invoke(cli, ["report", "--example", "--attach-pdf", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert '"contentType": "application/pdf"' in out.read_text(encoding="utf-8")


@needs_pdf
def test_practitioner_column_fits_the_page() -> None:
    """With a practitioner range set the table has eight columns: all of them on the page
    (the last column starts well inside the right margin), every flag and every
    practitioner-range text in the PDF's text."""
    from guttests import interpret_panels, load_optimal

    optimal = load_optimal(Path(__file__).parent / "fixtures" / "ranges" / "optimal.toml")
    ps: list[Panel] = []
    for name, data in example_sources():
        ps += read(data, source_name=name)
    rep = build_report(
        ps, interpret_panels(ps, optimal=optimal), catalogue_hash=HASH, version="0.1.0"
    )
    assert rep.has_optimal
    data = render_pdf(rep)
    heads: list[float] = []
    width = 0.0
    for page in pypdf.PdfReader(io.BytesIO(data)).pages:
        width = float(page.mediabox.width)

        def visit(text: str, cm: Any, tm: Any, _font: Any, _size: Any) -> None:
            if text.startswith("Practitioner"):  # x on the page: text matrix through the CTM
                heads.append(
                    float(cm[0]) * float(tm[4]) + float(cm[2]) * float(tm[5]) + float(cm[4])
                )

        page.extract_text(visitor_text=visit)
    assert heads
    assert max(heads) < width - 34 - 60  # 12 mm margin, and room for the column
    text = _flat("\n".join(_pages(data)))
    assert _flat("Practitioner range (configured, not a reference range)") in text
    for row in rep.rows:
        assert _flat(row.flag_text) in text
        if row.optimal is not None:
            assert _flat(row.optimal.text) in text


@needs_pdf
def test_cli_pdf_without_output_goes_to_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PDF never goes to the terminal: without -o it is written to ./NAME.pdf."""
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["report", "--example", "--format", "pdf"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "guttests-example.pdf").read_bytes().startswith(b"%PDF-")
    assert "%PDF" not in res.output
