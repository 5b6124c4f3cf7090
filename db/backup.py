"""Backing up the duban database and restoring it, on SQLite and PostgreSQL.

SQLite: the backup is SQLite's online backup API, copying every page in one step under one read
transaction — a consistent snapshot even while flows write (WAL readers never block). The copy is
written to a temp file beside the destination, switched to a self-contained rollback journal,
checked (``PRAGMA integrity_check``, ``alembic_version``) and only then renamed into place.
Restoring goes the same way in reverse: the backup is verified first, copied into a temp file
beside the target, and renamed over it — after the target's WAL has been checkpointed away and
while we hold its exclusive lock, so no stale ``-wal`` can be replayed into the new file and no
other process is writing to it.

PostgreSQL: ``pg_dump --format=custom`` on a snapshot exported from a REPEATABLE READ transaction
(so the row counts we print are those of the dump), and ``pg_restore --single-transaction
--exit-on-error`` (all or nothing). The binaries are looked up on ``$DUBAN_PG_BINDIR``, else
``/usr/lib/postgresql/*/bin`` and ``$PATH``, newest version first. The password never goes on
a command line: it is passed as ``PGPASSWORD`` in the child's environment.

Both: the source must be a duban database (an ``alembic_version`` row this code knows); a target
holding rows is replaced only with ``force``; nothing is written to the target on any error.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from db.migrate import alembic_config
from db.session import DEFAULT_SQLITE_PATH, display_url, make_engine, normalise_url
from duban.errors import UserError

DEFAULT_BACKUP_DIR = DEFAULT_SQLITE_PATH.parent / "backups"
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
ENV_PG_BINDIR = "DUBAN_PG_BINDIR"
PG_LIB_ROOT = Path("/usr/lib/postgresql")
VERSION_TABLE = "alembic_version"
LOCK_TIMEOUT_SECONDS = 5


class BackupError(UserError):
    """A backup or restore that cannot go ahead; the message says why, in one sentence."""


@dataclass(frozen=True)
class DatabaseSummary:
    """What a database (or a backup of one) holds: its migration and rows per table."""

    revision: str
    tables: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    backend: str  # "sqlite" | "postgresql"
    size: int  # bytes
    summary: DatabaseSummary


@dataclass(frozen=True)
class RestoreInfo:
    source: Path
    url: str
    backend: str
    summary: DatabaseSummary
    replaced_rows: int  # rows the target held before (only non-zero with force)
    head: str | None  # the newest revision this code knows

    @property
    def needs_upgrade(self) -> bool:
        """The backup predates the code's newest migration: run ``duban db upgrade``."""
        return self.summary.revision != self.head


def backend_of(url: str) -> str:
    try:
        backend = make_url(normalise_url(url)).get_backend_name()
    except sa.exc.ArgumentError as exc:
        raise BackupError(f"无效的数据库 URL: {display_url(url)}") from exc
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"不支持备份 {backend} 数据库（仅支持 SQLite 和 PostgreSQL）")
    return backend


def default_backup_path(url: str, now: datetime, directory: Path = DEFAULT_BACKUP_DIR) -> Path:
    """``var/backups/duban-<YYYYmmdd-HHMMSS>.db`` (``.dump`` for PostgreSQL); ``now`` is the
    Asia/Shanghai instant the caller read from the clock."""
    suffix = ".dump" if backend_of(url) == "postgresql" else ".db"
    return directory / f"duban-{now.strftime('%Y%m%d-%H%M%S')}{suffix}"


