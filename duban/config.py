"""Configuration files in ``config/``: settings, units and contacts, plans — validated by pydantic.

Every problem is reported as ``file:line: field: message`` (see :mod:`duban.yamlio`), all
problems of all files at once, and validation never writes anything anywhere.

Unit references in plans resolve through the unit directory: a unit's name or alias, a group
word ("各县(市)区政府" → every county/district government), or a word that must be spelled out
for the item ("各有关单位" — flagged, never guessed).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from deadlines.calendar import CalendarError, default_config_dir, load_calendar
from deadlines.rules import rule_from_dict
from duban.vocab import ContactRole, UnitKind
from duban.yamlio import ConfigError, LocatedYaml, Problem, load_yaml, validate_doc

# --------------------------------------------------------------------------- settings


class NoticeCfg(BaseModel):
    """``notice:`` in settings.yaml — how the monthly 通报 reaches unit leaders."""

    model_config = ConfigDict(extra="forbid")
    full_list_max_rows: int = Field(
        default=200, ge=0, description="leaders' copies list the whole month up to this many "
        "lines; above, each lists its own unit's lines and the month's figures")
    url: str | None = Field(
        default=None, description="where the full 通报 is published (an intranet page), named "
        "in the copies that do not list it; None: 'issued separately by the office'")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://[^\s<>\"]+", v):
            raise ValueError(f"notice url must be an http(s) address without spaces, got {v!r}")
        return v


class Settings(BaseModel):
    """``config/settings.yaml``: how this office runs duban."""

    model_config = ConfigDict(extra="forbid")
    office: str = "政务公开办"
    timezone: Literal["Asia/Shanghai"] = "Asia/Shanghai"
    business_close: time | None = Field(
        default=None, description="end of a deadline day; None means 24:00 (民法典 第二百零三条)"
    )
    reminder_hour: int = Field(default=9, ge=0, le=23)
    sending_hours: tuple[int, int] = (8, 20)
    warning_working_days: int = Field(default=3, ge=0, le=30)
    database_url: str | None = None
    mail: dict[str, Any] = {}
    prefect: dict[str, Any] = {}
    notice: NoticeCfg = NoticeCfg()

    @field_validator("sending_hours")
    @classmethod
    def _hours(cls, v: tuple[int, int]) -> tuple[int, int]:
        start, end = v
        if not (0 <= start < end <= 24):
            raise ValueError("sending_hours must be [start, end] with 0 <= start < end <= 24")
        return v


# --------------------------------------------------------------------------- units




_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*$")
_PHONE = re.compile(r"^[0-9+\-() ]{5,20}$")


class ImCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: Literal["dingtalk", "wecom", "feishu"]
    webhook: str
    secret_env: str | None = None


class ContactCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    role: ContactRole
    email: str | None = None
    phone: str | None = None
    im: ImCfg | None = None
    active_from: date | None = None
    active_to: date | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not _EMAIL.match(v):
            raise ValueError(f"invalid e-mail address {v!r}")
        return v

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, v: Any) -> Any:
        if v is not None and not _PHONE.match(str(v)):
            raise ValueError(f"invalid phone number {v!r}")
        return None if v is None else str(v)

    @model_validator(mode="after")
    def _reachable(self) -> ContactCfg:
        if not (self.email or self.im):
            raise ValueError(f"contact {self.name} has neither an e-mail nor an IM robot")
        if self.active_from and self.active_to and self.active_to < self.active_from:
            raise ValueError("active_to is before active_from")
        return self


class UnitCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=2)
    kind: UnitKind
    aliases: list[str] = []
    region: str | None = None
    parent: str | None = None
    contacts: list[ContactCfg] = []


class GroupCfg(BaseModel):
    """A group word used in documents, e.g. 各县(市)区政府 → every county_gov unit."""

    model_config = ConfigDict(extra="forbid")
    words: list[str] = Field(min_length=1)
    kinds: list[UnitKind] = []
    units: list[str] = []  # explicit member codes
    spell_out: bool = False  # "各有关单位": must be spelled out per item

    @model_validator(mode="after")
    def _has_meaning(self) -> GroupCfg:
        if not self.spell_out and not (self.kinds or self.units):
            raise ValueError("a group needs `kinds`, `units`, or `spell_out: true`")
        return self


class UnitsFile(BaseModel):
    """``config/units.yaml``."""

    model_config = ConfigDict(extra="forbid")
    city: str
    source: str | None = None
    groups: list[GroupCfg] = []
    units: list[UnitCfg] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> UnitsFile:
        seen: dict[str, str] = {}
        codes = {u.code for u in self.units}
        if len(codes) != len(self.units):
            dup = next(c for c in codes if sum(u.code == c for u in self.units) > 1)
            raise ValueError(f"unit code {dup!r} is used twice")
        for u in self.units:
            for name in [u.name, *u.aliases]:
                key = normalize_name(name)
                if key in seen and seen[key] != u.code:
                    raise ValueError(f"name {name!r} is used by both {seen[key]} and {u.code}")
                seen[key] = u.code
            if u.parent and u.parent not in codes:
                raise ValueError(f"unit {u.code}: unknown parent {u.parent!r}")
        for g in self.groups:
            for code in g.units:
                if code not in codes:
                    raise ValueError(f"group {g.words[0]}: unknown unit code {code!r}")
        return self


def normalize_name(name: str) -> str:
    """Compare unit names ignoring width, spaces and bracket style: （市） == (市)."""
    s = unicodedata.normalize("NFKC", name)
    return re.sub(r"\s+", "", s).replace("【", "[").replace("】", "]")


@dataclass(frozen=True)
class UnitRef:
    """What a name in a plan refers to."""

    name: str
    status: Literal["unit", "group", "spell_out", "unknown"]
    codes: tuple[str, ...] = ()
    canonical: str | None = None
    suggestion: str | None = None


@dataclass
class UnitDirectory:
    """All units of the city, with name/alias/group-word lookup."""

    units: dict[str, UnitCfg]
    groups: list[GroupCfg] = field(default_factory=list)
    city: str = ""

    def __post_init__(self) -> None:
        self._by_name: dict[str, str] = {}
        for u in self.units.values():
            for n in [u.name, *u.aliases]:
                self._by_name[normalize_name(n)] = u.code
        self._groups: dict[str, GroupCfg] = {}
        for g in self.groups:
            for w in g.words:
                self._groups[normalize_name(w)] = g

    @classmethod
    def from_file(cls, model: UnitsFile) -> UnitDirectory:
        return cls({u.code: u for u in model.units}, list(model.groups), model.city)

    def known_names(self) -> list[str]:
        names = [n for u in self.units.values() for n in [u.name, *u.aliases]]
        return names + [w for g in self.groups for w in g.words]

    def resolve(self, name: str) -> UnitRef:
        key = normalize_name(name)
        code = self._by_name.get(key)
        if code:
            return UnitRef(name, "unit", (code,), self.units[code].name)
        group = self._groups.get(key)
        if group is not None:
            if group.spell_out:
                return UnitRef(name, "spell_out", (), group.words[0])
            codes = [u.code for u in self.units.values() if u.kind in group.kinds]
            codes += [c for c in group.units if c not in codes]
            return UnitRef(name, "group", tuple(codes), group.words[0])
        close = difflib.get_close_matches(name, self.known_names(), n=1, cutoff=0.5)
        return UnitRef(name, "unknown", (), None, close[0] if close else None)

    def contacts(self, code: str, role: ContactRole, on: date | None = None) -> list[ContactCfg]:
        out = []
        for c in self.units[code].contacts:
            if c.role != role:
                continue
            if on and ((c.active_from and on < c.active_from) or (c.active_to and on > c.active_to)):
                continue
            out.append(c)
        return out


# --------------------------------------------------------------------------- plans


class TimeLimitCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    sentence: str | None = None
    rule: dict[str, Any] | None = None
    unparsed: str | None = None

    @field_validator("rule")
    @classmethod
    def _rule_valid(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            rule_from_dict(v)  # raises ValueError with the reason
        return v

    @model_validator(mode="after")
    def _rule_or_reason(self) -> TimeLimitCfg:
        if (self.rule is None) == (self.unparsed is None):
            raise ValueError("each time limit needs exactly one of `rule` or `unparsed`")
        return self


def _unit_problems(names: list[str], info: ValidationInfo) -> list[str]:
    directory: UnitDirectory | None = (info.context or {}).get("units")
    if directory is None:
        return []
    msgs = []
    for n in names:
        ref = directory.resolve(n)
        if ref.status == "unknown":
            hint = f" (did you mean {ref.suggestion!r}?)" if ref.suggestion else ""
            msgs.append(f"unknown unit {n!r}{hint}")
    return msgs


class ItemCfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    code: str | None = None
    title: str = Field(min_length=1)
    section: str | None = None
    text: str | None = None
    lead_units: list[str] = []
    responsible_units: list[str] = []
    time_limits: list[TimeLimitCfg] = []
    review: str | None = None
    active: bool = True

    @field_validator("number", mode="before")
    @classmethod
    def _number_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v

    @field_validator("lead_units", "responsible_units")
    @classmethod
    def _units_known(cls, v: list[str], info: ValidationInfo) -> list[str]:
        problems = _unit_problems(v, info)
        if problems:
            raise ValueError("; ".join(problems))
        return v


class PlanSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: str | None = None
    sha256: str | None = None
    imported: date | None = None


class PlanFile(BaseModel):
    """``config/plans/<year>-<issuer>.yaml`` (schema documented in config/plans/README.md)."""

    model_config = ConfigDict(extra="forbid")
    year: int = Field(ge=2000, le=2100)
    issuer: str
    title: str
    issued: date | None = None
    source: PlanSource | None = None
    items: list[ItemCfg] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_numbers(self) -> PlanFile:
        seen: set[str] = set()
        for it in self.items:
            if it.number in seen:
                raise ValueError(f"item number {it.number!r} appears twice")
            seen.add(it.number)
        return self


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}


def chinese_number(text: str) -> int | None:
    """十九 → 19, 二十三 → 23, 7 → 7; None when it is not a plain number."""
    t = unicodedata.normalize("NFKC", text).strip("()（）、.． ")
    if t.isdecimal():  # not isdigit(): "፩" is a digit that int() cannot read
        return int(t)
    if not t or any(ch not in _CN_DIGITS and ch != "十" for ch in t):
        return None
    if "十" in t:
        tens, _, ones = t.partition("十")
        return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[t] if len(t) == 1 else None


def item_code(year: int, item: ItemCfg, position: int) -> str:
    """Stable short code for tags: ``2020-6``; explicit ``code`` wins."""
    if item.code:
        return item.code
    n = chinese_number(item.number)
    return f"{year}-{n if n is not None else position}"


# --------------------------------------------------------------------------- loading


def load_settings(config_dir: Path | None = None) -> Settings:
    path = (config_dir or default_config_dir()) / "settings.yaml"
    if not path.exists():
        return Settings()
    return validate_doc(Settings, load_yaml(path))


def load_units_file(config_dir: Path | None = None) -> UnitsFile:
    path = (config_dir or default_config_dir()) / "units.yaml"
    if not path.exists():
        raise ConfigError([Problem(str(path), None, "", "units file is missing")])
    return validate_doc(UnitsFile, load_yaml(path))


def load_unit_directory(config_dir: Path | None = None) -> UnitDirectory:
    return UnitDirectory.from_file(load_units_file(config_dir))


def load_plan(path: str | Path, directory: UnitDirectory | None = None) -> PlanFile:
    doc = load_yaml(path)
    return validate_doc(PlanFile, doc, context={"units": directory})


@dataclass
class CheckReport:
    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _collect(report: CheckReport, label: str, fn) -> Any:
    try:
        result = fn()
        report.checked.append(label)
        return result
    except ConfigError as exc:
        report.problems.extend(exc.problems)
    except CalendarError as exc:
        report.problems.append(Problem(label, None, "", str(exc)))
    return None


def plan_warnings(doc: LocatedYaml, plan: PlanFile, directory: UnitDirectory | None) -> list[Problem]:
    """Things a reviewer must look at but that do not stop loading."""
    out = []
    for i, item in enumerate(plan.items):
        for k, tl in enumerate(item.time_limits):
            if tl.unparsed is not None:
                out.append(doc.problem(("items", i, "time_limits", k, "unparsed"),
                                       f"item {item.number}: time limit {tl.text!r} not understood "
                                       f"({tl.unparsed}); no obligation is generated for it"))
        if directory:
            for name in [*item.lead_units, *item.responsible_units]:
                if directory.resolve(name).status == "spell_out":
                    out.append(doc.problem(("items", i, "responsible_units"),
                                           f"item {item.number}: {name!r} must be spelled out as "
                                           "named units for this item"))
        if item.review:
            out.append(doc.problem(("items", i, "review"), f"item {item.number}: {item.review}"))
    return out


def check_config(config_dir: Path | None = None) -> CheckReport:
    """Validate every configuration file; never writes anything."""
    cfg = config_dir or default_config_dir()
    report = CheckReport()
    _collect(report, str(cfg / "settings.yaml"), lambda: load_settings(cfg))
    directory = _collect(report, str(cfg / "units.yaml"), lambda: load_unit_directory(cfg))
    _collect(report, str(cfg / "calendars"), lambda: load_calendar(config_dir=cfg))
    if (cfg / "ladders.yaml").exists():
        from deadlines.ladder import load_ladders

        _collect(report, str(cfg / "ladders.yaml"), lambda: load_ladders(cfg / "ladders.yaml"))
    if directory is not None:
        regions = sorted({u.region for u in directory.units.values() if u.region})
        for r in regions:
            _collect(report, f"region {r}", lambda r=r: load_calendar(region=r, config_dir=cfg))
    for path in sorted((cfg / "plans").glob("*.yaml")):
        doc = _collect(report, str(path), lambda path=path: load_yaml(path))
        if doc is None:
            continue
        plan = _collect(report, str(path),
                        lambda doc=doc: validate_doc(PlanFile, doc, context={"units": directory}))
        if plan is not None:
            report.warnings.extend(plan_warnings(doc, plan, directory))
    return report


def resolve_units(names: Iterable[str], directory: UnitDirectory) -> tuple[list[str], list[UnitRef]]:
    """Unit codes for a list of names (order kept, no duplicates) and the refs not resolved."""
    codes: list[str] = []
    seen: set[str] = set()  # a province's group word names thousands of units
    unresolved: list[UnitRef] = []
    for n in names:
        ref = directory.resolve(n)
        if ref.status in ("unit", "group"):
            for c in ref.codes:
                if c not in seen:
                    seen.add(c)
                    codes.append(c)
        else:
            unresolved.append(ref)
    return codes, unresolved
