"""Rule books: ``config/rules/<year>.yaml`` — a 考核实施细则 as data (schema: config/rules/README.md).

A rule book has a scoring scheme (deduction-only within a frame, "最高减5分", or base 100), named
assessments (年中, 三季度末, 年底), and one rule set per group of unit kinds. A rule set has
categories (一级指标) and each category has rules (one 评分方式 line each).

Amounts are magnitudes (``direction`` gives the sign) and are Decimals: YAML ``0.1`` becomes
``Decimal("0.1")``, never a binary float. Problems are reported as ``file:line: field: message``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from deadlines.calendar import default_config_dir
from duban.vocab import UnitKind
from duban.yamlio import ConfigError, LocatedYaml, Problem, format_loc, load_yaml, validate_doc

TRIGGERS = ("late_completion", "missed", "escalation", "finding", "early_completion")
OBLIGATION_TRIGGERS = frozenset({"late_completion", "missed", "escalation", "early_completion"})
Trigger = Literal["late_completion", "missed", "escalation", "finding", "early_completion"]
PeriodUnit = Literal["month", "quarter", "half_year", "year"]

_STEP = re.compile(r"^\+[1-9][0-9]*$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


def _to_decimal(v: Any) -> Any:
    """YAML numbers → Decimal through their text (0.1 stays 0.1); text like "0.I" is an error."""
    if isinstance(v, bool):
        raise ValueError("expected a number of points, not true/false")
    if isinstance(v, float):
        return Decimal(repr(v))
    if isinstance(v, int):
        return Decimal(v)
    if isinstance(v, str):
        try:
            d = Decimal(v.strip())
        except InvalidOperation:
            raise ValueError(f"{v!r} is not a number of points") from None
        if not d.is_finite():
            raise ValueError(f"{v!r} is not a number of points")
        return d
    return v


def _positive(v: Decimal) -> Decimal:
    if v <= 0:
        raise ValueError(
            f"points must be positive, got {v} (amounts are magnitudes; `direction` gives the sign)"
        )
    return v


Points = Annotated[Decimal, BeforeValidator(_to_decimal)]


def month_day(text: str, year: int) -> date:
    """``"06-30"`` in ``year`` → date; ValueError when it is not a real day."""
    m = _MONTH_DAY.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a month-day like \"06-30\"")
    return date(year, int(m.group(1)), int(m.group(2)))


def fmt_points(d: Decimal) -> str:
    """0.20 → "0.2", 1.0 → "1", never exponent notation."""
    s = format(d.normalize(), "f")
    return s


# --------------------------------------------------------------------------- models


class Match(BaseModel):
    """Restricts an obligation-based rule to some plan items (codes like ``2020-16``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    items: list[Annotated[str, Field(pattern=r"^\S+$")]] = []
    exclude_items: list[Annotated[str, Field(pattern=r"^\S+$")]] = []

    @model_validator(mode="after")
    def _sensible(self) -> Match:
        both = set(self.items) & set(self.exclude_items)
        if both:
            raise ValueError(f"item(s) {', '.join(sorted(both))} both matched and excluded")
        if not (self.items or self.exclude_items):
            raise ValueError("`match` needs `items` or `exclude_items`")
        return self

    def accepts(self, item_code: str | None) -> bool:
        if self.items and item_code not in self.items:
            return False
        return item_code not in self.exclude_items


class Rule(BaseModel):
    """One 评分方式 line: when it applies (trigger), how much (amount or range), how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str = Field(min_length=2)
    direction: Literal["deduct", "bonus"]
    trigger: Trigger
    step: str | None = None
    match: Match | None = None
    amount: Points | None = None
    range: tuple[Points, Points] | None = None
    per: Literal["instance", "occurrence", "period"] = "occurrence"
    each: Literal["次", "件", "家", "个", "项"] = "次"  # the counting word: 每件/每家/每次
    period: PeriodUnit | None = None
    cap: Points | None = None
    missed_after: Literal["due", "month_end"] | None = None
    min_working_days_late: int | None = Field(default=None, ge=0)
    min_working_days_early: int | None = Field(default=None, ge=1)
    source: str | None = None  # the 评分方式 sentence this rule encodes
    note: str | None = None

    @field_validator("trigger", mode="before")
    @classmethod
    def _known_trigger(cls, v: Any) -> Any:
        if v not in TRIGGERS:
            raise ValueError(f"unknown trigger {v!r}; expected one of {', '.join(TRIGGERS)}")
        return v

    @field_validator("step", mode="before")
    @classmethod
    def _step_text(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, int) and not isinstance(v, bool):
            raise ValueError(f'write the step as quoted text like "+{v}" (YAML reads +{v} as a number)')
        if not isinstance(v, str) or not _STEP.match(v.strip()):
            raise ValueError(f'step {v!r} is not like "+3" (a plus sign and a whole number)')
        return v.strip()

    @field_validator("amount", "cap")
    @classmethod
    def _positive_amount(cls, v: Decimal | None) -> Decimal | None:
        return None if v is None else _positive(v)

    @field_validator("range")
    @classmethod
    def _range(cls, v: tuple[Decimal, Decimal] | None) -> tuple[Decimal, Decimal] | None:
        if v is None:
            return v
        low, high = _positive(v[0]), _positive(v[1])
        if low >= high:
            raise ValueError(f"range [{low}, {high}] must have min < max (use `amount` for one value)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.amount is not None and self.range is not None:
            raise ValueError("give either `amount` or `range`, not both")
        if self.amount is None and self.range is None:
            raise ValueError("a rule needs `amount` (fixed points) or `range` (discretionary)")
        if (self.per == "period") != (self.period is not None):
            raise ValueError("`period` (month/quarter/half_year/year) goes with `per: period`, and only there")
        if self.trigger == "escalation" and self.step is None:
            raise ValueError('an escalation rule needs `step`, e.g. "+5"')
        if self.trigger != "escalation" and self.step is not None:
            raise ValueError("`step` belongs to escalation rules only")
        if self.match is not None and self.trigger not in OBLIGATION_TRIGGERS:
            raise ValueError("`match` restricts obligation triggers only (not findings)")
        if self.missed_after is not None and self.trigger != "missed":
            raise ValueError("`missed_after` belongs to missed rules only")
        if self.min_working_days_late is not None and self.trigger != "late_completion":
            raise ValueError("`min_working_days_late` belongs to late_completion rules only")
        if self.trigger == "early_completion" and self.min_working_days_early is None:
            raise ValueError("an early_completion rule needs `min_working_days_early` (>= 1)")
        if self.min_working_days_early is not None and self.trigger != "early_completion":
            raise ValueError("`min_working_days_early` belongs to early_completion rules only")
        if self.trigger in ("late_completion", "missed", "escalation") and self.direction != "deduct":
            raise ValueError(f"a {self.trigger} rule can only deduct")
        if self.trigger == "early_completion" and self.direction != "bonus":
            raise ValueError("an early_completion rule can only be a bonus")
        if self.cap is not None:
            smallest = self.amount if self.amount is not None else self.range[0]  # type: ignore[index]
            if self.cap < smallest:
                raise ValueError(f"cap {self.cap} is below a single instance ({smallest})")
        return self

    @property
    def discretionary(self) -> bool:
        return self.range is not None

    @property
    def countable_after(self) -> str:
        """For missed rules: "due" or "month_end" (default "due")."""
        return self.missed_after or "due"

    def describe(self) -> str:
        """The scoring in Chinese: "每次减0.2分", "视情况减0.1-2分", "每季度减0.2分（本项最多减1分）"."""
        verb = "减" if self.direction == "deduct" else "加"
        if self.range is not None:
            pts = f"视情况{verb}{fmt_points(self.range[0])}-{fmt_points(self.range[1])}分"
        else:
            pts = f"{verb}{fmt_points(self.amount)}分"  # type: ignore[arg-type]
        if self.per == "period":
            word = {"month": "每月", "quarter": "每季度", "half_year": "每半年", "year": "每年"}
            text = f"{word[self.period]}{pts}" if self.period != "year" else f"{pts}（每年计一次）"  # type: ignore[index]
        elif self.range is not None or self.per == "instance":
            text = pts
        else:
            text = f"每{self.each}{pts}"
        if self.cap is not None:
            text += f"（本项最多{verb}{fmt_points(self.cap)}分）"
        return text


class Category(BaseModel):
    """一级指标: optional cap on its deductions ("减分上限为自身权重") and on its bonuses."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    name: str = Field(min_length=2)
    cap: Points | None = None
    bonus_cap: Points | None = None
    rules: list[Rule] = Field(min_length=1)

    @field_validator("cap", "bonus_cap")
    @classmethod
    def _positive_cap(cls, v: Decimal | None) -> Decimal | None:
        return None if v is None else _positive(v)


class RuleSet(BaseModel):
    """The rules for one group of unit kinds (e.g. county_gov + zone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=2)
    kinds: list[UnitKind] = Field(min_length=1)
    bonus_cap: Points | None = None  # total bonus of a unit under this rule set
    categories: list[Category] = Field(min_length=1)

    @field_validator("bonus_cap")
    @classmethod
    def _positive_cap(cls, v: Decimal | None) -> Decimal | None:
        return None if v is None else _positive(v)

    def rules(self) -> Iterator[tuple[Category, Rule]]:
        for cat in self.categories:
            for rule in cat.rules:
                yield cat, rule


class DeductionScheme(BaseModel):
    """减分制: scores start at 0 and go down to ``-max_deduction``; bonuses stay inside the frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    style: Literal["deduction"]
    max_deduction: Points
    bonus_above_zero: bool = False

    @field_validator("max_deduction")
    @classmethod
    def _positive_max(cls, v: Decimal) -> Decimal:
        return _positive(v)


class BaseScheme(BaseModel):
    """百分制: ``base`` minus deductions plus bonuses, never below ``floor`` (nor above ``ceiling``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    style: Literal["base"]
    base: Points
    floor: Points = Decimal(0)
    ceiling: Points | None = None

    @model_validator(mode="after")
    def _order(self) -> BaseScheme:
        if self.floor > self.base:
            raise ValueError("floor is above base")
        if self.ceiling is not None and self.ceiling < self.base:
            raise ValueError("ceiling is below base")
        return self


class Assessment(BaseModel):
    """A named assessment: 年中 (H1, ends 06-30); counted from ``start`` (default 01-01)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(pattern=r"^[A-Za-z0-9]+$")
    name: str = Field(min_length=1)
    start: str = "01-01"
    end: str

    @field_validator("start", "end")
    @classmethod
    def _month_day(cls, v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError(f'write the date as quoted month-day text like "06-30", got {v!r}')
        month_day(v, 2000)  # 2000 is a leap year: 02-29 is accepted
        return v


class RuleSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str = Field(min_length=2)
    issuer: str | None = None
    issued: date | None = None
    document: str | None = None
    file: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class RuleRef:
    """A rule with the category and rule set it belongs to."""

    rule: Rule
    category: Category
    rule_set: RuleSet


class RuleBook(BaseModel):
    """``config/rules/<year>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    year: int = Field(ge=2000, le=2100)
    title: str = Field(min_length=2)
    source: RuleSource
    scheme: Annotated[DeductionScheme | BaseScheme, Field(discriminator="style")]
    assessments: list[Assessment] = Field(min_length=1)
    rule_sets: list[RuleSet] = Field(min_length=1)

    _index: dict[str, RuleRef] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> RuleBook:
        problems = cross_problems(self)
        if problems and not (info.context or {}).get("located_cross_checks"):
            raise ValueError("; ".join(f"{_loc_text(loc)}: {msg}" for loc, msg in problems))
        if not problems:
            self._index = {r.code: RuleRef(r, c, s) for s in self.rule_sets for c, r in s.rules()}
        return self

    # -- lookups

    def find(self, rule_code: str) -> RuleRef | None:
        return self._index.get(rule_code)

    def rule_set_for(self, kind: str | UnitKind) -> RuleSet | None:
        """The rule set that assesses units of ``kind``; None when the 细则 does not cover it."""
        for rs in self.rule_sets:
            if kind in rs.kinds:
                return rs
        return None

    def assessment(self, code: str) -> Assessment:
        for a in self.assessments:
            if a.code == code:
                return a
        known = ", ".join(a.code for a in self.assessments)
        raise KeyError(f"no assessment {code!r} in {self.year} rules (known: {known})")

    def unknown_items(self, item_codes: Iterable[str]) -> list[str]:
        """Messages for ``match`` items that the given plan item codes do not contain."""
        known = set(item_codes)
        out = []
        for rs in self.rule_sets:
            for _, rule in rs.rules():
                if rule.match is None:
                    continue
                for it in [*rule.match.items, *rule.match.exclude_items]:
                    if it not in known:
                        out.append(f"rule {rule.code}: item {it} is not in the plan")
        return out


def _loc_text(loc: tuple[str | int, ...]) -> str:
    return format_loc(loc)


def cross_problems(book: RuleBook) -> list[tuple[tuple[str | int, ...], str]]:
    """Checks across entries (unique codes, disjoint kinds), each with the path of the culprit."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    seen_assess: dict[str, int] = {}
    for i, a in enumerate(book.assessments):
        if a.code in seen_assess:
            out.append((("assessments", i, "code"), f"assessment code {a.code!r} is used twice"))
        seen_assess.setdefault(a.code, i)
        try:
            if month_day(a.start, book.year) > month_day(a.end, book.year):
                out.append((("assessments", i, "end"), f"assessment {a.code} ends before it starts"))
        except ValueError as exc:  # 02-29 in a common year
            out.append((("assessments", i), f"{exc} in {book.year}"))
    kind_owner: dict[str, int] = {}
    cat_seen: set[str] = set()
    rule_seen: set[str] = set()
    for s, rs in enumerate(book.rule_sets):
        for k, kind in enumerate(rs.kinds):
            if kind in kind_owner:
                owner = book.rule_sets[kind_owner[kind]].name
                where = "this rule set" if kind_owner[kind] == s else f"rule set {owner!r}"
                out.append((("rule_sets", s, "kinds", k),
                            f"unit kind {kind.value!r} is already assessed by {where}"))
            kind_owner.setdefault(kind, s)
        for c, cat in enumerate(rs.categories):
            if cat.code in cat_seen:
                out.append((("rule_sets", s, "categories", c, "code"),
                            f"category code {cat.code!r} is used twice"))
            cat_seen.add(cat.code)
            for r, rule in enumerate(cat.rules):
                if rule.code in rule_seen:
                    out.append((("rule_sets", s, "categories", c, "rules", r, "code"),
                                f"rule code {rule.code!r} is used twice (codes are unique in the file)"))
                rule_seen.add(rule.code)
    return out


# --------------------------------------------------------------------------- loading


def validate_rulebook(doc: LocatedYaml) -> RuleBook:
    """Validate parsed YAML; every problem is ``file:line: field: message``."""
    book = validate_doc(RuleBook, doc, context={"located_cross_checks": True})
    problems = [doc.problem(loc, msg) for loc, msg in cross_problems(book)]
    if problems:
        raise ConfigError(problems)
    return book


def load_rulebook(path: str | Path) -> RuleBook:
    """Load ``config/rules/<year>.yaml``; raises :class:`duban.yamlio.ConfigError`."""
    return validate_rulebook(load_yaml(path))


def rulebook_path(year: int, config_dir: Path | None = None) -> Path:
    """Where the rule book of ``year`` lives: ``<config>/rules/<year>.yaml``."""
    return (config_dir or default_config_dir()) / "rules" / f"{year}.yaml"


__all__ = [
    "OBLIGATION_TRIGGERS",
    "TRIGGERS",
    "Assessment",
    "BaseScheme",
    "Category",
    "ConfigError",
    "DeductionScheme",
    "Match",
    "Problem",
    "Rule",
    "RuleBook",
    "RuleRef",
    "RuleSet",
    "RuleSource",
    "fmt_points",
    "load_rulebook",
    "month_day",
    "rulebook_path",
    "validate_rulebook",
]