def backup_database(
    url: str, dest: Path, *, overwrite: bool = False, now: datetime | None = None
) -> BackupInfo:
    """Write a consistent backup of the database at ``url`` to ``dest``.

    ``dest`` may be an existing directory (the file is then named as
    :func:`default_backup_path`, which needs ``now``). An existing file is replaced only with
    ``overwrite``. The file appears only once complete and checked.
    """
    backend = backend_of(url)
    dest = Path(dest).expanduser()
    if dest.is_dir():
        if now is None:
            raise BackupError(f"备份目标 {dest} 是目录：请给出文件名")
        dest = default_backup_path(url, now, dest)
    _check_destination(dest, overwrite=overwrite)
    if backend == "sqlite":
        summary = _backup_sqlite(_sqlite_path(url), dest)
    else:
        summary = _backup_postgres(url, dest)
    return BackupInfo(path=dest, backend=backend, size=dest.stat().st_size, summary=summary)


def restore_database(url: str, src: Path, *, force: bool = False) -> RestoreInfo:
    """Replace the database at ``url`` with the backup ``src``.

    Refused (and the target left as it was) when ``src`` is missing, empty, not a backup of the
    right kind, not a duban database, or from a newer duban; and when the target holds rows and
    ``force`` is not given.
    """
    backend = backend_of(url)
    src = Path(src).expanduser()
    if backend == "sqlite":
        summary, replaced = _restore_sqlite(src, _sqlite_path(url), force=force)
    else:
        summary, replaced = _restore_postgres(src, url, force=force)
    return RestoreInfo(
        source=src, url=url, backend=backend, summary=summary, replaced_rows=replaced,
        head=_head(),
    )


# --------------------------------------------------------------------------- shared checks


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _known_revisions() -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _check_revision(revision: str | None, where: str, *, known_only: bool = True) -> str:
    """The revision found in ``where``, if this code can work with it (any revision when
    ``known_only`` is off: backing up a database a newer duban migrated is fine)."""
    if not revision:
        raise BackupError(f"{where} 不是 duban 数据库: alembic_version 表为空（数据库从未迁移）")
    if not known_only:
        return revision
    unknown = [part for part in revision.split(",") if part not in _known_revisions()]
    if unknown:
        raise BackupError(
            f"{where} 的数据库版本 {revision} 不在本版 duban 已知的迁移中（本版最新为 {_head()}）"
            "：它可能来自更新版本的 duban，请先升级 duban 再恢复"
        )
    return revision


def _check_destination(dest: Path, *, overwrite: bool) -> None:
    if dest.exists() and not dest.is_file():
        raise BackupError(f"备份目标 {dest} 不是普通文件")
    if dest.exists() and not overwrite:
        raise BackupError(f"备份文件 {dest} 已存在：换一个文件名，或用 --force 覆盖")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"无法创建备份目录 {dest.parent}: {exc.strerror or exc}") from exc
    if not os.access(dest.parent, os.W_OK):
        raise BackupError(f"备份目录 {dest.parent} 不可写")


def _check_source_file(src: Path) -> bytes:
    """The first bytes of a backup file that exists and is not empty."""
    if not src.exists():
        raise BackupError(f"备份文件不存在: {src}")
    if not src.is_file():
        raise BackupError(f"备份文件 {src} 不是普通文件")
    try:
        with src.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"无法读取备份文件 {src}: {exc.strerror or exc}") from exc
    if not head:
        raise BackupError(f"备份文件 {src} 是空文件（0 字节），不是 duban 备份")
    return head


def _kind_of(head: bytes) -> str | None:
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    return None


