"""``duban db backup`` / ``duban db restore`` on real SQLite files and real PostgreSQL databases
(pg_dump / pg_restore): round trips keep every row, the append-only triggers survive, and every
refusal leaves the target exactly as it was."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from db import migrate
from db import repository as repo
from db.backup import (
    BackupError,
    PgTools,
    backup_database,
    check_server_version,
    find_pg_tools,
    libpq_connection,
    restore_database,
)
from db.models import LedgerEntry
from db.session import make_engine, session_scope
from duban.commands.db import app
from duban.errors import UserError
from tests.db.builders import make_item, make_plan, make_unit, sh

runner = CliRunner()
NOW = sh(2020, 9, 16, 10)
FIRST_REVISION = "e94580f45d6c"


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def other_url(db_backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second fresh, empty database (SQLite: in a directory that does not exist yet)."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'duban.db'}"
        return
    databases = request.getfixturevalue("postgres_databases")
    url = databases.create()
    try:
        yield url
    finally:
        databases.drop(url)


def backup_file(tmp_path: Path, backend: str, name: str = "backup") -> Path:
    return tmp_path / "backups" / (f"{name}.db" if backend == "sqlite" else f"{name}.dump")


def populate(url: str) -> None:
    """A unit, a plan, an item, an obligation completed late (all audited) and two ledger lines
    (a deduction and its reversal)."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with session_scope(engine, actor="测试员", now=NOW) as s:
            unit = make_unit(s, aliases=["市府办"])
            plan = make_plan(s)
            item = make_item(s, plan)
            ob = repo.upsert_obligation(
                s, item=item, unit=unit, rule_index=0, period_key="2020",
                due_date=date(2020, 9, 15), due_at=sh(2020, 9, 15, 18),
            )
            repo.record_completion(
                s, obligation=ob, done_at=sh(2020, 9, 16, 9), recorded_by="测试员",
                evidence_note="已上传专栏", late_working_days=1,
            )
            late = LedgerEntry(
                entry_key=f"late|ob:{ob.id}|2020-09", kind="scored", rule_code="late",
                unit_id=unit.id, subject_key=f"ob:{ob.id}", period_key="2020-09",
                occurred_on=date(2020, 9, 16), item_code=item.code, amount=Decimal("-0.5"),
                obligation_id=ob.id, reason="逾期 1 个工作日", recorded_by="测试员",
                recorded_at=NOW,
            )
            s.add(late)
            s.flush()
            s.add(LedgerEntry(
                entry_key=f"reverse:{late.id}", kind="reversal", rule_code="late",
                unit_id=unit.id, subject_key=f"ob:{ob.id}", period_key="2020-09",
                amount=Decimal("0.5"), refers_to_id=late.id, reason="延期已批准",
                recorded_by="测试员", recorded_at=NOW,
            ))
    finally:
        engine.dispose()


def add_other_unit(url: str) -> None:
    engine = make_engine(url, poolclass=NullPool)
    try:
        with session_scope(engine, actor="测试员", now=NOW) as s:
            make_unit(s, code="ssfj", name="市司法局")
    finally:
        engine.dispose()


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Every table's rows (sorted), alembic_version included."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            names = sorted(sa.inspect(conn).get_table_names())
            return {
                name: sorted(
                    (tuple(row) for row in conn.execute(sa.text(f'SELECT * FROM "{name}"'))),
                    key=repr,
                )
                for name in names
            }
    finally:
        engine.dispose()


def sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def target_state(url: str) -> tuple:
    """What "untouched" means: the rows, and for SQLite also the bytes and the file's companions
    (-wal, -shm, -journal, temp files of a restore)."""
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        listing = sorted(p.name for p in path.parent.iterdir() if path.name in p.name)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return digest, listing, table_rows(url)
    return (table_rows(url),)


def migrated(url: str, revision: str = "head") -> str:
    migrate.upgrade(url, revision)
    return url


