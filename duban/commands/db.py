"""``duban db``: create and migrate the database (the schema only ever comes from migrations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError

from db import migrate
from db.session import database_url, display_url
from duban.errors import UserError

app = typer.Typer(
    help="数据库迁移 (database migrations): upgrade, current, downgrade.",
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
