"""``duban db``: create and migrate the database (the schema only ever comes from migrations),
back it up and restore it (the logic is in :mod:`db.backup`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from db import backup as db_backup
from db import migrate
from db.session import ENV_VAR, database_url, display_url
from deadlines.calendar import default_config_dir
from duban.config import load_settings
from duban.errors import UserError

app = typer.Typer(
    help="数据库迁移与备份 (database): upgrade, current, downgrade, backup, restore.",
    no_args_is_help=True,
)

URL_HELP = "Database URL (default: $DUBAN_DATABASE_URL, else sqlite:///var/duban.db)."
T = TypeVar("T")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].rstrip(".") if text else type(exc).__name__


def _run(what: str, url: str, action: Callable[[], T]) -> T:
    """Run a migration step, turning driver/Alembic errors into one readable sentence."""
    try:
        return action()
    except CommandError as exc:
        raise UserError(f"{what}失败 ({display_url(url)}): {_first_line(exc)}.") from exc
    except (SQLAlchemyError, migrate.ForeignKeyViolation, OSError) as exc:
        raise UserError(
            f"{what}失败: 无法在 {display_url(url)} 上完成 — {_first_line(exc)}."
        ) from exc


def _label(revision: str | None) -> str:
    if revision is None:
        return "空库 (base, no migrations applied)"
    suffix = " (head)" if revision == migrate.head() else ""
    return f"{revision}{suffix}"


@app.command()
def upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: head)."),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    resolved = database_url(url)
    before = _run("读取数据库版本", resolved, lambda: migrate.current(resolved))
    after = _run("升级数据库", resolved, lambda: migrate.upgrade(resolved, revision))
    if before == after:
        typer.echo(f"数据库已是最新: {_label(after)} — {display_url(resolved)}")
    else:
        typer.echo(f"数据库已升级: {_label(before)} → {_label(after)} — {display_url(resolved)}")


@app.command()
def current(url: str | None = typer.Option(None, "--url", help=URL_HELP)) -> None:
    """Show which migration the database is at."""
    resolved = database_url(url)
    revision = _run("读取数据库版本", resolved, lambda: migrate.current(resolved))
    typer.echo(f"{_label(revision)} — {display_url(resolved)}")
    if revision is not None and revision != migrate.head():
        typer.echo(f"有待执行的迁移: 运行 `duban db upgrade` 升级到 {migrate.head()}")


@app.command()
def downgrade(
    revision: str = typer.Argument(
        ...,
        help='Target revision id or "base". A relative step goes last, after "--": '
        "duban db downgrade --url URL -- -1",
    ),
    url: str | None = typer.Option(None, "--url", help=URL_HELP),
) -> None:
    """Undo migrations down to REVISION ("base" drops every table — data is lost)."""
    resolved = database_url(url)
    before = _run("读取数据库版本", resolved, lambda: migrate.current(resolved))
    after = _run("降级数据库", resolved, lambda: migrate.downgrade(resolved, revision))
    typer.echo(f"数据库已降级: {_label(before)} → {_label(after)} — {display_url(resolved)}")


# --------------------------------------------------------------------------- backup / restore

ConfigDir = Annotated[
    Path | None,
    typer.Option("--config", help="Configuration directory (settings.yaml may name the database)."),
]


def _configured_url(url: str | None, config_dir: Path | None) -> str:
    """Like every other command: --url > $DUBAN_DATABASE_URL > settings.yaml > var/duban.db."""
    if url or os.environ.get(ENV_VAR, "").strip():
        return database_url(url)
    settings = load_settings(config_dir or default_config_dir())
    return database_url(settings.database_url)


def _size(num_bytes: int) -> str:
    if num_bytes < 1024:
        return f"{num_bytes} B"
    value, unit = num_bytes / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def _summary_lines(summary: db_backup.DatabaseSummary) -> list[str]:
    """"数据库版本 …；15 张表，共 1,234 行（其中 9 张为空）" and the tables that hold rows."""
    filled = {name: rows for name, rows in summary.tables.items() if rows}
    empty = len(summary.tables) - len(filled)
    first = f"数据库版本 {_label(summary.revision)}；{len(summary.tables)} 张表，共 {summary.rows:,} 行"
    lines = [first + ("（全部为空）" if not filled else f"（其中 {empty} 张为空）" if empty else "")]
    if filled:
        lines.append("  " + "，".join(f"{name} {rows:,}" for name, rows in filled.items()))
    return lines


@app.command()
def backup(
    dest: Annotated[
        Path | None,
        typer.Argument(
            help="Backup file or directory (default: var/backups/duban-<YYYYmmdd-HHMMSS>.db, "
            ".dump for PostgreSQL)."
        ),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help=URL_HELP)] = None,
    config_dir: ConfigDir = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing backup file.")
    ] = False,
) -> None:
    """Back up the database while it is in use (SQLite backup API / pg_dump --format=custom)."""
    from duban.context import now

    resolved = _configured_url(url, config_dir)
    at = now()
    target = dest if dest is not None else db_backup.default_backup_path(resolved, at)
    info = _run(
        "备份数据库", resolved,
        lambda: db_backup.backup_database(resolved, target, overwrite=force, now=at),
    )
    typer.echo(f"已备份 {display_url(resolved)} → {info.path}（{_size(info.size)}）")
    for line in _summary_lines(info.summary):
        typer.echo(line)


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="A backup written by `duban db backup`.")],
    url: Annotated[str | None, typer.Option("--url", help=URL_HELP)] = None,
    config_dir: ConfigDir = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a database that already holds data (it is lost)."),
    ] = False,
) -> None:
    """Replace the configured database with a backup (stop duban serve / workers first)."""
    resolved = _configured_url(url, config_dir)
    info = _run(
        "恢复数据库", resolved, lambda: db_backup.restore_database(resolved, src, force=force)
    )
    replaced = f"（替换了原有的 {info.replaced_rows:,} 行数据）" if info.replaced_rows else ""
    typer.echo(f"已恢复 {info.source} → {display_url(resolved)}{replaced}")
    for line in _summary_lines(info.summary):
        typer.echo(line)
    if info.needs_upgrade:
        typer.echo(
            f"备份的数据库版本 {info.summary.revision} 早于当前代码 ({info.head})："
            "请运行 `duban db upgrade`"
        )
