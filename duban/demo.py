"""``make demo``: the example city's 2020 plan replayed over its year, on the embedded defaults.

Everything lives under ``var/demo/`` (SQLite database, file outbox, reports, the Prefect
server's home) and is rebuilt on every run, so re-running is safe and gives the same result.
Unit behaviour is simulated deterministically: most units finish on time, some late, a few
never; departments issue new policy documents (item 6's "5个工作日内上传" starts from each);
the coordinator records two findings, approves one extension and decides one discretionary
deduction.  The daily checks of the whole year run through the engine; the last working days,
every monthly escalation and the three assessments run as real Prefect flows, so the UI shows
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import socket
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pendulum
import sqlalchemy as sa

from db import migrate
from db.models import Escalation, Item, LedgerEntry, Obligation, OutboxMessage, Unit
from deadlines.due import TZ
from duban.config import load_plan, load_settings, load_unit_directory, load_units_file
from duban.prefect_server import LocalServer, free_port, is_healthy, start_server
from duban.vocab import ObligationStatus
from records import lifecycle
from records.sync import load_plan_file, sync_units
from tasks.context import EngineContext, build_context
from tasks.ledger import add_finding, decide_entry, list_ledger
from tasks.runs import (
    assessment_period,
    first_working_day,
    previous_month,
    run_assessment,
    run_day,
)

ROOT = Path(__file__).resolve().parent.parent
PLAN_FILE = "plans/2020-chaoyang.yaml"
PREFECT_DAYS = 5  # the last working days of the replay run as Prefect flows


def _share(*parts: object) -> int:
    """A stable number 0..99 from the parts (the simulation is deterministic)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return int(digest[:8], 16) % 100


def _at(d: date, hour: int) -> pendulum.DateTime:
    return pendulum.datetime(d.year, d.month, d.day, hour, tz=TZ)


@dataclass
class DemoResult:
    var_dir: Path
    days: int = 0
    working_days: int = 0
    events: int = 0
    flows: int = 0
    ui_url: str | None = None
    server_note: str = ""
    files: list[Path] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


