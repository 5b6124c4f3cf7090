"""Prefect task wrappers around the side-effect steps (the steps themselves are plain functions,
so a year can be replayed without Prefect and each step tested on its own).

The wrappers are ``async``: measured here, a sync task called from an async flow costs ~28 ms
(a new API client and TLS context per call), an async one ~3 ms. The work inside is ordinary
blocking code and runs one step at a time (SQLite has one writer anyway); only the item checks
go to a worker thread, so that the daily run can overlap one item flow's Prefect round trips
with another item's check (see ``flows/daily.py``).

No task caches its result: every side effect is idempotent by database key, and a cached
result would hide a real re-run from the UI.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from functools import lru_cache, partial

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from deadlines.ladder import LIGHT_OF, Light, Standing
from tasks.checks import COLOUR_ZH, ItemReport, UnitRow, check_item
from tasks.context import EngineContext, build_context
from tasks.messages import MessageSummary, write_messages
from tasks.outbox import DeliverySummary
from tasks.runs import (
    AssessmentSummary,
    MonthSummary,
    deliver,
    record_run,
    run_assessment,
    run_month,
)


@lru_cache(maxsize=8)
def get_context(config_dir: str | None = None, db_url: str | None = None) -> EngineContext:
    """One engine context per process and configuration (flows and their subflows share it)."""
    return build_context(config_dir, db_url)


# One worker thread runs every item check, in the order the item flows submit them: checks
# never overlap (one writer), and the next check starts the moment the previous one ends,
# without waiting for the event loop, which meanwhile serves the other item flows.
_CHECKS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="duban-check")


@task(name="检查条目", cache_policy=NO_CACHE)
async def check_item_task(item_id: int, as_of: date, now: datetime, config_dir: str | None = None,
                    db_url: str | None = None) -> ItemReport:
    """The item's check, run on the check thread (see ``_CHECKS``)."""
    call = partial(check_item, get_context(config_dir, db_url), item_id=item_id, as_of=as_of,
                   now=now)
    return await asyncio.get_running_loop().run_in_executor(_CHECKS, call)


def _state(standing: Standing, message: str) -> State:
    # Late units show red in the UI (FAILED type); everything else completes under its name.
    if LIGHT_OF[standing] is Light.RED:
        return Failed(name=standing.value, message=message)
    return Completed(name=standing.value, message=message)


@task(name="单位情况", task_run_name="{unit}", cache_policy=NO_CACHE)
async def unit_standing(unit: str, standing: str, due: str, days: str, level: str | None) -> State:
    """One unit's standing on the item; its final state name is the standing (已逾期…)."""
    s = Standing(standing)
    extra = f"，{COLOUR_ZH.get(level, level)}督办" if level else ""
    return _state(s, f"{unit}：{s.value}（截止 {due}，{days}{extra}）")


BATCH_NAMES_SHOWN = 20


@task(name="单位情况（批量）", task_run_name="{standing}（{count}个单位）", cache_policy=NO_CACHE)
async def unit_batch(standing: str, count: int, units: list[str]) -> State:
    """Units sharing one standing, grouped so a province-sized item stays fast.  ``units`` are
    the names the message shows (the first ones), ``count`` the group's size — Prefect walks
    every task parameter, so a thousand names would cost more than the task itself."""
    s = Standing(standing)
    shown = "、".join(units[:BATCH_NAMES_SHOWN]) + ("等" if count > BATCH_NAMES_SHOWN else "")
    return _state(s, f"{count}个单位{s.value}：{shown}")


async def publish_units(report: ItemReport, *, limit: int) -> int:
    """Task runs for the units needing attention: one per unit, or batches above ``limit``."""
    attention: list[UnitRow] = [u for u in report.units if u.needs_attention]
    if len(attention) <= limit:
        for u in attention:
            await unit_standing(
                u.unit_name, u.standing.value, u.due_date.isoformat() if u.due_date else "待定",
                u.days, u.level, return_state=True)
        return len(attention)
    groups: dict[Standing, list[str]] = defaultdict(list)
    for u in attention:
        groups[u.standing].append(u.unit_name)
    for standing, names in groups.items():
        await unit_batch(standing.value, len(names), names[:BATCH_NAMES_SHOWN],
                         return_state=True)
    return len(groups)


@task(name="生成提醒邮件", cache_policy=NO_CACHE)
async def write_messages_task(as_of: date, now: datetime, config_dir: str | None = None,
                        db_url: str | None = None) -> MessageSummary:
    return write_messages(get_context(config_dir, db_url), as_of=as_of, now=now)


@task(name="投递发件箱", cache_policy=NO_CACHE)
async def deliver_task(now: datetime, config_dir: str | None = None,
                 db_url: str | None = None) -> DeliverySummary:
    return deliver(get_context(config_dir, db_url), now=now)


@task(name="记录运行", cache_policy=NO_CACHE)
async def record_run_task(kind: str, key: str, outcome: str, now: datetime, summary: dict,
                    config_dir: str | None = None, db_url: str | None = None) -> int:
    return record_run(get_context(config_dir, db_url), kind=kind, key=key, outcome=outcome,
                      now=now, summary=summary)


@task(name="月度督办与通报", cache_policy=NO_CACHE)
async def run_month_task(month: date, now: datetime, send: bool, config_dir: str | None = None,
                   db_url: str | None = None) -> MonthSummary:
    return run_month(get_context(config_dir, db_url), month=month, now=now, send=send)


@task(name="考核评分", cache_policy=NO_CACHE)
async def run_assessment_task(period, now: datetime, config_dir: str | None = None,
                        db_url: str | None = None) -> AssessmentSummary:
    return run_assessment(get_context(config_dir, db_url), period=period, now=now)
