"""The scheduled jobs as plain functions: a day's checks, a month's escalation, an assessment.

The Prefect flows in ``flows/`` wire these same steps as tasks and subflows (so the UI shows
them); a whole year is replayed in tests by calling these functions with ``as_of`` on every day.
Every step is idempotent by database key: running a day or a month twice adds nothing.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pendulum
import sqlalchemy as sa

from db.models import Contact, RunRecord, Unit
from db.session import dialect_insert
from duban.errors import UserError
from duban.vocab import ContactRole
from notifications.mail import FileTransport, SmtpTransport
from notifications.render import DeductionRow, MonthlyNoticeContext, MonthOverview
from scoring.engine import Period, entries_for, scorecard
from scoring.export import export_scorecard_xlsx
from tasks.checks import ItemReport, active_items, check_item
from tasks.context import EngineContext
from tasks.ledger import (
    collect_facts,
    ledger_lines,
    list_ledger,
    post_entries,
    reports_dir,
    rulebook_for,
    unit_maps,
)
from tasks.messages import MessageSummary, write_messages
from tasks.outbox import (
    DeliverySummary,
    NewMessage,
    OutboxKey,
    deliver_outbox,
    enqueue_messages,
    next_send_time,
)

# --------------------------------------------------------------------------- run records


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """A run builds hundreds of thousands of short-lived objects (facts, entry specs, ledger
    lines, rows) that hold no cycles; the cyclic collector would walk them over and over (a
    fifth of a province's year-end scorecard): it waits until the run ends."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _paused(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with collector_paused():
            return fn(*args, **kwargs)
    return run



def record_run(ctx: EngineContext, *, kind: str, key: str, outcome: str, now: datetime,
               summary: dict) -> int:
    """Upsert the run record; returns how many times this (kind, key) has run."""
    with ctx.session() as session, session.begin():
        stmt = dialect_insert(session, RunRecord).values(kind=kind, key=key, outcome=outcome, first_at=now,
                                     last_at=now, runs=1, summary=summary)
        stmt = stmt.on_conflict_do_update(
            index_elements=["kind", "key"],
            set_={"last_at": now, "runs": RunRecord.runs + 1, "outcome": outcome,
                  "summary": summary})
        session.execute(stmt)
        return session.scalar(sa.select(RunRecord.runs).where(RunRecord.kind == kind,
                                                              RunRecord.key == key))


def partition_summaries(ctx: EngineContext, as_of: date) -> list[dict]:
    """What each plan's partition run recorded for ``as_of`` (see ``flows/partition.py``)."""
    with ctx.session() as session:
        return [r for (r,) in session.execute(
            sa.select(RunRecord.summary).where(RunRecord.kind == "daily-partition",
                                              RunRecord.key.like(f"{as_of.isoformat()}:plan%"))
            .order_by(RunRecord.key))]


def partition_done(ctx: EngineContext, as_of: date, plan_id: int) -> bool:
    """Whether plan ``plan_id``'s check of ``as_of`` is recorded (it ran to its end)."""
    with ctx.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(RunRecord).where(
            RunRecord.kind == "daily-partition",
            RunRecord.key == f"{as_of.isoformat()}:plan{plan_id}")) > 0


def make_transport(ctx: EngineContext, now: datetime):
    if ctx.mail.mode == "file":
        return FileTransport(ctx.mail, clock=lambda: now)
    return SmtpTransport(ctx.mail)


def deliver(ctx: EngineContext, *, now: datetime, claim_batch: int | None = None
            ) -> DeliverySummary:
    """Deliver the outbox; ``claim_batch`` rows are held in memory at a time (the outbox's
    default unless given: large messages such as the monthly 通报 want smaller batches)."""
    batch = {} if claim_batch is None else {"claim_batch": claim_batch}
    return deliver_outbox(ctx.engine, make_transport(ctx, now), now=now,
                          calendar_for_contact=ctx.calendar_for_contact,
                          sending_hours=ctx.settings.sending_hours, **batch)


