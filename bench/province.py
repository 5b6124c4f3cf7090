"""Benchmark: a province's whole year on PostgreSQL — plan load, every daily run, the monthly
escalations and the year-end scorecard, measured in one run.

The province (bench/_province_world.py): 5,000 units in 15 cities (each city's 50 city-level
bodies and its districts' departments), each with a liaison and a leader, plus three
coordinators at the provincial office.  The plan (``config/plans/2026-province.yaml``, written
here) has 50 items naming the units by group words (各地各部门, 市直各单位, 县区政府各部门 …) with
by-date limits spread over the year, monthly and quarterly reports and "5个工作日内" limits
counted from policy documents the units issue during the year — ~200,000 obligations in all.
The year's rule book (``config/rules/2026.yaml``) is the example city's rules pointed at these
items.

Measured, in this order, in one process against a dedicated database (``duban_bench_province``
on the loopback server 127.0.0.1:5432; a throwaway cluster from tests/support/postgres.py when
that server does not answer):

* **load** — ``duban plan load``'s logic (records.sync: units and contacts, then the plan and
  every obligation that follows, audited);
* **daily** — every day of the year through ``tasks.runs.run_day`` (checks, messages, file
  delivery; no Prefect: bench/daily_run.py measures Prefect's share).  Before each day's run the
  units' completions of that day are recorded (``records.lifecycle.complete``, 08:00); after it
  the day's new policy documents (``records.lifecycle.record_event``), which start new
  obligations.  Units behave deterministically: most finish on time, some late, a few never;
* **monthly** — ``tasks.runs.run_month`` in full (facts → ledger, the month's 扣分明细 .xlsx,
  the 通报 — each leader's copy with the unit's own lines and the month's figures, the
  coordinators' with every line — and its delivery) on the first working day after each month
  (``--monthly``: all by default; the months not chosen post their ledger only, so the
  year-end ledger is always the one monthly runs leave).  At the end the 通报 mail each month
  wrote is measured (copies, bytes);
* **scorecard** — ``tasks.runs.run_assessment`` for the year (what ``duban scorecard --period
  Y`` does: post the year's facts to the ledger, score every unit, write the .xlsx 评分表);
* the process's peak memory (``ru_maxrss``) and the database's size after the year.

The last line is machine-readable::

    RESULT load_s=<a> daily_max_s=<b> monthly_s=<c> scorecard_s=<d> peak_mb=<e> db_mb=<f>

Run: ``.venv/bin/python bench/province.py [--small] [--days N] [--monthly all|first|busiest|
none|YYYY-MM] [--units 5000 --cities 15 --items 50] [--keep] [--profile DIR [--profile-day D]]``.
``--small`` is a 500-unit province in 2 cities for a quick check; ``--days N`` replays only the
first N days.  The database and temp files are removed at the end unless ``--keep``.  Targets
(a 2-core machine): daily run < 60 s, monthly escalation < 60 s, scorecard < 10 s, peak memory
< 1 GB.  (``--profile`` slows Python-heavy parts such as the plan load by a third or more.)
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pendulum  # noqa: E402
import sqlalchemy as sa  # noqa: E402
import yaml  # noqa: E402
from _province_world import (  # noqa: E402
    GROUPS,
    PG_HOST,
    PG_PORT,
    TOPICS,
    build_config,
    pg_admin,
    postgres_answers,
    province_units,
)

from deadlines.calendar import CalendarYearMissing  # noqa: E402

YEAR = 2026
ISSUED = date(2026, 1, 5)
DB_NAME = "duban_bench_province"
TZ = "Asia/Shanghai"
TARGETS = {"daily_max_s": 60.0, "monthly_s": 60.0, "scorecard_s": 10.0, "peak_mb": 1024.0}

# ----------------------------------------------------------------------- the plan

ALL = ["各地各部门"]
CITY_LEVEL = ["市直各单位"]
DEPARTMENTS = ["市政府各部门"]
DISTRICT_DEPTS = ["县区政府各部门"]
DISTRICTS = ["各县(市)区政府", "各园区管委会"]


def _by_date(month: int, day: int | None, what: str) -> dict:
    text = f"{month}月{day}日前" if day else f"{month}月底前"
    rule = {"kind": "by_date", "month": month, **({"day": day} if day else {})}
    return {"text": text, "sentence": f"{text}完成{what}工作并报送落实情况。", "rule": rule}


def _families() -> list[tuple[str, list[str], list]]:
    """(family, responsible units, time-limit builders) — 50 items, ~200k obligations at 5,000
    units: by-date limits for everyone and for district departments, monthly reports of the
    city-level bodies, quarterly ones of the districts, two-deadline department items, and
    "5个工作日内" limits that start from each policy document a unit issues."""
    fam: list[tuple[str, list[str], list]] = []
    for k in range(12):  # 各地各部门, one deadline each, Feb..Dec (some month-ends pile up)
        month, day = 2 + k % 11, (None, 15, 20)[k % 3]
        fam.append(("all", ALL, [lambda t, m=month, d=day: _by_date(m, d, t)]))
    for k in range(10):  # 市直各单位 report every month by the 5th..25th
        day = (5, 10, 15, 20, 25)[k % 5]
        fam.append(("monthly", CITY_LEVEL, [lambda t, d=day: {
            "text": f"每月{d}日前", "sentence": f"每月{d}日前报送{t}工作进展情况。",
            "rule": {"kind": "recurring", "every": "month", "day": d}}]))
    for k in range(8):  # 县区政府各部门, one deadline each
        month, day = 3 + k, (10, 25)[k % 2]
        fam.append(("district_depts", DISTRICT_DEPTS, [lambda t, m=month, d=day:
                                                        _by_date(m, d, t)]))
    for _ in range(6):  # districts and zones report every quarter
        fam.append(("quarterly", DISTRICTS, [lambda t: {
            "text": "每季度", "sentence": f"每季度末前报送{t}工作情况。",
            "rule": {"kind": "recurring", "every": "quarter"}}]))
    for k in range(6):  # a deadline, and 5 working days after each new policy document
        month = 4 + k
        fam.append(("events", ALL, [lambda t, m=month: _by_date(m, None, t), lambda t: {
            "text": "5个工作日内",
            "sentence": f"涉及{t}的政策文件印发后5个工作日内在政府网站公开并报送。",
            "rule": {"kind": "working_days", "n": 5, "event": "policy_issued"}}]))
    for k in range(8):  # 市政府各部门: half-year and year-end deadlines
        first, second = (5, 6, 7, 6)[k % 4], (11, 12, 12, 10)[k % 4]
        fam.append(("departments", DEPARTMENTS, [
            lambda t, m=first: _by_date(m, None, t), lambda t, m=second: _by_date(m, 20, t)]))
    # interleave the families, as a real plan mixes kinds of items
    order = sorted(range(len(fam)), key=lambda i: (_share("order", i), i))
    return [fam[i] for i in order]


def province_plan(n_items: int) -> tuple[dict, dict[str, list[str]]]:
    """The plan document and the item codes of each family (for the rule book)."""
    families = _families()
    items, codes = [], defaultdict(list)
    for i in range(1, n_items + 1):
        family, responsible, limits = families[(i - 1) % len(families)]
        topic = TOPICS[(i - 1) % len(TOPICS)]
        title = f"做好{topic}信息公开" + ("（续）" if i > len(TOPICS) else "")
        items.append({
            "number": str(i), "title": title,
            "text": f"各地各部门要做好{topic}信息公开工作，按要求报送落实情况。",
            "lead_units": ["省政府办公厅"], "responsible_units": responsible,
            "time_limits": [b(topic) for b in limits], "review": None})
        codes[family].append(f"{YEAR}-{i}")
    plan = {"year": YEAR, "issuer": "示例省政务公开领导小组",
            "title": f"示例省{YEAR}年政务公开工作要点", "issued": ISSUED,
            "source": {"document": "bench/province.py 生成的合成计划"}, "items": items}
    return plan, dict(codes)


def province_rulebook(codes: dict[str, list[str]]) -> dict:
    """The example city's rules (config/rules/2020.yaml) for this plan's items."""
    book = yaml.safe_load((ROOT / "config" / "rules" / "2020.yaml").read_text(encoding="utf-8"))
    book["year"] = YEAR
    book["title"] = f"示例省{YEAR}年政务公开工作要点落实考核评分规则（基准测试）"
    by_date = [c for f in ("all", "district_depts", "events", "departments")
               for c in codes.get(f, [])]
    monthly = codes.get("monthly", [])
    for rule_set in book["rule_sets"]:
        for category in rule_set["categories"]:
            for rule in category["rules"]:
                match = rule.get("match")
                if not match:
                    continue
                if "exclude_items" in match:
                    match["exclude_items"] = monthly or ["none"]
                elif rule.get("missed_after") == "month_end":
                    match["items"] = monthly or ["none"]
                else:
                    match["items"] = by_date or ["none"]
    return book


def write_inputs(config: Path, n_items: int) -> tuple[Path, dict[str, list[str]]]:
    plan, codes = province_plan(n_items)
    path = config / "plans" / f"{YEAR}-province.yaml"
    path.write_text("# 合成省级工作要点（基准测试用）\n" + yaml.safe_dump(
        plan, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")
    (config / "rules" / f"{YEAR}.yaml").write_text(yaml.safe_dump(
        province_rulebook(codes), allow_unicode=True, sort_keys=False, width=200),
        encoding="utf-8")
    return path, codes


# ----------------------------------------------------------------------- behaviour


def _share(*parts: object) -> int:
    """A stable number 0..9999 from the parts (the simulation is deterministic)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000


