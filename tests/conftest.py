"""Shared fixtures: databases on SQLite and PostgreSQL (every DB test runs on both).

- ``db_backend``: "sqlite" or "postgres" — every test that uses the fixtures below runs on both.
- ``db_url``: a fresh, EMPTY database (SQLite file in tmp_path, or a new PostgreSQL database).
- ``migrated_url``: a database at head with empty tables — SQLite: a copy of a file migrated once
  per session; PostgreSQL: one database migrated once per session, TRUNCATEd after each test.
  Tests that change the schema must use ``db_url`` instead.
- ``engine``: an engine on ``migrated_url``, disposed afterwards.
- ``session``: an audited ``DubanSession`` on ``engine`` with ``info["actor"] = "test"``;
  rolled back and closed afterwards (tests commit when they need to).

PostgreSQL comes from ``tests/support/postgres.py``: the local server, else a throwaway cluster,
else a loud skip (a PostgresUnavailableWarning in the summary).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from db import migrate
from db.audit import DubanSession
from db.models import Base
from db.session import make_engine, make_sessionmaker
from tests.support.postgres import (
    PostgresDatabases,
    PostgresUnavailable,
    acquire_postgres,
    warn_unavailable,
)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    try:
        databases = acquire_postgres()
    except PostgresUnavailable as exc:
        warn_unavailable(str(exc))
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh empty database on the current backend."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'duban.db'}"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    try:
        yield url
    finally:
        databases.drop(url)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_migrated(postgres_databases: PostgresDatabases) -> str:
    url = postgres_databases.create()
    migrate.upgrade(url)
    return url


def _empty_postgres_tables(url: str) -> None:
    """TRUNCATE every model table (~50 ms; a CREATE DATABASE … TEMPLATE costs ~150 ms).

    TRUNCATE fires no row triggers, so the append-only audit_entry table empties too. A test that
    leaked an open transaction makes this fail after lock_timeout instead of hanging.
    """
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


@pytest.fixture
def migrated_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database migrated to head with empty tables. Do not change its schema in a test
    (use ``db_url`` for that): on PostgreSQL it is one database per session, emptied after
    each test; on SQLite it is a fresh copy of a migrated file."""
    if db_backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        target = tmp_path / "duban.db"
        shutil.copyfile(template, target)
        wal = template.with_name(template.name + "-wal")
        if wal.exists():  # normally checkpointed away when the migration closed its connection
            shutil.copyfile(wal, target.with_name(target.name + "-wal"))
        yield f"sqlite:///{target}"
        return
    url: str = request.getfixturevalue("_postgres_migrated")
    try:
        yield url
    finally:
        _empty_postgres_tables(url)


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    eng = make_engine(migrated_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[DubanSession]:
    sess = make_sessionmaker(engine)()
    sess.info["actor"] = "test"
    try:
        yield sess
    finally:
        sess.rollback()
        sess.close()
