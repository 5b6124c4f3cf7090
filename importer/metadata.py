"""Plan metadata from the document around the items: title, year, issuer, date (pure).

A 印发通知 carries the full plan name in 《…》 ("现将《朝阳市2020年政务公开工作要点》印发给你们"),
a signature line and a date ("朝阳市政务公开领导小组 / 2020年8月25日"); a government web page
adds labelled fields ("发文机关: 盘锦市政府", "成文日期: 2024-07-22"). We read all of them and
report disagreements for the reviewer instead of silently choosing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

__all__ = ["Metadata", "extract_metadata", "parse_date", "year_of"]

_CN_DIGIT = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {
    "零": 0,
    "○": 0,
    "Ｏ": 0,
    "O": 0,
}
_DATE_RES = (
    re.compile(r"^(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日$"),
    re.compile(r"^(?P<y>\d{4})[-./](?P<m>\d{1,2})[-./](?P<d>\d{1,2})$"),
)
_CN_DATE_RE = re.compile(
    r"^(?P<y>[〇零○一二三四五六七八九]{4})年(?P<m>[一二三四五六七八九十]{1,2})月(?P<d>[一二三四五六七八九十]{1,3})日$"
)
_COMPACT_RE = re.compile(r"^(?P<y>20\d{2})(?P<rest>\d{2,4})$")
_ISSUER_END_RE = re.compile(
    r"(?:小组|办公室|办公厅|人民政府|政府|委员会|管委会|局|厅|委|办|中心|部|室|院|会|处|司)$"
)
_YEAR_RE = re.compile(r"(20\d{2})\s*年")
_LABELS = {
    "issuer": re.compile(r"发文机关\s*[:：]\s*(?P<v>[^\s:：]+)"),
    "date": re.compile(r"成文日期\s*[:：]\s*(?P<v>\d{4}-\d{1,2}-\d{1,2})"),
}


def _cn_small(text: str) -> int | None:
    values = {c: i for i, c in enumerate("零一二三四五六七八九")}
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (values.get(tens, 1) if tens else 1) * 10 + (values.get(ones, 0) if ones else 0)
    return values.get(text)


def _valid(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_date(line: str) -> date | None:
    """A line that is only a date: "2020年8月25日", "二〇二〇年八月二十五日", "2024-07-22".

    A scraped date that lost 年月日 ("2024722") is read only when one split is a valid date.
    """
    line = line.strip().replace(" ", "")
    for pattern in _DATE_RES:
        m = pattern.match(line)
        if m:
            return _valid(int(m["y"]), int(m["m"]), int(m["d"]))
    m = _CN_DATE_RE.match(line)
    if m:
        year = int("".join(str(_CN_DIGIT[c]) for c in m["y"]))
        month, day = _cn_small(m["m"]), _cn_small(m["d"])
        if month is None or day is None:
            return None
        return _valid(year, month, day)
    m = _COMPACT_RE.match(line)
    if m:
        rest = m["rest"]
        candidates = {
            d
            for cut in range(1, len(rest))
            if len(rest[:cut]) <= 2
            and len(rest[cut:]) <= 2
            and (d := _valid(int(m["y"]), int(rest[:cut]), int(rest[cut:]))) is not None
        }
        if len(candidates) == 1:
            return candidates.pop()
    return None


def year_of(text: str | None) -> int | None:
    """The year named in a title ("朝阳市2020年政务公开工作要点" → 2020)."""
    if not text:
        return None
    m = _YEAR_RE.search(text)
    return int(m.group(1)) if m else None


@dataclass
class Metadata:
    """What the document says about itself; ``notes`` lists disagreements for the reviewer."""

    title: str | None = None
    year: int | None = None
    issuer: str | None = None
    issued: date | None = None
    notes: list[str] = field(default_factory=list)


def _full_title(lines: list[str], short: str | None) -> str | None:
    """Prefer the 《…》 name that ends with the plan's title line (it has the city's name)."""
    if not short:
        return None
    for line in lines:
        for quoted in re.findall(r"《([^《》]{2,60})》", line):
            if quoted.endswith(short) and len(quoted) > len(short):
                return quoted
    return short


def extract_metadata(text: str, plan_title: str | None, plan_title_line: int | None) -> Metadata:
    """Title, year, issuer and date from normalised text (see the module docstring)."""
    lines = text.split("\n")
    meta = Metadata(title=_full_title(lines, plan_title))

    # Signature: the org-like line right before a date line; the one before the plan title
    # (the 印发通知's) wins, else the first one anywhere (a signature after the items).
    limit = plan_title_line if plan_title_line is not None else len(lines)
    signatures: list[tuple[int, str | None, date]] = []
    for i, line in enumerate(lines):
        d = parse_date(line)
        if d is None:
            continue
        signer = _signer_before(lines, i)
        signatures.append((i, signer, d))
    chosen = next((s for s in signatures if s[0] < limit), signatures[0] if signatures else None)
    if chosen is not None:
        meta.issued = chosen[2]
        meta.issuer = chosen[1]

    labelled = {
        key: (m.group("v") if (m := rx.search(text)) else None) for key, rx in _LABELS.items()
    }
    if labelled["date"]:
        y, m_, d_ = (int(x) for x in labelled["date"].split("-"))
        page_date = _valid(y, m_, d_)
        if meta.issued is None:
            meta.issued = page_date
        elif page_date is not None and page_date != meta.issued:
            meta.notes.append(f"落款日期 {meta.issued} 与网页“成文日期”{page_date} 不一致，请核对")
    if labelled["issuer"]:
        if meta.issuer is None:
            meta.issuer = labelled["issuer"]
        elif labelled["issuer"] != meta.issuer:
            meta.notes.append(
                f"落款“{meta.issuer}”与网页“发文机关”“{labelled['issuer']}”不一致，请核对发文单位"
            )

    meta.year = year_of(meta.title) or year_of(plan_title)
    if meta.year is None and meta.issued is not None:
        meta.year = meta.issued.year
        meta.notes.append(f"标题中没有年份，年份按发文日期取 {meta.year}，请核对")
    return meta


def _signer_before(lines: list[str], index: int) -> str | None:
    for j in range(index - 1, max(-1, index - 3), -1):
        line = lines[j].strip()
        if not line:
            continue
        if (
            len(line) <= 30
            and _ISSUER_END_RE.search(line)
            and not re.search(r"[，。：:、；]", line)
        ):
            return line
        return None
    return None
