"""Record completions from a 台账, row by row: a bad row never stops the good ones.

Each row is resolved (unit with a suggestion when unknown, item by number or code, completion
date, evidence), then recorded with :func:`records.lifecycle.complete` — with the unit's own
calendar, so lateness is in the unit's working days — and committed on its own. Nothing is
recorded twice: a row whose completion is already in the database (same obligation, same
instant) says "已记录，跳过"; a second row in the file for the same unit, item and period is
refused rather than silently completing the next period's obligation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal

import pendulum
from sqlalchemy.orm import Session

from db import repository as repo
from db.models import Item, Obligation, Unit
from db.repository import RepositoryError
from deadlines.due import TZ
from duban.context import App, find_item, find_unit
from duban.errors import UserError
from duban.vocab import ObligationStatus
from records import lifecycle
from reports.taizhang import (
    DateProblem,
    TaizhangRow,
    cn_number,
    parse_done,
    period_key,
    read_taizhang,
)
from reports.tongbao import cn_date, period_text

Status = Literal["recorded", "skipped", "not_done", "rejected"]
STATUS_LABELS: dict[str, str] = {"recorded": "已记录", "skipped": "已记录，跳过",
                                 "not_done": "未完成，跳过", "rejected": "未记录"}
_OPEN = (ObligationStatus.OPEN, ObligationStatus.PENDING_CALENDAR)


@dataclass(frozen=True)
class RowOutcome:
    row: int  # the spreadsheet's row number
    unit: str  # as written
    item: str  # as written
    status: Status
    message: str
    done_on: date | None = None
    done_text: str = ""  # the completion date as written (shown when it could not be read)
    obligation_id: int | None = None
    late_working_days: int | None = None


@dataclass
class ImportReport:
    path: Path
    sheet: str
    header_row: int
    columns: dict[str, str]
    outcomes: list[RowOutcome] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def recorded(self) -> int:
        return self.count("recorded")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    @property
    def exit_code(self) -> int:
        """0 when every row was recorded, already recorded or not done yet; 1 if any was refused."""
        return 1 if self.rejected else 0

    def summary(self) -> str:
        text = (f"共 {len(self.outcomes)} 行：新记录 {self.recorded} 行，已记录跳过 {self.skipped} 行，"
                f"未记录 {self.rejected} 行")
        if self.count("not_done"):
            text += f"，未填完成时间（视为未完成）{self.count('not_done')} 行"
        return text


def written(row: TaizhangRow) -> str:
    value = row.done
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    return "" if value is None else str(value)


class _Reject(Exception):
    """A row that cannot be recorded; the message says why (in Chinese)."""


def _local(day: date, at: time | None) -> datetime:
    t = at or time(0)
    return pendulum.datetime(day.year, day.month, day.day, t.hour, t.minute, tz=TZ)


def _resolve_item(session: Session, ref: str) -> Item:
    try:
        return find_item(session, ref)
    except UserError as exc:
        n = cn_number(ref)
        if n is not None:
            try:
                return find_item(session, str(n))
            except UserError:
                pass
        raise _Reject(str(exc)) from None


def _same_instant(a: datetime | None, b: datetime) -> bool:
    return a is not None and pendulum.instance(a).in_tz("UTC") == pendulum.instance(b).in_tz("UTC")


def _when(ob: Obligation) -> str:
    label = period_text(ob.period_key)
    due = f"截止{cn_date(ob.due_date)}" if ob.due_date else "截止日期待定"
    return f"{label}，{due}" if label else due


def _one(app: App, session: Session, row: TaizhangRow, *, actor: str, today: date,
         seen: dict[tuple[int, int, str], int]) -> RowOutcome:
    def out(status: Status, message: str, **kw) -> RowOutcome:
        return RowOutcome(row.row, row.unit, row.item, status, message,
                          done_text=written(row), **kw)

    if row.done is None and not row.has_evidence:
        return out("not_done", "未填写完成时间和佐证，视为尚未完成")
    if not row.unit:
        raise _Reject("缺少单位")
    if not row.item:
        raise _Reject("缺少条目（序号）")
    try:
        unit: Unit = find_unit(session, app.directory, row.unit)
    except UserError as exc:
        raise _Reject(str(exc)) from None
    item = _resolve_item(session, row.item)
    if row.done is None:
        raise _Reject("缺少完成时间")
    try:
        day, at = parse_done(row.done, default_year=item.plan.year)
    except DateProblem as exc:
        raise _Reject(str(exc)) from None
    if day > today:
        raise _Reject(f"完成时间 {cn_date(day)} 晚于今天（{cn_date(today)}）")
    if day.year < item.plan.year:  # a typo (2002 for 2020) would earn an early-completion bonus
        raise _Reject(f"完成时间 {cn_date(day)} 早于计划年度（{item.plan.year}年），请核对")
    if not row.has_evidence:
        raise _Reject("缺少佐证：网址、文号或说明至少填一项")
    period = period_key(row.period, year=item.plan.year) if row.period else ""
    key = (unit.id, item.id, period)
    if key in seen:
        also = f"、同一期次（{row.period}）" if period else ""
        raise _Reject(f"与第{seen[key]}行重复（同一单位、同一条目{also}），未再记录；"
                      "如是不同期次，请填写“期次”列")
    done_at = _local(day, at)
    obs = repo.list_obligations(session, item=item, unit=unit)
    if period:
        matching = [o for o in obs if o.period_key == period]
        if not matching:
            keys = "、".join(sorted({period_text(o.period_key) or o.period_key for o in obs}))
            raise _Reject(f"{unit.name} 在条目{item.number}下没有期次 {row.period!r}"
                          f"（现有：{keys or '无'}）")
        obs = matching
    if not obs:
        raise _Reject(f"{unit.name} 不是条目{item.number}的责任单位，没有可完成的任务")
    for ob in obs:
        if ob.status is ObligationStatus.DONE and _same_instant(ob.done_at, done_at):
            seen[key] = row.row
            return out("skipped", f"已记录，跳过（{_when(ob)}）", done_on=day,
                       obligation_id=ob.id, late_working_days=ob.late_working_days)
    open_obs = [o for o in obs if o.status in _OPEN]
    if not open_obs:
        done = [o for o in obs if o.status is ObligationStatus.DONE and o.done_at is not None]
        if done:
            when = "、".join(cn_date(pendulum.instance(o.done_at).in_tz(TZ).date()) for o in done)
            raise _Reject(f"已记录过完成（{when}），与本行的完成时间不同，未重复记录；"
                          "如需更正，请先核实")
        raise _Reject(f"{unit.name} 在条目{item.number}下没有待办的任务")
    ob = open_obs[0]  # earliest deadline first
    result = lifecycle.complete(
        session, obligation=ob, done_at=done_at, recorded_by=actor,
        calendar=app.calendar_for(unit), evidence_url=row.url or None,
        evidence_doc=row.doc or None, evidence_note=row.note or None)
    seen[key] = row.row
    status = (f"逾期完成，晚{result.late_working_days}个工作日" if result.late else "按时完成")
    return out("recorded", f"{status}（{_when(ob)}）", done_on=day, obligation_id=ob.id,
               late_working_days=result.late_working_days)


def import_completions(app: App, path: str | Path, *, actor: str,
                       now: datetime) -> ImportReport:
    """Record every completion in the 台账 at ``path``; one commit per recorded row.

    Raises :class:`reports.taizhang.TaizhangError` (exit code 2) when the file cannot be read;
    every row-level problem is an outcome in the report instead.
    """
    sheet = read_taizhang(path)
    report = ImportReport(path=sheet.path, sheet=sheet.sheet, header_row=sheet.header_row,
                          columns=sheet.columns)
    today = pendulum.instance(now).in_tz(TZ).date()
    seen: dict[tuple[int, int, str], int] = {}
    with app.session(actor=actor, at=now) as session:
        for row in sheet.rows:
            try:
                outcome = _one(app, session, row, actor=actor, today=today, seen=seen)
                session.commit()
            except (_Reject, UserError, RepositoryError) as exc:
                session.rollback()
                outcome = RowOutcome(row.row, row.unit, row.item, "rejected", str(exc),
                                     done_text=written(row))
            report.outcomes.append(outcome)
    return report


__all__ = ["STATUS_LABELS", "ImportReport", "RowOutcome", "import_completions"]