@contextmanager
def reader_and_writer(url: str) -> Iterator[None]:
    """Another connection inside a read transaction and a third with an uncommitted INSERT."""
    engine = make_engine(url, poolclass=NullPool)
    raw_reader: sqlite3.Connection | None = None
    try:
        with engine.connect() as writer, engine.connect() as reader:
            if url.startswith("sqlite"):
                raw_reader = sqlite3.connect(sqlite_file(url), isolation_level=None)
                raw_reader.execute("BEGIN")
                raw_reader.execute("SELECT count(*) FROM audit_entry").fetchone()
            else:
                reader.begin()
                reader.execute(sa.text("SELECT count(*) FROM audit_entry")).scalar_one()
            writer.begin()
            writer.execute(
                sa.text(
                    "INSERT INTO run_record (kind, key, outcome, first_at, last_at, runs, summary)"
                    " VALUES ('daily', '2020-09-17', 'done', :t, :t, 1, '{}')"
                ),
                {"t": NOW},
            )
            yield
            writer.rollback()
    finally:
        if raw_reader is not None:
            raw_reader.close()
        engine.dispose()


def pg_dump_of_other_database(databases, dest: Path) -> None:
    """A genuine pg_dump of a database that is not duban's."""
    url = databases.create()
    try:
        engine = make_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE notes (id int PRIMARY KEY, body text)")
            conn.exec_driver_sql("INSERT INTO notes VALUES (1, '备忘')")
        engine.dispose()
        tools = find_pg_tools()
        conninfo, env = libpq_connection(url)
        subprocess.run(
            [tools.pg_dump, "--format=custom", f"--file={dest}", f"--dbname={conninfo}"],
            env=env, check=True, capture_output=True,
        )
    finally:
        databases.drop(url)


# --------------------------------------------------------------------------- round trips


def test_round_trip_keeps_every_row_while_others_read_and_write(
    db_url: str, other_url: str, tmp_path: Path, db_backend: str
) -> None:
    populate(migrated(db_url))
    source_rows = table_rows(db_url)
    assert len(source_rows["audit_entry"]) >= 5
    assert len(source_rows["ledger_entry"]) == 2
    dest = backup_file(tmp_path, db_backend)

    with reader_and_writer(db_url):
        info = backup_database(db_url, dest)

    assert info.path == dest
    assert info.size == dest.stat().st_size > 0
    assert info.summary.revision == migrate.head()
    assert info.summary.tables["ledger_entry"] == 2
    assert info.summary.tables["run_record"] == 0  # the uncommitted insert is not in the backup
    assert info.summary.rows == sum(len(r) for n, r in source_rows.items() if n != "alembic_version")
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # no temp file left
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    if db_backend == "sqlite":  # self-contained: a rollback journal, no -wal needed beside it
        with sqlite3.connect(dest) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"

    restored = restore_database(other_url, dest)

    assert restored.replaced_rows == 0
    assert not restored.needs_upgrade
    assert restored.summary == info.summary
    assert table_rows(other_url) == source_rows


def test_restored_database_still_refuses_to_rewrite_the_audit_trail_and_ledger(
    db_url: str, other_url: str, tmp_path: Path, db_backend: str
) -> None:
    populate(migrated(db_url))
    dest = backup_file(tmp_path, db_backend)
    backup_database(db_url, dest)
    restore_database(other_url, dest)

    engine = make_engine(other_url, poolclass=NullPool)
    try:
        for statement, message in [
            ("UPDATE audit_entry SET actor = 'mallory'", "audit entries are append-only"),
            ("DELETE FROM audit_entry", "audit entries are append-only"),
            ("UPDATE ledger_entry SET amount = 0", "ledger entries are append-only"),
            ("DELETE FROM ledger_entry", "ledger entries are append-only"),
        ]:
            with pytest.raises(DBAPIError, match=message), engine.begin() as conn:
                conn.exec_driver_sql(statement)
        with engine.begin() as conn:  # appending still works
            conn.execute(
                sa.text(
                    "INSERT INTO audit_entry (at, actor, entity, entity_id, action, changes)"
                    " VALUES (:at, 'test', 'unit', 1, 'update', '{}')"
                ),
                {"at": NOW},
            )
    finally:
        engine.dispose()


