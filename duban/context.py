"""What a command needs: configuration, settings, the database, calendars — and the clock.

This is the edge of the application: the only place that reads the wall clock (``now()``) and
the environment.  Everything below takes ``now`` as a parameter.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import pendulum
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from db import migrate
from db import repository as repo
from db.models import Item, Obligation, Plan, Unit
from db.session import database_url, make_engine, session_scope
from deadlines.calendar import WorkCalendar, default_config_dir
from deadlines.due import TZ
from duban.config import Settings, UnitDirectory, load_settings, load_unit_directory
from duban.errors import UserError
from duban.vocab import ObligationStatus
from records.sync import CalendarCache


def now() -> pendulum.DateTime:
    """The current instant in Asia/Shanghai (the one clock read of the application)."""
    return pendulum.now(TZ)


def parse_when(text: str | None, *, default: datetime | None = None) -> pendulum.DateTime:
    """"2026-11-20", "2026-11-20 10:00" or ISO with offset → aware, Asia/Shanghai by default."""
    if not text:
        if default is None:
            raise UserError("a date/time is required")
        return pendulum.instance(default).in_tz(TZ)
    try:
        parsed = pendulum.parse(text.strip().replace(" ", "T"), tz=TZ)
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise UserError(f"无法识别的日期时间 {text!r}（例如 2026-11-20 或 2026-11-20T10:00）") from exc
    if not isinstance(parsed, pendulum.DateTime):
        parsed = pendulum.datetime(parsed.year, parsed.month, parsed.day, tz=TZ)
    return parsed.in_tz(TZ)


@dataclass
class App:
    """Configuration + database for one command invocation."""

    config_dir: Path
    db_url: str
    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    @cached_property
    def directory(self) -> UnitDirectory:
        return load_unit_directory(self.config_dir)

    @cached_property
    def calendars(self) -> CalendarCache:
        return CalendarCache(self.config_dir)

    def calendar_for(self, unit: Unit | None) -> WorkCalendar:
        return self.calendars.for_region(unit.region if unit else None)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.db_url)
        return self._engine

    def require_schema(self) -> None:
        try:
            current = migrate.current(self.db_url)
        except Exception as exc:  # unreachable server, bad URL
            raise UserError(f"无法连接数据库 {self.db_url}: {exc}") from exc
        if current != migrate.head():
            raise UserError(
                "数据库尚未初始化或不是最新版本（database schema is not at the latest "
                "migration）：请先运行 duban db upgrade"
            )

    def session(self, *, actor: str, at: datetime | None = None):
        return session_scope(self.engine, actor=actor, now=at)


def open_app(config_dir: Path | None = None, db_url: str | None = None,
             *, require_schema: bool = True) -> App:
    cfg = Path(config_dir) if config_dir else default_config_dir()
    settings = load_settings(cfg)
    explicit = db_url or (None if os.environ.get("DUBAN_DATABASE_URL") else settings.database_url)
    app = App(config_dir=cfg, db_url=database_url(explicit), settings=settings)
    if require_schema:
        app.require_schema()
    return app


def default_actor() -> str:
    """Who a manual change is recorded as without ``--by``: ``DUBAN_ACTOR``, else the OS user
    (also when USER/LOGNAME are unset, e.g. under cron or systemd)."""
    explicit = os.environ.get("DUBAN_ACTOR", "").strip()
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (some containers)
        return f"uid{os.getuid()}" if hasattr(os, "getuid") else "coordinator"


# --------------------------------------------------------------------------- lookups


def latest_plan(session: Session) -> Plan:
    plan = session.query(Plan).order_by(Plan.year.desc(), Plan.id.desc()).first()
    if plan is None:
        raise UserError("还没有加载任何工作计划：请先运行 duban plan load <plan.yaml>")
    return plan


def find_item(session: Session, ref: str, *, plan: Plan | None = None) -> Item:
    """An item by code ("2020-6") or by number as printed ("6", "（十九）") in the plan."""
    item = repo.get_item_by_code(session, code=ref)
    if item is not None:
        return item
    plan = plan or latest_plan(session)
    for it in repo.list_items(session, plan=plan, active_only=False):
        if it.number == ref or it.number.strip("（）()、.") == ref.strip("（）()、."):
            return it
    raise UserError(f"计划《{plan.title}》中没有条目 {ref!r}（用 duban plan show 查看条目编号）")


def find_unit(session: Session, directory: UnitDirectory, name: str) -> Unit:
    unit = repo.get_unit_by_code(session, code=name)
    if unit is None:
        ref = directory.resolve(name)
        if ref.status == "unit":
            unit = repo.get_unit_by_code(session, code=ref.codes[0])
        elif ref.status in ("group", "spell_out"):
            raise UserError(f"{name!r} 是单位类别而不是具体单位：请写具体单位名称")
        else:
            hint = f"（是否指 {ref.suggestion}？）" if ref.suggestion else ""
            raise UserError(f"未知单位 {name!r}{hint}")
    if unit is None:
        raise UserError(f"单位 {name!r} 尚未载入数据库：请先运行 duban plan load")
    return unit


def find_obligation(session: Session, item: Item, unit: Unit, *, period: str | None = None,
                    statuses: tuple[ObligationStatus, ...] = (ObligationStatus.OPEN,
                                                              ObligationStatus.PENDING_CALENDAR),
                    ) -> Obligation:
    """The unit's obligation under the item: by period key, else the earliest one still open."""
    obs = [o for o in repo.list_obligations(session, item=item, unit=unit)
           if period is None or o.period_key == period]
    if period is not None and not obs:
        keys = sorted({o.period_key for o in repo.list_obligations(session, item=item, unit=unit)})
        raise UserError(f"{unit.name} 在条目 {item.number} 下没有期次 {period!r}（现有：{', '.join(keys) or '无'}）")
    candidates = [o for o in obs if o.status in statuses]
    if not candidates:
        raise UserError(f"{unit.name} 在条目 {item.number} 下没有待办的义务"
                        + (f"（期次 {period}）" if period else ""))
    return candidates[0]  # list_obligations is ordered by deadline
