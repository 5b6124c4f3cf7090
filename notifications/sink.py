"""A local SMTP sink (aiosmtpd) that keeps every received mail as an .eml file.

Used by ``duban mail sink`` / ``duban mail-sink`` for demos and manual checks: point
``config/mail.yaml`` at it (the MailSettings defaults already do: plain, 127.0.0.1:8025).
It listens on loopback only unless started with ``public=True`` (``--public``).
"""

from __future__ import annotations

import email
import email.policy
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller

from duban.binding import is_loopback
from notifications.render import SHANGHAI, one_line


class SinkHandler:
    """Stores each message as ``<dir>/<UTC timestamp>-<seq>.eml`` and reports one line."""

    def __init__(self, directory: Path, echo: Callable[[str], None] = print):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.count = 0

    def _target(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        while True:
            path = self.directory / f"{stamp}-{next(self._seq):05d}.eml"
            if not path.exists():
                return path

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd hook)
        data: bytes = envelope.original_content
        with self._lock:
            path = self._target()
            with path.open("xb") as fh:
                fh.write(data)
            self.count += 1
        headers = email.message_from_bytes(data, policy=email.policy.default)
        subject = one_line(headers.get("Subject", ""))
        now = datetime.now(UTC).astimezone(SHANGHAI)
        self.echo(
            f"{now:%H:%M:%S} {envelope.mail_from} -> {', '.join(envelope.rcpt_tos)} "
            f"「{subject}」 {len(data)} bytes → {path}"
        )
        return "250 2.0.0 OK stored"


def start_sink(
    host: str,
    port: int,
    directory: Path,
    echo: Callable[[str], None] = print,
    *,
    public: bool = False,
) -> Controller:
    """Start the sink in a background thread; call ``.stop()`` on the result.

    A non-loopback ``host`` needs ``public=True`` (the sink accepts mail from anyone)."""
    if not public and not is_loopback(host):
        raise ValueError(f"{host} is not a loopback address: pass public=True to listen on it")
    controller = Controller(SinkHandler(directory, echo), hostname=host, port=port)
    controller.start()
    return controller
