"""A September 2020 built once per test process through the real CLI, then copied per test.

Plan loaded, a few daily runs (reminders, 督办 in three colours), two completions (one on time,
one late) and the monthly escalation of 2020-09 (ledger posted). Building takes ~15 s, so it is
built once and each test gets its own copy (SQLite online backup: WAL content included).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from deadlines.calendar import default_config_dir
from duban import cli
from duban.commands import done_xlsx, report

PLAN = default_config_dir() / "plans" / "2020-chaoyang.yaml"
REMIND_DAYS = ("2020-09-14", "2020-09-18", "2020-09-22")
ON_TIME = ("6", "市司法局", "2020-09-14")  # item 6 is due 2020-09-15
LATE = ("6", "北票市", "2020-09-18")  # three working days late
_built: dict[str, Path] = {}


def ensure_commands() -> None:
    """Register this package's commands on the CLI app until the lead wires them in cli.py."""
    names = {c.name for c in cli.app.registered_commands}
    if "report" not in names:
        report.register(cli.app)
    if "done-xlsx" not in names:
        done_xlsx.register(cli.app)


def run(*args: str) -> int:
    return cli.main(list(args))


def build_once(factory: pytest.TempPathFactory) -> Path:
    """The scenario's database file (built on first use in this process)."""
    if "db" in _built:
        return _built["db"]
    folder = factory.mktemp("september")
    db = folder / "duban.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DUBAN_DATABASE_URL", f"sqlite:///{db}")
        mp.setenv("DUBAN_VAR_DIR", str(folder / "var"))
        mp.delenv("PREFECT_API_URL", raising=False)
        assert run("db", "upgrade") == 0
        assert run("plan", "load", str(PLAN)) == 0
        completions = {ON_TIME[2]: ON_TIME, LATE[2]: LATE}
        for day in REMIND_DAYS:
            assert run("remind", "--as-of", day) == 0
            if day in completions:  # recorded the day it happened, after that day's run
                item, unit, at = completions[day]
                assert run("done", "--item", item, "--unit", unit, "--at", at,
                           "--url", "http://example.gov.cn/zl") == 0
        assert run("escalate", "--month", "2020-09", "--as-of", "2020-10-09") == 0
    _built["db"] = db
    return db


def copy_db(source: Path, target: Path) -> str:
    """A consistent copy of the scenario's database; returns its URL."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return f"sqlite:///{target}"
