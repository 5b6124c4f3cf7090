"""Bulk completion from a 台账 through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pendulum
import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from db.models import AuditEntry, Item, Obligation, Unit
from db.session import make_engine
from duban.cli import main
from duban.commands.done_xlsx import run_done_from_xlsx
from duban.vocab import ObligationStatus
from tests.reports.scenario import PLAN, ensure_commands

HEADER = ["序号", "单位名称", "条目", "完成时间（年月日）", "网址", "文号", "备注"]
GOOD = [
    [1, "市司法局", "6", "2020年9月28日", "http://sfj.example.gov.cn/zl", None, None],
    # an Excel date cell: naive wall time by nature, read as Asia/Shanghai
    [2, "北票市", "第21项", datetime(2020, 9, 25), None, "北政发〔2020〕12号", None],  # noqa: DTZ001
]
BAD = [
    [3, "市司法厅", "6", "2020-09-14", "http://x.example.gov.cn", None, None],
    [4, "市财政局", "6", "2020年13月5日", "http://x.example.gov.cn", None, None],
    [5, "市财政局", "99", "2020-09-14", "http://x.example.gov.cn", None, None],
    [6, "市司法局", "6", "2020年9月28日", "http://sfj.example.gov.cn/zl", None, None],
]


def taizhang(path, rows):
    """Like a real one: a merged title on row 1, a line under it, the header on row 3."""
    wb = Workbook()
    ws = wb.active
    ws.title = "9月台账"
    ws["A1"] = "朝阳市2020年政务公开工作任务落实台账"
    ws.merge_cells("A1:G1")
    ws["A2"] = "填报单位：市政务公开办　　填报日期：2020年10月9日"
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.fixture
def cli(migrated_url, tmp_path, monkeypatch, capsys):
    ensure_commands()
    monkeypatch.setenv("DUBAN_DATABASE_URL", migrated_url)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    assert run("plan", "load", str(PLAN))[0] == 0
    engine = make_engine(migrated_url)
    run.engine = engine
    yield run
    engine.dispose()


def done_rows(engine):
    with engine.connect() as c:
        return c.execute(
            sa.select(Unit.name, Item.number, Obligation.period_key, Obligation.done_at,
                      Obligation.late_working_days, Obligation.evidence_url,
                      Obligation.evidence_doc, Obligation.recorded_by)
            .join(Unit, Unit.id == Obligation.unit_id).join(Item, Item.id == Obligation.item_id)
            .where(Obligation.status == ObligationStatus.DONE).order_by(Unit.name)).all()


def obligation_updates(engine) -> int:
    with engine.connect() as c:
        return c.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
            AuditEntry.entity == "obligation", AuditEntry.action == "update"))


def test_good_rows_are_recorded_and_each_bad_row_says_why(cli, tmp_path):
    path = taizhang(tmp_path / "台账.xlsx", GOOD + BAD)
    code, out, err = cli("done-xlsx", str(path), "--by", "张三")
    assert code == 1, err
    assert "第3行表头" in out and "9月台账" in out
    assert "共 6 行：新记录 2 行，已记录跳过 0 行，未记录 4 行" in out
    assert "未知单位 '市司法厅'（是否指 市司法局？）" in out
    assert "完成时间 '2020年13月5日' 不是有效日期" in out
    assert "没有条目 '99'" in out
    assert "与第4行重复" in out
    assert "逾期完成，晚10个工作日" in out and "按时完成" in out
    rows = done_rows(cli.engine)
    assert [(r.name, r.number) for r in rows] == [("北票市政府", "21"), ("市司法局", "6")]
    bp, sfj = rows
    assert bp.late_working_days == 0 and bp.evidence_doc == "北政发〔2020〕12号"
    assert sfj.evidence_url == "http://sfj.example.gov.cn/zl" and sfj.recorded_by == "张三"
    assert pendulum.instance(sfj.done_at).in_tz("Asia/Shanghai").date() == date(2020, 9, 28)


def test_lateness_counts_working_days_with_the_make_up_sunday(cli, tmp_path):
    # due 2020-09-15 (Tue), done 2020-09-28 (Mon): 13 calendar days, two weekends, but
    # Sunday 2020-09-27 was a working day (调休 for 国庆): 16,17,18,21-25,27,28 = 10.
    cli("done-xlsx", str(taizhang(tmp_path / "t.xlsx", GOOD[:1])))
    (row,) = done_rows(cli.engine)
    assert row.late_working_days == 10


def test_reimporting_the_same_file_records_nothing_twice(cli, tmp_path):
    path = taizhang(tmp_path / "台账.xlsx", GOOD + BAD)
    assert cli("done-xlsx", str(path))[0] == 1
    first, updates = done_rows(cli.engine), obligation_updates(cli.engine)
    code, out, _ = cli("done-xlsx", str(path))
    assert code == 1  # the bad rows are still bad
    assert "新记录 0 行，已记录跳过 2 行，未记录 4 行" in out
    assert out.count("已记录，跳过（") == 2
    assert done_rows(cli.engine) == first
    assert obligation_updates(cli.engine) == updates  # not even a no-op write


def test_a_clean_file_exits_0(cli, tmp_path):
    code, out, _ = cli("done-xlsx", str(taizhang(tmp_path / "t.xlsx", GOOD)))
    assert code == 0 and "未记录 0 行" in out


def test_an_unreadable_file_exits_2_and_records_nothing(cli, tmp_path):
    bad = tmp_path / "台账.xlsx"
    bad.write_bytes(b"PK\x03\x04 truncated")
    code, _, err = cli("done-xlsx", str(bad))
    assert code == 2 and "无法读取台账" in err and "Traceback" not in err
    assert done_rows(cli.engine) == []


def test_run_done_from_xlsx_returns_the_exit_code_for_the_done_command(cli, tmp_path, capsys,
                                                                         migrated_url):
    path = taizhang(tmp_path / "t.xlsx", GOOD + BAD[:1])
    assert run_done_from_xlsx(path, config=None, db=migrated_url, by="李四") == 1
    assert "是否指 市司法局" in capsys.readouterr().out
    assert run_done_from_xlsx(tmp_path / "missing.xlsx", config=None, db=migrated_url,
                              by=None) == 2
    assert "找不到台账文件" in capsys.readouterr().err