# A leader's 通报 lists up to notice.full_list_max_rows lines (~100 KB); the coordinators' copy
# lists the whole month (MBs for a province): delivery claims 200 rows at a time, so memory
# stays bounded by the batch.
NOTICE_CLAIM_BATCH = 200
ARTIFACT_ROW_LIMIT = 200  # lines of the 通报 the monthly artifact lists (prefect.artifact_row_limit)


# --------------------------------------------------------------------------- the day


@dataclass
class DaySummary:
    as_of: date
    skipped: str | None = None
    items: list[ItemReport] = field(default_factory=list)
    messages: MessageSummary = field(default_factory=MessageSummary)
    delivery: DeliverySummary = field(default_factory=DeliverySummary)
    runs: int = 1

    def as_dict(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(), "skipped": self.skipped,
            "items": len(self.items), "fired": sum(r.fired for r in self.items),
            "notices": sum(r.notices for r in self.items),
            "messages": self.messages.as_dict(), "delivery": self.delivery.as_dict(),
        }


def rest_day_reason(ctx: EngineContext, as_of: date) -> str | None:
    """None on a working day of the national calendar, else why the run does nothing."""
    info = ctx.national.day_info(as_of)
    if info.is_working:
        return None
    return f"rest day ({info.name or '周末'})"


@_paused
def run_day(ctx: EngineContext, *, as_of: date, now: datetime | None = None,
            send: bool = True,
            check: Callable[..., ItemReport] | None = None) -> DaySummary:
    """One daily run: check every active item, write messages, deliver the outbox."""
    now = now or ctx.run_instant(as_of)
    summary = DaySummary(as_of=as_of)
    reason = rest_day_reason(ctx, as_of)
    if reason:
        summary.skipped = reason
        summary.runs = record_run(ctx, kind="daily", key=as_of.isoformat(),
                                  outcome="skipped_rest_day", now=now, summary=summary.as_dict())
        return summary
    checker = check or check_item
    for item in active_items(ctx):
        summary.items.append(checker(ctx, item_id=item.id, as_of=as_of, now=now))
    summary.messages = write_messages(ctx, as_of=as_of, now=now)
    if send:
        summary.delivery = deliver(ctx, now=now)
    summary.runs = record_run(ctx, kind="daily", key=as_of.isoformat(), outcome="done", now=now,
                              summary=summary.as_dict())
    return summary


# --------------------------------------------------------------------------- the month


def first_working_day(ctx: EngineContext, year: int, month: int) -> date:
    return ctx.national.next_working_day(date(year, month, 1))


def previous_month(d: date) -> date:
    return date(d.year - 1, 12, 1) if d.month == 1 else date(d.year, d.month - 1, 1)


def month_end(month: date) -> date:
    return pendulum.date(month.year, month.month, 1).end_of("month")


@dataclass
class MonthSummary:
    month: date
    skipped: str | None = None
    new_entries: int = 0
    deductions: Decimal = Decimal(0)
    bonuses: Decimal = Decimal(0)
    pending: int = 0
    messages: int = 0
    files: list[Path] = field(default_factory=list)
    markdown: str = ""
    delivery: DeliverySummary = field(default_factory=DeliverySummary)

    def as_dict(self) -> dict:
        return {"month": self.month.strftime("%Y-%m"), "skipped": self.skipped,
                "new_entries": self.new_entries, "deductions": str(self.deductions),
                "bonuses": str(self.bonuses), "pending": self.pending,
                "messages": self.messages, "files": [str(p) for p in self.files]}


