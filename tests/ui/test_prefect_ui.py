"""What a coordinator sees in the real Prefect UI (v1, at /) after a replayed stretch of
September 2020: item runs by item name, each item's status table, late units in red.

Screenshots go to var/screenshots/ (test artifacts). The runs list and the status table are
also the README's pictures in docs/screenshots/ (kept under 300 KB): written there when missing,
or refreshed with DUBAN_UPDATE_SCREENSHOTS=1 — not on every run, which would dirty the
committed files with new timestamps.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote

from tests.support.prefect import ITEM6
from tests.ui.conftest import VIEWPORT, Targets

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
README_LIMIT = 300_000  # bytes


def shoot(page, name: str, *, docs: bool = False) -> Path:
    """A viewport screenshot under var/screenshots/; with ``docs``, cropped from the bottom
    until it is under README_LIMIT, and copied to docs/screenshots/ (see module docs)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)  # the SPA fades content in after its data arrives
    height = VIEWPORT["height"]
    while True:
        page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": VIEWPORT["width"],
                                              "height": height})
        if not docs or path.stat().st_size < README_LIMIT or height <= 500:
            break
        height -= 80
    if docs:
        assert path.stat().st_size < README_LIMIT, f"{name}: {path.stat().st_size} bytes"
        if os.environ.get("DUBAN_UPDATE_SCREENSHOTS") == "1" or not (DOCS / name).exists():
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / name)
    return path


def test_runs_page_lists_item_runs_by_item_name(page, targets: Targets):
    page.goto(f"{targets.ui_url}/runs")
    page.get_by_text(ITEM6, exact=True).first.wait_for()
    # the search box narrows the list to the items; the URL keeps it (a link coordinators share)
    page.goto(f"{targets.ui_url}/runs?flow-run-search={quote('条目')}")
    page.get_by_text(ITEM6, exact=True).first.wait_for()
    for name in targets.item_names[-3:]:
        page.get_by_text(name, exact=True).first.wait_for()
    body = page.inner_text("body")
    assert "item:2020-6" in body and "as_of:2020-09-22" in body
    assert "每日督办" not in body  # the search kept only the item runs
    page.get_by_text("Items per page").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    shoot(page, "prefect-runs.png", docs=True)


def test_item_run_shows_its_status_table_artifact(page, targets: Targets):
    page.goto(f"{targets.ui_url}/runs/flow-run/{targets.item_run_id}")
    page.get_by_text("每日督办 2020-09-22").first.wait_for()  # the parent run's link
    page.locator("li.p-tab#artifacts").click()
    card = page.get_by_text(re.compile(r"^plan\d+-item-2020-6$")).first
    card.wait_for()
    page.get_by_text("2020-09-22 各单位落实情况").first.wait_for()
    shoot(page, "item-run-artifacts.png")
    card.click()
    page.wait_for_url(f"**/artifacts/artifact/{targets.artifact_id}")
    table = page.locator("table").first
    table.wait_for()
    headers = [h.strip() for h in table.locator("th").all_inner_texts()]
    assert headers == ["单位", "截止日期", "剩余/逾期", "状态", "最近提醒", "督办级别", "信号灯"]
    table.get_by_text(targets.late_unit, exact=True).first.wait_for()
    text = table.inner_text()
    assert "逾期5个工作日" in text and "红色" in text and "🔴 已督办" in text
    assert "🟢 已完成" in text  # the units that reported on time
    shoot(page, "item-artifact.png", docs=True)


def test_late_unit_task_run_shows_its_standing(page, targets: Targets):
    assert targets.late_state == "已督办"
    # in the item run's task list: the unit's name with its standing as the state badge
    page.goto(f"{targets.ui_url}/runs/flow-run/{targets.item_run_id}")
    page.locator("li.p-tab#task-runs").click()
    page.get_by_text(targets.late_unit, exact=True).first.wait_for()
    page.get_by_text(targets.late_state, exact=True).first.wait_for()
    # and on the task run's own page
    page.goto(f"{targets.ui_url}/runs/task-run/{targets.late_task_run_id}")
    page.get_by_text(targets.late_unit, exact=True).first.wait_for()
    badge = page.get_by_text(targets.late_state, exact=True).first
    badge.wait_for()
    page.get_by_text("逾期5个工作日").first.wait_for()  # the state message, in the logs
    shoot(page, "late-unit-task-run.png")
