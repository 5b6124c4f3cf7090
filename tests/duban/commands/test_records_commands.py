"""The record from the command line, on SQLite and PostgreSQL: upgrade, load, event, done."""

from __future__ import annotations

import json

import pytest

from deadlines.calendar import default_config_dir
from duban.cli import main

PLAN = default_config_dir() / "plans" / "2020-chaoyang.yaml"


@pytest.fixture
def cli(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DUBAN_DATABASE_URL", db_url)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_plan_load_needs_the_schema_first(cli):
    code, _, err = cli("plan", "load", str(PLAN))
    assert code == 2 and "duban db upgrade" in err


def test_upgrade_load_twice_event_done_extend(cli):
    assert cli("db", "upgrade")[0] == 0
    code, out, _ = cli("plan", "load", str(PLAN))
    assert code == 0 and "created 24" in out
    code, out, _ = cli("plan", "load", str(PLAN))
    assert code == 0 and "无变化" in out
    code, out, _ = cli("event", "add", "--item", "6", "--unit", "市司法局", "--title",
                       "关于稳岗就业的若干措施", "--doc-number", "朝司发〔2020〕5号",
                       "--at", "2020-09-30 10:00")
    assert code == 0 and "截止 2020-10-14" in out
    code, out, _ = cli("done", "--item", "6", "--unit", "市司法局", "--at", "2020-09-17",
                       "--url", "http://sfj.chaoyang.example.gov.cn/zl")
    assert code == 0 and "逾期完成，晚 2 个工作日" in out  # the 9月15日前 obligation
    code, out, _ = cli("extend", "--item", "4", "--unit", "北票市", "--to", "2020-09-30",
                       "--reason", "试点调整", "--approved-by", "李主任")
    assert code == 0 and "延期至 2020-09-30" in out
    code, out, _ = cli("plan", "show", "--json")
    data = json.loads(out)
    item6 = next(i for i in data["items"] if i["number"] == "6")
    assert item6["obligations"]["done"] == 1 and item6["obligations"]["open"] == 29


def test_unknown_unit_gets_one_sentence_with_suggestion(cli):
    cli("db", "upgrade")
    cli("plan", "load", str(PLAN))
    code, _, err = cli("done", "--item", "6", "--unit", "市政府办", "--note", "x")
    assert code == 2 and "市政府办公室" in err and "Traceback" not in err