def _at(d: date, hour: int, minute: int = 0) -> pendulum.DateTime:
    return pendulum.datetime(d.year, d.month, d.day, hour, minute, tz=TZ)


def completion_day(ob_id: int, unit_code: str, due: date, cal) -> date | None:
    """When the unit reports this obligation done (None: never).  Most units are reliable
    (85 % on time, 12 % late, 3 % never), a quarter middling (60/30/10), a few poor (30/40/30)."""
    unit_roll = _share("unit", unit_code) % 100
    on_time, late = (85, 97) if unit_roll < 70 else (60, 90) if unit_roll < 95 else (30, 70)
    roll = _share("ob", ob_id) % 100
    try:
        if roll < on_time:  # 0..6 working days before the deadline
            return cal.add_working_days(due, -(_share("early", ob_id) % 7))
        if roll < late:  # 1..8 working days after it
            return cal.add_working_days(due, 1 + _share("late", ob_id) % 8)
    except CalendarYearMissing:  # after the year: not replayed
        return None
    return None


class Province:
    """The year's replay: completions before each run, events after it."""

    def __init__(self, ctx, *, end: date, event_rate: float):
        self.ctx = ctx
        self.end = end
        self.event_rate = event_rate  # documents per unit and working day, per event item
        self.pending: dict[date, list[int]] = defaultdict(list)
        self.completed = 0
        self.events = 0
        self.event_items: list[tuple[int, list[str]]] = []

    def schedule(self, rows) -> None:
        for ob_id, unit_id, unit_code, due in rows:
            cal = self.ctx.calendar_for_unit(unit_id)
            day = completion_day(ob_id, unit_code, due, cal)
            if day is not None and day <= self.end:
                self.pending[max(day, ISSUED)].append(ob_id)

    def schedule_open(self) -> None:
        from db.models import Obligation, Unit
        from duban.vocab import ObligationStatus

        with self.ctx.session() as s:
            self.schedule(s.execute(
                sa.select(Obligation.id, Obligation.unit_id, Unit.code, Obligation.due_date)
                .join(Unit, Unit.id == Obligation.unit_id)
                .where(Obligation.status == ObligationStatus.OPEN,
                       Obligation.due_date.is_not(None))).all())
            self.event_items = self._event_items(s)

    def _event_items(self, s) -> list[tuple[int, list[str]]]:
        from db.models import Item

        out = []
        for item_id, lead, responsible, limits in s.execute(
                sa.select(Item.id, Item.lead_units, Item.responsible_units, Item.time_limits)
                .order_by(Item.position)):
            if any((tl.get("rule") or {}).get("kind") == "working_days" for tl in limits):
                out.append((item_id, sorted({*lead, *responsible})))
        return out

    def complete(self, day: date) -> int:
        """The day's completions, recorded at 08:xx, before the 09:00 run."""
        from db.models import Obligation
        from duban.vocab import ObligationStatus
        from records import lifecycle

        ids = self.pending.pop(day, [])
        if not ids:
            return 0
        done = 0
        with self.ctx.session(actor="基准测试", now=_at(day, 8)) as s, s.begin():
            for start in range(0, len(ids), 1000):
                for ob in s.scalars(sa.select(Obligation)
                                    .where(Obligation.id.in_(ids[start:start + 1000]))):
                    if ob.status != ObligationStatus.OPEN:
                        continue
                    lifecycle.complete(
                        s, obligation=ob, recorded_by="基准测试",
                        done_at=_at(day, 8, _share("minute", ob.id) % 60),
                        calendar=self.ctx.calendar_for_unit(ob.unit_id),
                        evidence_url=f"https://www.prov.example.gov.cn/zwgk/{ob.id}")
                    done += 1
        self.completed += done
        return done

    def issue_documents(self, day: date) -> int:
        """Units issue policy documents (at 10:00-16:00, after the run); each starts a
        "5个工作日内" obligation, scheduled like any other."""
        from db.models import Item, Unit
        from records import lifecycle

        if not self.ctx.national.is_working_day(day) or not self.event_items:
            return 0
        threshold = int(self.event_rate * 10_000)
        chosen = [(item_id, code) for item_id, codes in self.event_items for code in codes
                  if _share("doc", item_id, code, day) < threshold]
        if not chosen:
            return 0
        created = []
        with self.ctx.session(actor="基准测试", now=_at(day, 16)) as s, s.begin():
            items = {i.id: i for i in s.scalars(
                sa.select(Item).where(Item.id.in_({i for i, _ in chosen})))}
            units = {u.code: u for u in s.scalars(
                sa.select(Unit).where(Unit.code.in_({c for _, c in chosen})))}
            for n, (item_id, code) in enumerate(chosen, 1):
                unit = units[code]
                _event, obs = lifecycle.record_event(
                    s, item=items[item_id], unit=unit, kind="policy_issued",
                    title=f"关于印发{items[item_id].title}有关措施的通知（{unit.name}）",
                    doc_number=f"{code.upper()}〔{day.year}〕{day:%m%d}{n:03d}号",
                    occurred_at=_at(day, 10 + _share("hour", item_id, code, day) % 7),
                    recorded_by="基准测试", calendars=self.ctx.calendars,
                    settings=self.ctx.settings)
                created.extend((ob.id, ob.unit_id, code, ob.due_date) for ob in obs
                               if ob.due_date is not None)
        self.schedule(created)
        self.events += len(chosen)
        return len(chosen)


