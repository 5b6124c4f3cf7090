"""Render reminder, escalation, digest and notice messages from Jinja2 templates.

Pure code: no clock, no DB, no Prefect. The engine fills the typed contexts below and
passes ``now``-derived values in (``generated_at``); the renderer only formats them.

Templates live in ``notifications/templates/<kind>/{subject.txt.j2, body.txt.j2,
body.html.j2, body.md.j2}``; a file with the same relative path under ``config/templates/``
overrides the packaged one (see ``config/templates/README.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pendulum
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    select_autoescape,
)

from notifications.models import RenderedMessage

SHANGHAI = pendulum.timezone("Asia/Shanghai")
PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_OVERRIDE_DIR = Path(__file__).resolve().parents[1] / "config" / "templates"

_WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

DigestKind = Literal["upcoming", "due_today", "overdue"]
EscalationLevel = Literal["blue", "yellow", "red"]

LEVEL_LABELS: dict[str, str] = {"blue": "蓝色", "yellow": "黄色", "red": "红色"}
# Background / foreground used in the HTML banner; yellow needs dark text to stay readable.
LEVEL_COLOURS: dict[str, tuple[str, str]] = {
    "blue": ("#1f6fd1", "#ffffff"),
    "yellow": ("#f2c200", "#222222"),
    "red": ("#d93025", "#ffffff"),
}


# --------------------------------------------------------------------------- filters


def _local_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC stored)")
        return value.astimezone(SHANGHAI).date()
    return value


def cn_date(value: date | datetime) -> str:
    """``2026年11月23日（周一）``; aware datetimes are first converted to Asia/Shanghai."""
    d = _local_date(value)
    return f"{d.year}年{d.month}月{d.day}日（{_WEEKDAYS[d.weekday()]}）"


def cn_month_day(value: date | datetime) -> str:
    """``11月23日``: short form for subjects."""
    d = _local_date(value)
    return f"{d.month}月{d.day}日"


def cn_datetime(value: datetime) -> str:
    """``2026年11月23日（周一）09:30`` in Asia/Shanghai; naive datetimes are refused."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"cn_datetime needs an aware datetime, got {value!r}")
    local = value.astimezone(SHANGHAI)
    return f"{cn_date(local.date())}{local:%H:%M}"


def workdays_phrase(days_left: int) -> str:
    """``还剩3个工作日`` / ``今日到期`` / ``已逾期2个工作日`` for a signed working-day count."""
    if days_left > 0:
        return f"还剩{days_left}个工作日"
    if days_left == 0:
        return "今日到期"
    return f"已逾期{-days_left}个工作日"


def one_line(value: object) -> str:
    """Collapse every kind of line break and run of whitespace into one space."""
    return " ".join(str(value).split())


def points(value: Decimal | float | int) -> str:
    """Deduction points without trailing zeros: ``2``, ``0.5``."""
    d = Decimal(str(value)).normalize()
    return f"{d:f}"


# --------------------------------------------------------------------------- contexts


def _kind_of(days_left: int) -> DigestKind:
    if days_left < 0:
        return "overdue"
    if days_left == 0:
        return "due_today"
    return "upcoming"


_DEFAULT_STATUS = {"overdue": "已逾期", "due_today": "今日到期", "upcoming": "未到期"}


def _check_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class DigestRow:
    """One obligation in a contact's digest (one line of the table and of the .xlsx)."""

    item: str  # 事项
    requirement: str  # 工作要求
    due_date: date  # 截止日期
    working_days_left: int  # > 0 left, 0 due today, < 0 overdue (剩余/逾期工作日)
    status: str = ""  # 状态; empty → derived from working_days_left

    @property
    def kind(self) -> DigestKind:
        return _kind_of(self.working_days_left)

    @property
    def status_label(self) -> str:
        return self.status or _DEFAULT_STATUS[self.kind]


