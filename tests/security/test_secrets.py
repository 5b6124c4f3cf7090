"""Secrets never leak. The hostile run (tests/security/conftest.py) had the SMTP password and a
DingTalk robot's signing secret in environment variables only; here every trace it left is
searched for them — and for the reversible forms they take on the wire (base64 in SMTP AUTH,
URL-encoding): the DEBUG log records, the database (every table dumped as text, and the raw
file), the reports and spreadsheets (.docx/.xlsx unzipped), the file-transport outbox and the
mail the relay received (every MIME part decoded, attachments unzipped), the status rows and
markdown the Prefect artifacts are made of, the CLI's output, and the robot requests.
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from db.models import Contact, DeliveryAttempt
from notifications.mail import MailSettings
from tasks.context import build_context
from tests.security.conftest import (
    DING_ENV,
    DING_SECRET,
    DING_TOKEN,
    EVIL_CONTACT,
    SMTP_ENV,
    SMTP_PASSWORD,
    SMTP_USER,
    WRONG_PASSWORD,
    World,
)


def forms(secret: str, *, user: str | None = None) -> set[str]:
    """The secret and the encodings that give it back at a glance."""
    out = {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()}
    if user is not None:  # AUTH PLAIN's initial response
        out.add(base64.b64encode(f"\0{user}\0{secret}".encode()).decode())
    return out


SECRETS = {
    "SMTP password": forms(SMTP_PASSWORD, user=SMTP_USER),
    "wrong SMTP password": forms(WRONG_PASSWORD, user=SMTP_USER),
    "DingTalk signing secret": forms(DING_SECRET),
}


def _unzip(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())


def _mail_text(data: bytes) -> str:
    """Headers and every part of a message, decoded; zip attachments (xlsx) unzipped."""
    msg = email.message_from_bytes(data, policy=email.policy.default)
    out = [data.decode("ascii", "replace")]
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        out.append(_unzip(payload) if payload[:2] == b"PK" else
                   payload.decode("utf-8", "replace"))
    return "\n".join(out)


def file_text(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"PK":
        return _unzip(data)
    if path.suffix == ".eml":
        return _mail_text(data)
    return data.decode("utf-8", "replace") + "\n" + data.decode("latin-1")


def database_dump(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        lines = []
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    lines.append(f"{table.name}: {tuple(row)!r}")
        return "\n".join(lines)
    finally:
        engine.dispose()


_TRACES: dict[int, dict[str, str]] = {}


def traces(world: World) -> dict[str, str]:
    """Every place the run left text, by name (collected once per session)."""
    if id(world) not in _TRACES:
        _TRACES[id(world)] = _collect(world)
    return _TRACES[id(world)]


def _collect(world: World) -> dict[str, str]:
    out = {
        "logs (DEBUG)": "\n".join(world.logs),
        "database (all tables)": database_dump(world.db_url),
        "cli output": world.cli_output,
        "artifact markdown": "\n".join(world.markdown),
        "status table rows": repr(world.status_rows),
        "robot requests": repr(world.robot.requests),
        "robot results": repr(world.robot_results),
        "mail received by the relay": "\n".join(_mail_text(r.data) for r in world.smtp.received),
    }
    for path in sorted(world.root.rglob("*")):
        try:
            out[path.relative_to(world.root).as_posix()] = file_text(path)
        except (FileNotFoundError, IsADirectoryError):  # a directory, or SQLite's -shm/-wal
            continue
    return out


def test_the_run_really_used_both_secrets_and_left_every_kind_of_trace(world):
    assert len(world.smtp.received) > 50 and world.smtp.counters.auth_ok > 0
    assert world.smtp.counters.auth_failed > 0  # day one's wrong password was tried
    assert world.robot_results[0].delivered  # the receiver checked the HMAC signature
    names = {p.relative_to(world.root).as_posix() for p in world.files}
    assert any(n.startswith("var/outbox/") and n.endswith(".eml") for n in names)
    assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".docx") for n in names)
    assert any(n.endswith(".html") for n in names)
    assert len(world.logs) > 1000 and world.markdown[0] and world.status_rows
    engine = sa.create_engine(world.db_url)
    with engine.connect() as conn:
        failed = conn.scalars(sa.select(DeliveryAttempt.reply)
                              .where(DeliveryAttempt.code == 535)).all()
        robot = conn.execute(sa.select(Contact.im_secret_env, Contact.im_webhook)
                             .where(Contact.im_channel.is_not(None))).one()
    engine.dispose()
    assert failed  # the refused login is on record (its reply, not the password)
    assert robot.im_secret_env == DING_ENV  # the DB knows where the secret is, not what


# (trace name or file suffix, text it must contain): proves each haystack is really decoded.
CANARIES = [
    ("logs (DEBUG)", "Authentication credentials invalid"),
    ("database (all tables)", EVIL_CONTACT),
    ("mail received by the relay", "集中发布政策文件"),
    (".eml", "集中发布政策文件"),  # file-transport outbox, MIME parts decoded
    (".xlsx", "HYPERLINK"),
    (".docx", "HYPERLINK"),
    (".html", "集中发布政策文件"),
    ("robot requests", "集中发布政策文件"),
    ("artifact markdown", "分"),
    ("status table rows", "单位"),
]


@pytest.mark.parametrize(("where", "canary"), CANARIES)
def test_every_trace_is_searched_in_clear_text(world, where, canary):
    found = [name for name, text in traces(world).items()
             if (name == where or name.endswith(where)) and canary in text]
    assert found, f"{canary!r} not found in {where}: the search would miss a leak there"


def test_robot_webhook_token_is_not_written_to_the_logs(world):
    logs = "\n".join(world.logs)
    assert "robot/send?access_token=***" in logs  # httpx's request line, redacted
    assert DING_TOKEN not in logs and DING_TOKEN not in repr(world.robot_results)


@pytest.mark.parametrize("secret", list(SECRETS))
def test_secret_appears_in_no_trace_of_the_run(world, secret):
    leaks = [(where, form) for where, text in traces(world).items()
             for form in SECRETS[secret] if form in text]
    assert not leaks, f"{secret} found in: {sorted({w for w, _ in leaks})}"


def test_robot_url_carries_a_signature_not_the_secret(world):
    request = world.robot.requests[0]
    assert set(request["query"]) == {"access_token", "timestamp", "sign"}
    assert DING_SECRET not in request["path"] and DING_SECRET not in request["body"]
    assert request["query"]["sign"] not in (DING_SECRET, quote(DING_SECRET, safe=""))


def test_settings_objects_show_where_secrets_live_not_what_they_are(world, monkeypatch):
    monkeypatch.setenv(SMTP_ENV, SMTP_PASSWORD)
    ctx = build_context(world.config, world.db_url, world.var)
    try:
        password = ctx.mail.resolve_password()
        shown = " ".join([repr(ctx), repr(ctx.mail), str(ctx.mail), repr(password),
                          str(password), ctx.mail.model_dump_json()])
    finally:
        ctx.dispose()
    assert password.get_secret_value() == SMTP_PASSWORD
    assert SMTP_PASSWORD not in shown and SMTP_ENV in shown


def test_a_password_written_into_the_mail_settings_is_refused():
    with pytest.raises(ValueError, match="password"):
        MailSettings(username="u", password="in-the-file")  # type: ignore[call-arg]


def test_missing_password_variable_is_named_without_a_value(monkeypatch):
    monkeypatch.delenv(SMTP_ENV, raising=False)
    settings = MailSettings(username=SMTP_USER, password_env=SMTP_ENV)
    with pytest.raises(Exception, match=SMTP_ENV) as info:
        settings.resolve_password()
    assert "not set" in str(info.value)