def _temp_beside(path: Path) -> Path:
    """A new, empty, private (0600) file in ``path``'s directory, for an atomic rename."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    return tmp


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path, dest: Path) -> None:
    _fsync(tmp)
    os.replace(tmp, dest)
    with contextlib.suppress(OSError):  # not every file system lets us fsync a directory
        _fsync(dest.parent)


@contextlib.contextmanager
def _removed_on_error(tmp: Path) -> Iterator[Path]:
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _count_rows(conn: Connection, names: list[str]) -> dict[str, int]:
    return {
        name: int(conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())
        for name in sorted(names)
        if name != VERSION_TABLE
    }


# --------------------------------------------------------------------------- SQLite


def _sqlite_path(url: str) -> Path:
    database = make_url(normalise_url(url)).database
    if database in (None, "", ":memory:"):
        raise BackupError("内存中的 SQLite 数据库无法备份或恢复：请使用数据库文件")
    return Path(database).expanduser()


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=LOCK_TIMEOUT_SECONDS, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={LOCK_TIMEOUT_SECONDS * 1000}")
    return conn


def _sqlite_summary(
    conn: sqlite3.Connection, where: str, *, known_only: bool = True
) -> DatabaseSummary:
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        if VERSION_TABLE not in names:
            raise BackupError(f"{where} 不是 duban 数据库: 没有 alembic_version 表")
        versions = [row[0] for row in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")]
        revision = _check_revision(",".join(sorted(versions)), where, known_only=known_only)
        tables = {
            name: int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            for name in sorted(names)
            if name != VERSION_TABLE
        }
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{where} 无法读取（文件已损坏或不是 SQLite 数据库）: {exc}") from exc
    return DatabaseSummary(revision=revision, tables=tables)


def _sqlite_check_integrity(conn: sqlite3.Connection, where: str) -> None:
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{where} 无法读取（文件已损坏或不是 SQLite 数据库）: {exc}") from exc
    if problems != ["ok"]:
        raise BackupError(f"{where} 完整性检查未通过: {problems[0]}")


def _sqlite_copy(
    source: sqlite3.Connection, tmp: Path, where: str, *, known_only: bool = True
) -> DatabaseSummary:
    """Copy ``source`` into the empty file ``tmp`` (one step = one snapshot), make the copy
    self-contained (rollback journal, no -wal beside it) and check it."""
    dest = _sqlite_connect(tmp)
    try:
        source.backup(dest)  # pages=-1: every page in one step, under one read transaction
        mode = dest.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        if str(mode).lower() != "delete":  # pragma: no cover - a fresh private file
            raise BackupError(f"{where}: 无法切换为独立文件 (journal_mode={mode})")
        _sqlite_check_integrity(dest, where)
        return _sqlite_summary(dest, where, known_only=known_only)
    finally:
        dest.close()


def _backup_sqlite(path: Path, dest: Path) -> DatabaseSummary:
    if not path.is_file():
        raise BackupError(f"数据库文件不存在: {path}（没有可备份的数据）")
    if _kind_of(_check_source_file(path)) != "sqlite":
        raise BackupError(f"{path} 不是 SQLite 数据库文件")
    if dest.resolve() == path.resolve():
        raise BackupError(f"备份文件不能是数据库本身: {dest}")
    source = _sqlite_connect(path)
    try:
        _sqlite_summary(source, f"数据库 {path}", known_only=False)  # a duban database
        with _removed_on_error(_temp_beside(dest)) as tmp:
            summary = _sqlite_copy(source, tmp, f"备份 {dest}", known_only=False)
            _publish(tmp, dest)
    except sqlite3.Error as exc:
        raise BackupError(f"备份 {path} 失败: {exc}") from exc
    finally:
        source.close()
    return summary


def _sqlite_target_rows(target: Path, *, force: bool) -> int:
    """Rows the restore target holds now (0 if it does not exist or has no tables)."""
    if not target.exists():
        return 0
    if not target.is_file():
        raise BackupError(f"恢复目标 {target} 不是普通文件")
    if target.stat().st_size == 0:
        return 0
    with target.open("rb") as fh:
        is_sqlite = fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    if not is_sqlite:
        if not force:
            raise BackupError(f"恢复目标 {target} 不是 SQLite 数据库：确认无误后用 --force 覆盖")
        return 0
    conn = _sqlite_connect(target)
    try:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        rows = sum(
            int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            for name in names
            if name != VERSION_TABLE
        )
    except sqlite3.DatabaseError as exc:
        if not force:
            raise BackupError(
                f"恢复目标 {target} 无法读取 ({exc})：确认无误后用 --force 覆盖"
            ) from exc
        return 0
    finally:
        conn.close()
    if rows and not force:
        raise BackupError(
            f"恢复目标 {target} 中已有 {rows} 行数据：恢复会覆盖它们。先备份当前数据库，"
            "确认无误后用 --force 覆盖"
        )
    return rows


def _swap_sqlite(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` over ``target``. A live target is first checkpointed out of WAL mode and
    locked exclusively, so no -wal of the old file is left to be replayed into the new one and
    nobody is writing to it; a target other processes keep open is refused."""
    sidecars = [target.with_name(target.name + s) for s in ("-wal", "-shm", "-journal")]
    holder: sqlite3.Connection | None = None
    if target.is_file() and target.stat().st_size:
        with target.open("rb") as fh:
            is_sqlite = fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
        if is_sqlite:
            holder = _sqlite_connect(target)
    try:
        if holder is not None:
            busy = BackupError(
                f"数据库 {target} 正被其他进程打开（例如 duban serve 或 Prefect worker）："
                "请先停止它们再恢复"
            )
            try:
                holder.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                mode = holder.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
                if str(mode).lower() != "delete":
                    raise busy
                holder.execute("BEGIN EXCLUSIVE")
            except sqlite3.OperationalError as exc:
                raise busy from exc
            except sqlite3.DatabaseError:  # a damaged target (only reached with force): replace it
                holder.close()
                holder = None
            if sidecars[0].exists():
                raise busy
        for sidecar in sidecars:  # leftovers of a file we are replacing (checked above)
            sidecar.unlink(missing_ok=True)
        if target.exists():
            shutil.copymode(target, tmp)
        _publish(tmp, target)
    finally:
        if holder is not None:
            with contextlib.suppress(sqlite3.Error):
                holder.rollback()
            holder.close()


