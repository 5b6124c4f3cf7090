"""The ``duban`` command line: one Typer app, sub-apps per area (``duban/commands/*``).

Errors a user can act on (bad configuration, a missing calendar year, bad input) are printed as
one readable sentence with exit code 2 — never a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import importlib
import sys

import click
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape

from db.repository import RepositoryError
from deadlines.calendar import CalendarError
from duban.errors import UserError
from duban.yamlio import ConfigError
from scoring.engine import ScoringError

app = typer.Typer(
    name="duban",
    help="督办 duban — deadlines, reminders, escalation and scoring for annual work plans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_state = {"debug": False}
err_console = Console(stderr=True)

# (module, sub-app name or None for modules that register top-level commands themselves)
_COMMAND_MODULES: list[tuple[str, str | None]] = [
    ("duban.commands.calendar", "calendar"),
    ("duban.commands.due", None),
    ("duban.commands.config", "config"),
    ("duban.commands.db", "db"),
    ("duban.commands.plan", "plan"),
    ("duban.commands.records", None),
    ("duban.commands.mail", "mail"),
    ("duban.commands.engine", None),
    ("duban.commands.ledger", None),
    ("duban.commands.serve", None),
    ("duban.commands.report", None),
    ("duban.commands.demo", None),
]


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _state["debug"] = debug


def _register() -> None:
    for module_name, name in _COMMAND_MODULES:
        module = importlib.import_module(module_name)
        if name is None:
            module.register(app)
        else:
            app.add_typer(module.app, name=name)


_register()
app.command("mail-sink", help="Start a local SMTP server that stores what it receives "
            "(same as `duban mail sink`).")(importlib.import_module("duban.commands.mail").sink)

USER_ERRORS = (UserError, ConfigError, CalendarError, ScoringError, RepositoryError)


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        err_console.print("已取消 (aborted)")
        return 130
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        if debug:
            raise
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0][:200]
        err_console.print(f"[bold red]错误[/]: 数据库连接中断（{reason}）。已提交的内容不受影响；"
                          "数据库恢复后重新运行本命令即可，不会重复发送或重复记分。",
                          highlight=False, soft_wrap=True)
        return 3
    except USER_ERRORS as exc:
        if debug:
            raise
        code = getattr(exc, "exit_code", 2)
        err_console.print(f"[bold red]错误[/]: {escape(str(exc))}", highlight=False, soft_wrap=True)
        return code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
