"""``duban mail sink`` and ``duban mail test-send`` end to end on loopback."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from duban.commands.mail import app
from notifications.sink import start_sink
from tests.notifications.smtp_server import HOST, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_test_send_delivers_a_sample_digest_to_the_configured_server(tmp_path):
    port = free_port()
    lines: list[str] = []
    controller = start_sink(HOST, port, tmp_path / "sink", echo=lines.append)
    try:
        config = tmp_path / "mail.yaml"
        config.write_text(
            f"mode: smtp\nhost: {HOST}\nport: {port}\nsecurity: plain\n"
            "from_address: noreply@duban.example.gov.cn\ntimeout: 5\n",
            encoding="utf-8",
        )
        result = CliRunner().invoke(
            app, ["test-send", "--to", "zhangsan@example.com", "--config", str(config)]
        )
    finally:
        controller.stop()

    assert result.exit_code == 0, result.output
    assert result.output.startswith("delivered: <duban.test.")
    (eml,) = (tmp_path / "sink").glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert str(msg["To"]) == "测试收件人 <zhangsan@example.com>"
    assert msg["Subject"].startswith("【今日到期】测试单位")
    (att,) = msg.iter_attachments()
    assert att.get_filename().startswith("督办事项清单_")
    assert len(lines) == 1 and "zhangsan@example.com" in lines[0] and "【今日到期】" in lines[0]


def test_test_send_reports_failure_with_exit_code_1(tmp_path):
    config = tmp_path / "mail.yaml"
    config.write_text(f"host: {HOST}\nport: {free_port()}\nmax_retries: 0\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["test-send", "--to", "a@example.com", "--config", str(config)]
    )
    assert result.exit_code == 1
    assert result.output.startswith("transient_failure:")
    assert "ConnectionRefusedError" in result.output


def test_sink_command_stores_mail_prints_a_line_and_stops_on_ctrl_c(tmp_path):
    port = free_port()
    sink_dir = tmp_path / "sink"
    code = "from duban.commands.mail import app; app()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "sink", "--port", str(port), "--dir", str(sink_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert "listening on" in proc.stdout.readline()
        deadline = time.monotonic() + 10
        while True:
            try:
                with smtplib.SMTP(HOST, port, timeout=5) as smtp:
                    smtp.sendmail(
                        "a@example.com",
                        ["b@example.com"],
                        "Subject: =?utf-8?b?5rWL6K+V?=\r\n\r\nhello\r\n",
                    )
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        line = proc.stdout.readline()
        assert "a@example.com -> b@example.com" in line and "「测试」" in line
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "mail sink stopped" in rest
    (eml,) = sink_dir.glob("*.eml")
    assert eml.read_bytes().endswith(b"hello\r\n")
