"""import_completions row by row: what is recorded, skipped or refused, and why."""

from __future__ import annotations

import pendulum
import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from db.models import Item, Obligation, Unit
from duban.cli import main
from duban.context import open_app
from duban.vocab import ObligationStatus
from reports.completions import import_completions
from tests.reports.scenario import PLAN

NOW = pendulum.datetime(2020, 10, 9, 10, tz="Asia/Shanghai")


def sheet(path, header, rows):
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.fixture
def app(migrated_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DUBAN_DATABASE_URL", migrated_url)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    assert main(["plan", "load", str(PLAN)]) == 0
    capsys.readouterr()
    ctx = open_app(None, migrated_url)
    yield ctx
    ctx.engine.dispose()


def status_of(app, unit: str, number: str) -> list[tuple[str, ObligationStatus]]:
    with app.engine.connect() as c:
        return [tuple(r) for r in c.execute(
            sa.select(Obligation.period_key, Obligation.status)
            .join(Unit, Unit.id == Obligation.unit_id).join(Item, Item.id == Obligation.item_id)
            .where(Unit.name == unit, Item.number == number).order_by(Obligation.due_date))]


def outcomes(report):
    return [(o.row, o.status, o.message) for o in report.outcomes]


def test_a_period_column_completes_that_period_not_the_earliest_open_one(app, tmp_path):
    path = sheet(tmp_path / "t.xlsx", ["单位", "条目", "期次", "完成日期", "说明"],
                 [["市司法局", 11, "2020年10月", "2020-10-05", "已发布"],
                  ["市司法局", 11, "2019年1月", "2020-10-05", "已发布"]])
    report = import_completions(app, path, actor="t", now=NOW)
    (_, s1, m1), (_, s2, m2) = outcomes(report)
    assert s1 == "recorded" and "2020年10月" in m1
    assert s2 == "rejected" and "没有期次" in m2 and "2020年9月" in m2
    assert dict(status_of(app, "市司法局", "11"))["2020-10"] is ObligationStatus.DONE
    assert dict(status_of(app, "市司法局", "11"))["2020-09"] is ObligationStatus.OPEN


def test_rows_without_a_date_or_evidence_are_unfinished_work_not_errors(app, tmp_path):
    path = sheet(tmp_path / "t.xlsx", ["单位", "条目", "完成时间", "备注"],
                 [["市司法局", 6, None, None], ["北票市", 6, "2020-09-14", None],
                  ["市财政局", 6, None, "已上传"]])
    report = import_completions(app, path, actor="t", now=NOW)
    assert [(r, s) for r, s, _ in outcomes(report)] == [
        (2, "not_done"), (3, "rejected"), (4, "rejected")]
    assert "缺少佐证" in report.outcomes[1].message
    assert "缺少完成时间" in report.outcomes[2].message
    assert report.exit_code == 1


def test_a_completion_already_recorded_by_hand_is_skipped_or_refused_by_date(app, tmp_path,
                                                                            capsys):
    assert main(["done", "--item", "6", "--unit", "市司法局", "--at", "2020-09-14",
                 "--note", "已上传"]) == 0
    capsys.readouterr()
    path = sheet(tmp_path / "t.xlsx", ["单位", "条目", "完成时间", "备注"],
                 [["市司法局", "6", "2020年9月14日", "已上传"]])
    report = import_completions(app, path, actor="t", now=NOW)
    assert report.outcomes[0].status == "skipped" and report.exit_code == 0
    path = sheet(tmp_path / "u.xlsx", ["单位", "条目", "完成时间", "备注"],
                 [["市司法局", "6", "2020年9月12日", "已上传"]])
    (row,) = import_completions(app, path, actor="t", now=NOW).outcomes
    assert row.status == "rejected" and "已记录过完成（2020年9月14日）" in row.message


def test_units_items_and_dates_are_checked_before_anything_is_written(app, tmp_path):
    path = sheet(tmp_path / "t.xlsx", ["单位", "条目", "完成时间", "网址"], [
        ["各县(市)区政府", "6", "2020-09-14", "http://a"],
        ["市司法局", "第六项", "2020-09-14", "http://a"],  # Chinese numeral → item 6
        ["北票市", "6", "2020-10-10", "http://a"],  # after NOW
        ["北票市", "6", "2002-09-14", "http://a"],  # a typo for 2020: no early bonus by mistake
    ])
    report = import_completions(app, path, actor="t", now=NOW)
    (_, s1, m1), (_, s2, _), (_, s3, m3), (_, s4, m4) = outcomes(report)
    assert s1 == "rejected" and "单位类别" in m1
    assert s2 == "recorded"
    assert s3 == "rejected" and "晚于今天" in m3
    assert s4 == "rejected" and "早于计划年度" in m4
    assert status_of(app, "北票市政府", "6") == [("once", ObligationStatus.OPEN)]


def test_a_merged_unit_cell_records_every_row_under_it(app, tmp_path):
    path = tmp_path / "t.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.append(["单位", "条目", "完成日期", "说明"])
    ws.append(["北票市", 6, "2020-09-14", "已上传"])
    ws.append([None, 21, "2020-09-25", "已上传"])
    ws.merge_cells("A2:A3")
    wb.save(path)
    report = import_completions(app, path, actor="t", now=NOW)
    assert [o.status for o in report.outcomes] == ["recorded", "recorded"]
    assert status_of(app, "北票市政府", "21") == [("once", ObligationStatus.DONE)]