def test_force_replaces_a_database_with_rows_by_exactly_the_backup(
    db_url: str, other_url: str, tmp_path: Path, db_backend: str
) -> None:
    populate(migrated(db_url))
    dest = backup_file(tmp_path, db_backend)
    backup_database(db_url, dest)
    add_other_unit(migrated(other_url))

    info = restore_database(other_url, dest, force=True)

    assert info.replaced_rows > 0
    assert table_rows(other_url) == table_rows(db_url)


def test_a_migrated_but_empty_target_needs_no_force(
    db_url: str, other_url: str, tmp_path: Path, db_backend: str
) -> None:
    populate(migrated(db_url))
    dest = backup_file(tmp_path, db_backend)
    backup_database(db_url, dest)
    migrated(other_url)

    info = restore_database(other_url, dest)

    assert info.replaced_rows == 0
    assert table_rows(other_url) == table_rows(db_url)


def test_an_older_backup_is_restored_and_the_user_is_told_to_upgrade(
    db_url: str, other_url: str, tmp_path: Path, db_backend: str
) -> None:
    migrated(db_url, FIRST_REVISION)
    dest = backup_file(tmp_path, db_backend)
    backup_database(db_url, dest)

    result = runner.invoke(app, ["restore", str(dest), "--url", other_url])

    assert result.exit_code == 0, result.output
    assert f"早于当前代码 ({migrate.head()})" in result.output
    assert "duban db upgrade" in result.output
    assert migrate.current(other_url) == FIRST_REVISION
    assert migrate.upgrade(other_url) == migrate.head()


# --------------------------------------------------------------------------- refusals


def test_backup_from_a_newer_duban_is_refused_and_the_target_untouched(
    db_url: str, other_url: str, tmp_path: Path, db_backend: str
) -> None:
    migrated(db_url)
    engine = make_engine(db_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    engine.dispose()
    dest = backup_file(tmp_path, db_backend)
    backup_database(db_url, dest)  # backing it up is fine; restoring it here is not
    add_other_unit(migrated(other_url))
    before = target_state(other_url)

    with pytest.raises(BackupError, match="ffffffffffff 不在本版 duban 已知的迁移中") as err:
        restore_database(other_url, dest, force=True)

    assert "请先升级 duban" in str(err.value)
    assert target_state(other_url) == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"", "是空文件（0 字节）", id="empty"),
        pytest.param(bytes(range(256)) * 40, "不是 duban 备份", id="random-bytes"),
        pytest.param(b"SQLite format 3\x00" + b"\x00" * 200, "无法读取", id="truncated-sqlite"),
    ],
)
def test_a_file_that_is_not_a_backup_is_refused_and_the_target_untouched(
    db_url: str, tmp_path: Path, content: bytes, expected: str, db_backend: str
) -> None:
    if db_backend == "postgres" and content.startswith(b"SQLite"):
        expected = "是 SQLite 备份，不能恢复到 PostgreSQL"
    populate(migrated(db_url))
    before = target_state(db_url)
    bad = tmp_path / "incoming" / "not-a-backup.bin"
    bad.parent.mkdir()
    bad.write_bytes(content)

    result = runner.invoke(app, ["restore", str(bad), "--url", db_url, "--force"])

    assert isinstance(result.exception, UserError), result.output
    assert result.exception.exit_code == 2
    message = str(result.exception)
    assert "\n" not in message
    assert str(bad) in message
    assert expected in message
    assert target_state(db_url) == before