# ----------------------------------------------------------------------- measuring


@contextlib.contextmanager
def profiled(folder: Path | None, name: str) -> Iterator[None]:
    """cProfile the block into ``folder/name.prof`` when profiling was asked for."""
    if folder is None:
        yield
        return
    prof = cProfile.Profile()
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        folder.mkdir(parents=True, exist_ok=True)
        prof.dump_stats(folder / f"{name}.prof")


@contextlib.contextmanager
def phases(timings: dict[str, float], module, names: tuple[str, ...]) -> Iterator[None]:
    """Time the named functions of ``module`` (as its own code calls them) into ``timings``."""
    originals = {n: getattr(module, n) for n in names}

    def wrap(name: str, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - t
        return timed

    for name, fn in originals.items():
        setattr(module, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)


class GcClock:
    """Seconds the cyclic garbage collector ran (it grows with what the process holds)."""

    def __init__(self) -> None:
        self.seconds, self._start = 0.0, 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start


DAY_PHASES = ("check_item", "write_messages", "deliver", "record_run")
MONTH_PHASES = ("collect_facts", "post_entries", "list_ledger", "ledger_lines", "scorecard",
                "export_scorecard_xlsx", "_send_notice", "deliver")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def load_plan(config: Path, url: str, plan_file: Path) -> tuple[float, dict]:
    """``duban plan load <plan_file>`` (its logic, without the console report)."""
    from duban.config import load_plan as read_plan
    from duban.config import load_settings, load_unit_directory, load_units_file
    from duban.context import now, open_app
    from records.sync import LoadReport, load_plan_file, sync_units

    t = time.perf_counter()
    app = open_app(config, url)
    directory = load_unit_directory(config)
    plan = read_plan(plan_file, directory)
    units = load_units_file(config)
    with app.session(actor="基准测试", at=now()) as session:
        report = LoadReport()
        sync_units(session, units, report)
        loaded = load_plan_file(session, plan, directory=directory,
                                settings=load_settings(config), source_path=plan_file,
                                config_dir=config)
    app.engine.dispose()
    seconds = time.perf_counter() - t
    return seconds, {"units": dict(report.units), "items": dict(loaded.items),
                     "obligations": dict(loaded.obligations)}


def busiest_month(ctx) -> date:
    """The month with the most deadlines (its 通报 has the most to say)."""
    from db.models import Obligation

    with ctx.session() as s:
        dues = Counter(date(d.year, d.month, 1) for (d,) in s.execute(
            sa.select(Obligation.due_date).where(Obligation.due_date.is_not(None))))
    return max(sorted(dues), key=lambda m: dues[m])


def replay(ctx, province: Province, days: list[date], *, prof: Path | None,
           profile_days: set[date], months: set[date] | None) -> dict:
    """Every day: completions, the daily run (timed, by phase), the monthly run on the first
    working day of a month (of the months in ``months``, or every month), then the day's new
    documents."""
    import tasks.runs as runs
    from tasks.checks import check_item

    daily: list[tuple[float, date, dict, dict]] = []
    monthly: list[tuple[float, date, dict, dict]] = []
    failed: list[date] = []
    month_stats: Counter = Counter()
    current = None
    for day in days:
        if current != (day.year, day.month):
            if current is not None:
                _print_month(current, daily, month_stats)
            current, month_stats = (day.year, day.month), Counter()
        t = time.perf_counter()
        month_stats["completed"] += province.complete(day)
        month_stats["completing_s"] += time.perf_counter() - t
        timings: dict[str, float] = {}
        with profiled(prof if day in profile_days else None, f"daily-{day}"), \
                phases(timings, runs, DAY_PHASES[1:]):
            timed = _timed_check(timings, check_item)
            t = time.perf_counter()
            try:
                summary = runs.run_day(ctx, as_of=day, check=timed)
            except CalendarYearMissing as exc:  # as in production until the notice is in
                summary = None
                failed.append(day)
                print(f"  {day}: the daily run stopped — {str(exc).split('.')[0]} (its checks "
                      "are recorded; its messages wait for a run that can date them)",
                      flush=True)
            seconds = time.perf_counter() - t
        if summary is not None and not summary.skipped:
            info = summary.as_dict()
            daily.append((seconds, day, info, timings))
            month_stats["fired"] += info["fired"]
            month_stats["messages"] += info["messages"]["messages"]
        if day == runs.first_working_day(ctx, day.year, day.month) and \
                previous_month(day) >= date(ISSUED.year, ISSUED.month, 1):
            if months is None or previous_month(day) in months:
                monthly.append(run_monthly(ctx, previous_month(day), day, prof))
            else:
                month_stats["ledger"] += post_month_ledger(ctx, previous_month(day), day)
        t = time.perf_counter()
        month_stats["events"] += province.issue_documents(day)
        month_stats["documents_s"] += time.perf_counter() - t
    if current is not None:
        _print_month(current, daily, month_stats)
    return {"daily": daily, "monthly": monthly, "failed": failed}


def previous_month(d: date) -> date:
    return date(d.year - 1, 12, 1) if d.month == 1 else date(d.year, d.month - 1, 1)


def post_month_ledger(ctx, month: date, day: date) -> int:
    """The ledger part of a monthly escalation (the month's facts posted as ``run_month``
    posts them) for a month whose full run — the 通报 to every leader — is not replayed."""
    from scoring.engine import Period, entries_for
    from tasks.ledger import collect_facts, post_entries, rulebook_for, unit_maps
    from tasks.runs import month_end

    start, end = date(month.year, month.month, 1), month_end(month)
    book = rulebook_for(ctx, start.year)
    with ctx.session() as session, session.begin():
        kinds, _names = unit_maps(session)
        facts = collect_facts(ctx, session, start=start, end=end, as_of=end)
        period = Period.between(start, end, name=f"{start.year}年{start.month}月")
        return post_entries(session, entries_for(facts, rulebook=book, unit_kinds=kinds,
                                                 period=period),
                            now=ctx.run_instant(day), actor="duban")


def _timed_check(timings: dict[str, float], check_item):
    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return check_item(*args, **kwargs)
        finally:
            timings["check_item"] = timings.get("check_item", 0.0) + time.perf_counter() - t
    return timed


def notice_mail(ctx) -> None:
    """What each month's 通报 weighed in the outbox: copies, bytes of all of them, the largest."""
    from db.models import OutboxMessage

    size = sa.func.length(OutboxMessage.html_body) + sa.func.length(OutboxMessage.text_body)
    with ctx.session() as s:
        rows = s.execute(sa.select(OutboxMessage.period, sa.func.count(), sa.func.sum(size),
                                   sa.func.max(size))
                         .where(OutboxMessage.kind == "monthly_notice")
                         .group_by(OutboxMessage.period).order_by(OutboxMessage.period)).all()
    if rows:
        print("通报 mail per month (copies, all copies' characters, largest copy): " + "; ".join(
            f"{p}: {n} copies, {total / 1e6:.1f} M, {largest / 1e3:.0f} k"
            for p, n, total, largest in rows), flush=True)


def run_monthly(ctx, month: date, day: date, prof: Path | None) -> tuple[float, date, dict, dict]:
    import tasks.runs as runs

    timings: dict[str, float] = {}
    with profiled(prof, f"monthly-{month:%Y-%m}"), phases(timings, runs, MONTH_PHASES):
        t = time.perf_counter()
        summary = runs.run_month(ctx, month=month, now=ctx.run_instant(day))
        seconds = time.perf_counter() - t
    info = summary.as_dict()
    print(f"  monthly {month:%Y-%m} (on {day}): {seconds:.2f} s, {info['new_entries']} new "
          f"ledger lines, {info['messages']} 通报 messages, delivered "
          f"{summary.delivery.delivered} — {_phase_text(timings)}", flush=True)
    return seconds, month, info, timings


def _phase_text(timings: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())


def _print_month(month: tuple[int, int], daily: list, stats: Counter) -> None:
    runs = [(s, d) for s, d, _, _ in daily if (d.year, d.month) == month]
    if not runs:
        return
    worst = max(runs)
    print(f"{month[0]}-{month[1]:02d}: {len(runs)} daily runs, mean {_mean(runs):.2f} s, max "
          f"{worst[0]:.2f} s ({worst[1]}); fired {stats['fired']}, messages {stats['messages']}; "
          f"{stats['completed']} completions ({stats['completing_s']:.0f} s), "
          f"{stats['events']} new documents ({stats['documents_s']:.0f} s)"
          + (f"; {stats['ledger']} ledger lines posted for the month before" if stats["ledger"]
             else "") + f"; peak memory "
          f"{peak_mb():.0f} MB", flush=True)


def _mean(runs) -> float:
    return sum(r[0] for r in runs) / len(runs) if runs else 0.0


def scorecard(ctx, prof: Path | None) -> tuple[float, dict]:
    """``duban scorecard --period Y`` (its work: ledger, scores, the .xlsx; no console table)."""
    import tasks.runs as runs

    timings: dict[str, float] = {}
    with profiled(prof, "scorecard"), phases(timings, runs, (
            "collect_facts", "entries_for", "post_entries", "ledger_lines", "scorecard",
            "export_scorecard_xlsx")):
        t = time.perf_counter()
        period = runs.assessment_period(ctx, year=YEAR, code="Y")
        summary = runs.run_assessment(ctx, period=period, now=_at(date(YEAR, 12, 31), 18))
        seconds = time.perf_counter() - t
    provisional = sum(s.provisional for s in summary.scores)
    lines = sum(len(s.lines) + len(s.pending) + len(s.reversed) for s in summary.scores)
    return seconds, {"units": len(summary.scores), "new_entries": summary.new_entries,
                     "provisional": provisional, "file": summary.file, "lines": lines,
                     "phases": _phase_text(timings)}


def database_mb(url: str) -> float:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT pg_database_size(current_database())")) / 2**20
    finally:
        engine.dispose()


def counts(ctx) -> dict[str, int]:
    from db.models import Escalation, LedgerEntry, Notice, Obligation, OutboxMessage

    with ctx.session() as s:
        return {name: s.scalar(sa.select(sa.func.count()).select_from(model)) for name, model in
                (("obligations", Obligation), ("escalations", Escalation), ("notices", Notice),
                 ("messages", OutboxMessage), ("ledger lines", LedgerEntry))}


# ----------------------------------------------------------------------- the database


@contextlib.contextmanager
def bench_database(keep: bool, name: str = DB_NAME) -> Iterator[str]:
    """A fresh database ``name`` on the loopback server, or on a throwaway cluster."""
    cluster = None
    host, port = PG_HOST, PG_PORT
    if not postgres_answers():
        from tests.support.postgres import start_throwaway_cluster

        cluster = start_throwaway_cluster()
        host, port = "127.0.0.1", cluster.port
        print(f"PostgreSQL: throwaway cluster on port {port} ({PG_HOST}:{PG_PORT} did not "
              "answer)", flush=True)
    else:
        print(f"PostgreSQL: {PG_HOST}:{PG_PORT}/{name}", flush=True)
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', host=host, port=port)
    pg_admin(f'CREATE DATABASE "{name}"', host=host, port=port)
    try:
        yield f"postgresql+psycopg://postgres@{host}:{port}/{name}"
    finally:
        if not keep:
            with contextlib.suppress(Exception):
                pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', host=host,
                         port=port)
        if cluster is not None:
            cluster.stop()


