"""A small real world for the trust tests: the example config (33 units), one or more plans,
real mail settings, on SQLite or PostgreSQL.

Plan 1 is the example 朝阳市 2020 plan; plans 2… are the same items issued by other offices
(``issuer`` differs), so every unit owes each item once per plan and a fan-out has one
partition per plan.  Item 6 (publish by Tue 2020-09-15) is done on time by its first
``ON_TIME`` units; the rest are late from 09-16 on.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pendulum
import sqlalchemy as sa

from db import migrate
from db.models import Item, Obligation, OutboxMessage, Unit
from deadlines.calendar import default_config_dir
from duban.config import load_plan, load_settings, load_unit_directory, load_units_file
from records import lifecycle
from records.sync import load_plan_file, sync_units
from tasks.checks import item_flow_name
from tasks.context import build_context

PLAN_FILE = "2020-chaoyang.yaml"
ITEM6 = "条目6 集中发布六稳六保政策文件"
ITEM6_DUE = date(2020, 9, 15)
ON_TIME = 2
LATE_DAY = date(2020, 9, 16)  # +1: 催办 digests to the late units' liaisons, the coordinator's
RED_DAY = date(2020, 9, 22)  # +5: red 督办单 to the leaders
MONTH_DAY = date(2020, 10, 9)  # October's first working day: September's escalation


def make_config(root: Path, *, smtp_port: int | None = None) -> Path:
    """The example config copied under ``root``; with ``smtp_port``, mail goes over plain SMTP
    to 127.0.0.1:<port> (a test server) instead of the file outbox."""
    config = root / "config"
    shutil.copytree(default_config_dir(), config)
    if smtp_port is not None:
        settings = config / "settings.yaml"
        text = settings.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^  mode: file\b.*$",
                      f"  mode: smtp\n  host: 127.0.0.1\n  port: {smtp_port}\n"
                      "  security: plain\n  timeout: 5\n  max_retries: 0", text)
        settings.write_text(text, encoding="utf-8")
    return config


@dataclass
class World:
    config: Path
    url: str
    plan_ids: list[int]

    def flow_kwargs(self) -> dict[str, str]:
        return {"config_dir": str(self.config), "db_url": self.url}

    def scalar(self, stmt):
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.scalar(stmt)
        finally:
            engine.dispose()

    def rows(self, stmt) -> list:
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(stmt))
        finally:
            engine.dispose()

    def outbox(self) -> list:
        """(message_id, status, kind, period, recipient) of every outbox row, by id."""
        return self.rows(sa.select(OutboxMessage.message_id, OutboxMessage.status,
                                   OutboxMessage.kind, OutboxMessage.period,
                                   OutboxMessage.recipient_address).order_by(OutboxMessage.id))


def seed_world(config: Path, url: str, *, plans: int = 1, items: int | None = None) -> World:
    """Migrate ``url`` and load the units and ``plans`` plans (each with its first ``items``
    items, item 6 always among them); item 6's first units report."""
    migrate.upgrade(url)
    ctx = build_context(config, url, config.parent / "var")
    try:
        directory = load_unit_directory(config)
        base = load_plan(config / "plans" / PLAN_FILE, directory)
        if items is not None:
            kept = [i for n, i in enumerate(base.items)
                    if n < items or item_flow_name(i.number, i.title) == ITEM6]
            base = base.model_copy(update={"items": kept})
        with ctx.session() as s, s.begin():
            sync_units(s, load_units_file(config))
            for n in range(plans):
                plan = base if n == 0 else base.model_copy(update={
                    "issuer": f"{base.issuer}（第{n + 1}批）",
                    "items": [i.model_copy(update={"code": f"{base.year}-p{n + 1}-{pos}"})
                              for pos, i in enumerate(base.items, 1)]})
                load_plan_file(s, plan, directory=directory, settings=load_settings(config),
                               source_path=None, config_dir=config)
        plan_ids = []
        with ctx.session() as s, s.begin():
            items = [i for i in s.scalars(sa.select(Item).order_by(Item.plan_id))
                     if item_flow_name(i.number, i.title) == ITEM6]
            for item in items:
                plan_ids.append(item.plan_id)
                obligations = s.scalars(
                    sa.select(Obligation).join(Unit).where(Obligation.item_id == item.id,
                                                           Obligation.due_date == ITEM6_DUE)
                    .order_by(Unit.name)).all()
                for ob in obligations[:ON_TIME]:
                    lifecycle.complete(
                        s, obligation=ob, recorded_by="test", calendar=ctx.national,
                        done_at=pendulum.datetime(2020, 9, 11, 8, tz="Asia/Shanghai"),
                        evidence_note="按时报送")
        return World(config, url, plan_ids)
    finally:
        ctx.dispose()