def test_a_database_that_is_not_dubans_is_refused_and_the_target_untouched(
    db_url: str, tmp_path: Path, db_backend: str, request: pytest.FixtureRequest
) -> None:
    populate(migrated(db_url))
    before = target_state(db_url)
    foreign = tmp_path / "incoming" / "foreign.bin"
    foreign.parent.mkdir()
    if db_backend == "sqlite":
        with sqlite3.connect(foreign) as conn:
            conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
            conn.execute("INSERT INTO notes VALUES (1, '备忘')")
        conn.close()
    else:
        pg_dump_of_other_database(request.getfixturevalue("postgres_databases"), foreign)

    with pytest.raises(BackupError, match="不是 duban 数据库") as err:
        restore_database(db_url, foreign, force=True)

    assert str(foreign) in str(err.value)
    assert target_state(db_url) == before


def test_restore_onto_a_database_with_rows_without_force_is_refused_and_untouched(
    db_url: str, other_url: str, tmp_path: Path, db_backend: str
) -> None:
    populate(migrated(db_url))
    dest = backup_file(tmp_path, db_backend)
    backup_database(db_url, dest)
    add_other_unit(migrated(other_url))
    before = target_state(other_url)

    result = runner.invoke(app, ["restore", str(dest), "--url", other_url])

    assert isinstance(result.exception, UserError), result.output
    message = str(result.exception)
    assert "已有" in message
    assert "--force" in message
    assert target_state(other_url) == before


def test_a_backup_of_the_other_backend_is_refused(
    db_url: str, tmp_path: Path, db_backend: str
) -> None:
    populate(migrated(db_url))
    before = target_state(db_url)
    (tmp_path / "incoming").mkdir()
    if db_backend == "sqlite":
        other = tmp_path / "incoming" / "x.dump"
        other.write_bytes(b"PGDMP\x01\x0f\x00" + b"\x00" * 100)
        expected = "是 PostgreSQL 备份 (pg_dump)，不能恢复到 SQLite"
    else:
        other = tmp_path / "incoming" / "x.db"
        with sqlite3.connect(other) as conn:
            conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.close()
        expected = "是 SQLite 备份，不能恢复到 PostgreSQL"

    with pytest.raises(BackupError, match=re.escape(expected)):
        restore_database(db_url, other, force=True)

    assert target_state(db_url) == before


def test_restoring_a_missing_file_names_it(db_url: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "duban.db"

    result = runner.invoke(app, ["restore", str(missing), "--url", db_url])

    assert isinstance(result.exception, UserError)
    assert str(result.exception) == f"备份文件不存在: {missing}"


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_restore_refuses_a_sqlite_target_another_process_keeps_open(
    db_url: str, other_url: str, tmp_path: Path
) -> None:
    populate(migrated(db_url))
    dest = backup_file(tmp_path, "sqlite")
    backup_database(db_url, dest)
    add_other_unit(migrated(other_url))
    before = target_state(other_url)
    server = make_engine(other_url)  # like duban serve: a pooled connection, open and idle
    try:
        with server.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM unit").scalar_one()
            with pytest.raises(BackupError, match="正被其他进程打开"):
                restore_database(other_url, dest, force=True)
    finally:
        server.dispose()
    assert target_state(other_url) == before


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_a_target_a_crash_left_with_rows_only_in_its_wal_is_replaced_cleanly(
    db_url: str, tmp_path: Path
) -> None:
    populate(migrated(db_url))
    dest = backup_file(tmp_path, "sqlite")
    backup_database(db_url, dest)
    # the image a crashed process leaves: committed rows still only in duban.db-wal
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    live = sqlite3.connect(sqlite_file(migrated(f"sqlite:///{tmp_path / 'live.db'}")))
    live.execute("PRAGMA journal_mode=WAL")
    live.execute("PRAGMA wal_autocheckpoint=0")
    live.execute("INSERT INTO unit (code, name, kind, aliases, created_at)"
                 " VALUES ('ssfj', '市司法局', 'city_dept', '[]', '2020-09-16 02:00:00')")
    live.commit()
    for suffix in ("", "-wal"):
        source = tmp_path / f"live.db{suffix}"
        (crashed / f"duban.db{suffix}").write_bytes(source.read_bytes())
    live.close()
    target = f"sqlite:///{crashed / 'duban.db'}"
    assert (crashed / "duban.db-wal").stat().st_size > 0

    info = restore_database(target, dest, force=True)

    assert info.replaced_rows == 1  # the row that was only in the -wal
    assert not (crashed / "duban.db-wal").exists()
    assert table_rows(target) == table_rows(db_url)


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_a_damaged_sqlite_target_is_replaced_only_with_force(
    db_url: str, other_url: str, tmp_path: Path
) -> None:
    populate(migrated(db_url))
    dest = backup_file(tmp_path, "sqlite")
    backup_database(db_url, dest)
    damaged = sqlite_file(other_url)
    damaged.parent.mkdir()
    damaged.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)

    with pytest.raises(BackupError, match=r"无法读取.*--force"):
        restore_database(other_url, dest)
    assert damaged.read_bytes() == b"SQLite format 3\x00" + b"\xff" * 4000

    restore_database(other_url, dest, force=True)
    assert table_rows(other_url) == table_rows(db_url)


