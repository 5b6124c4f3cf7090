"""Engines and sessions. The caller owns the transaction: repository functions only flush, and
:func:`session_scope` commits once at the end (or rolls back on error).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from db.audit import DubanSession, to_jsonable

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SQLITE_PATH = REPO_ROOT / "var" / "duban.db"
ENV_VAR = "DUBAN_DATABASE_URL"


def database_url(explicit: str | None = None) -> str:
    """Where the database is: ``explicit`` > ``$DUBAN_DATABASE_URL`` > ``var/duban.db``.

    The default SQLite file lives in the repo's ``var/`` (git-ignored), created on demand.
    """
    if explicit:
        return normalise_url(explicit)
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return normalise_url(from_env)
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def normalise_url(url: str | URL) -> str:
    """Accept ``postgresql://`` / ``postgres://`` and use the psycopg 3 driver for them."""
    text = url.render_as_string(hide_password=False) if isinstance(url, URL) else str(url).strip()
    for prefix in ("postgres://", "postgresql://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix) :]
    return text


def display_url(url: str | URL) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid database URL>"


def _json_default(value: Any) -> Any:
    converted = to_jsonable(value)
    if converted is value:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return converted


json_dumps = partial(json.dumps, ensure_ascii=False, default=_json_default)


def make_engine(
    url: str | URL | None = None,
    *,
    echo: bool = False,
    sqlite_foreign_keys: bool = True,
    **kwargs: Any,
) -> Engine:
    """An engine with duban's connection settings.

    SQLite: foreign keys enforced (off by default in SQLite!), WAL journal, a busy timeout so
    concurrent flows wait rather than fail. PostgreSQL: psycopg 3, session time zone UTC.
    JSON columns keep Chinese readable (``ensure_ascii=False``) and serialise dates as ISO text.
    ``sqlite_foreign_keys=False`` is only for migrations (SQLite table rebuilds need it off).
    """
    sa_url = make_url(normalise_url(url if url is not None else database_url()))
    options: dict[str, Any] = {"echo": echo, "json_serializer": json_dumps, **kwargs}
    backend = sa_url.get_backend_name()
    if backend == "postgresql":
        connect_args = dict(options.pop("connect_args", {}) or {})
        connect_args.setdefault("options", "-c timezone=UTC")
        # a host that vanished (power, network) is noticed in about a minute, not hours: its
        # session — and the leases it held (db/locks.py) — end, and others take over
        for key, value in (("keepalives", 1), ("keepalives_idle", 30),
                           ("keepalives_interval", 10), ("keepalives_count", 3)):
            connect_args.setdefault(key, value)
        options["connect_args"] = connect_args
        options.setdefault("pool_pre_ping", True)
    engine = sa.create_engine(sa_url, **options)
    if backend == "sqlite":
        in_memory = sa_url.database in (None, "", ":memory:")
        if not in_memory and sa_url.database:
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        configure = partial(_configure_sqlite, wal=not in_memory, foreign_keys=sqlite_foreign_keys)
        sa.event.listen(engine, "connect", configure)
    return engine


def _configure_sqlite(
    dbapi_connection: Any, connection_record: Any, *, wal: bool, foreign_keys: bool
) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA busy_timeout=10000")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[DubanSession]:
    """Sessions that write the audit trail; objects stay usable after commit (flows pass them on)."""
    return sessionmaker(bind=engine, class_=DubanSession, expire_on_commit=False)


@contextmanager
def session_scope(
    engine: Engine, *, actor: str | None = None, now: datetime | None = None
) -> Iterator[DubanSession]:
    """One unit of work: commit on success, roll back on error, always close.

    ``actor`` and ``now`` go into ``session.info`` and end up in audit entries (and ``created_at``).
    """
    session = make_sessionmaker(engine)()
    if actor is not None:
        session.info["actor"] = actor
    if now is not None:
        session.info["now"] = now
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dialect_insert(session: Session, target: Any) -> Any:
    """``INSERT`` for the session's database that supports ``ON CONFLICT`` (PostgreSQL or
    SQLite): idempotent writes are ``dialect_insert(...).on_conflict_do_nothing(...)``."""
    table = getattr(target, "__table__", target)
    if session.bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
