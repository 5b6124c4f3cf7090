"""A real SMTP server (aiosmtpd) on loopback for the mail tests, with fault injection.

Modes: ``plain`` relay, ``starttls`` (STARTTLS required, AUTH required after TLS) and ``ssl``
(implicit TLS + AUTH). It counts connections, EHLO, AUTH and QUIT and keeps every accepted
message's raw bytes, so tests assert on what actually arrived.

aiosmtpd 1.4.6's ``Controller(port=0)`` cannot start (its readiness probe connects to port
0), so ``free_port()`` binds port 0 first and hands the number over.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (connection refused)."""
    return free_port()


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class Faults:
    """What the server should do wrong. Ordinals count DATA commands (1-based) per server."""

    refuse_rcpt: set[str] = field(default_factory=set)  # 550 for these addresses
    drop_at_data: set[int] = field(default_factory=set)  # close the socket instead of replying
    data_reply: dict[int, str] = field(default_factory=dict)  # e.g. {2: "554 5.7.1 spam"}
    mail_from_reply: str | None = None  # e.g. "421 4.7.0 too many connections"
    mail_from_fail_times: int = 10**9  # reply mail_from_reply this many times, then accept
    # wait this long after storing a message and before replying "250": a client killed then
    # has a message delivered whose reply it never saw (the lost-reply case)
    reply_delay_s: float = 0.0


@dataclass
class Counters:
    connections: int = 0
    ehlo: int = 0
    auth_ok: int = 0
    auth_failed: int = 0
    quit: int = 0
    data_commands: int = 0
    mail_from_failures: int = 0


class _Handler:
    def __init__(self, server: SmtpTestServer):
        self.s = server

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.s.counters.ehlo += 1
        session.host_name = hostname
        return responses

    async def handle_QUIT(self, server, session, envelope):
        self.s.counters.quit += 1
        return "221 Bye"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        f = self.s.faults
        if f.mail_from_reply and self.s.counters.mail_from_failures < f.mail_from_fail_times:
            self.s.counters.mail_from_failures += 1
            return f.mail_from_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.s.faults.refuse_rcpt:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        c = self.s.counters
        c.data_commands += 1
        n = c.data_commands
        if n in self.s.faults.drop_at_data:
            server.transport.abort()
            return "250 OK"  # never reaches the client: the socket is gone
        if n in self.s.faults.data_reply:
            return self.s.faults.data_reply[n]
        with self.s.lock:
            self.s.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        if self.s.faults.reply_delay_s:
            await asyncio.sleep(self.s.faults.reply_delay_s)
        return "250 2.0.0 OK queued"


class _CountingSMTP(SMTP):
    def __init__(self, test_server: SmtpTestServer, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._test_server = test_server

    def connection_made(self, transport):
        if self._original_transport is None and self.transport is None:
            self._test_server.counters.connections += 1
        super().connection_made(transport)


class _Controller(Controller):
    def __init__(self, test_server: SmtpTestServer, *args, **kwargs):
        self._test_server = test_server
        super().__init__(*args, **kwargs)

    def factory(self):
        with warnings.catch_warnings():
            # SMTPS mode: AUTH over implicit TLS is fine, aiosmtpd only knows STARTTLS.
            warnings.simplefilter("ignore", UserWarning)
            return _CountingSMTP(self._test_server, self.handler, **self.SMTP_kwargs)


class SmtpTestServer:
    """Threaded aiosmtpd server; use as a context manager."""

    def __init__(
        self,
        mode: str = "plain",
        *,
        tls_context: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        faults: Faults | None = None,
    ):
        self.mode = mode
        self.port = free_port()
        self.users = users or {}
        self.faults = faults or Faults()
        self.counters = Counters()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        kwargs: dict[str, object] = {"hostname": HOST, "port": self.port}
        if mode == "starttls":
            kwargs.update(
                tls_context=tls_context,
                require_starttls=True,
                auth_required=bool(self.users),
                authenticator=self._authenticate,
            )
        elif mode == "ssl":
            kwargs.update(
                ssl_context=tls_context,
                auth_required=bool(self.users),
                auth_require_tls=False,  # the whole session is TLS already
                authenticator=self._authenticate,
            )
        elif mode != "plain":
            raise ValueError(mode)
        self.controller = _Controller(self, _Handler(self), **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.users.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        if ok:
            self.counters.auth_ok += 1
            return AuthResult(success=True)
        self.counters.auth_failed += 1
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> SmtpTestServer:
        self.controller.start()
        # start() opens one probe connection; count only the client's.
        self.counters = Counters()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def messages(self) -> list[EmailMessage]:
        return [r.message for r in self.received]


@contextmanager
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word (a wedged relay)."""
    sock = socket.socket()
    sock.bind((HOST, 0))
    sock.listen(8)
    port = sock.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_loop() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except TimeoutError:
                continue
            except OSError:
                return

    t = threading.Thread(target=accept_loop, daemon=True)
    t.start()
    try:
        yield port
    finally:
        stop.set()
        t.join(2)
        for c in held:
            c.close()
        sock.close()
