"""Property suite set-up: register guttests' strategies with ``st.from_type``.

Installed guttests registers them through the ``hypothesis`` entry point; calling the
hook again here keeps the suite working from a source tree without that entry point.
"""

from __future__ import annotations

from guttests.testing import register_strategies

register_strategies()  # also registered by the entry point; harmless twice