@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_a_postgres_restore_that_fails_midway_leaves_the_target_as_it_was(
    db_url: str, other_url: str, tmp_path: Path
) -> None:
    populate(migrated(db_url))
    dest = backup_file(tmp_path, "postgres")
    backup_database(db_url, dest)
    add_other_unit(migrated(other_url))
    engine = make_engine(other_url, poolclass=NullPool)
    with engine.begin() as conn:  # something of the user's that DROP TABLE unit cannot pass
        conn.exec_driver_sql("CREATE VIEW unit_names AS SELECT name FROM unit")
    engine.dispose()
    before = target_state(other_url)

    with pytest.raises(BackupError, match="目标数据库未改动") as err:
        restore_database(other_url, dest, force=True)

    assert "unit_names" in str(err.value) or "depend" in str(err.value)
    assert target_state(other_url) == before


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_backing_up_a_missing_sqlite_database_creates_nothing(
    tmp_path: Path, db_url: str
) -> None:
    dest = tmp_path / "backups" / "b.db"

    with pytest.raises(BackupError, match="数据库文件不存在"):
        backup_database(db_url, dest)

    assert not sqlite_file(db_url).exists()
    assert not dest.exists()


def test_backing_up_a_database_never_migrated_is_refused(
    db_url: str, tmp_path: Path, db_backend: str
) -> None:
    if db_backend == "sqlite":
        with sqlite3.connect(sqlite_file(db_url)) as conn:
            conn.execute("CREATE TABLE notes (id INTEGER)")
        conn.close()
    dest = backup_file(tmp_path, db_backend)

    with pytest.raises(BackupError, match="不是 duban 数据库: 没有 alembic_version 表"):
        backup_database(db_url, dest)

    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_a_backup_path_under_a_regular_file_is_a_clear_error(db_url: str, tmp_path: Path) -> None:
    migrated(db_url)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")

    result = runner.invoke(app, ["backup", str(blocker / "b.db"), "--url", db_url])

    assert isinstance(result.exception, UserError)
    assert result.exception.exit_code == 2
    assert f"无法创建备份目录 {blocker}" in str(result.exception)


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_an_existing_backup_is_only_overwritten_with_force(db_url: str, tmp_path: Path) -> None:
    migrated(db_url)
    dest = tmp_path / "b.db"
    dest.write_bytes(b"an earlier backup")

    result = runner.invoke(app, ["backup", str(dest), "--url", db_url])
    assert isinstance(result.exception, UserError)
    assert "已存在" in str(result.exception)
    assert dest.read_bytes() == b"an earlier backup"

    result = runner.invoke(app, ["backup", str(dest), "--url", db_url, "--force"])
    assert result.exit_code == 0, result.output
    assert dest.read_bytes().startswith(b"SQLite format 3\x00")

    result = runner.invoke(app, ["backup", str(sqlite_file(db_url)), "--url", db_url, "--force"])
    assert isinstance(result.exception, UserError)
    assert "不能是数据库本身" in str(result.exception)
    assert migrate.current(db_url) == migrate.head()