@_paused
def run_month(ctx: EngineContext, *, month: date, now: datetime, send: bool = True,
              actor: str = "duban") -> MonthSummary:
    """Score ``month`` (its first day), publish the 通报, send it; idempotent per month."""
    start, end = date(month.year, month.month, 1), month_end(month)
    summary = MonthSummary(month=start)
    book = rulebook_for(ctx, start.year)
    label = f"{start.year}年{start.month}月"
    with ctx.session() as session, session.begin():
        kinds, names = unit_maps(session)
        if book is None:
            summary.skipped = f"no rule book config/rules/{start.year}.yaml"
        else:
            facts = collect_facts(ctx, session, start=start, end=end, as_of=end)
            period = Period.between(start, end, name=label)
            summary.new_entries = post_entries(
                session, entries_for(facts, rulebook=book, unit_kinds=kinds, period=period),
                now=now, actor=actor)
        rows = [r for r in list_ledger(session, start=start, end=end) if r.state != "已冲销"]
    counted = [r for r in rows if r.amount is not None and r.kind in ("scored", "decision")]
    summary.pending = sum(1 for r in rows if r.state == "待裁定")
    summary.deductions = -sum((r.amount for r in counted if r.amount < 0), Decimal(0))
    summary.bonuses = sum((r.amount for r in counted if r.amount > 0), Decimal(0))
    notices = MonthNotices(ctx, start, counted, published_on=local_day(now),
                           summary=_month_summary_text(label, counted, summary.pending))
    rendered = notices.full
    folder = reports_dir(ctx, start.strftime("%Y-%m"))
    html = folder / f"通报-{label}.html"
    html.write_text(rendered.html, encoding="utf-8")
    summary.files.append(html)
    if book is not None:
        with ctx.session() as session:
            lines = ledger_lines(session, start=start, end=end)
        scores = scorecard(lines, rulebook=book, unit_kinds=kinds, unit_names=names,
                           period=Period.between(start, end, name=label))
        summary.files.append(export_scorecard_xlsx(
            scores, folder / f"扣分明细-{label}.xlsx", rulebook=book,
            title=f"{ctx.settings.office}{label}督办扣分明细"))
    summary.markdown = _month_markdown(
        label, counted, summary,
        limit=int(ctx.settings.prefect.get("artifact_row_limit", ARTIFACT_ROW_LIMIT)))
    summary.messages = _send_notice(ctx, notices, start, now)
    if send:
        summary.delivery = deliver(ctx, now=now, claim_batch=NOTICE_CLAIM_BATCH)
    record_run(ctx, kind="monthly", key=start.strftime("%Y-%m"), outcome="done", now=now,
               summary=summary.as_dict())
    return summary


def _month_summary_text(label: str, counted, pending: int) -> str:
    units = {r.unit for r in counted if r.amount < 0}
    text = (f"{label}，共有{len(units)}个单位因逾期、未按时报送或被督办扣分，"
            f"共{sum(1 for r in counted if r.amount < 0)}项。")
    if pending:
        text += f"另有{pending}项视情况扣分待督办员裁定，裁定后计入。"
    return text


def md_cell(value: object) -> str:
    """A value as one markdown table cell: ``|`` escaped, line breaks as spaces."""
    text = " ".join(str(value).split())
    return text.replace("\\", "\\\\").replace("|", "\\|") or "—"


def _month_markdown(label: str, counted, summary: MonthSummary, *, limit: int = 200) -> str:
    """The 通报 artifact: the figures and up to ``limit`` lines (the month's files have all)."""
    lines = [f"# {label}督办通报", "",
             f"- 新增台账 {summary.new_entries} 条；扣分合计 {summary.deductions} 分，"
             f"加分合计 {summary.bonuses} 分；待裁定 {summary.pending} 项", "",
             "| 单位 | 条目 | 扣/加分 | 原因 |", "|---|---|---|---|"]
    ordered = sorted(counted, key=lambda r: (r.unit, r.id))
    for r in ordered[:limit]:
        lines.append(f"| {md_cell(r.unit)} | {md_cell(r.item_code or r.rule_code)} | "
                     f"{r.amount} | {md_cell(r.reason)} |")
    if not counted:
        lines.append("| — | — | — | 本月无扣分 |")
    elif len(ordered) > limit:
        lines += ["", f"（另有 {len(ordered) - limit} 条未列出，全部 {len(ordered)} 条见"
                  f"通报-{label}.html 与 扣分明细-{label}.xlsx）"]
    return "\n".join(lines)


