"""Loopback by default: ``duban serve`` and ``duban mail-sink`` only listen on 127.0.0.1 unless
``--public`` is given, and a public Prefect server requires an API auth string.

Real servers: one ``prefect server start`` with an auth string on loopback (401 without
credentials, 200 with them, and this process's Prefect client authenticates through
``server.use()``), one ``duban serve --public --register-only`` on every interface, and the
aiosmtpd mail sink.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import yaml

import duban.commands.serve as serve_module
from duban.binding import AUTH_ENV, CLIENT_AUTH_ENV, bind_address, check_auth_string
from duban.cli import main
from duban.errors import UserError
from duban.prefect_server import (
    LocalServer,
    api_status,
    basic_auth_header,
    free_port,
    start_server,
)
from notifications.sink import start_sink
from tests.support.prefect import drain_client_workers

AUTH = "duban-admin:correct-horse-battery-staple"


@pytest.fixture
def cli(capsys, monkeypatch):
    monkeypatch.delenv(AUTH_ENV, raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


# --------------------------------------------------------------------------- refusals


def test_public_serve_without_an_auth_string_is_refused_with_exit_code_2(cli, tmp_path):
    code, _, err = cli("serve", "--public", "--home", str(tmp_path), "--port", str(free_port()))
    assert code == 2
    assert "缺少 API 认证" in err and AUTH_ENV in err and "用户名:密码" in err
    assert not (tmp_path / "server.log").exists()  # refused before anything started


@pytest.mark.parametrize(("value", "problem"), [
    ("no-colon-here", "缺少冒号"),
    (":password-only", "用户名为空"),
    ("duban:short", "密码太短"),
    ("duban:line\nbreak-password", "控制字符"),
])
def test_malformed_auth_string_is_refused_without_echoing_it(cli, monkeypatch, tmp_path,
                                                             value, problem):
    monkeypatch.setenv(AUTH_ENV, value)
    code, _, err = cli("serve", "--public", "--home", str(tmp_path), "--port", str(free_port()))
    assert code == 2 and problem in err and AUTH_ENV in err
    assert value.split(":")[-1] not in err  # the (partial) secret is never printed


def test_a_non_loopback_host_without_public_is_refused_and_points_to_public(cli, tmp_path):
    code, _, err = cli("serve", "--host", "0.0.0.0", "--home", str(tmp_path))
    assert code == 2 and "--public" in err and "不是本机回环地址" in err
    code, _, err = cli("serve", "--host", "10.20.30.40", "--home", str(tmp_path))
    assert code == 2 and "--public" in err


def test_mail_sink_on_a_non_loopback_host_needs_public(cli, tmp_path):
    code, _, err = cli("mail-sink", "--host", "0.0.0.0", "--dir", str(tmp_path / "sink"))
    assert code == 2 and "--public" in err and "mail sink" in err
    assert not (tmp_path / "sink").exists()
    with pytest.raises(ValueError, match="not a loopback address"):
        start_sink("0.0.0.0", free_port(), tmp_path / "sink")


def test_bind_address_rules():
    assert bind_address(None, public=False, what="x") == "127.0.0.1"
    assert bind_address(None, public=True, what="x") == "0.0.0.0"
    assert bind_address("::1", public=False, what="x") == "::1"
    assert bind_address("localhost", public=False, what="x") == "localhost"
    assert bind_address("10.1.2.3", public=True, what="x") == "10.1.2.3"
    with pytest.raises(UserError, match="不能与回环地址"):
        bind_address("127.0.0.1", public=True, what="x")
    with pytest.raises(UserError, match="--public"):
        bind_address("duban.example.gov.cn", public=False, what="x")
    assert check_auth_string(AUTH) == AUTH
    assert check_auth_string("u:pass:with:colons") == "u:pass:with:colons"


# --------------------------------------------------------------------------- real servers


def _local_ip() -> str | None:
    """This machine's non-loopback address (no packet is sent), or None when there is none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory) -> Iterator[LocalServer]:
    server = start_server(tmp_path_factory.mktemp("prefect-auth"), auth_string=AUTH,
                          timeout=120)
    try:
        yield server
    finally:
        drain_client_workers()
        server.stop()


def test_server_with_auth_answers_401_without_credentials_and_200_with_them(auth_server):
    api = auth_server.api_url
    assert httpx.get(f"{api}/health").status_code == 200  # probes stay open
    assert api_status(api) == 401
    assert api_status(api, auth_string="duban-admin:wrong-password-here") == 401
    assert api_status(api, auth_string=AUTH) == 200
    flows = f"{api}/flows/filter"
    assert httpx.post(flows, json={}).status_code == 401
    assert httpx.post(flows, json={}, headers=basic_auth_header(AUTH)).status_code == 200


