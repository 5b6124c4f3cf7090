"""Migrations are the only source of the schema: they must round-trip and match the models."""

from __future__ import annotations

import sqlalchemy as sa

from db import migrate
from db.models import Base
from db.session import make_engine

MODEL_TABLES = set(Base.metadata.tables)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_empty_database_has_no_revision(db_url: str) -> None:
    assert migrate.current(db_url) is None
    assert _tables(db_url) == set()


def test_upgrade_creates_every_model_table_and_stamps_head(db_url: str) -> None:
    assert migrate.upgrade(db_url) == migrate.head()
    assert migrate.current(db_url) == migrate.head()
    assert _tables(db_url) == MODEL_TABLES


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert migrate.schema_diffs(db_url) == []


def test_drift_check_notices_a_schema_that_differs_from_the_models(db_url: str) -> None:
    """Proves the check above can fail: remove an index by hand and it must be reported."""
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_obligation__due_at"))
    engine.dispose()
    diffs = migrate.schema_diffs(db_url)
    assert [d[0] for d in diffs] == ["add_index"]
    assert diffs[0][1].name == "ix_obligation__due_at"


def test_downgrade_to_base_and_upgrade_again_round_trips(db_url: str) -> None:
    head = migrate.upgrade(db_url)
    assert migrate.downgrade(db_url, "base") is None
    assert _tables(db_url) == set()
    assert migrate.upgrade(db_url) == head
    assert _tables(db_url) == MODEL_TABLES
    assert migrate.schema_diffs(db_url) == []


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    first = migrate.upgrade(db_url)
    assert migrate.upgrade(db_url) == first


def test_migration_files_use_the_dated_name_template() -> None:
    files = sorted(p.name for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py"))
    assert files, "no migrations found"
    for name in files:
        date_part, rev_part = name.split("_")[:4], name.split("_")[4]
        assert all(part.isdigit() for part in date_part), name
        assert len(rev_part) == 12, name
