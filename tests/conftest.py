"""Shared test settings: hypothesis profiles and the path to the shared conformance files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# `ci` (default): enough examples to find real bugs while the suite stays within a few
# minutes on 2 cores, derandomized so that a CI run is reproducible (the same inputs every
# run); `random` is the same size with fresh inputs each run, and `thorough` is for longer
# local runs (HYPOTHESIS_PROFILE=thorough) — new failures found there become regression tests.
settings.register_profile(
    "ci",
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "random", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=2000, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SHARED = REPO.parent / "shared" / "conformance"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The directory of fixtures written for this project."""
    return FIXTURES


CONFORMANCE = FIXTURES / "conformance"


@pytest.fixture(scope="session")
def conformance() -> Path:
    """The public conformance material, vendored in tests/fixtures/conformance (see its
    ATTRIBUTION.md): present on every clone, so no test skips for want of ../shared."""
    return CONFORMANCE


@pytest.fixture(autouse=True)
def _every_fhir_output_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every FHIR output the suite renders validates (R4B) and passes the semantic checks."""
    from fhir_checks import check_fhir
    from guttests._reports import _fhir

    original = _fhir.render_fhir

    def checked(*args: object, **kwargs: object) -> str:
        out = original(*args, **kwargs)  # type: ignore[arg-type]
        check_fhir(out)
        return out

    monkeypatch.setattr(_fhir, "render_fhir", checked)