def _sorted_rows(rows: Iterable[Any]) -> tuple[Any, ...]:
    # Most urgent first: most overdue, then today, then soonest upcoming.
    return tuple(sorted(rows, key=lambda r: (r.working_days_left, r.due_date, r.item)))


@dataclass(frozen=True, kw_only=True)
class _Footer:
    office_name: str = "督查督办办公室"
    office_phone: str = ""


@dataclass(frozen=True, kw_only=True)
class DigestContext(_Footer):
    """One contact's digest for one run: every due or overdue obligation in one mail."""

    recipient_name: str
    unit_name: str
    rows: tuple[DigestRow, ...]
    generated_at: datetime

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError("a digest needs at least one row")
        _check_aware("generated_at", self.generated_at)
        object.__setattr__(self, "rows", _sorted_rows(self.rows))

    @property
    def most_urgent(self) -> DigestRow:
        return self.rows[0]

    @property
    def kind(self) -> DigestKind:
        """The subject/template is chosen by the most urgent row."""
        return self.most_urgent.kind

    def count(self, kind: DigestKind) -> int:
        return sum(1 for r in self.rows if r.kind == kind)


@dataclass(frozen=True, kw_only=True)
class EscalationContext(_Footer):
    """督办单 sent to a unit leader when the contact did not act in time."""

    leader_name: str
    unit_name: str
    contact_name: str
    level: EscalationLevel
    sheet_no: str  # 督办单编号, e.g. "督〔2026〕15号"
    rows: tuple[DigestRow, ...]
    issued_at: datetime
    reply_by: date | None = None  # 要求反馈时间

    def __post_init__(self) -> None:
        if self.level not in LEVEL_LABELS:
            raise ValueError(f"unknown escalation level {self.level!r}; expected blue/yellow/red")
        if not self.rows:
            raise ValueError("an escalation needs at least one row")
        _check_aware("issued_at", self.issued_at)
        object.__setattr__(self, "rows", _sorted_rows(self.rows))

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]

    @property
    def level_background(self) -> str:
        return LEVEL_COLOURS[self.level][0]

    @property
    def level_foreground(self) -> str:
        return LEVEL_COLOURS[self.level][1]


@dataclass(frozen=True, kw_only=True)
class CoordinatorRow:
    """One line of the coordinator's daily overview."""

    unit_name: str
    item: str
    due_date: date
    working_days_left: int
    status: str = ""
    escalation_level: EscalationLevel | None = None

    @property
    def kind(self) -> DigestKind:
        return _kind_of(self.working_days_left)

    @property
    def status_label(self) -> str:
        return self.status or _DEFAULT_STATUS[self.kind]

    @property
    def level_label(self) -> str:
        return f"{LEVEL_LABELS[self.escalation_level]}督办" if self.escalation_level else ""

    @property
    def level_background(self) -> str:
        return LEVEL_COLOURS[self.escalation_level][0] if self.escalation_level else ""

    @property
    def level_foreground(self) -> str:
        return LEVEL_COLOURS[self.escalation_level][1] if self.escalation_level else ""


@dataclass(frozen=True, kw_only=True)
class OutboxBacklog:
    """Messages of earlier runs still in the outbox because delivering them failed (the mail
    server was down, say): the coordinator is told, and they go out with this run."""

    waiting: int
    since: str  # the oldest waiting message's period ("2020-09-16")
    last_reply: str  # the server's (or the connection's) last answer


@dataclass(frozen=True, kw_only=True)
class CoordinatorDigestContext(_Footer):
    """Daily overview for the coordinating office (牵头/督查部门)."""

    coordinator_name: str
    report_date: date
    rows: tuple[CoordinatorRow, ...]
    generated_at: datetime
    backlog: OutboxBacklog | None = None

    def __post_init__(self) -> None:
        _check_aware("generated_at", self.generated_at)
        object.__setattr__(self, "rows", _sorted_rows(self.rows))

    def count(self, kind: DigestKind) -> int:
        return sum(1 for r in self.rows if r.kind == kind)

    @property
    def escalated_count(self) -> int:
        return sum(1 for r in self.rows if r.escalation_level)