# ----------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--cities", type=int, default=15)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--small", action="store_true", help="500 units: a quick check")
    parser.add_argument("--days", type=int, default=None,
                        help="replay only the first N days of the year")
    parser.add_argument("--events", type=float, default=0.0008,
                        help="policy documents per unit and working day, per event item")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--profile", type=Path, default=None,
                        help="write cProfile files (the mid-year day, monthly runs, scorecard)")
    parser.add_argument("--profile-day", type=date.fromisoformat, action="append",
                        help="with --profile: profile this day's run (default: the middle "
                        "working day); repeatable")
    parser.add_argument("--monthly", default="all",
                        help="which monthly escalations run in full: all (default), first (the "
                        "plan's first month), busiest (the month with the most deadlines), none, "
                        "or YYYY-MM; the other months post their ledger only")
    parser.add_argument("--db-name", default=DB_NAME,
                        help=f"the benchmark's database (created and dropped; default {DB_NAME})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir and the database (debugging)")
    args = parser.parse_args()
    if args.small:
        args.units, args.cities = 500, 2

    from db import migrate
    from tasks.context import build_context

    root = Path(tempfile.mkdtemp(prefix="duban-bench-province-"))
    try:
        with bench_database(args.keep, args.db_name) as url:
            t = time.perf_counter()
            units = province_units(args.units, args.seed, cities=args.cities)
            config = build_config(root, units, outbox=root / "var" / "outbox",
                                  item_concurrency=1, groups=GROUPS,
                                  source="bench/province.py 生成的合成数据")
            plan_file, _codes = write_inputs(config, args.items)
            migrate.upgrade(url)
            print(f"province: {len(units)} units in {args.cities} cities, {args.items} items; "
                  f"config and schema ready in {time.perf_counter() - t:.1f} s ({root})",
                  flush=True)

            with profiled(args.profile, "load"):
                load_s, report = load_plan(config, url, plan_file)
            print(f"plan load: {load_s:.1f} s — units {report['units']}, items "
                  f"{report['items']}, obligations {report['obligations']}; peak memory so far "
                  f"{peak_mb():.0f} MB", flush=True)

            ctx = build_context(config, url, root / "var")
            end = date(YEAR, 12, 31)
            days = [ISSUED + timedelta(days=k) for k in range((end - ISSUED).days + 1)]
            if args.days is not None:
                days = days[:args.days]
            province = Province(ctx, end=days[-1], event_rate=args.events)
            province.schedule_open()

            if args.monthly == "first":
                months: set[date] | None = {date(ISSUED.year, ISSUED.month, 1)}
            elif args.monthly == "busiest":
                months = {busiest_month(ctx)}
            elif args.monthly == "none":
                months = set()
            elif args.monthly == "all":
                months = None
            else:
                months = {date.fromisoformat(f"{args.monthly}-01")}
            print("monthly escalation: " + ("every month" if months is None else
                                            ", ".join(f"{m:%Y-%m}" for m in sorted(months))
                                            or "none"), flush=True)
            t = time.perf_counter()
            gc_clock = GcClock()
            working = [d for d in days if ctx.national.is_working_day(d)]
            profile_days = set(args.profile_day or working[len(working) // 2:][:1])
            result = replay(ctx, province, days, prof=args.profile, profile_days=profile_days,
                            months=months)
            if days[-1] == end:  # December's escalation (or its ledger), after the last day
                december = date(YEAR, 12, 1)
                if months is None or december in months:
                    result["monthly"].append(run_monthly(ctx, december, end, args.profile))
                else:
                    post_month_ledger(ctx, december, end)
            replay_s = time.perf_counter() - t
            daily = result["daily"]
            worst = max(daily, key=lambda r: r[0])
            if result["failed"]:
                print(f"daily runs that could not finish (no holiday data for {YEAR + 1}): "
                      + ", ".join(f"{d}" for d in result["failed"]), flush=True)
            print(f"year: {len(days)} days, {len(daily)} daily runs in {replay_s:.0f} s "
                  f"(with completions, documents and monthly runs; garbage collection "
                  f"{gc_clock.seconds:.0f} s); daily mean {_mean(daily):.2f} s, max "
                  f"{worst[0]:.2f} s on {worst[1]} (fired {worst[2]['fired']}, messages "
                  f"{worst[2]['messages']['messages']}, delivered "
                  f"{worst[2]['delivery']['delivered']} — {_phase_text(worst[3])}); "
                  f"{province.completed} completions, {province.events} documents; peak "
                  f"memory so far {peak_mb():.0f} MB", flush=True)
            monthly = max(result["monthly"], key=lambda r: r[0]) if result["monthly"] else None
            if monthly:
                print(f"monthly escalation: slowest {monthly[0]:.2f} s ({monthly[1]:%Y-%m}, "
                      f"{monthly[2]['new_entries']} new ledger lines)", flush=True)

            scorecard_s, card = scorecard(ctx, args.profile)
            print(f"scorecard Y: {scorecard_s:.2f} s — {card['units']} units "
                  f"({card['provisional']} provisional), {card['lines']} lines in the year, "
                  f"{card['new_entries']} newly posted; {card['file'].name} "
                  f"({card['file'].stat().st_size / 2**20:.1f} MB) — {card['phases']}",
                  flush=True)
            notice_mail(ctx)
            totals = counts(ctx)
            ctx.dispose()
            db_mb = database_mb(url)
            print("after the year: " + ", ".join(f"{k} {v}" for k, v in totals.items())
                  + f"; database {db_mb:.0f} MB", flush=True)

        figures = {"load_s": load_s, "daily_max_s": worst[0],
                   "monthly_s": monthly[0] if monthly else 0.0, "scorecard_s": scorecard_s,
                   "peak_mb": peak_mb(), "db_mb": db_mb}
        ok = True
        for key, limit in TARGETS.items():
            passed = figures[key] < limit
            ok &= passed
            print(f"{'PASS' if passed else 'FAIL'} {key} {figures[key]:.2f} < {limit:g}")
        print("RESULT " + " ".join(f"{k}={v:.2f}" if k.endswith("_s") else f"{k}={v:.0f}"
                                   for k, v in figures.items()))
        return 0 if ok else 1
    finally:
        if args.keep:
            print(f"kept {root} and the database {args.db_name}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("DO_NOT_TRACK", "1")
    sys.exit(main())
