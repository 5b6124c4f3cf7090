"""A real local Prefect server and a replayed September of the example plan, for the flow and UI
tests (tests/flows, tests/ui). Both conftests register this module as ONE pytest plugin
(:func:`register`), so the session-scoped fixtures exist once per test session:

- ``prefect_server``: one ``prefect server start`` (SQLite, loopback, free port) per session,
  via :func:`duban.prefect_server.start_server`; stopped at the end.
- ``september``: a migrated SQLite duban DB with the example plan (config copied to tmp, file
  outbox under tmp/var) on which the real flows ran, under ``server.use()``: four working days
  of September 2020, a rest day, the monthly escalation on 2020-10-09 (acts for September) and
  on 2020-10-12 (skips), and the Q3 assessment. Both test packages read the same runs.

Task-run records reach the server asynchronously (events, batch flush every 5 s): readers poll
with :func:`wait_for` instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import pendulum
import pytest
import sqlalchemy as sa

from db import migrate
from db.models import Item, Obligation, OutboxMessage, Plan, Unit
from deadlines.calendar import default_config_dir
from duban.config import load_plan, load_settings, load_unit_directory, load_units_file
from duban.prefect_server import LocalServer, start_server
from records import lifecycle
from records.sync import load_plan_file, sync_units
from tasks.checks import item_flow_name
from tasks.context import build_context

T = TypeVar("T")
PLUGIN_NAME = "duban-prefect-support"

PLAN_FILE = "2020-chaoyang.yaml"
ITEM6 = "条目6 集中发布六稳六保政策文件"  # item 6: every unit must publish by 2020-09-15 (Tue)
ITEM6_DUE = date(2020, 9, 15)
# Working days replayed, and item 6's standing for a unit that has not reported: due soon (-1),
# overdue +1 (催办, blue), +3 (yellow 督办单 → 已督办), +5 (red 督办单). 09-19 is a Saturday.
WORKING_DAYS = [date(2020, 9, 14), date(2020, 9, 16), date(2020, 9, 18), date(2020, 9, 22)]
ITEM6_STANDING = {date(2020, 9, 14): "即将到期", date(2020, 9, 16): "已逾期",
                  date(2020, 9, 18): "已督办", date(2020, 9, 22): "已督办"}
REST_DAY = date(2020, 9, 19)
# National Day + Mid-Autumn 2020: Oct 1–8 off; Friday Oct 9 is October's first working day.
MONTHLY_FIRST = date(2020, 10, 9)
MONTHLY_NOT_FIRST = date(2020, 10, 12)
ASSESS_AS_OF = date(2020, 10, 12)
ON_TIME_UNITS = 2  # item 6's first two units (by name) report on 09-11, before the deadline

TIMINGS: dict[str, float] = {}  # shown in the terminal summary


def register(config: pytest.Config) -> None:
    """Register this module once as a plugin (from each conftest's ``pytest_configure``):
    fixtures defined by a plugin are global, so the session fixtures are shared — importing
    them into two conftests would make two servers."""
    import sys

    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(sys.modules[__name__], PLUGIN_NAME)


def pytest_terminal_summary(terminalreporter) -> None:
    if TIMINGS:
        terminalreporter.write_sep("-", "prefect/ui set-up timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f} s")


@contextlib.contextmanager
def using(server: LocalServer) -> Iterator[None]:
    """``server.use()``, then the process environment as it was: ``use()`` exports
    PREFECT_API_URL & co. for subprocesses, which must not outlive the server into other tests."""
    saved = {k: os.environ.get(k) for k in server.client_env()}
    try:
        with server.use():
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine (flows, client queries) on a fresh event loop."""
    return asyncio.run(coro)


def wait_for(probe: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.5,
             what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy (task-run records arrive late)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; "
                                 f"last value: {value!r}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    started = time.monotonic()
    server = start_server(tmp_path_factory.mktemp("prefect-home"), timeout=120)
    TIMINGS["prefect server start"] = time.monotonic() - started
    try:
        yield server
    finally:
        drain_client_workers()
        server.stop()


def drain_client_workers(timeout: float = 30) -> None:
    """Send the logs and events still queued in this process while the server is up (as
    ``prefect_test_harness`` does): otherwise the interpreter's exit retries them against the
    stopped server for over a minute ("Error logging to API")."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=timeout)
    EventsWorker.drain_all(timeout=timeout)


@dataclass
class Run:
    """A flow call's outcome: its flow-run id (to find its runs) and its return value."""

    flow_run_id: UUID
    result: dict


@dataclass
class September:
    server: LocalServer
    config_dir: Path
    db_url: str
    var_dir: Path
    plan_id: int
    item6_code: str
    item6_units: list[str]  # every unit due on 09-15, by name; the first ON_TIME_UNITS report
    daily: dict[date, Run] = field(default_factory=dict)
    rest: Run | None = None
    monthly: Run | None = None
    monthly_skip: Run | None = None
    assessment: Run | None = None
    rerun: Run | None = None  # the second daily run of the last working day, once a test made it

    @property
    def on_time_units(self) -> list[str]:
        return self.item6_units[:ON_TIME_UNITS]

    @property
    def late_units(self) -> list[str]:
        return self.item6_units[ON_TIME_UNITS:]

    def flow_kwargs(self) -> dict[str, str]:
        return {"config_dir": str(self.config_dir), "db_url": self.db_url}

    def outbox_count(self) -> int:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return conn.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
        finally:
            engine.dispose()


def seed_database(root: Path) -> tuple[Path, str, int, str, list[str]]:
    """Config copied under ``root``, a migrated SQLite DB with the example plan, and item 6's
    first ``ON_TIME_UNITS`` units (by name) done on 09-11, before the deadline.
    Returns (config dir, db url, plan id, item 6's code, item 6's unit names, sorted)."""
    config = root / "config"
    shutil.copytree(default_config_dir(), config)
    url = f"sqlite:///{root / 'duban.db'}"
    migrate.upgrade(url)
    ctx = build_context(config, url, root / "var")
    try:
        directory = load_unit_directory(config)
        with ctx.session() as s, s.begin():
            sync_units(s, load_units_file(config))
            load_plan_file(s, load_plan(config / "plans" / PLAN_FILE, directory),
                           directory=directory, settings=load_settings(config), source_path=None,
                           config_dir=config)
        with ctx.session() as s, s.begin():
            plan_id = s.scalar(sa.select(Plan.id))
            item = next(i for i in s.scalars(sa.select(Item).where(Item.plan_id == plan_id))
                        if item_flow_name(i.number, i.title) == ITEM6)
            obligations = s.scalars(
                sa.select(Obligation).join(Unit).where(Obligation.item_id == item.id,
                                                       Obligation.due_date == ITEM6_DUE)
                .order_by(Unit.name)).all()
            for ob in obligations[:ON_TIME_UNITS]:
                lifecycle.complete(s, obligation=ob, recorded_by="test", calendar=ctx.national,
                                   done_at=pendulum.datetime(2020, 9, 11, 8, tz="Asia/Shanghai"),
                                   evidence_note="按时报送")
            names = [ob.unit.name for ob in obligations]
            return config, url, plan_id, item.code, names
    finally:
        ctx.dispose()


async def call_flow(flow, **kwargs) -> Run:
    state = await flow(**kwargs, return_state=True)
    assert state.is_completed(), f"{flow.name} ended {state.name}: {state.message}"
    return Run(state.state_details.flow_run_id, await state.aresult())


async def _replay(sep: September) -> None:
    from flows.assessment import assessment
    from flows.daily import daily_run
    from flows.monthly import monthly_escalation

    kw = sep.flow_kwargs()
    for day in WORKING_DAYS:
        started = time.monotonic()
        sep.daily[day] = await call_flow(daily_run, as_of=day, **kw)
        TIMINGS[f"daily_run {day}"] = time.monotonic() - started
    sep.rest = await call_flow(daily_run, as_of=REST_DAY, **kw)
    sep.monthly = await call_flow(monthly_escalation, as_of=MONTHLY_FIRST, **kw)
    sep.monthly_skip = await call_flow(monthly_escalation, as_of=MONTHLY_NOT_FIRST, **kw)
    sep.assessment = await call_flow(assessment, period="Q3", year=2020, as_of=ASSESS_AS_OF,
                                     **kw)


@pytest.fixture(scope="session")
def september(prefect_server: LocalServer,
              tmp_path_factory: pytest.TempPathFactory) -> September:
    root = tmp_path_factory.mktemp("september")
    config, url, plan_id, code, units = seed_database(root)
    sep = September(server=prefect_server, config_dir=config, db_url=url, var_dir=root / "var",
                    plan_id=plan_id, item6_code=code, item6_units=units)
    started = time.monotonic()
    with using(prefect_server):
        run(_replay(sep))
    TIMINGS["september replay (flows)"] = time.monotonic() - started
    return sep


# --------------------------------------------------------------------------- reading back


async def item_runs(parent_id: UUID, *, name: str | None = None) -> list:
    """The item flow runs (subflows) of one daily run, optionally only the one named ``name``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterName,
        FlowRunFilterParentFlowRunId,
    )

    flt = FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id]))
    if name is not None:
        flt.name = FlowRunFilterName(any_=[name])
    async with get_client() as client:
        return await client.read_flow_runs(flow_run_filter=flt, limit=200)


async def task_runs_of(flow_run_id: UUID) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        return await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])), limit=200)


async def artifacts(*, key: str | None = None, flow_run_id: UUID | None = None) -> list:
    """Every version of the artifacts with ``key`` and/or made by ``flow_run_id``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    flt = ArtifactFilter()
    if key is not None:
        flt.key = ArtifactFilterKey(any_=[key])
    if flow_run_id is not None:
        flt.flow_run_id = ArtifactFilterFlowRunId(any_=[flow_run_id])
    async with get_client() as client:
        return await client.read_artifacts(artifact_filter=flt)


def unit_task_runs(sep: September, day: date, *, timeout: float = 30) -> list:
    """Item 6's unit task runs of ``day``'s daily run — polled until one per late unit has been
    recorded (the server writes task runs from events, in batches)."""
    item_run = run(item_runs(sep.daily[day].flow_run_id, name=ITEM6))[0]
    expected = len(sep.late_units)

    def probe() -> list:
        units = [t for t in run(task_runs_of(item_run.id)) if not t.name.startswith("检查条目")]
        return units if len(units) >= expected else []

    return wait_for(probe, timeout=timeout, what=f"{expected} unit task runs of {ITEM6} on {day}")


def item6_table_key(sep: September) -> str:
    return f"plan{sep.plan_id}-item-{sep.item6_code}".lower().replace("_", "-")