def _restore_sqlite(src: Path, target: Path, *, force: bool) -> tuple[DatabaseSummary, int]:
    kind = _kind_of(_check_source_file(src))
    if kind == "postgresql":
        raise BackupError(f"{src} 是 PostgreSQL 备份 (pg_dump)，不能恢复到 SQLite 数据库")
    if kind != "sqlite":
        raise BackupError(f"{src} 不是 duban 备份: 既不是 SQLite 数据库也不是 pg_dump 备份")
    if src.resolve() == target.resolve():
        raise BackupError(f"备份文件 {src} 就是恢复目标本身")
    where = f"备份 {src}"
    source = _sqlite_connect(src)
    try:
        source.execute("PRAGMA query_only=ON")
        _sqlite_check_integrity(source, where)
        _sqlite_summary(source, where)  # a duban database, at a revision this code knows
        replaced = _sqlite_target_rows(target, force=force)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackupError(f"无法创建目录 {target.parent}: {exc.strerror or exc}") from exc
        with _removed_on_error(_temp_beside(target)) as tmp:
            _sqlite_copy(source, tmp, f"恢复到 {target} 的副本")  # checked before the swap
            _swap_sqlite(tmp, target)
    except sqlite3.Error as exc:
        raise BackupError(f"从 {src} 恢复失败: {exc}") from exc
    finally:
        source.close()
    restored = _sqlite_connect(target)
    try:
        return _sqlite_summary(restored, f"恢复后的数据库 {target}"), replaced
    finally:
        restored.close()


# --------------------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class PgTools:
    """``pg_dump`` and ``pg_restore`` of one PostgreSQL version."""

    bindir: Path
    major: int

    @property
    def pg_dump(self) -> str:
        return str(self.bindir / "pg_dump")

    @property
    def pg_restore(self) -> str:
        return str(self.bindir / "pg_restore")


