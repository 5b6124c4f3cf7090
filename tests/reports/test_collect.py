"""The 通报's facts read from a real September 2020 (plan, daily runs, completions, monthly run)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from db.models import Escalation, LedgerEntry, Obligation, RunRecord, Unit
from duban.cli import main
from duban.vocab import ObligationStatus
from reports.collect import tongbao_data
from tasks.context import build_context
from tasks.ledger import list_ledger, rulebook_for
from tests.reports.scenario import build_once, copy_db

SEPT = (date(2020, 9, 1), date(2020, 9, 30))
ISSUED = date(2020, 10, 9)


@pytest.fixture
def ctx(tmp_path_factory, tmp_path, monkeypatch):
    url = copy_db(build_once(tmp_path_factory), tmp_path / "duban.db")
    monkeypatch.setenv("DUBAN_DATABASE_URL", url)
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    context = build_context(None, url, tmp_path / "var")
    yield context
    context.dispose()


def read(ctx, **kw):
    with ctx.session() as s:
        return tongbao_data(s, start=SEPT[0], end=SEPT[1], office=ctx.settings.office,
                            issued_on=ISSUED, rulebook=rulebook_for(ctx, 2020), **kw)


def test_counters_match_the_record(ctx):
    data = read(ctx)
    with ctx.session() as s:
        due = s.scalar(sa.select(sa.func.count()).select_from(Obligation).where(
            Obligation.due_date.between(*SEPT), Obligation.status != ObligationStatus.WITHDRAWN))
        colours = dict(s.execute(sa.select(Escalation.colour, sa.func.count())
                                 .where(Escalation.colour.is_not(None),
                                        Escalation.fired_on.between(*SEPT))
                                 .group_by(Escalation.colour)).all())
    f = data.facts
    assert f.due == due > 100
    assert (f.on_time, f.late) == (1, 1)  # 市司法局 on 09-14, 北票市 on 09-18
    assert f.open == due - 2
    assert dict(f.escalations) == colours and set(colours) == {"blue", "yellow", "red"}
    assert data.period_label == "2020年9月"
    assert data.plan_title == "朝阳市2020年政务公开工作要点"


def test_table_rows_are_the_months_ledger_lines_and_add_up_to_the_monthly_run(ctx):
    data = read(ctx)
    with ctx.session() as s:
        lines = [r for r in list_ledger(s, start=SEPT[0], end=SEPT[1])
                 if r.kind in ("scored", "pending")]
        summary = s.scalar(sa.select(RunRecord.summary).where(RunRecord.kind == "monthly",
                                                              RunRecord.key == "2020-09"))
    assert {(r.ledger_id, r.rule_code, r.unit, r.amount) for r in data.rows} == {
        (r.id, r.rule_code, r.unit, r.amount) for r in lines}
    assert data.deductions == Decimal(summary["deductions"]) > 0
    assert data.pending == summary["pending"] > 0
    totals = dict(data.unit_deductions)
    firsts = [r.unit for r in data.rows]
    assert totals[firsts[0]] == max(totals.values())  # most-deducted unit first


def test_each_row_names_its_obligation_dates_and_escalation(ctx):
    data = read(ctx)
    with ctx.session() as s:
        esc_line = s.execute(
            sa.select(LedgerEntry.id, Escalation.colour, Escalation.fired_on, Escalation.step)
            .join(Escalation, Escalation.id == LedgerEntry.escalation_id)
            .order_by(LedgerEntry.id).limit(1)).one()
        late_ids = set(s.scalars(
            sa.select(LedgerEntry.id).join(Obligation, Obligation.id == LedgerEntry.obligation_id)
            .join(Unit, Unit.id == Obligation.unit_id)
            .where(Unit.name == "北票市政府", Obligation.late_working_days == 3)))
    by_id = {r.ledger_id: r for r in data.rows}
    row = by_id[esc_line.id]
    label = {"blue": "蓝色", "yellow": "黄色", "red": "红色"}[esc_line.colour]
    assert row.escalation == (f"{label}督办（{esc_line.fired_on.year}年{esc_line.fired_on.month}月"
                              f"{esc_line.fired_on.day}日，逾期第{esc_line.step[1:]}个工作日）")
    assert row.due_date is not None and row.item.split()[0].isdigit()
    assert late_ids, "the late completion was scored"
    late = by_id[next(iter(late_ids))]
    assert late.completion == "逾期完成（2020年9月18日，逾期3个工作日）"
    assert late.due_date == date(2020, 9, 15) and late.item.startswith("6 ")
    assert late.rule_text.startswith("「") and "台账第" in late.basis


def test_a_decided_line_shows_the_decision_and_a_reversed_line_disappears(ctx, capsys):
    before = read(ctx)
    pending = next(r for r in before.rows if r.pending)
    scored = next(r for r in before.rows if r.amount is not None and r.amount < 0)
    assert main(["ledger", "decide", str(pending.ledger_id), "--points", "0.5",
                 "--reason", "部分完成"]) == 0
    assert main(["ledger", "reverse", str(scored.ledger_id), "--reason", "延期已批准"]) == 0
    capsys.readouterr()
    after = read(ctx)
    rows = {r.ledger_id: r for r in after.rows}
    assert scored.ledger_id not in rows
    decided = rows[pending.ledger_id]
    assert decided.amount == Decimal("-0.5") and decided.decision_id is not None
    assert decided.points_text == "0.5（已裁定）"
    assert after.pending == before.pending - 1
    assert after.deductions == before.deductions - (-scored.amount) + Decimal("0.5")
    assert len(after.rows) == len(before.rows) - 1


def test_status_is_stated_as_of_the_given_day(ctx):
    early = read(ctx, as_of=date(2020, 9, 16))
    assert (early.facts.on_time, early.facts.late) == (1, 0)  # 北票市 finished on 09-18
