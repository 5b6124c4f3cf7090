"""status, remind (dry run and real), escalate, ledger and findings from the command line."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from db.models import LedgerEntry, OutboxMessage
from db.session import make_engine
from deadlines.calendar import default_config_dir
from duban.cli import main

PLAN = default_config_dir() / "plans" / "2020-chaoyang.yaml"


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'duban.db'}"
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("db", "upgrade")[0] == 0
    assert run("plan", "load", str(PLAN))[0] == 0
    run.url = url
    return run


def count(url: str, model, **where) -> int:
    eng = make_engine(url)
    try:
        with eng.connect() as c:
            stmt = sa.select(sa.func.count()).select_from(model)
            for k, v in where.items():
                stmt = stmt.where(getattr(model, k) == v)
            return c.scalar(stmt)
    finally:
        eng.dispose()


def test_status_json_lists_a_light_per_item_and_unit(cli):
    code, out, _ = cli("status", "--as-of", "2020-09-14", "--json")
    data = json.loads(out)
    assert code == 0 and data["as_of"] == "2020-09-14"
    item6 = [c for c in data["cells"] if c["number"] == "6"]
    assert len(item6) == 29
    assert {c["standing"] for c in item6} == {"即将到期"}  # due 09-15: inside the 3-day window


def test_status_filters_by_colour_and_unit(cli):
    code, out, _ = cli("status", "--as-of", "2020-09-17", "--colour", "red", "--unit", "北票市",
                       "--json")
    cells = json.loads(out)["cells"]
    assert code == 0 and cells and all(c["light"] == "red" for c in cells)
    assert {c["unit"] for c in cells} == {"北票市政府"}


def test_remind_dry_run_prints_messages_and_writes_nothing(cli):
    code, out, _ = cli("remind", "--as-of", "2020-09-14", "--dry-run")
    assert code == 0 and "将发送的邮件（" in out and "督办单" in out and "未写入" in out
    assert count(cli.url, OutboxMessage) == 0


def test_remind_twice_on_one_day_sends_nothing_the_second_time(cli):
    code, out, _ = cli("remind", "--as-of", "2020-09-14")
    assert code == 0 and "投递 " in out
    first = count(cli.url, OutboxMessage)
    assert first > 0
    code, out, _ = cli("remind", "--as-of", "2020-09-14")
    assert "写入 0 封" in out and "投递 0" in out
    assert count(cli.url, OutboxMessage) == first


def test_remind_on_a_rest_day_only_records_the_skip(cli):
    code, out, _ = cli("remind", "--as-of", "2020-10-03")
    assert code == 0 and "休息日" in out
    assert count(cli.url, OutboxMessage) == 0


def test_escalate_month_then_ledger_decide_and_reverse(cli):
    for day in ("2020-09-14", "2020-09-16", "2020-09-18", "2020-09-22", "2020-09-24"):
        cli("remind", "--as-of", day)
    code, out, _ = cli("escalate", "--month", "2020-09", "--as-of", "2020-10-09")
    assert code == 0 and "新增台账" in out
    entries = count(cli.url, LedgerEntry)
    assert entries > 0
    code, out, _ = cli("escalate", "--month", "2020-09", "--as-of", "2020-10-09")
    assert "新增台账 0 条" in out and count(cli.url, LedgerEntry) == entries
    code, out, _ = cli("ledger", "list", "--pending", "--json")
    pending = json.loads(out)
    assert pending, "missed by-date items produce discretionary lines"
    first = pending[0]["id"]
    code, out, err = cli("ledger", "decide", str(first), "--points", "9", "--reason", "x")
    assert code == 2 and "9" in err  # outside the allowed range: refused
    code, out, _ = cli("ledger", "decide", str(first), "--points", "0.5", "--reason", "部分完成")
    assert code == 0 and "-0.5" in out
    code, out, _ = cli("ledger", "list", "--json")
    lines = {r["id"]: r for r in json.loads(out)}
    assert lines[first]["state"] == "已裁定"
    scored = next(r for r in lines.values() if r["kind"] == "scored")
    assert cli("ledger", "reverse", str(scored["id"]), "--reason", "延期已批准")[0] == 0
    code, out, _ = cli("ledger", "list", "--json")
    assert {r["id"]: r for r in json.loads(out)}[scored["id"]]["state"] == "已冲销"
    code, _, err = cli("ledger", "reverse", str(scored["id"]), "--reason", "again")
    assert code == 2 and "已经冲销" in err


def test_finding_needs_a_rule_of_the_year_that_applies_to_the_unit(cli):
    code, _, err = cli("finding", "add", "--unit", "北票市", "--rule", "NOPE", "--on",
                       "2020-09-08")
    assert code == 2 and "NOPE" in err
    code, out, _ = cli("finding", "add", "--unit", "北票市", "--rule", "C3.1", "--on",
                       "2020-09-08", "--note", "三次拨测无人接听")
    assert code == 0 and "已登记" in out


def test_scorecard_json_and_explanation(cli):
    code, out, _ = cli("scorecard", "--period", "Q3", "--year", "2020", "--json")
    data = json.loads(out)
    assert code == 0 and data["period"] == "2020-Q3" and len(data["units"]) == 33
    code, out, _ = cli("scorecard", "--period", "Q3", "--year", "2020", "--unit", "北票市政府")
    assert code == 0 and "北票市政府" in out and "得分" in out