# --------------------------------------------------------------------------- the CLI


def test_cli_backup_into_a_directory_names_the_file_by_beijing_time_and_summarises(
    db_url: str, tmp_path: Path, db_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(migrated(db_url))
    monkeypatch.setattr(
        "duban.context.now", lambda: pendulum.datetime(2026, 11, 22, 8, 30, 5, tz="Asia/Shanghai")
    )
    monkeypatch.setenv("DUBAN_DATABASE_URL", db_url)
    folder = tmp_path / "backups"
    folder.mkdir()

    result = runner.invoke(app, ["backup", str(folder)])

    assert result.exit_code == 0, result.output
    suffix = ".db" if db_backend == "sqlite" else ".dump"
    written = folder / f"duban-20261122-083005{suffix}"
    assert written.is_file()
    lines = result.output.splitlines()
    assert lines[0].startswith("已备份 ")
    assert lines[0].endswith(f"→ {written}（{written.stat().st_size / 1024:.1f} KB）")
    assert f"数据库版本 {migrate.head()} (head)；" in lines[1]
    assert "ledger_entry 2" in lines[2]
    assert "unit 1" in lines[2]

    other = folder / "restore-target"
    url = f"sqlite:///{other / 'duban.db'}" if db_backend == "sqlite" else None
    if url is not None:  # and restore through the CLI too, with the output in Chinese
        result = runner.invoke(app, ["restore", str(written), "--url", url])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0] == f"已恢复 {written} → {url}"
        assert "ledger_entry 2" in result.output


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_cli_uses_the_database_named_in_settings(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(migrated(db_url))
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(f"database_url: {db_url}\n", encoding="utf-8")
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    dest = tmp_path / "b.db"

    result = runner.invoke(app, ["backup", str(dest), "--config", str(config)])

    assert result.exit_code == 0, result.output
    assert f"已备份 {db_url} → {dest}" in result.output


# --------------------------------------------------------------------------- PostgreSQL tools


def test_no_pg_dump_anywhere_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DUBAN_PG_BINDIR", raising=False)

    with pytest.raises(BackupError, match="找不到 pg_dump/pg_restore") as err:
        find_pg_tools(lib_root=tmp_path / "postgresql", search_path=str(tmp_path))

    assert "postgresql-client" in str(err.value)


@pytest.mark.skipif(not list(Path("/usr/lib/postgresql").glob("*/bin/pg_dump")),
                    reason="no PostgreSQL client installed under /usr/lib/postgresql")
def test_the_newest_installed_pg_dump_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DUBAN_PG_BINDIR", raising=False)
    newest = max(
        int(p.parent.parent.name) for p in Path("/usr/lib/postgresql").glob("*/bin/pg_dump")
        if p.parent.parent.name.isdigit()
    )

    tools = find_pg_tools(search_path="")

    assert tools.major == newest
    assert tools.bindir == Path(f"/usr/lib/postgresql/{newest}/bin")


def test_a_server_newer_than_pg_dump_is_refused_with_what_to_install() -> None:
    tools = PgTools(bindir=Path("/usr/lib/postgresql/15/bin"), major=15)

    check_server_version(tools, 15)
    check_server_version(tools, 14)
    with pytest.raises(BackupError, match="服务器版本 16 比 pg_dump 版本 15 新") as err:
        check_server_version(tools, 16)
    assert "postgresql-client-16" in str(err.value)


def test_the_password_goes_into_the_environment_not_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    conninfo, env = libpq_connection(
        "postgresql://duban:s3cr%40t@db.example.org:5433/duban?sslmode=require"
    )

    assert "s3cr" not in conninfo
    assert env["PGPASSWORD"] == "s3cr@t"
    assert "host=db.example.org" in conninfo
    assert "port=5433" in conninfo
    assert "user=duban" in conninfo
    assert "dbname=duban" in conninfo
    assert "sslmode=require" in conninfo
    assert os.environ.get("PGPASSWORD") is None
