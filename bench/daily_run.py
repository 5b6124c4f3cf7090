"""Benchmark: one province-sized daily run under Prefect, and how much of it is Prefect.

Builds a synthetic province in a temporary directory — 5,000 units of several kinds (each with a
liaison and a leader, plus three coordinators at the provincial office), 50 items of a 2026
plan and 200,000 obligations with due dates spread uniformly over 2026-05-01..2026-07-31, ~30 %
done, 1 % paused, and the ladder steps an every-day engine would already have fired before the
benchmark day (2026-06-10, a Wednesday).  Rows go in with SQLAlchemy Core ``executemany`` (the
ORM and ``plan load`` would take minutes at this size).

Then, on two copies of the same database:

* **plain** — ``tasks.runs.run_day(ctx, as_of=2026-06-10)``: duban's own work, no Prefect;
* **flow** — ``flows.daily.daily_run(as_of=2026-06-10, …)`` against a local Prefect server
  (PostgreSQL as the server's database when 127.0.0.1:5432 answers, else SQLite), with
  ``settings.prefect.item_concurrency`` 4 on PostgreSQL and 1 on SQLite (see flows/daily.py).

The plain run goes first and both share warmed-up calendars and templates, so the difference is
Prefect's: flow and task runs, their server round trips, events and logs.  The breakdown shows
each phase plain and as its task's run time in the flow (from the server, once its records have
caught up), the task runs and artifacts the server recorded, and a correctness line.

``prefect_share = (flow_seconds − plain_seconds) / flow_seconds``.  Both runs must fire the same
number of ladder steps and write the same number of messages (and .eml files).  The last line
is machine-readable::

    RESULT seconds=<flow seconds> prefect_share=<fraction> obligations=<n> messages=<m>

Run: ``.venv/bin/python bench/daily_run.py [--units 5000 --items 50 --obligations 200000]
[--prefect-db auto|postgres|sqlite] [--keep]``.  Everything (server, temp files, the throwaway
PostgreSQL database) is removed at the end, also on error, unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Prefect's console shows warnings only; its API log handler still ships INFO logs to the server.
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import sqlalchemy as sa  # noqa: E402
from _province_world import (  # noqa: E402
    BUILT_AT,
    PG_HOST,
    PG_PORT,
    SHANGHAI,
    TOPICS,
    build_config,
    due_at,
    local_at,
    pg_admin,
    postgres_answers,
    province_units,
)

AS_OF = date(2026, 6, 10)
DUE_FROM, DUE_TO = date(2026, 5, 1), date(2026, 7, 31)

# ----------------------------------------------------------------------- the synthetic province

# (rule, time-limit text, requirement sentence): by_date / recurring → standard ladder,
# working_days → the short ladder (config/ladders.yaml overrides by rule kind).
RULES = (
    ({"kind": "by_date", "month": 6, "day": 30}, "6月底前", "6月底前完成{t}工作并报送落实情况。"),
    ({"kind": "recurring", "every": "month"}, "每月", "每月底前报送{t}工作进展情况。"),
    ({"kind": "working_days", "n": 5, "event": "policy_issued"}, "5个工作日内",
     "涉及{t}的政策文件印发后5个工作日内在政府网站公开并报送。"),
)


def build_database(url: str, config: Path, *, n_items: int, n_obligations: int,
                   seed: int) -> dict[str, int]:
    """Migrate, then bulk-insert units, contacts, the plan, items, obligations and history."""
    from db import migrate
    from db.models import Contact, Escalation, Item, Obligation, Plan, Unit
    from db.session import make_engine
    from deadlines.calendar import load_calendar
    from deadlines.ladder import load_ladders, offset_of
    from duban.config import load_units_file
    from duban.vocab import ContactRole, ObligationStatus, UnitKind

    rng = random.Random(seed)
    migrate.upgrade(url)
    units_file = load_units_file(config)  # validates the generated units.yaml
    ladders = load_ladders(config / "ladders.yaml")
    calendars = {r: load_calendar(region=r, config_dir=config)
                 for r in {u.region for u in units_file.units}}
    engine = make_engine(url)
    stats: Counter = Counter()
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(Unit.__table__), [
                {"code": u.code, "name": u.name, "aliases": [], "kind": UnitKind(u.kind),
                 "region": u.region, "created_at": BUILT_AT} for u in units_file.units])
            unit_ids = dict(conn.execute(sa.select(Unit.code, Unit.id)).all())
            conn.execute(sa.insert(Contact.__table__), [
                {"unit_id": unit_ids[u.code], "name": c.name, "role": ContactRole(c.role),
                 "email": c.email, "phone": c.phone, "created_at": BUILT_AT}
                for u in units_file.units for c in u.contacts])
            plan_id = conn.execute(sa.insert(Plan.__table__).values(
                year=2026, issuer="示例省政务公开领导小组", title="示例省2026年政务公开工作要点",
                issued=date(2026, 3, 1), source_document="synthetic", source_sha256="0" * 64,
                created_at=BUILT_AT)).inserted_primary_key[0]

            units = [u for u in units_file.units if u.code != "u00000"]
            per_item = [n_obligations // n_items + (i < n_obligations % n_items)
                        for i in range(n_items)]
            obligations: list[dict] = []
            meta: list[tuple] = []  # (item code, unit kind, rule kind, region) per row
            for i, n in enumerate(per_item, start=1):
                # 1, 2 or 3 time limits; more when there are too few units for n obligations
                k = max(1 + (i - 1) % len(RULES), math.ceil(n / len(units)))
                rules = [RULES[(i + j) % len(RULES)] for j in range(k)]
                chosen = rng.sample(units, min(len(units), math.ceil(n / k)))
                topic = TOPICS[(i - 1) % len(TOPICS)]
                code = f"2026-{i}"
                item_id = conn.execute(sa.insert(Item.__table__).values(
                    plan_id=plan_id, number=str(i), code=code,
                    title=f"做好{topic}信息公开" + ("（续）" if i > len(TOPICS) else ""),
                    text=f"各地各部门要做好{topic}信息公开工作，按要求报送落实情况。",
                    lead_units=[chosen[0].code], responsible_units=[u.code for u in chosen[1:]],
                    time_limits=[{"text": text, "sentence": sent.format(t=topic), "rule": rule}
                                 for rule, text, sent in rules],
                    review=None, position=i, active=True, created_at=BUILT_AT,
                )).inserted_primary_key[0]
                made = 0
                for unit in chosen:
                    for j, (rule, _, _) in enumerate(rules):
                        if made == n:
                            break
                        made += 1
                        due = DUE_FROM + timedelta(days=rng.randrange((DUE_TO - DUE_FROM).days + 1))
                        period = due.strftime("%Y-%m") if rule["kind"] == "recurring" else "once"
                        obligations.append(_obligation(rng, item_id, unit_ids[unit.code], j,
                                                       period, due, calendars[unit.region]))
                        meta.append((code, unit.kind, rule["kind"], unit.region))
            for start in range(0, len(obligations), 20_000):
                conn.execute(sa.insert(Obligation.__table__), obligations[start:start + 20_000])
            ob_ids = [r[0] for r in conn.execute(
                sa.select(Obligation.id).order_by(Obligation.id)).all()]
            # The ladder steps an every-day engine fired before AS_OF (cycle = the due date).
            history: list[dict] = []
            for ob_id, ob, (code, kind, rule_kind, region) in zip(ob_ids, obligations, meta,
                                                                 strict=True):
                stats[ob["status"].value] += 1
                stats["paused"] += ob["paused"]
                if ob["paused"]:
                    continue
                cal = calendars[region]
                due = ob["due_date"]
                if ob["status"] is ObligationStatus.DONE:
                    done_day = ob["done_at"].astimezone(SHANGHAI).date()
                    reached = offset_of(done_day, due, cal) - 1
                else:
                    reached = offset_of(AS_OF, due, cal) - 1  # today's own step is the run's job
                ladder = ladders.ladder_for(item_code=code, unit_kind=kind, rule_kind=rule_kind)
                for step in ladder.steps:
                    if step.offset > reached:
                        break
                    day = min(cal.add_working_days(due, step.offset) if step.offset else due,
                              AS_OF - timedelta(days=1))
                    history.append({"obligation_id": ob_id, "step": step.step, "cycle": due,
                                    "kind": step.kind, "colour": step.colour,
                                    "feeds_ledger": step.feeds_ledger, "fired_on": day,
                                    "fired_at": local_at(day, 9)})
            for start in range(0, len(history), 20_000):
                conn.execute(sa.insert(Escalation.__table__), history[start:start + 20_000])
            stats["history"] = len(history)
            stats["units"] = len(units_file.units)
            stats["contacts"] = sum(len(u.contacts) for u in units_file.units)
            stats["items"] = n_items
            stats["obligations"] = len(obligations)
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return dict(stats)


def _obligation(rng: random.Random, item_id: int, unit_id: int, rule_index: int, period: str,
                due: date, cal) -> dict:
    from deadlines.ladder import offset_of
    from duban.vocab import ObligationStatus

    row = {"item_id": item_id, "unit_id": unit_id, "rule_index": rule_index,
           "period_key": period, "due_date": due, "due_at": due_at(due),
           "original_due_at": due_at(due), "status": ObligationStatus.OPEN, "done_at": None,
           "recorded_by": None, "evidence_note": None, "late_working_days": None,
           "paused": False,
           "created_at": BUILT_AT}
    past = due < AS_OF
    if rng.random() < (0.5 if past else 0.15):  # ~30 % done overall
        if past and rng.random() < 0.4:  # done late, 1..8 working days after the due date
            done = min(cal.add_working_days(due, rng.randint(1, 8)), AS_OF - timedelta(days=1))
        else:
            done = min(due, AS_OF - timedelta(days=1)) - timedelta(days=rng.randint(0, 10))
        row.update(status=ObligationStatus.DONE, done_at=local_at(done, 16), recorded_by="bench",
                   evidence_note="已报送")
        late = offset_of(done, due, cal) if done > due else 0
        row["late_working_days"] = late or None
    elif rng.random() < 0.01:
        row["paused"] = True
    return row


# ----------------------------------------------------------------------- the two runs


@contextlib.contextmanager
def timed_phases(phases: dict[str, float]) -> Iterator[Callable]:
    """Time run_day's steps: checks via its ``check`` hook, the rest by wrapping tasks.runs."""
    import tasks.runs as runs
    from tasks.checks import check_item

    def wrap(name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
        return timed

    originals = {n: getattr(runs, n) for n in ("write_messages", "deliver", "record_run")}
    for name, fn in originals.items():
        setattr(runs, name, wrap(name, fn))
    try:
        yield wrap("checks", check_item)
    finally:
        for name, fn in originals.items():
            setattr(runs, name, fn)


def run_plain(config: Path, url: str, var: Path) -> tuple[float, dict, dict[str, float]]:
    from tasks.context import build_context
    from tasks.runs import run_day

    ctx = build_context(config, url, var)
    mail = {**ctx.settings.mail, "outbox_dir": str(var / "outbox")}
    ctx.settings = ctx.settings.model_copy(update={"mail": mail})
    phases: dict[str, float] = {}
    try:
        with timed_phases(phases) as check:
            t = time.perf_counter()
            day = run_day(ctx, as_of=AS_OF, check=check)
            seconds = time.perf_counter() - t
    finally:
        ctx.dispose()
    return seconds, day.as_dict(), phases


def warm_up(config: Path) -> None:
    """Load what both runs share per process (calendars, templates, openpyxl) once, untimed."""
    from deadlines.calendar import load_calendar
    from notifications import xlsx  # noqa: F401 - imported lazily by the renderer
    from tasks.context import build_context

    ctx = build_context(config, "sqlite://", config.parent / "warm")
    ctx.national  # noqa: B018
    load_calendar(region="yanbian", config_dir=config)
    for kind in ("upcoming", "due_today", "overdue", "escalation", "coordinator_digest"):
        for part in ("subject.txt.j2", "body.txt.j2", "body.html.j2", "body.md.j2"):
            ctx.renderer.env.get_template(f"{kind}/{part}")


async def server_counts(api_url: str, settle: float = 7.0, limit: float = 90.0) -> dict:
    """Task runs (by name) and flow runs the server recorded, once the count stops moving."""
    import httpx

    async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
        last, stable_since, start = -1, time.monotonic(), time.monotonic()
        while time.monotonic() - start < limit:
            n = (await client.post("/task_runs/count", json={})).json()
            if n != last:
                last, stable_since = n, time.monotonic()
            elif time.monotonic() - stable_since >= settle:
                break
            await asyncio.sleep(1)
        names: Counter = Counter()
        run_time: Counter = Counter()
        offset = 0
        while True:
            page = (await client.post("/task_runs/filter",
                                      json={"limit": 200, "offset": offset})).json()
            for tr in page:
                base = tr["name"].rsplit("-", 1)[0] if tr["task_key"] else tr["name"]
                names[_task_label(tr, base)] += 1
                run_time[_task_label(tr, base)] += _seconds(tr.get("total_run_time"))
            if len(page) < 200:
                break
            offset += 200
        flows = (await client.post("/flow_runs/filter", json={"limit": 200})).json()
        artifacts = (await client.post("/artifacts/count", json={})).json()
    items = [f for f in flows if f.get("parent_task_run_id") and f.get("start_time")
             and f.get("end_time")]
    span = (max(_instant(f["end_time"]) for f in items)
            - min(_instant(f["start_time"]) for f in items)).total_seconds() if items else 0.0
    return {"task_runs": last, "by_task": names, "run_time": run_time, "flow_runs": len(flows),
            "item_flows": len(items), "item_span": span, "artifacts": artifacts}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _seconds(value: object) -> float:
    """``total_run_time`` as JSON: seconds, or an ISO 8601 duration such as ``PT1.25S``."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.startswith("P"):
        import re

        m = re.fullmatch(r"P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", value)
        if m:
            d, h, mi, sec = (float(x) if x else 0.0 for x in m.groups())
            return d * 86400 + h * 3600 + mi * 60 + sec
    return 0.0


def _task_label(tr: dict, base: str) -> str:
    key = tr.get("task_key") or ""
    for label in ("check_item_task", "unit_standing", "unit_batch", "write_messages_task",
                  "deliver_task", "record_run_task"):
        if key.startswith(label):
            return label
    return "item subflow (parent side)" if base.startswith("条目") else base


def run_flow(config: Path, url: str, server) -> tuple[float, dict]:
    from flows.daily import daily_run

    with server.use():
        t = time.perf_counter()
        summary = asyncio.run(daily_run(as_of=AS_OF, config_dir=str(config), db_url=url))
        seconds = time.perf_counter() - t
    return seconds, summary


def _drain_prefect(timeout: float = 30) -> None:
    """Send Prefect's queued events and logs while the server still runs: left queued, the
    process would retry them against a stopped server at exit, for minutes."""
    events = sys.modules.get("prefect.events.worker")
    logs = sys.modules.get("prefect.logging.handlers")
    for worker in (getattr(events, "EventsWorker", None), getattr(logs, "APILogWorker", None)):
        if worker is not None:
            with contextlib.suppress(Exception):
                worker.drain_all(timeout=timeout)


def count_eml(folder: Path) -> int:
    return len(list(folder.glob("*.eml"))) if folder.exists() else 0


# ----------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--obligations", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--prefect-db", choices=("auto", "postgres", "sqlite"), default="auto")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (debugging)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="duban-bench-daily-"))
    server = None
    pg_db: str | None = None
    use_pg = args.prefect_db == "postgres" or (args.prefect_db == "auto" and postgres_answers())
    try:
        t = time.perf_counter()
        units = province_units(args.units, args.seed)
        config = build_config(root, units, outbox=root / "var-flow" / "outbox",
                              item_concurrency=4 if use_pg else 1)
        db_flow, db_plain = root / "flow.db", root / "plain.db"
        stats = build_database(f"sqlite:///{db_flow}", config, n_items=args.items,
                               n_obligations=args.obligations, seed=args.seed)
        shutil.copyfile(db_flow, db_plain)
        print(f"province: {stats['units']} units, {stats['contacts']} contacts, "
              f"{stats['items']} items, {stats['obligations']} obligations (open "
              f"{stats.get('open', 0)}, done {stats.get('done', 0)}, paused {stats['paused']}), "
              f"{stats['history']} earlier ladder steps; built in {time.perf_counter() - t:.1f} s "
              f"({root})", flush=True)

        warm_up(config)
        plain_s, plain, phases = run_plain(config, f"sqlite:///{db_plain}", root / "var-plain")
        print(f"plain run_day: {plain_s:.1f} s (fired {plain['fired']}, messages "
              f"{plain['messages']['messages']}, delivered {plain['delivery']['delivered']})",
              flush=True)

        from duban.prefect_server import start_server

        extra: dict[str, str] = {}
        if use_pg:
            pg_db = f"duban_bench_prefect_{os.getpid()}"
            pg_admin(f'CREATE DATABASE "{pg_db}"')
            extra["PREFECT_API_DATABASE_CONNECTION_URL"] = (
                f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{pg_db}")
        which = f"PostgreSQL ({PG_HOST}:{PG_PORT}/{pg_db})" if use_pg else "SQLite"
        t = time.perf_counter()
        server = start_server(root / "prefect-home", extra_env=extra)
        print(f"Prefect server: {which} at {server.api_url}, healthy after "
              f"{time.perf_counter() - t:.1f} s", flush=True)

        os.environ["DUBAN_VAR_DIR"] = str(root / "var-flow")
        flow_s, flow = run_flow(config, f"sqlite:///{db_flow}", server)
        print(f"flow daily_run: {flow_s:.1f} s (fired {flow['fired']}, messages "
              f"{flow['messages']['messages']}, delivered "
              f"{(flow['delivery'] or {}).get('delivered')})", flush=True)
        counts = asyncio.run(server_counts(server.api_url))

        share = (flow_s - plain_s) / flow_s
        eml_plain, eml_flow = count_eml(root / "var-plain" / "outbox"), count_eml(
            root / "var-flow" / "outbox")
        print()
        print(f"{'phase':<28}{'plain (s)':>10}{'task in flow (s)':>18}")
        rt = counts["run_time"]
        rows = [(f"checks ({stats['items']} items)", phases.get("checks", 0.0),
                 rt["check_item_task"]),
                ("messages (write_messages)", phases.get("write_messages", 0.0),
                 rt["write_messages_task"]),
                ("delivery (deliver_outbox)", phases.get("deliver", 0.0), rt["deliver_task"]),
                ("run record", phases.get("record_run", 0.0), rt["record_run_task"]),
                ("unit standings (UI tasks)", 0.0, rt["unit_standing"] + rt["unit_batch"])]
        for label, p, f in rows:
            print(f"{label:<28}{p:>10.2f}{f:>18.2f}")
        print(f"{'total':<28}{plain_s:>10.2f}{flow_s:>18.2f}  (flow: wall time of daily_run)")
        print(f"item flows: {counts['item_flows']} runs, {counts['item_span']:.2f} s from the "
              f"first start to the last end (plain checks: {phases.get('checks', 0.0):.2f} s); "
              "a check task's run time includes its wait for the check thread")
        print(f"Prefect overhead: {flow_s - plain_s:.2f} s = {share:.1%} of the flow run")
        by = ", ".join(f"{k} {v}" for k, v in sorted(counts["by_task"].items()))
        print(f"server recorded: {counts['flow_runs']} flow runs, {counts['task_runs']} task runs "
              f"({by}), {counts['artifacts']} artifacts")
        fired_ok = plain["fired"] == flow["fired"]
        msgs_ok = plain["messages"] == flow["messages"]
        eml_ok = eml_plain == eml_flow == plain["delivery"]["delivered"]
        print(f"correctness: fired {plain['fired']}/{flow['fired']}, messages "
              f"{plain['messages']['messages']}/{flow['messages']['messages']}, .eml files "
              f"{eml_plain}/{eml_flow} (plain/flow) -> "
              f"{'OK' if fired_ok and msgs_ok and eml_ok else 'MISMATCH'}")
        print(f"RESULT seconds={flow_s:.2f} prefect_share={share:.3f} "
              f"obligations={stats['obligations']} messages={flow['messages']['messages']}")
        return 0 if fired_ok and msgs_ok and eml_ok else 1
    finally:
        if server is not None:
            _drain_prefect()
            server.stop()
        if pg_db:
            with contextlib.suppress(Exception):
                pg_admin(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