class Demo:
    def __init__(self, var_dir: Path | None = None, config_dir: Path | None = None,
                 progress: Callable[[str, int, int], None] | None = None):
        self.var = var_dir or ROOT / "var" / "demo"
        self.config = config_dir or ROOT / "config"
        self.progress = progress or (lambda _label, _done, _total: None)
        self.server: LocalServer | None = None

    # ------------------------------------------------------------------ set-up

    def reset(self) -> None:
        pid_file = self.var / "prefect" / "server.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
                os.killpg(int(pid_file.read_text()), signal.SIGTERM)
        if self.var.exists():
            shutil.rmtree(self.var)
        self.var.mkdir(parents=True)

    def start_prefect(self) -> str:
        """Use PREFECT_API_URL when it points at a server, else start one and leave it up."""
        configured = os.environ.get("PREFECT_API_URL")
        if configured and is_healthy(configured):
            self.server = LocalServer(configured, configured.removesuffix("/api"),
                                      Path(os.environ.get("PREFECT_HOME", self.var / "prefect")),
                                      None)
            return "使用已配置的 Prefect 服务器"
        home = self.var / "prefect"
        port = 4200 if not is_healthy("http://127.0.0.1:4200/api") and _port_free(4200) else \
            free_port()
        self.server = start_server(home, port=port)
        (home / "server.pid").write_text(str(self.server.process.pid))
        return "已启动本地 Prefect 服务器（SQLite），演示结束后保持运行"

    def build(self) -> EngineContext:
        url = f"sqlite:///{self.var / 'duban.db'}"
        migrate.upgrade(url)
        ctx = build_context(self.config, url, self.var)
        directory = load_unit_directory(self.config)
        plan = load_plan(self.config / PLAN_FILE, directory)
        with ctx.session(actor="演示", now=_at(plan.issued, 9)) as s, s.begin():
            sync_units(s, load_units_file(self.config))
            load_plan_file(s, plan, directory=directory, settings=load_settings(self.config),
                           source_path=self.config / PLAN_FILE, config_dir=self.config)
        self.plan_year, self.issued = plan.year, plan.issued
        return ctx

    # ------------------------------------------------------------------ simulation

    def _behaviour(self, unit_code: str, item_id: str) -> str:
        roll = _share(unit_code, item_id)
        return "on_time" if roll < 62 else "late" if roll < 88 else "never"

    def _schedule(self, ctx: EngineContext, obligations) -> dict[date, list[int]]:
        cal = ctx.national
        plan: dict[date, list[int]] = defaultdict(list)
        for ob_id, unit_code, item_id, due in obligations:
            kind = self._behaviour(unit_code, item_id)
            if kind == "on_time":
                day = cal.add_working_days(due, -(_share(ob_id, "early") % 3))
            elif kind == "late":
                day = cal.add_working_days(due, 1 + _share(ob_id, "late") % 5)
            else:
                continue
            plan[max(day, self.issued)].append(ob_id)
        return plan

    def _open_obligations(self, ctx: EngineContext, *, event_id: int | None = None):
        with ctx.session() as s:
            stmt = (sa.select(Obligation.id, Unit.code, Obligation.item_id, Obligation.due_date)
                    .join(Unit, Unit.id == Obligation.unit_id)
                    .where(Obligation.status == ObligationStatus.OPEN,
                           Obligation.due_date.is_not(None)))
            if event_id is not None:
                stmt = stmt.where(Obligation.event_id == event_id)
            return [(i, u, str(item), d) for i, u, item, d in s.execute(stmt).all()]

    def _events_on(self, ctx: EngineContext, day: date) -> int:
        """Departments issue new 六稳六保 policy documents (item 6's relative limit)."""
        if not ctx.national.is_working_day(day) or day.day % 9 != 0:
            return 0
        made = 0
        with ctx.session(actor="演示", now=_at(day, 10)) as s, s.begin():
            item = s.scalars(sa.select(Item).where(Item.code == f"{self.plan_year}-6")).one()
            units = s.scalars(sa.select(Unit).where(Unit.code.in_(item.responsible_units))
                              .order_by(Unit.code)).all()
            for unit in units:
                if _share(unit.code, day) >= 12:
                    continue
                n = _share(unit.code, day, "n") % 40 + 1
                _event, obs = lifecycle.record_event(
                    s, item=item, unit=unit, kind="policy_issued",
                    title=f"关于进一步做好稳就业保民生工作的若干措施（{unit.name}）",
                    doc_number=f"{unit.code.upper()}〔{day.year}〕{n}号",
                    occurred_at=_at(day, 10), recorded_by="演示", calendars=ctx.calendars,
                    settings=ctx.settings)
                made += 1
                for ob in obs:
                    self._pending[self._event_done_day(ctx, ob.id, ob.due_date)].append(ob.id)
        return made

    def _event_done_day(self, ctx: EngineContext, ob_id: int, due: date) -> date:
        roll = _share(ob_id, "event")
        back = 2 if roll < 70 else -(1 + roll % 4)
        return ctx.national.add_working_days(due, -back)

    def _complete(self, ctx: EngineContext, day: date) -> None:
        ids = self._pending.pop(day, [])
        if not ids:
            return
        with ctx.session(actor="演示", now=_at(day, 8)) as s, s.begin():
            for ob_id in ids:
                ob = s.get(Obligation, ob_id)
                if ob.status != ObligationStatus.OPEN:
                    continue
                lifecycle.complete(s, obligation=ob, done_at=_at(day, 8 + _share(ob_id) % 8),
                                   recorded_by="演示", calendar=ctx.calendar_for_unit(ob.unit_id),
                                   evidence_url=f"http://www.chaoyang.example.gov.cn/zwgk/{ob_id}")

    def _coordinator_actions(self, ctx: EngineContext, day: date) -> None:
        """A few things a coordinator does by hand during the year."""
        if day == date(self.plan_year, 9, 10):  # an approved extension before the deadline
            with ctx.session(actor="督办员", now=_at(day, 15)) as s, s.begin():
                ob = s.scalars(sa.select(Obligation).join(Unit).where(
                    Unit.code == "bps", Obligation.status == ObligationStatus.OPEN,
                    Obligation.due_date == date(self.plan_year, 9, 15))).first()
                if ob is not None:
                    lifecycle.extend(s, obligation=ob, new_due_date=date(self.plan_year, 9, 30),
                                     reason="专栏改版，经分管领导批准延期", approved_by="督办员",
                                     approved_at=_at(day, 15), calendar=ctx.national)
        if day == date(self.plan_year, 10, 20):  # findings from spot checks (拨测)
            with ctx.session(actor="督办员", now=_at(day, 16)) as s, s.begin():
                for code, rule in (("lys", "C3.1"), ("sjtysj", "D3.1")):
                    unit = s.scalars(sa.select(Unit).where(Unit.code == code)).one()
                    add_finding(s, unit_id=unit.id, rule_code=rule, occurred_on=day,
                                note="三个时段拨测政府信息公开电话均无人接听", count=1,
                                actor="督办员", now=_at(day, 16))

    def _decide_one(self, ctx: EngineContext, day: date) -> None:
        with ctx.session(actor="督办员", now=_at(day, 16)) as s, s.begin():
            pending = list_ledger(s, pending_only=True)
            if pending:
                decide_entry(ctx, s, entry_id=pending[0].id, magnitude=Decimal("0.5"),
                             reason="已部分完成，酌情减0.5分", on=day, now=_at(day, 16),
                             actor="督办员")

    # ------------------------------------------------------------------ the run

    def run(self) -> DemoResult:
        self.reset()
        os.environ["DUBAN_VAR_DIR"] = str(self.var)  # flows write the outbox and reports here
        result = DemoResult(var_dir=self.var)
        result.server_note = self.start_prefect()
        result.ui_url = self.server.ui_url if self.server else None
        ctx = self.build()
        self._pending = self._schedule(ctx, self._open_obligations(ctx))
        end = date(self.plan_year, 12, 31)
        days = [self.issued + timedelta(days=k) for k in range((end - self.issued).days + 1)]
        working = [d for d in days if ctx.national.is_working_day(d)]
        prefect_days = set(working[-PREFECT_DAYS:])
        with self.server.use():
            from flows.assessment import assessment
            from flows.daily import daily_run
            from flows.monthly import monthly_escalation

            for n, day in enumerate(days, 1):
                self.progress(f"{day.isoformat()}", n, len(days))
                result.events += self._events_on(ctx, day)
                self._complete(ctx, day)
                self._coordinator_actions(ctx, day)
                if day in prefect_days:
                    asyncio.run(daily_run(as_of=day, config_dir=str(self.config),
                                          db_url=ctx.db_url))
                    result.flows += 1
                else:
                    run_day(ctx, as_of=day)
                if day == first_working_day(ctx, day.year, day.month) and \
                        previous_month(day) >= date(self.issued.year, self.issued.month, 1):
                    asyncio.run(monthly_escalation(as_of=day, config_dir=str(self.config),
                                                   db_url=ctx.db_url))
                    result.flows += 1
                if day == first_working_day(ctx, self.plan_year, 10):
                    asyncio.run(assessment(period="Q3", year=self.plan_year, as_of=day,
                                           config_dir=str(self.config), db_url=ctx.db_url))
                    self._decide_one(ctx, day)
                    result.flows += 1
                result.days += 1
                result.working_days += ctx.national.is_working_day(day)
            for code in ("H1", "Y"):
                asyncio.run(assessment(period=code, year=self.plan_year, as_of=end,
                                       config_dir=str(self.config), db_url=ctx.db_url))
                result.flows += 1
            asyncio.run(monthly_escalation(month=f"{self.plan_year}-12", as_of=end,
                                           config_dir=str(self.config), db_url=ctx.db_url))
            result.flows += 1
        result.summary = self.summarise(ctx)
        result.files = sorted((self.var / "reports").rglob("*.*"))
        ctx.dispose()
        return result

    def summarise(self, ctx: EngineContext) -> dict:
        with ctx.session() as s:
            obligations = Counter()
            for status, late in s.execute(sa.select(Obligation.status,
                                                    Obligation.late_working_days)):
                if status == ObligationStatus.DONE:
                    obligations["按期完成" if not late else "逾期完成"] += 1
                elif status == ObligationStatus.OPEN:
                    obligations["仍未完成"] += 1
                else:
                    obligations[status.value] += 1
            total = sum(obligations.values())
            outbox = Counter(k for (k,) in s.execute(sa.select(OutboxMessage.kind)))
            levels = Counter(c for (c,) in s.execute(
                sa.select(Escalation.colour).where(Escalation.colour.is_not(None))))
            entries = s.execute(sa.select(LedgerEntry.kind, LedgerEntry.amount)).all()
        period = assessment_period(ctx, year=self.plan_year, code="Y")
        scores = run_assessment(ctx, period=period, now=_at(date(self.plan_year, 12, 31), 18)).scores
        ranked = sorted(scores, key=lambda sc: (-sc.final, sc.unit_name))
        return {
            "obligations": total, "by_status": dict(obligations),
            "messages": sum(outbox.values()), "messages_by_kind": dict(outbox),
            "outbox": str(self.var / "outbox"),
            "escalations": dict(levels),
            "ledger_lines": len(entries),
            "deductions": str(-sum((a for k, a in entries if a is not None and a < 0 and
                                    k != "reversal"), Decimal(0))),
            "best": [(sc.unit_name, str(sc.final)) for sc in ranked[:5]],
            "worst": [(sc.unit_name, str(sc.final)) for sc in ranked[-5:][::-1]],
        }


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
