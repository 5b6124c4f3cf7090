"""Fixtures for the engine's side-effect steps."""

from __future__ import annotations

import pytest

from db.session import make_engine


@pytest.fixture
def db(migrated_url):
    """An engine on a migrated, empty database (SQLite and PostgreSQL)."""
    eng = make_engine(migrated_url)
    yield eng
    eng.dispose()