class MonthNotices:
    """The month's 通报: the full copy (the published file, the coordinators' mail) and each
    unit leader's copy — the unit's own lines first, then the whole month's list, or, past
    ``notice.full_list_max_rows`` lines, the month's figures and where the full text is."""

    def __init__(self, ctx: EngineContext, month: date, counted, *, published_on: date,
                 summary: str) -> None:
        self._renderer = ctx.renderer
        self._common = {"year": month.year, "month": month.month, "published_on": published_on,
                        "summary": summary, "office_name": ctx.settings.office}
        def row(r, points: Decimal) -> DeductionRow:
            return DeductionRow(unit_name=r.unit, item=r.item_code or r.rule_code,
                                reason=r.reason, points=points, occurred_on=r.occurred_on)

        self.rows = tuple(row(r, -r.amount) for r in counted if r.amount < 0)
        self.bonus_rows = tuple(row(r, r.amount) for r in counted if r.amount > 0)
        full = MonthlyNoticeContext(recipient_name="各责任单位", rows=self.rows,
                                    bonus_rows=self.bonus_rows, **self._common)
        self.full = self._renderer.render("monthly_notice", full)
        cfg = ctx.settings.notice
        long = len(self.rows) + len(self.bonus_rows) > cfg.full_list_max_rows
        self.overview = None if not long else MonthOverview(
            units=full.unit_count, lines=len(self.rows), total_points=full.total_points,
            bonus_units=full.bonus_unit_count, bonus_points=full.bonus_points, url=cfg.url)
        self._by_unit: dict[str, list[DeductionRow]] = {}
        self._bonus_by_unit: dict[str, list[DeductionRow]] = {}
        for r in self.rows:
            self._by_unit.setdefault(r.unit_name, []).append(r)
        for r in self.bonus_rows:
            self._bonus_by_unit.setdefault(r.unit_name, []).append(r)

    def for_unit(self, unit_name: str):
        rows, bonus_rows = self.rows, self.bonus_rows
        if self.overview is not None:
            rows = tuple(self._by_unit.get(unit_name, ()))
            bonus_rows = tuple(self._bonus_by_unit.get(unit_name, ()))
        return self._renderer.render("monthly_notice", MonthlyNoticeContext(
            recipient_name=unit_name, rows=rows, bonus_rows=bonus_rows, own_unit=unit_name,
            overview=self.overview, **self._common))


def _send_notice(ctx: EngineContext, notices: MonthNotices, month: date, now: datetime,
                 batch: int = 500) -> int:
    """The 通报 goes to every unit's leader (their unit's copy) and to the coordinators (the
    full copy), once per month; written ``batch`` messages per statement."""
    sent = 0
    local = _local(now)
    day, hour = local.date(), max(ctx.settings.reminder_hour, local.hour)
    send_at: dict[int, datetime] = {}  # per calendar
    with ctx.session() as session, session.begin():
        people = session.execute(
            sa.select(Contact.id, Contact.name, Contact.email, Contact.unit_id, Contact.role,
                      Unit.name)
            .join(Unit, Unit.id == Contact.unit_id)
            .where(Contact.role.in_([ContactRole.LEADER, ContactRole.COORDINATOR]),
                   Contact.email.is_not(None)).order_by(Contact.unit_id, Contact.id)).all()
        pending: list[NewMessage] = []
        copy: tuple[str, object] | None = None  # the last unit's copy (leaders sit together)
        for n, (cid, name, email, unit_id, role, unit_name) in enumerate(people, start=1):
            cal = ctx.calendar_for_unit(unit_id)
            at = send_at.get(id(cal))
            if at is None:
                at = send_at[id(cal)] = next_send_time(day, calendar=cal, hour=hour,
                                                       sending_hours=ctx.settings.sending_hours)
            if role == ContactRole.COORDINATOR:
                rendered = notices.full
            else:
                if copy is None or copy[0] != unit_name:
                    copy = (unit_name, notices.for_unit(unit_name))
                rendered = copy[1]
            pending.append(NewMessage(
                key=OutboxKey(f"contact:{cid}:email", "monthly_notice", "",
                              month.strftime("%Y-%m")),
                rendered=rendered, recipient_name=name, recipient_address=email,
                not_before=at, contact_id=cid))
            if len(pending) >= batch or n == len(people):
                ids = enqueue_messages(session, pending, domain=ctx.mail.message_id_domain,
                                       created_at=now)
                sent += sum(1 for i in ids if i is not None)
                pending.clear()
    return sent


