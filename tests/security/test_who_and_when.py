"""Who and when: every manual change made through the CLI records the actor (``--by``, else the
OS user) and an aware UTC instant — in the audit trail, or on the ledger / finding row itself
(the ledger is append-only and not audited row by row). Real SQLite: the September scenario of
tests/reports (plan, reminders, two completions, the 2020-09 escalation) copied per test."""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from sqlalchemy.orm import Session

from db.models import AuditEntry, Event, Extension, Finding, LedgerEntry, Obligation
from db.session import make_engine
from duban.cli import main
from duban.context import default_actor
from tests.reports.scenario import build_once, copy_db, ensure_commands

BY = "审计员甲"


@dataclass
class Cli:
    url: str
    run: Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path_factory, tmp_path, monkeypatch, capsys) -> Cli:
    ensure_commands()
    url = copy_db(build_once(tmp_path_factory), tmp_path / "duban.db")
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    # no hint from the environment: the default actor must come from the OS account
    for name in ("DUBAN_ACTOR", "USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return Cli(url, run)


def _query(url: str, stmt) -> list:
    """ORM objects (or rows) for ``stmt``, detached."""
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return list(session.scalars(stmt))
    finally:
        engine.dispose()


def _audit(url: str, entity: str, since: datetime) -> list[AuditEntry]:
    return [e for e in _query(url, sa.select(AuditEntry).where(AuditEntry.entity == entity)
                              .order_by(AuditEntry.id)) if e.at >= since]


def _ledger_id(cli: Cli, *, kind: str) -> int:
    code, out, _ = cli.run("ledger", "list", "--json")
    assert code == 0
    return next(r["id"] for r in json.loads(out) if r["kind"] == kind)


def _taizhang(path) -> str:
    wb = Workbook()
    ws = wb.active
    ws.append(["序号", "单位名称", "条目", "完成时间", "网址"])
    ws.append([1, "市财政局", "6", "2020年9月16日", "http://czj.example.gov.cn/zl"])
    wb.save(path)
    return str(path)


# Each command: (args before --by, given the Cli and tmp_path) and where its trace is.
# "audit:<table>" → an audit entry on that table; "row:<model>" → the row's own columns.
COMMANDS: dict[str, tuple[Callable[[Cli, object], list[str]], str]] = {
    "event add": (lambda c, t: ["event", "add", "--item", "6", "--unit", "市司法局", "--title",
                                "关于稳岗就业的若干措施", "--at", "2020-09-30 10:00"],
                  "audit:event"),
    "done": (lambda c, t: ["done", "--item", "6", "--unit", "市财政局", "--at", "2020-09-16",
                           "--url", "http://czj.example.gov.cn/zl"], "audit:obligation"),
    "done --from-xlsx": (lambda c, t: ["done", "--from-xlsx", _taizhang(t / "台账.xlsx")],
                         "audit:obligation"),
    "extend": (lambda c, t: ["extend", "--item", "4", "--unit", "北票市", "--to", "2020-12-15",
                             "--reason", "试点范围调整", "--approved-by", "李主任"],
               "audit:extension"),
    "pause": (lambda c, t: ["pause", "--item", "6", "--unit", "市财政局", "--reason",
                            "征求第三方意见", "--at", "2020-09-10"], "audit:pause"),
    "resume": (lambda c, t: (c.run("pause", "--item", "6", "--unit", "市财政局", "--reason",
                                   "征求第三方意见", "--at", "2020-09-10", "--by", "准备人"),
                             ["resume", "--item", "6", "--unit", "市财政局",
                              "--at", "2020-09-14"])[1], "audit:pause"),
    "ledger decide": (lambda c, t: ["ledger", "decide", str(_ledger_id(c, kind="pending")),
                                    "--points", "0.5", "--reason", "已部分完成"],
                      "row:decision"),
    "ledger reverse": (lambda c, t: ["ledger", "reverse", str(_ledger_id(c, kind="scored")),
                                     "--reason", "延期已批准"], "row:reversal"),
    "finding add": (lambda c, t: ["finding", "add", "--unit", "北票市", "--rule", "C3.1",
                                  "--on", "2020-09-08", "--note", "三次拨测无人接听"],
                    "row:finding"),
}


def _os_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def _assert_instant(value: datetime, start: datetime, end: datetime) -> None:
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0), value
    assert start - timedelta(seconds=1) <= value <= end + timedelta(seconds=1), (value, start)


@pytest.mark.parametrize("by", [BY, None], ids=["--by", "default"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_manual_change_records_who_and_when(cli, tmp_path, command, by):
    build_args, trace = COMMANDS[command]
    args = build_args(cli, tmp_path)
    expected = by or _os_user()
    start = datetime.now(UTC)
    code, out, err = cli.run(*args, *(["--by", by] if by else []))
    end = datetime.now(UTC)
    assert code == 0, f"{command}: {err or out}"
    kind, _, what = trace.partition(":")
    if kind == "audit":
        entries = _audit(cli.url, what, start)
        assert entries, f"{command} left no audit entry on {what}"
        assert {e.actor for e in entries} == {expected}
        for e in entries:
            _assert_instant(e.at, start, end)
    elif what == "finding":
        (row,) = _query(cli.url, sa.select(Finding))
        assert row.recorded_by == expected
        _assert_instant(row.created_at, start, end)
    else:
        (row,) = _query(cli.url, sa.select(LedgerEntry).where(LedgerEntry.kind == what))
        assert row.recorded_by == expected
        _assert_instant(row.recorded_at, start, end)
        _assert_instant(row.created_at, start, end)


def test_done_and_event_also_carry_the_recorder_on_the_row(cli, tmp_path):
    cli.run("done", "--item", "6", "--unit", "市财政局", "--at", "2020-09-16",
            "--note", "已上传", "--by", BY)
    cli.run("event", "add", "--item", "6", "--unit", "市司法局", "--title", "某通知",
            "--at", "2020-09-30 10:00")
    done = _query(cli.url, sa.select(Obligation.id).where(Obligation.recorded_by == BY))
    events = _query(cli.url, sa.select(Event.recorded_by))
    assert len(done) == 1 and events == [_os_user()]


def test_extension_keeps_the_approver_apart_from_the_recorder(cli):
    start = datetime.now(UTC)
    code, _, err = cli.run("extend", "--item", "4", "--unit", "北票市", "--to", "2020-12-15",
                           "--reason", "试点范围调整", "--approved-by", "李主任", "--by", BY)
    assert code == 0, err
    (ext,) = _query(cli.url, sa.select(Extension))
    assert ext.approved_by == "李主任"
    _assert_instant(ext.approved_at, start, datetime.now(UTC))
    assert {e.actor for e in _audit(cli.url, "extension", start)} == {BY}


def test_default_actor_is_the_os_user_even_without_user_variables(monkeypatch):
    for name in ("DUBAN_ACTOR", "USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    assert default_actor() == _os_user()
    monkeypatch.setenv("DUBAN_ACTOR", "督办员乙")
    assert default_actor() == "督办员乙"
