"""One realistic, hostile run shared by the security tests (``world``).

The example city and plan, copied to tmp and changed the way an attacker or a careless
import would: units named ``=HYPERLINK(...)``, ``@SUM(1)…`` and ``<script>…``, a contact named
``@SUM(1)``, item 6 titled with a formula and a script tag (its requirement starting "-1+1"),
and a liaison with a DingTalk robot whose signing secret is in the environment. Mail goes
over STARTTLS + AUTH to a real aiosmtpd server, with the password from an environment variable
(the first day with a WRONG one, so the failure paths run too).

Engine runs without Prefect (tasks.runs): four working days of September 2020 by SMTP, then
the office switches to file mode (var/outbox/*.eml) for 09-24, the monthly escalation on
2020-10-09 (the 通报 mail and 扣分明细 .xlsx) and the Q3 assessment (评分表 .xlsx); then
``duban report`` for the month (.docx + .html) and robot sends (one to a local HTTP receiver
that checks the signature, one to a closed port). Every log record (root at DEBUG) is kept.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
import trustme
import yaml

from db import migrate
from db.models import Contact
from deadlines.calendar import default_config_dir
from duban.cli import main
from duban.config import load_plan, load_settings, load_unit_directory, load_units_file
from notifications.channels import dingtalk_sign, robot_from_webhook
from notifications.models import DeliveryResult, Recipient
from notifications.render import DigestContext, DigestRow, render_digest
from records.sync import load_plan_file, sync_units
from tasks.context import build_context
from tasks.runs import assessment_period, run_assessment, run_day, run_month
from tests.notifications.smtp_server import HOST, SmtpTestServer

PLAN_FILE = "2020-chaoyang.yaml"
SMTP_USER = "duban-sender"
SMTP_PASSWORD = "Smtp-Pw-7f3a1c9e-授权码".encode().hex()[:28]  # ASCII, like a 163 授权码
WRONG_PASSWORD = "Wrong-Pw-0b1d2e3f4a5b6c7d"
SMTP_ENV = "DUBAN_TEST_SMTP_PASSWORD"
DING_SECRET = "SECrobot-9b2f-4c1d-secret-5e6a7b8c"
DING_ENV = "DUBAN_TEST_DINGTALK_SECRET"
DING_TOKEN = "robot-access-token-1234"

EVIL_FORMULA = '=HYPERLINK("http://evil.example","点我")'
EVIL_SCRIPT = '<script>alert("x")</script>公安局'
EVIL_CONTACT = "@SUM(1)"
EVIL_AT_UNIT = "@SUM(1)+发展改革委"
EVIL_TITLE = '=HYPERLINK("http://evil.example","x")<script>alert(1)</script>集中发布政策文件'
EVIL_REQUIREMENT = "-1+1 9月15日前<b>上传</b>部门网站专栏"  # item 6's first time-limit sentence
# 市教育局, 市公安局, 市发展改革委 (their old names kept as aliases, so the plan still resolves)
FORMULA_UNIT, SCRIPT_UNIT, AT_UNIT = "sjyj", "sgaj", "sfzgw"

DAYS = [date(2020, 9, 14), date(2020, 9, 16), date(2020, 9, 18), date(2020, 9, 22)]
FILE_DAY = date(2020, 9, 24)
MONTH, MONTH_RUN = date(2020, 9, 1), date(2020, 10, 9)


@dataclass
class Robot:
    url: str = ""
    requests: list[dict] = field(default_factory=list)


def _robot_handler(state: Robot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            state.requests.append({"path": self.path, "query": query,
                                   "body": body.decode("utf-8")})
            ok = query.get("sign") == dingtalk_sign(query.get("timestamp", ""), DING_SECRET)
            reply = {"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000,
                                                              "errmsg": "sign not match"}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextlib.contextmanager
def robot_receiver() -> Iterator[Robot]:
    state = Robot()
    server = ThreadingHTTPServer((HOST, 0), _robot_handler(state))
    state.url = f"http://{HOST}:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@contextlib.contextmanager
def debug_logs() -> Iterator[_Keep]:
    """Every record at DEBUG, kept in memory. Other root handlers are set aside meanwhile:
    once Prefect is imported (another test module), its console/API handlers on the root
    logger would format or ship every DEBUG record of the run (minutes instead of seconds)."""
    root = logging.getLogger()
    keep, level, others = _Keep(), root.level, root.handlers[:]
    for handler in others:
        root.removeHandler(handler)
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        yield keep
    finally:
        root.removeHandler(keep)
        for handler in others:
            root.addHandler(handler)
        root.setLevel(level)


@dataclass
class World:
    root: Path
    config: Path
    db_url: str
    var: Path
    reports: Path
    logs: list[str]
    cli_output: str
    smtp: SmtpTestServer
    robot: Robot
    robot_results: list[DeliveryResult]
    markdown: list[str]
    status_rows: list[dict]
    files: list[Path] = field(default_factory=list)


def _hostile_config(config: Path, robot_url: str, cafile: Path, port: int) -> None:
    units_file = config / "units.yaml"
    units = yaml.safe_load(units_file.read_text(encoding="utf-8"))
    for unit in units["units"]:
        if unit["code"] == FORMULA_UNIT:
            unit["aliases"] = [*unit.get("aliases", []), unit["name"]]
            unit["name"] = EVIL_FORMULA
            unit["contacts"][0]["name"] = EVIL_CONTACT
        elif unit["code"] == SCRIPT_UNIT:
            unit["aliases"] = [*unit.get("aliases", []), unit["name"]]
            unit["name"] = EVIL_SCRIPT
        elif unit["code"] == AT_UNIT:
            unit["aliases"] = [*unit.get("aliases", []), unit["name"]]
            unit["name"] = EVIL_AT_UNIT
        elif unit["code"] == "szfb":
            unit["contacts"][0]["im"] = {
                "channel": "dingtalk", "secret_env": DING_ENV,
                "webhook": f"{robot_url}/robot/send?access_token={DING_TOKEN}"}
    units_file.write_text(yaml.safe_dump(units, allow_unicode=True, sort_keys=False),
                          encoding="utf-8")
    plan_file = config / "plans" / PLAN_FILE
    plan = yaml.safe_load(plan_file.read_text(encoding="utf-8"))
    for item in plan["items"]:
        if item["number"] == "6":
            item["title"] = EVIL_TITLE
            item["time_limits"][0]["sentence"] = EVIL_REQUIREMENT
    plan_file.write_text(yaml.safe_dump(plan, allow_unicode=True, sort_keys=False),
                         encoding="utf-8")
    settings_file = config / "settings.yaml"
    settings = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
    settings["mail"] = {
        "mode": "smtp", "host": HOST, "port": port, "security": "starttls",
        "username": SMTP_USER, "password_env": SMTP_ENV, "cafile": str(cafile),
        "from_address": "duban@chaoyang.example.gov.cn", "from_name": "朝阳市政务公开办",
        "timeout": 5, "max_retries": 0, "backoff_seconds": 0,
    }
    settings_file.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False),
                             encoding="utf-8")


def _switch_to_file_mode(config: Path) -> None:
    settings_file = config / "settings.yaml"
    settings = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
    settings["mail"]["mode"] = "file"
    settings_file.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False),
                             encoding="utf-8")


def _send_robots(ctx, robot: Robot) -> list[DeliveryResult]:
    """What a robot channel does for a contact: the secret is read from the variable the contact
    names, at send time; one send to the receiver, one to a closed port (the failure path)."""
    results = []
    with ctx.session() as s:
        contacts = s.scalars(sa.select(Contact).where(Contact.im_channel.is_not(None))).all()
        assert contacts, "the hostile config gives one contact a robot"
        for c in contacts:
            message = render_digest(DigestContext(
                recipient_name=c.name, unit_name=c.unit.name, generated_at=ctx.run_instant(DAYS[-1]),
                rows=(DigestRow(item=EVIL_TITLE, requirement="按时报送", due_date=date(2020, 9, 15),
                                working_days_left=-5),)))
            recipient = Recipient(name=c.name, email=c.email, mobile=c.phone)
            secret = os.environ[c.im_secret_env]
            results.append(robot_from_webhook(c.im_channel, c.im_webhook, secret=secret,
                                              timeout=3).send(message, recipient))
            dead = c.im_webhook.replace(robot.url, f"http://{HOST}:9")  # discard port: refused
            results.append(robot_from_webhook(c.im_channel, dead, secret=secret,
                                              timeout=3).send(message, recipient))
    return results


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("hostile")
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(tls)
    cafile = root / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    config, var, reports = root / "config", root / "var", root / "reports"
    url = f"sqlite:///{root / 'duban.db'}"
    shutil.copytree(default_config_dir(), config)
    mp = pytest.MonkeyPatch()
    with (SmtpTestServer("starttls", tls_context=tls, users={SMTP_USER: SMTP_PASSWORD}) as smtp,
          robot_receiver() as robot, debug_logs() as logs):
        try:
            _hostile_config(config, robot.url, cafile, smtp.port)
            mp.setenv(DING_ENV, DING_SECRET)
            mp.setenv(SMTP_ENV, WRONG_PASSWORD)  # day one: the relay refuses the login
            mp.setenv("DUBAN_DATABASE_URL", url)
            mp.setenv("DUBAN_VAR_DIR", str(var))
            migrate.upgrade(url)
            ctx = build_context(config, url, var)
            directory = load_unit_directory(config)
            with ctx.session(actor="安全测试") as s, s.begin():
                sync_units(s, load_units_file(config))
                load_plan_file(s, load_plan(config / "plans" / PLAN_FILE, directory),
                               directory=directory, settings=load_settings(config),
                               source_path=None, config_dir=config)
            status_rows: list[dict] = []
            for n, day in enumerate(DAYS):
                if n == 1:
                    mp.setenv(SMTP_ENV, SMTP_PASSWORD)
                summary = run_day(ctx, as_of=day)
                status_rows += [u.as_row() for r in summary.items for u in r.units]
            # The office switches to file mode (password settings left in place): the last
            # day and the monthly 通报 go to var/outbox/*.eml through the file transport.
            ctx.dispose()
            _switch_to_file_mode(config)
            ctx = build_context(config, url, var)
            run_day(ctx, as_of=FILE_DAY)
            month = run_month(ctx, month=MONTH, now=ctx.run_instant(MONTH_RUN))
            assessment = run_assessment(ctx, period=assessment_period(ctx, year=2020, code="Q3"),
                                        now=ctx.run_instant(MONTH_RUN))
            robot_results = _send_robots(ctx, robot)
            ctx.dispose()
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = main(["report", "--month", "2020-09", "--config", str(config),
                             "--db", url, "-o", str(reports), "--date", "2020-10-12"])
            assert code == 0, out.getvalue()
            yield World(root=root, config=config, db_url=url, var=var, reports=reports,
                        logs=logs.lines, cli_output=out.getvalue(), smtp=smtp, robot=robot,
                        robot_results=robot_results,
                        markdown=[month.markdown, assessment.markdown],
                        status_rows=status_rows,
                        files=sorted(p for p in root.rglob("*") if p.is_file()))
        finally:
            mp.undo()
