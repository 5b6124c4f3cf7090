"""Replay the example plan's year day by day (SQLite, file outbox) and check the engine's promises.

Units behave by their position: a third finish two working days early, a third three working
days late, a third never.  Completions are recorded at 08:00, before the 09:00 run of that day.
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pendulum
import pytest
import sqlalchemy as sa

from db import migrate
from db.models import Escalation, LedgerEntry, Obligation, OutboxMessage, RunRecord, Unit
from deadlines.calendar import default_config_dir
from duban.config import load_plan, load_settings, load_unit_directory, load_units_file
from duban.vocab import ObligationStatus
from records import lifecycle
from records.sync import load_plan_file, sync_units
from scoring.engine import Period
from tasks.context import build_context
from tasks.runs import first_working_day, previous_month, run_assessment, run_day, run_month

CONFIG = default_config_dir()
START, END = date(2020, 8, 25), date(2020, 12, 31)


def behaviour(unit_code: str, codes: list[str]) -> str:
    return ("early", "late", "never")[codes.index(unit_code) % 3]


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay")
    config = root / "config"
    shutil.copytree(CONFIG, config)
    url = f"sqlite:///{root / 'duban.db'}"
    migrate.upgrade(url)
    ctx = build_context(config, url, root / "var")
    directory = load_unit_directory(config)
    with ctx.session() as s, s.begin():
        sync_units(s, load_units_file(config))
        load_plan_file(s, load_plan(config / "plans" / "2020-chaoyang.yaml", directory),
                       directory=directory, settings=load_settings(config), source_path=None,
                       config_dir=config)
    with ctx.session() as s:
        codes = sorted(s.scalars(sa.select(Unit.code)))
        plan = {o.id: (behaviour(o.unit.code, codes), o.due_date) for o in
                s.scalars(sa.select(Obligation).where(Obligation.due_date.is_not(None)))}
    cal = ctx.national
    finish: dict[date, list[int]] = defaultdict(list)
    for ob_id, (kind, due) in plan.items():
        if kind == "early":
            finish[cal.add_working_days(due, -2)].append(ob_id)
        elif kind == "late":
            finish[cal.add_working_days(due, 3)].append(ob_id)
    days = []
    d = START
    while d <= END:
        for ob_id in finish.get(d, []):
            with ctx.session() as s, s.begin():
                ob = s.get(Obligation, ob_id)
                lifecycle.complete(s, obligation=ob, recorded_by="replay", calendar=cal,
                                   done_at=pendulum.datetime(d.year, d.month, d.day, 8,
                                                             tz="Asia/Shanghai"),
                                   evidence_note="按时报送" if plan[ob_id][0] == "early" else "补报")
        days.append(run_day(ctx, as_of=d))
        if d == first_working_day(ctx, d.year, d.month):
            run_month(ctx, month=previous_month(d), now=ctx.run_instant(d))
        d += timedelta(days=1)
    yield ctx, plan, days
    ctx.dispose()


def test_every_ladder_step_fires_once_per_late_obligation_and_never_for_on_time(replay):
    ctx, plan, _ = replay
    with ctx.session() as s:
        rows = s.execute(sa.select(Escalation.obligation_id, Escalation.step)).all()
    per_ob = defaultdict(list)
    for ob_id, step in rows:
        per_ob[ob_id].append(step)
    for ob_id, steps in per_ob.items():
        assert len(steps) == len(set(steps)), f"obligation {ob_id} fired a step twice: {steps}"
        kind, _due = plan[ob_id]
        if kind == "early":  # done two working days before the due date
            assert all(st.startswith("-") for st in steps), (ob_id, steps)
    never = [ob for ob, (kind, due) in plan.items() if kind == "never" and due <= date(2020, 12, 23)]
    assert never
    for ob_id in never:  # overdue and never done: the whole ladder, once each
        assert {"+1", "+3", "+5"} <= set(per_ob[ob_id]) or {"+1", "+2", "+3"} <= set(per_ob[ob_id])


def test_no_message_is_written_or_sent_on_a_rest_day(replay):
    ctx, _, days = replay
    rest = [d for d in days if d.skipped]
    assert rest and all(d.messages.messages == 0 for d in rest)
    with ctx.session() as s:
        rows = s.execute(sa.select(OutboxMessage.period, OutboxMessage.kind,
                                   OutboxMessage.delivered_at)).all()
    cal = ctx.national
    for period, kind, delivered in rows:
        if kind != "monthly_notice":
            assert cal.is_working_day(date.fromisoformat(period))
        if delivered is not None:
            assert cal.is_working_day(pendulum.instance(delivered).in_tz("Asia/Shanghai").date())


def test_one_message_per_contact_per_day(replay):
    ctx, _, _ = replay
    with ctx.session() as s:
        rows = s.execute(sa.select(OutboxMessage.contact_id, OutboxMessage.period,
                                   OutboxMessage.kind)
                         .where(OutboxMessage.kind != "monthly_notice")).all()
    per_day = Counter((c, p) for c, p, _ in rows)
    assert per_day and max(per_day.values()) == 1
    # every message of the year was delivered to the file outbox exactly once
    assert len(list((ctx.var_dir / "outbox").glob("*.eml"))) == len(rows) + _monthly_count(ctx)


def _monthly_count(ctx) -> int:
    with ctx.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == "monthly_notice"))


def test_running_a_day_twice_sends_nothing_the_second_time(replay):
    ctx, _, _ = replay
    day = date(2020, 11, 16)
    again = run_day(ctx, as_of=day)
    assert again.messages.messages == 0 and again.delivery.delivered == 0
    assert sum(r.fired for r in again.items) == 0
    with ctx.session() as s:
        record = s.scalars(sa.select(RunRecord).where(RunRecord.key == day.isoformat())).one()
    assert record.runs == 2


def test_monthly_run_is_idempotent(replay):
    ctx, _, _ = replay
    with ctx.session() as s:
        before = s.scalar(sa.select(sa.func.count()).select_from(LedgerEntry))
        outbox_before = s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    again = run_month(ctx, month=date(2020, 10, 1), now=ctx.run_instant(date(2020, 11, 2)))
    assert again.new_entries == 0 and again.messages == 0 and again.delivery.delivered == 0
    with ctx.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == before
        assert s.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == outbox_before


def test_ledger_lines_link_rule_unit_and_cause(replay):
    ctx, _, _ = replay
    with ctx.session() as s:
        lines = s.scalars(sa.select(LedgerEntry)).all()
    assert lines
    kinds = Counter(ln.rule_code for ln in lines)
    assert len(kinds) >= 3  # late completions, monthly reports missed, red escalations
    for ln in lines:
        assert ln.obligation_id or ln.escalation_id or ln.finding_id
        assert ln.reason


def test_year_end_scorecard_respects_every_cap(replay):
    ctx, _, _ = replay
    from tasks.ledger import rulebook_for

    book = rulebook_for(ctx, 2020)
    summary = run_assessment(ctx, period=Period.assessment(book, "Y"),
                             now=ctx.run_instant(date(2020, 12, 31)))
    assert summary.file and summary.file.exists()
    max_deduction = Decimal(book.scheme.max_deduction)
    capped = 0
    for score in summary.scores:
        assert score.final >= -max_deduction
        assert score.final <= 0
        rule_set = book.rule_set_for(score.kind)
        for cat in score.categories:
            category = next(c for c in rule_set.categories if c.code == cat.code)
            if category.cap is not None:
                assert cat.deductions <= category.cap
        capped += bool(score.caps)
    assert capped, "the replay should produce units whose caps bite"
    again = run_assessment(ctx, period=Period.assessment(book, "Y"),
                           now=ctx.run_instant(date(2020, 12, 31)))
    assert again.new_entries == 0


def test_open_obligations_of_never_units_stay_open(replay):
    ctx, plan, _ = replay
    with ctx.session() as s:
        statuses = Counter(
            (plan[o.id][0], o.status) for o in s.scalars(sa.select(Obligation))
            if o.id in plan)
    assert statuses[("never", ObligationStatus.OPEN)] > 0
    assert statuses[("never", ObligationStatus.DONE)] == 0
    assert statuses[("late", ObligationStatus.DONE)] > 0


def test_files_are_written_per_month(replay):
    ctx, _, _ = replay
    reports = ctx.var_dir / "reports"
    assert (reports / "2020-09" / "通报-2020年9月.html").exists()
    assert (reports / "2020-11" / "扣分明细-2020年11月.xlsx").exists()
    assert isinstance(reports, Path)