def test_this_process_prefect_client_authenticates_through_use(auth_server, monkeypatch):
    from prefect.client.orchestration import get_client

    monkeypatch.delenv(CLIENT_AUTH_ENV, raising=False)

    async def read() -> tuple[int, str]:
        async with get_client() as client:
            flow_id = await client.create_flow_from_name("security-probe")
            return len(await client.read_flows()), str(flow_id)

    with auth_server.use():
        assert os.environ[CLIENT_AUTH_ENV] == AUTH  # subprocesses (flow runs) inherit it
        count, _ = asyncio.run(read())
    assert count >= 1
    assert CLIENT_AUTH_ENV not in os.environ  # restored afterwards


def test_auth_string_is_in_no_repr_and_no_server_log(auth_server):
    assert AUTH not in repr(auth_server)
    assert "correct-horse" not in repr(auth_server)
    log = (auth_server.home / "server.log").read_text(encoding="utf-8", errors="replace")
    assert log and "correct-horse" not in log


def test_reusing_a_running_server_checks_its_credentials(auth_server):
    port = int(auth_server.api_url.rsplit(":", 1)[1].split("/")[0])
    again = start_server(auth_server.home, port=port, auth_string=AUTH)
    assert again.process is None  # reused, not started twice
    with pytest.raises(RuntimeError, match="要求认证"):
        start_server(auth_server.home, port=port)  # no credentials: would fail later with 401
    with pytest.raises(RuntimeError, match="要求认证"):
        start_server(auth_server.home, port=port, auth_string="duban-admin:not-the-password")


def test_serve_public_binds_every_interface_and_registers_with_credentials(
        cli, monkeypatch, tmp_path):
    started: list[LocalServer] = []
    real_start = serve_module.start_server

    def keep(*args, **kwargs) -> LocalServer:
        server = real_start(*args, **kwargs)
        started.append(server)  # --register-only leaves the server running: stop it below
        return server

    monkeypatch.setattr(serve_module, "start_server", keep)
    monkeypatch.setenv(AUTH_ENV, AUTH)
    monkeypatch.delenv(CLIENT_AUTH_ENV, raising=False)
    port = free_port()
    try:
        code, out, err = cli("serve", "--public", "--register-only", "--port", str(port),
                             "--home", str(tmp_path / "prefect"),
                             "--public-url", f"http://duban.example.gov.cn:{port}")
        assert code == 0, err
        expected = len(yaml.safe_load((serve_module.ROOT / "prefect.yaml").read_text(
            encoding="utf-8"))["deployments"])
        assert f"已注册 {expected} 个部署" in out and "对外开放" in out
        assert f"http://duban.example.gov.cn:{port}" in out
        (server,) = started
        assert server.api_url == f"http://127.0.0.1:{port}/api"
        deployments = f"{server.api_url}/deployments/filter"
        assert httpx.post(deployments, json={}).status_code == 401
        reply = httpx.post(deployments, json={}, headers=basic_auth_header(AUTH))
        assert reply.status_code == 200 and len(reply.json()) == expected
        ip = _local_ip()
        if ip is not None:  # bound to 0.0.0.0: reachable on the LAN address, still locked
            assert httpx.get(f"http://{ip}:{port}/api/health").status_code == 200
            assert httpx.post(f"http://{ip}:{port}/api/flows/filter", json={}).status_code == 401
        ui = httpx.get(f"http://127.0.0.1:{port}/ui-settings").json()
        assert ui["api_url"] == f"http://duban.example.gov.cn:{port}/api"
        assert ui.get("auth") == "BASIC"  # the UI asks for the user name and password
        assert CLIENT_AUTH_ENV not in os.environ
        log = (tmp_path / "prefect" / "server.log").read_text(encoding="utf-8", errors="replace")
        assert "correct-horse" not in log
    finally:
        drain_client_workers()
        for server in started:
            server.stop()


def test_mail_sink_public_listens_on_every_interface(tmp_path):
    port = free_port()
    lines: list[str] = []
    controller = start_sink("0.0.0.0", port, tmp_path / "sink", echo=lines.append, public=True)
    try:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "公开"
        msg.set_content("x")
        host = _local_ip() or "127.0.0.1"
        with smtplib.SMTP(host, port, timeout=5) as smtp:
            smtp.send_message(msg)
    finally:
        controller.stop()
    assert len(list(Path(tmp_path / "sink").glob("*.eml"))) == 1 and lines


def test_smtp_password_from_a_prefect_secret_block_on_the_locked_server(auth_server, caplog):
    """The other place an SMTP password may live: a Secret block, read at send time through the
    authenticated client; a missing block is named, the value never shown."""
    from prefect.blocks.system import Secret

    from notifications.mail import MailConfigError, MailSettings

    password = "Block-Pw-5d6e7f8091a2b3c4"
    settings = MailSettings(username="duban-sender", password_block="duban-smtp-password")
    with auth_server.use(), caplog.at_level("DEBUG"):
        Secret(value=password).save("duban-smtp-password", overwrite=True)
        assert settings.resolve_password().get_secret_value() == password
        missing = MailSettings(username="duban-sender", password_block="no-such-block")
        with pytest.raises(MailConfigError, match="no-such-block") as info:
            missing.resolve_password()
    assert password not in str(info.value) and password not in repr(settings)
    assert password not in caplog.text