def _tool_major(executable: Path) -> int | None:
    try:
        out = subprocess.run(
            [str(executable), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s*(\d+)(?:\.(\d+))?", out) or re.search(r"(\d+)\.\d+", out)
    if match is None:
        return None
    return int(match.group(1))  # "9.6.24" reads as 9: old, and compared as such


def find_pg_tools(
    *, lib_root: Path = PG_LIB_ROOT, search_path: str | None = None
) -> PgTools:
    """The newest installed ``pg_dump``/``pg_restore`` pair: ``$DUBAN_PG_BINDIR`` if set, else
    ``/usr/lib/postgresql/*/bin`` and ``$PATH``, the highest version winning."""
    chosen = os.environ.get(ENV_PG_BINDIR, "").strip()
    if chosen:
        candidates = [Path(chosen).expanduser()]
    else:
        candidates = sorted(
            lib_root.glob("*/bin"),
            key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0],
            reverse=True,
        )
        on_path = shutil.which("pg_dump", path=search_path)
        if on_path:
            candidates.append(Path(on_path).parent)
    best: PgTools | None = None
    for bindir in candidates:
        if not ((bindir / "pg_dump").is_file() and (bindir / "pg_restore").is_file()):
            continue
        major = _tool_major(bindir / "pg_dump")
        if major is not None and (best is None or major > best.major):
            best = PgTools(bindir=bindir, major=major)
    if best is None:
        where = chosen or f"$PATH 或 {lib_root}/*/bin"
        raise BackupError(
            f"找不到 pg_dump/pg_restore（查找了 {where}）：请安装 PostgreSQL 客户端"
            "（例如 apt install postgresql-client），或用 DUBAN_PG_BINDIR 指定其目录"
        )
    return best


def check_server_version(tools: PgTools, server_major: int) -> None:
    """pg_dump refuses servers newer than itself; say so before it does."""
    if server_major > tools.major:
        raise BackupError(
            f"PostgreSQL 服务器版本 {server_major} 比 pg_dump 版本 {tools.major} 新"
            f"（{tools.bindir}）：请安装 postgresql-client-{server_major}，或用 DUBAN_PG_BINDIR "
            "指定新版本的目录"
        )


def libpq_connection(url: str) -> tuple[str, dict[str, str]]:
    """``(conninfo, environment)`` for pg_dump/pg_restore: everything but the password goes
    into the conninfo string; the password (if the URL has one) into ``PGPASSWORD``."""
    from psycopg.conninfo import make_conninfo

    sa_url = make_url(normalise_url(url))
    params: dict[str, str] = {}
    for key, value in sa_url.query.items():
        params[key] = value if isinstance(value, str) else value[-1]
    for key, value in (
        ("host", sa_url.host),
        ("port", sa_url.port),
        ("user", sa_url.username),
        ("dbname", sa_url.database),
    ):
        if value not in (None, ""):
            params[key] = str(value)
    env = dict(os.environ)
    if sa_url.password:
        env["PGPASSWORD"] = str(sa_url.password)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    return make_conninfo(**params), env


def _run_tool(args: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, cwd="/")
    except OSError as exc:
        raise BackupError(f"{what}: 无法运行 {args[0]}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        detail = next(
            (line for line in lines if "error" in line.lower() or "错误" in line), None
        ) or (lines[-1] if lines else f"退出码 {done.returncode}")
        raise BackupError(f"{what}: {detail}")
    return done.stdout


def _pg_summary(conn: Connection, where: str, *, known_only: bool = True) -> DatabaseSummary:
    names = sa.inspect(conn).get_table_names()
    if VERSION_TABLE not in names:
        raise BackupError(f"{where} 不是 duban 数据库: 没有 alembic_version 表")
    versions = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    revision = _check_revision(",".join(sorted(versions)), where, known_only=known_only)
    return DatabaseSummary(revision=revision, tables=_count_rows(conn, names))


def _backup_postgres(url: str, dest: Path) -> DatabaseSummary:
    tools = find_pg_tools()
    conninfo, env = libpq_connection(url)
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as raw:
            check_server_version(tools, raw.dialect.server_version_info[0])
            conn = raw.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                summary = _pg_summary(conn, f"数据库 {display_url(url)}", known_only=False)
                with _removed_on_error(_temp_beside(dest)) as tmp:
                    _run_tool(
                        [tools.pg_dump, "--format=custom", "--no-password",
                         f"--snapshot={snapshot}", f"--file={tmp}", f"--dbname={conninfo}"],
                        env,
                        f"pg_dump 备份 {display_url(url)} 失败",
                    )
                    # the dump is readable and carries the revision
                    _pg_dump_revision(tools, tmp, f"备份 {dest}", known_only=False)
                    _publish(tmp, dest)
    finally:
        engine.dispose()
    return summary


def _pg_dump_revision(tools: PgTools, src: Path, where: str, *, known_only: bool = True) -> str:
    """The alembic revision stored in a custom-format dump (read without restoring it)."""
    toc = _run_tool([tools.pg_restore, "--list", str(src)], {**os.environ},
                    f"{where} 无法读取")
    if not re.search(rf"TABLE DATA \S+ {VERSION_TABLE}\b", toc):
        raise BackupError(f"{where} 不是 duban 数据库: 备份中没有 alembic_version 表的数据")
    data = _run_tool(
        [tools.pg_restore, "--data-only", f"--table={VERSION_TABLE}", "--file=-", str(src)],
        {**os.environ},
        f"{where} 无法读取",
    )
    versions: list[str] = []
    copying = False
    for line in data.splitlines():
        if line.startswith("COPY ") and VERSION_TABLE in line:
            copying = True
        elif copying and line == "\\.":
            copying = False
        elif copying:
            versions.append(line.strip())
        elif line.startswith("INSERT INTO") and VERSION_TABLE in line:  # pragma: no cover
            versions.extend(re.findall(r"'([^']+)'", line))
    return _check_revision(",".join(sorted(versions)), where, known_only=known_only)


def _pg_target_state(conn: Connection) -> tuple[bool, int]:
    """(has tables, rows outside alembic_version) of the restore target."""
    names = sa.inspect(conn).get_table_names()
    return bool(names), sum(_count_rows(conn, names).values())


def _restore_postgres(src: Path, url: str, *, force: bool) -> tuple[DatabaseSummary, int]:
    kind = _kind_of(_check_source_file(src))
    if kind == "sqlite":
        raise BackupError(f"{src} 是 SQLite 备份，不能恢复到 PostgreSQL 数据库")
    if kind != "postgresql":
        raise BackupError(
            f"{src} 不是 duban 备份: 既不是 pg_dump 自定义格式 (--format=custom) 也不是 SQLite"
        )
    tools = find_pg_tools()
    _pg_dump_revision(tools, src, f"备份 {src}")
    conninfo, env = libpq_connection(url)
    # a restore waits at most this long for a lock held by a running duban (then fails whole)
    env["PGOPTIONS"] = (env.get("PGOPTIONS", "") + " -c lock_timeout=30s").strip()
    where = display_url(url)
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            has_tables, replaced = _pg_target_state(conn)
            conn.rollback()
        if replaced and not force:
            raise BackupError(
                f"恢复目标 {where} 中已有 {replaced} 行数据：恢复会覆盖它们。先备份当前数据库，"
                "确认无误后用 --force 覆盖"
            )
        args = [tools.pg_restore, "--no-password", "--single-transaction", "--exit-on-error",
                "--no-owner", "--no-privileges", f"--dbname={conninfo}"]
        if has_tables:  # replace what is there (only rows with --force, checked above)
            args += ["--clean", "--if-exists"]
        _run_tool([*args, str(src)], env, f"pg_restore 恢复到 {where} 失败（目标数据库未改动）")
        with engine.connect() as conn:
            summary = _pg_summary(conn, f"恢复后的数据库 {where}")
    finally:
        engine.dispose()
    return summary, replaced
