"""Everything a scheduled run needs, built once per run at the edge (config, DB, calendars)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import pendulum
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.models import Contact, Unit
from db.session import database_url, make_engine, make_sessionmaker
from deadlines.calendar import WorkCalendar, default_config_dir
from deadlines.due import TZ
from deadlines.ladder import LaddersFile, load_ladders
from duban.config import Settings, load_settings
from notifications.mail import MailSettings
from notifications.render import Renderer, get_renderer
from records.sync import CalendarCache


@dataclass
class EngineContext:
    config_dir: Path
    db_url: str
    settings: Settings
    var_dir: Path
    _engine: Engine | None = field(default=None, repr=False)
    _sessions: sessionmaker | None = field(default=None, repr=False)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.db_url)
        return self._engine

    def session(self, *, actor: str = "duban", now: datetime | None = None) -> Session:
        """An audited session (duban's own session class: the audit trail and created_at)."""
        if self._sessions is None:
            self._sessions = make_sessionmaker(self.engine)
        session = self._sessions()
        session.info["actor"] = actor
        if now is not None:
            session.info["now"] = now
        return session

    @cached_property
    def calendars(self) -> CalendarCache:
        return CalendarCache(self.config_dir)

    @property
    def national(self) -> WorkCalendar:
        return self.calendars.for_region(None)

    @cached_property
    def ladders(self) -> LaddersFile:
        return load_ladders(self.config_dir / "ladders.yaml")

    @cached_property
    def renderer(self) -> Renderer:
        return get_renderer(self.config_dir / "templates")

    @cached_property
    def mail(self) -> MailSettings:
        data = {"outbox_dir": str(self.var_dir / "outbox"), **self.settings.mail}
        return MailSettings.model_validate(data)

    @cached_property
    def unit_regions(self) -> dict[int, str | None]:
        with self.session() as s:
            return dict(s.execute(sa.select(Unit.id, Unit.region)).all())

    @cached_property
    def contact_units(self) -> dict[int, int]:
        with self.session() as s:
            return dict(s.execute(sa.select(Contact.id, Contact.unit_id)).all())

    def calendar_for_unit(self, unit_id: int | None) -> WorkCalendar:
        return self.calendars.for_region(self.unit_regions.get(unit_id) if unit_id else None)

    def calendar_for_contact(self, contact_id: int | None) -> WorkCalendar:
        unit_id = self.contact_units.get(contact_id) if contact_id else None
        return self.calendar_for_unit(unit_id)

    def run_instant(self, as_of: date) -> datetime:
        """The instant a daily run for ``as_of`` acts at: the reminder hour, local time."""
        return pendulum.datetime(as_of.year, as_of.month, as_of.day,
                                 self.settings.reminder_hour, tz=TZ)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def build_context(config_dir: str | Path | None = None, db_url: str | None = None,
                  var_dir: str | Path | None = None) -> EngineContext:
    cfg = Path(config_dir) if config_dir else default_config_dir()
    settings = load_settings(cfg)
    explicit = db_url or (None if os.environ.get("DUBAN_DATABASE_URL") else settings.database_url)
    var = Path(var_dir) if var_dir else Path(os.environ.get("DUBAN_VAR_DIR") or
                                             cfg.resolve().parent / "var")
    return EngineContext(config_dir=cfg, db_url=database_url(explicit), settings=settings,
                         var_dir=var)
