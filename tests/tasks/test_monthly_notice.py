"""The monthly 通报 as its readers get it: coordinators and the published file list every line;
each unit leader's copy starts with the unit's own lines, and past
``notice.full_list_max_rows`` lines it carries the month's figures and where the full text is,
instead of the whole list (a province's month has thousands of lines and 5,000 leaders).

The example city's September 2020 (SQLite, file outbox): item 6 and the monthly reports are
missed by most units, 58 counted lines for 29 units."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from db.models import Contact, OutboxMessage, Unit
from duban.vocab import ContactRole
from tasks.context import build_context
from tasks.runs import run_month
from tests.support.world import MONTH_DAY, make_config, seed_world

SEPTEMBER = MONTH_DAY.replace(month=9, day=1)
URL = "https://oa.example.gov.cn/tongbao/2020-09"


def _month(tmp_path: Path, *, max_rows: int | None = None, url: str | None = None):
    config = make_config(tmp_path)
    settings = config / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    if max_rows is not None:
        text = re.sub(r"full_list_max_rows: \d+", f"full_list_max_rows: {max_rows}", text)
    if url is not None:
        text = re.sub(r"(?m)^  url: null", f"  url: {url}", text)
    settings.write_text(text, encoding="utf-8")
    world = seed_world(config, f"sqlite:///{tmp_path / 'duban.db'}")
    ctx = build_context(config, world.url, tmp_path / "var")
    summary = run_month(ctx, month=SEPTEMBER, now=ctx.run_instant(MONTH_DAY))
    with ctx.session() as s:
        copies = s.execute(
            sa.select(Contact.role, Unit.name.label("unit"), OutboxMessage.text_body,
                      OutboxMessage.html_body)
            .join(Contact, Contact.id == OutboxMessage.contact_id)
            .join(Unit, Unit.id == Contact.unit_id)
            .where(OutboxMessage.kind == "monthly_notice")).all()
    ctx.dispose()
    return summary, copies


def _listed_units(text: str) -> Counter:
    """Units named in the numbered deduction lines ("3. 市财政局｜2020-11")."""
    return Counter(re.findall(r"(?m)^\d+\. (\S+?)｜", text))


@pytest.fixture(scope="module")
def long_month(tmp_path_factory):
    return _month(tmp_path_factory.mktemp("long"), max_rows=10, url=URL)


def test_a_leader_of_a_long_month_gets_only_the_units_own_lines_and_the_months_figures(long_month):
    _summary, copies = long_month
    leaders = [c for c in copies if c.role == ContactRole.LEADER]
    assert leaders
    assert all(set(_listed_units(c.text_body)) <= {c.unit} for c in leaders)  # nobody else's
    deducted = [c for c in leaders if _listed_units(c.text_body)]
    assert len(deducted) >= 20, "September has units with deductions"
    for _role, unit, text, html in deducted:
        assert text.startswith("关于2020年9月工作要点落实情况的通报\n\n" + unit + "：")
        assert f"{unit}本月被扣分" in text
        assert "全部扣分明细共58项，全文见 " + URL in text
        assert "共有29个单位被扣分，合计扣29分" in text
        assert f'<a href="{URL}">' in html and "扣分明细如下" not in text


def test_a_leader_whose_unit_has_no_deduction_is_told_so(long_month):
    _summary, copies = long_month
    clean = [c for c in copies if c.role == ContactRole.LEADER and not _listed_units(c.text_body)]
    assert clean, "some units finished September's work on time"
    for _role, unit, text, _html in clean:
        assert f"{unit}本月无扣分事项。" in text
        assert "全部扣分明细共58项" in text


def test_coordinators_and_the_published_file_keep_every_line(long_month):
    summary, copies = long_month
    coordinators = [c for c in copies if c.role == ContactRole.COORDINATOR]
    assert coordinators
    for _role, _unit, text, _html in coordinators:
        listed = _listed_units(text)
        assert sum(listed.values()) == 58 and len(listed) == 29
        assert "本单位情况" not in text
    page = next(f for f in summary.files if f.suffix == ".html").read_text(encoding="utf-8")
    assert page.count("<tr>") == 58 + 29  # every line, and every unit's total


def test_every_leader_and_coordinator_gets_one_copy(long_month):
    summary, copies = long_month
    assert summary.messages == len(copies)
    roles = Counter(c.role for c in copies)
    assert roles[ContactRole.LEADER] > 20 and roles[ContactRole.COORDINATOR] >= 1


def test_a_short_month_gives_leaders_their_own_lines_first_then_the_whole_list(tmp_path):
    _summary, copies = _month(tmp_path)  # default: the whole list up to 200 lines
    leader = next(c for c in copies if c.role == ContactRole.LEADER
                  and c.unit in _listed_units(c.text_body))
    own, everyone = leader.text_body.split("扣分明细如下：")
    assert set(_listed_units(own)) == {leader.unit}
    assert sum(_listed_units(everyone).values()) == 58
    assert "全文由朝阳市政务公开办另行印发" not in leader.text_body
