"""Engine/session helpers: URL resolution, SQLite pragmas, and who owns the commit."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from db import repository as repo
from db import session as db_session
from db.audit import DubanSession
from db.session import database_url, display_url, make_engine, normalise_url, session_scope
from tests.db.builders import make_unit, sh


def test_explicit_url_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", "sqlite:////tmp/from-env.db")
    assert database_url("sqlite:////tmp/explicit.db") == "sqlite:////tmp/explicit.db"
    assert database_url() == "sqlite:////tmp/from-env.db"


def test_default_is_a_sqlite_file_in_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    target = tmp_path / "var" / "duban.db"
    monkeypatch.setattr(db_session, "DEFAULT_SQLITE_PATH", target)
    assert database_url() == f"sqlite:///{target}"
    assert target.parent.is_dir()


def test_postgres_urls_are_rewritten_to_psycopg() -> None:
    assert normalise_url("postgresql://u@h:5432/d") == "postgresql+psycopg://u@h:5432/d"
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_display_url_hides_the_password() -> None:
    shown = display_url("postgresql://duban:s3cret@db.example:5432/duban")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://duban:***@db.example:5432/duban"


def test_sqlite_engine_enforces_foreign_keys_and_uses_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
    assert (tmp_path / "sub").is_dir()


@pytest.mark.parametrize(
    "db_backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_postgres_engine_uses_psycopg_and_utc_sessions(engine: Engine) -> None:
    assert engine.dialect.driver == "psycopg"
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW timezone").scalar() == "UTC"


def test_session_scope_commits_on_success(engine: Engine) -> None:
    with session_scope(engine, actor="张三", now=sh(2020, 9, 1, 8)) as session:
        assert isinstance(session, DubanSession)
        make_unit(session)
    with session_scope(engine) as session:
        unit = repo.get_unit_by_code(session, code="swbgs")
        assert unit is not None
        assert unit.created_at == sh(2020, 9, 1, 8)
        [entry] = repo.list_audit(session)
        assert entry.actor == "张三"


def test_session_scope_rolls_back_on_error(engine: Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        make_unit(session)
        make_unit(session, code="other")  # same name: unique violation
    with session_scope(engine) as session:
        assert repo.list_units(session) == []
