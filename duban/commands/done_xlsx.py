"""Bulk completion from a 台账 spreadsheet: ``duban done --from-xlsx 台账.xlsx``.

The lead's ``duban done`` calls :func:`run_done_from_xlsx`; :func:`register` also adds the same
thing as its own command, ``duban done-xlsx``. Prints one line per row (recorded, already
recorded, refused and why) and a summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from db.repository import RepositoryError
from deadlines.calendar import CalendarError
from duban.context import default_actor, now, open_app
from duban.errors import UserError
from duban.yamlio import ConfigError
from reports.completions import STATUS_LABELS, ImportReport, import_completions

_ERRORS = (UserError, ConfigError, CalendarError, RepositoryError)
FIELD_LABELS = {"unit": "单位", "item": "条目", "period": "期次", "done": "完成时间", "url": "网址",
                "doc": "文号", "note": "说明"}
_STYLE = {"recorded": "green", "skipped": "dim", "not_done": "dim", "rejected": "red"}
EXIT_HELP = ("退出码：0 = 每行都已记录（或此前已记录）；1 = 有行未记录（其余行照常记录，"
             "见表中原因）；2 = 文件无法读取，什么也没记录。")


def print_report(console: Console, report: ImportReport) -> None:
    """The rich table of outcomes, then the one-line summary."""
    cols = "、".join(f"{FIELD_LABELS.get(k, k)}={v}" for k, v in report.columns.items())
    console.print(escape(f"台账 {report.path}（工作表“{report.sheet}”，第{report.header_row}行表头：{cols}）"))
    table = Table("行", "单位", "条目", "完成时间", "结果", "说明")
    for o in report.outcomes:
        style = _STYLE[o.status]
        table.add_row(str(o.row), escape(o.unit), escape(o.item),  # cells as written: no markup
                      o.done_on.isoformat() if o.done_on else escape(o.done_text),
                      f"[{style}]{STATUS_LABELS[o.status]}[/]", escape(o.message))
    console.print(table)
    console.print(report.summary())
    if report.rejected:
        console.print(f"[red]有 {report.rejected} 行未记录[/]：请按“说明”列修改台账后重新导入"
                      "（已记录的行不会重复记录）。")


def run_done_from_xlsx(path: Path, *, config: Path | None, db: str | None,
                       by: str | None) -> int:
    """Import the 台账 at ``path`` and print the outcome; returns the exit code (0/1/2)."""
    console = Console(highlight=False, soft_wrap=True)
    try:
        app = open_app(config, db)
        report = import_completions(app, path, actor=by or default_actor(), now=now())
    except _ERRORS as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]错误[/]: {escape(str(exc))}")
        return getattr(exc, "exit_code", 2)
    print_report(console, report)
    return report.exit_code


def done_xlsx(
    path: Annotated[Path, typer.Argument(help="台账 file: .xlsx, .xls or .csv.")],
    by: Annotated[str | None, typer.Option("--by", help="Who records it (audit trail).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Configuration directory.")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default: settings/env).")] = None,
) -> None:
    """Record completions from a 台账 spreadsheet, row by row (same as done --from-xlsx).

    Columns are found by name (单位 / 条目或序号 / 完成时间, optional 期次 and evidence:
    网址 / 文号 / 说明), the header may sit below a title. A bad row never stops the good
    ones; re-importing the same file records nothing twice.

    Exit codes: 0 every row recorded (or already recorded); 1 some rows were rejected (the
    others are recorded; the table says why); 2 the file cannot be read.

    Example: duban done-xlsx 2020年9月台账.xlsx --by 张三
    """
    raise typer.Exit(run_done_from_xlsx(path, config=config, db=db, by=by))


def register(app: typer.Typer) -> None:
    app.command("done-xlsx")(done_xlsx)


__all__ = ["EXIT_HELP", "print_report", "register", "run_done_from_xlsx"]
