"""The PostgreSQL test support itself: the throwaway-cluster fallback must really work."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from db import migrate
from tests.support import postgres as pg


@pytest.mark.postgres
@pytest.mark.timeout(30)
def test_forced_throwaway_cluster_starts_serves_a_migrated_database_and_vanishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if pg.find_pg_bindir() is None:
        pytest.skip("no PostgreSQL binaries installed: the throwaway fallback cannot run here")
    monkeypatch.setenv(pg.ENV_FORCE_THROWAWAY, "1")
    started = time.monotonic()
    databases = pg.acquire_postgres()
    try:
        assert databases.cluster is not None, "the env var must force the throwaway path"
        assert databases.source == "throwaway cluster"
        root = databases.cluster.root
        assert databases.cluster.port != 5432
        if os.geteuid() == 0:
            assert root.stat().st_uid != 0  # initdb refuses root: the cluster is not root's
        url = databases.create()
        assert migrate.upgrade(url) == migrate.head()
        assert migrate.schema_diffs(url) == []
        with psycopg.connect(databases.cluster.admin_url) as conn:
            listen = conn.execute("SHOW listen_addresses").fetchone()
        assert listen == ("127.0.0.1",)
    finally:
        databases.close()
    assert not root.exists()
    assert time.monotonic() - started < 20


def test_missing_binaries_and_server_raise_a_clear_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(pg.ENV_FORCE_THROWAWAY, "1")
    monkeypatch.setattr(pg, "find_pg_bindir", lambda: None)
    with pytest.raises(pg.PostgresUnavailable, match="no initdb/pg_ctl"):
        pg.acquire_postgres()


def test_unanswering_server_is_detected_quickly() -> None:
    started = time.monotonic()
    assert pg.server_answers("postgresql://postgres@127.0.0.1:1/postgres") is False
    assert time.monotonic() - started < 5


@pytest.mark.postgres
def test_databases_are_unique_and_dropped_on_close(
    postgres_databases: pg.PostgresDatabases,
) -> None:
    first, second = postgres_databases.create(), postgres_databases.create()
    assert first != second
    name = Path(second).name
    assert name.startswith(pg.DB_PREFIX + str(os.getpid()))
    postgres_databases.drop(first)
    postgres_databases.drop(second)
    with psycopg.connect(postgres_databases.admin_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = ANY(%s)",
            ([Path(first).name, name],),
        ).fetchone()
    assert left == (0,)


def test_no_postgresql_anywhere_skips_loudly(tmp_path: Path) -> None:
    """Without a server or binaries the PostgreSQL tests skip — with a reason and a warning."""
    repo_root = Path(__file__).resolve().parents[2]
    test_file = tmp_path / "test_needs_postgres.py"
    test_file.write_text(
        "from tests.conftest import postgres_databases  # noqa: F401\n\n\n"
        "def test_needs_postgres(postgres_databases):\n"
        "    raise AssertionError('must not run without PostgreSQL')\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        pg.ENV_ADMIN_URL: "postgresql://postgres@127.0.0.1:1/postgres",
        pg.ENV_BINDIR: "none",
        "PYTHONPATH": str(repo_root),
    }
    env.pop(pg.ENV_FORCE_THROWAWAY, None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout
    assert "PostgreSQL unavailable: no PostgreSQL answers at" in proc.stdout  # -rs reason
    assert "PostgresUnavailableWarning: PostgreSQL tests SKIPPED" in proc.stdout  # warnings summary
