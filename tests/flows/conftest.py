"""Flow tests run the real flows against ONE real local Prefect server per test session
(fixtures in tests/support/prefect.py, shared with tests/ui)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import prefect as prefect_support


def pytest_configure(config: pytest.Config) -> None:
    prefect_support.register(config)


@pytest.fixture
def api(september: prefect_support.September) -> Iterator[prefect_support.September]:
    """The replayed September, with this process's Prefect client pointed at its server."""
    with prefect_support.using(september.server):
        yield september