@dataclass(frozen=True, kw_only=True)
class DeductionRow:
    """One deduction in the monthly notice table."""

    unit_name: str
    item: str
    reason: str
    points: Decimal
    occurred_on: date | None = None


@dataclass(frozen=True, kw_only=True)
class MonthOverview:
    """The whole month's figures, for a copy of the 通报 that lists only its reader's unit
    (a province's month has thousands of lines: its leaders get their own and these)."""

    units: int  # units with a deduction
    lines: int  # deduction lines of the month
    total_points: Decimal  # points deducted
    bonus_units: int = 0
    bonus_points: Decimal = Decimal(0)
    url: str | None = None  # where the full 通报 is published (None: the office issues it)


def _totals(rows: Iterable[DeductionRow]) -> tuple[tuple[str, Decimal], ...]:
    totals: dict[str, Decimal] = {}
    for r in rows:
        totals[r.unit_name] = totals.get(r.unit_name, Decimal(0)) + Decimal(str(r.points))
    return tuple(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True, kw_only=True)
class MonthlyNoticeContext(_Footer):
    """通报: the month's deductions, by unit (``rows``, points deducted), and its bonuses
    (``bonus_rows``, points added: listed for the reader's own unit, totalled by unit).

    The full copy (the published file, the coordinators' mail, a small office's leaders) has
    every line. A unit leader's copy names ``own_unit``: its lines come first (本单位情况); when
    the month is too long to send to every leader, ``overview`` carries the month's figures
    and the rows are the unit's own only."""

    year: int
    month: int
    recipient_name: str  # e.g. "各责任单位"
    rows: tuple[DeductionRow, ...]
    published_on: date
    summary: str = ""
    bonus_rows: tuple[DeductionRow, ...] = ()
    own_unit: str | None = None
    overview: MonthOverview | None = None
    unit_totals: tuple[tuple[str, Decimal], ...] = field(default=(), init=False)
    bonus_totals: tuple[tuple[str, Decimal], ...] = field(default=(), init=False)
    own_rows: tuple[DeductionRow, ...] = field(default=(), init=False)
    own_bonus_rows: tuple[DeductionRow, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")
        if self.overview is not None and self.own_unit is None:
            raise ValueError("a copy without the full list (overview) must name its own_unit")
        object.__setattr__(self, "unit_totals", _totals(self.rows))
        object.__setattr__(self, "bonus_totals", _totals(self.bonus_rows))
        if self.own_unit is not None:
            own = tuple(r for r in self.rows if r.unit_name == self.own_unit)
            own_bonus = tuple(r for r in self.bonus_rows if r.unit_name == self.own_unit)
            if self.overview is not None and (len(own), len(own_bonus)) != (
                    len(self.rows), len(self.bonus_rows)):
                raise ValueError(f"a copy for {self.own_unit} without the full list may only "
                                 "hold that unit's lines")
            object.__setattr__(self, "own_rows", own)
            object.__setattr__(self, "own_bonus_rows", own_bonus)

    @property
    def total_points(self) -> Decimal:
        if self.overview is not None:
            return self.overview.total_points
        return sum((t for _, t in self.unit_totals), Decimal(0))

    @property
    def unit_count(self) -> int:
        return self.overview.units if self.overview is not None else len(self.unit_totals)

    @property
    def line_count(self) -> int:
        return self.overview.lines if self.overview is not None else len(self.rows)

    @property
    def bonus_points(self) -> Decimal:
        if self.overview is not None:
            return self.overview.bonus_points
        return sum((t for _, t in self.bonus_totals), Decimal(0))

    @property
    def bonus_unit_count(self) -> int:
        return self.overview.bonus_units if self.overview is not None else len(self.bonus_totals)

    @property
    def own_total(self) -> Decimal:
        return sum((Decimal(str(r.points)) for r in self.own_rows), Decimal(0))

    @property
    def own_bonus(self) -> Decimal:
        return sum((Decimal(str(r.points)) for r in self.own_bonus_rows), Decimal(0))


CONTEXT_TYPES: Mapping[str, type] = {
    "upcoming": DigestContext,
    "due_today": DigestContext,
    "overdue": DigestContext,
    "escalation": EscalationContext,
    "coordinator_digest": CoordinatorDigestContext,
    "monthly_notice": MonthlyNoticeContext,
}
KINDS = tuple(CONTEXT_TYPES)


# --------------------------------------------------------------------------- environment


def make_environment(override_dir: Path | None = DEFAULT_OVERRIDE_DIR) -> Environment:
    """One Environment: overrides first, then packaged templates.

    ``select_autoescape`` matches the *end* of the template name, so ``html.j2`` must be
    listed explicitly; ``.txt.j2``/``.md.j2`` stay unescaped (plain text must not show
    ``&lt;``). StrictUndefined turns a typo in a template into an error instead of a blank.
    """
    loaders = []
    if override_dir is not None:
        loaders.append(FileSystemLoader(str(override_dir), encoding="utf-8"))
    loaders.append(FileSystemLoader(str(PACKAGE_TEMPLATES), encoding="utf-8"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml", "html.j2"),
            disabled_extensions=("txt", "txt.j2", "md.j2"),
            default_for_string=False,
            default=False,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(
        cn_date=cn_date,
        cn_datetime=cn_datetime,
        cn_month_day=cn_month_day,
        workdays=workdays_phrase,
        one_line=one_line,
        points=points,
    )
    return env


class Renderer:
    """Renders one kind of message from its typed context."""

    def __init__(self, override_dir: Path | None = DEFAULT_OVERRIDE_DIR):
        self.env = make_environment(override_dir)

    def render(self, kind: str, ctx: object) -> RenderedMessage:
        expected = CONTEXT_TYPES.get(kind)
        if expected is None:
            raise ValueError(f"unknown message kind {kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(ctx, expected):
            raise TypeError(f"kind {kind!r} needs a {expected.__name__}, got {type(ctx).__name__}")
        variables = {"ctx": ctx, "kind": kind}
        # Subjects are headers: one line, no CR/LF from names that reached the template.
        subject = one_line(self.env.get_template(f"{kind}/subject.txt.j2").render(variables))
        variables["subject"] = subject
        text = self.env.get_template(f"{kind}/body.txt.j2").render(variables)
        html = self.env.get_template(f"{kind}/body.html.j2").render(variables)
        markdown = self.env.get_template(f"{kind}/body.md.j2").render(variables)
        return RenderedMessage(kind=kind, subject=subject, text=text, html=html, markdown=markdown)

    def render_digest(self, ctx: DigestContext, *, attach_xlsx: bool = False) -> RenderedMessage:
        """Render a contact digest; the kind (and so the subject) follows the most urgent row."""
        message = self.render(ctx.kind, ctx)
        if attach_xlsx:
            from notifications.xlsx import digest_attachment

            message = RenderedMessage(
                kind=message.kind,
                subject=message.subject,
                text=message.text,
                html=message.html,
                markdown=message.markdown,
                attachments=(digest_attachment(ctx),),
            )
        return message


_default: dict[Path | None, Renderer] = {}


def get_renderer(override_dir: Path | None = DEFAULT_OVERRIDE_DIR) -> Renderer:
    """A cached Renderer per override directory (templates are compiled once)."""
    if override_dir not in _default:
        _default[override_dir] = Renderer(override_dir)
    return _default[override_dir]


def render(kind: str, ctx: object) -> RenderedMessage:
    return get_renderer().render(kind, ctx)


def render_digest(ctx: DigestContext, *, attach_xlsx: bool = False) -> RenderedMessage:
    return get_renderer().render_digest(ctx, attach_xlsx=attach_xlsx)
