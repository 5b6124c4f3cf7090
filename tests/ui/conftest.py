"""The real Prefect UI in headless Chromium (Debian's package, driven by Playwright).

Browser: ``tests/ui/install_browser.sh`` installs Debian's ``chromium`` (plus a Chinese and an
emoji font for readable screenshots) once per machine, as root with apt-get; Playwright's own
browser download is impossible on these offline machines. Without root/apt and without
/usr/bin/chromium (or ``$DUBAN_CHROMIUM``), the UI tests SKIP with a BrowserUnavailableWarning
in the summary.

Server and data: the session fixtures of tests/support/prefect.py (shared with tests/flows).
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest

from tests.support import prefect as support

INSTALLER = Path(__file__).with_name("install_browser.sh")
CHROMIUM = Path(os.environ.get("DUBAN_CHROMIUM", "/usr/bin/chromium"))
# The flags measured to work here: without the background-networking ones Chromium keeps
# dialling Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-quic", "--no-first-run", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 900}


class BrowserUnavailableWarning(UserWarning):
    """Shown in the pytest warnings summary when the UI tests were skipped."""


def pytest_configure(config: pytest.Config) -> None:
    support.register(config)


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed by the test session itself where it can be (root + apt)."""
    started = time.monotonic()
    try:
        proc = subprocess.run(["sh", str(INSTALLER)], capture_output=True, text=True,
                              timeout=1800, env={**os.environ, "DUBAN_CHROMIUM": str(CHROMIUM)})
        output = (proc.stdout + proc.stderr).strip()
        failed = proc.returncode != 0
    except (OSError, subprocess.TimeoutExpired) as exc:
        output, failed = str(exc), True
    took = time.monotonic() - started
    if "installed" in output:
        support.TIMINGS["chromium/fonts apt install"] = took
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        why = output.splitlines()[-1] if failed and output else "the installer gave no browser"
        reason = f"no Chromium at {CHROMIUM} and it could not be installed here: {why}"
        warnings.warn(BrowserUnavailableWarning(f"Prefect UI tests SKIPPED — {reason}"),
                      stacklevel=2)
        pytest.skip(reason)
    if failed:  # the browser is there, a font is not: tests run, screenshots show boxes
        warnings.warn(BrowserUnavailableWarning(f"fonts for screenshots missing: {output}"),
                      stacklevel=2)
    return CHROMIUM


@dataclass(frozen=True)
class Targets:
    """What the UI must show, with the ids to navigate by (read through the Prefect client)."""

    ui_url: str
    item_run_id: UUID  # item 6's run in the daily run of 2020-09-22
    item_names: list[str]  # every item run of that daily run
    artifact_id: UUID  # item 6's status table of 2020-09-22
    late_unit: str
    late_task_run_id: UUID  # the late unit's task run in that item run (state 已督办)
    late_state: str


@pytest.fixture(scope="session")
def targets(september: support.September) -> Targets:
    day = support.WORKING_DAYS[-1]
    with support.using(september.server):
        runs = support.run(support.item_runs(september.daily[day].flow_run_id))
        item_run = next(r for r in runs if r.name == support.ITEM6)
        (artifact,) = support.run(support.artifacts(flow_run_id=item_run.id))
        late = support.unit_task_runs(september, day)[0]
    return Targets(ui_url=september.server.ui_url, item_run_id=item_run.id,
                   item_names=sorted(r.name for r in runs), artifact_id=artifact.id,
                   late_unit=late.name, late_task_run_id=late.id, late_state=late.state_name)


@pytest.fixture(scope="module")
def page(chromium: Path, targets: Targets) -> Iterator:
    """One headless Chromium page for the module (after the data exists: the Playwright sync
    API must not be running while the flows' event loops are)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, locale="zh-CN",
                                          timezone_id="Asia/Shanghai")
            page = context.new_page()
            page.set_default_timeout(30_000)  # the UI is a SPA polling a busy SQLite server
            yield page
        finally:
            browser.close()