def _local(now: datetime) -> pendulum.DateTime:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware time (stored as UTC)")
    return pendulum.instance(now).in_tz("Asia/Shanghai")


def local_day(now: datetime | date) -> date:
    """``now``'s day in Asia/Shanghai (a date is taken as given)."""
    return _local(now).date() if isinstance(now, datetime) else now


# --------------------------------------------------------------------------- assessments


@dataclass
class AssessmentSummary:
    period: Period
    new_entries: int = 0
    scores: list = field(default_factory=list)
    file: Path | None = None
    markdown: str = ""

    def as_dict(self) -> dict:
        return {"period": self.period.key, "new_entries": self.new_entries,
                "units": len(self.scores), "file": str(self.file) if self.file else None}


def assessment_period(ctx: EngineContext, *, year: int, code: str | None = None,
                      start: date | None = None, end: date | None = None) -> Period:
    book = rulebook_for(ctx, year)
    if code:
        if book is None:
            raise UserError(f"没有 {year} 年的评分规则 config/rules/{year}.yaml")
        return Period.assessment(book, code)
    if start is None or end is None:
        raise UserError("请给出考核期（--period H1/Q3/Y）或起止日期（--from/--to）")
    return Period.between(start, end)


@_paused
def run_assessment(ctx: EngineContext, *, period: Period, now: datetime,
                   actor: str = "duban") -> AssessmentSummary:
    """Post what the period's facts imply and produce the scorecards (.xlsx)."""
    summary = AssessmentSummary(period=period)
    book = rulebook_for(ctx, period.end.year)
    if book is None:
        raise UserError(f"没有 {period.end.year} 年的评分规则 config/rules/{period.end.year}.yaml")
    with ctx.session() as session, session.begin():
        kinds, names = unit_maps(session)
        facts = collect_facts(ctx, session, start=period.start, end=period.end, as_of=period.end)
        summary.new_entries = post_entries(
            session, entries_for(facts, rulebook=book, unit_kinds=kinds, period=period),
            now=now, actor=actor)
        lines = ledger_lines(session, start=period.start, end=period.end)
    summary.scores = scorecard(lines, rulebook=book, unit_kinds=kinds, unit_names=names,
                               period=period)
    folder = reports_dir(ctx, "assessments")
    summary.file = export_scorecard_xlsx(summary.scores, folder / f"评分表-{period.key}.xlsx",
                                         rulebook=book, title=f"{period.name}政务公开考核评分表")
    summary.markdown = _assessment_markdown(period, summary.scores)
    record_run(ctx, kind="assessment", key=period.key, outcome="done", now=now,
               summary=summary.as_dict())
    return summary


def _assessment_markdown(period: Period, scores) -> str:
    ordered = sorted(scores, key=lambda s: (-s.final, s.unit_name))
    out = [f"# {period.name}考核评分", "", "| 名次 | 单位 | 减分 | 加分 | 得分 | 状态 |",
           "|---|---|---|---|---|---|"]
    for rank, s in enumerate(ordered, 1):
        state = "暂定（有待裁定项）" if s.provisional else "确定"
        out.append(f"| {rank} | {md_cell(s.unit_name)} | {s.deductions} | {s.bonuses} | {s.final} | "
                   f"{state} |")
    return "\n".join(out)


__all__ = ["AssessmentSummary", "DaySummary", "MonthSummary", "assessment_period", "deliver", "first_working_day", "month_end",
           "previous_month", "record_run", "run_assessment", "run_day", "run_month"]
