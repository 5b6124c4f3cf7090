"""Mail delivery: stdlib MIME on a yagmail connection, one connection per batch.

Why this shape (see /work/shared/notes/mail-and-im-stack.md):

* yagmail is used **only** to open and authenticate the connection (host/port, plain relay,
  STARTTLS or SMTPS, AUTH). Its own message builder turns every ``\\n`` into ``<br>``, sends the
  HTML source as the text part, drops addresses from ``To:`` and reuses Message-IDs, so the
  MIME is built here with ``email.message.EmailMessage`` under ``policy.SMTP``.
* ``yag.send()`` reconnects for every mail, never sends QUIT and sleeps 18 s when the server
  is gone; we call ``yag.login()`` once per batch and then send each mail on ``yag.smtp``.
  Each message is flattened once (``mime_bytes``) and handed to ``smtp.sendmail`` — what
  ``send_message`` does internally, minus re-flattening on every retry — so a retry sends
  byte-identical data with the same Message-ID.
* smtplib has no default timeout and an unverified TLS context; we always pass ``timeout=``
  and a verifying context (optionally trusting ``cafile``), and set TCP_NODELAY (otherwise a
  TLS record ending in a small segment waits ~40 ms for the server's delayed ACK per mail).
* The password is read at send time from an environment variable or a Prefect Secret block,
  never from keyring/getpass, and never logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from pathlib import Path
from typing import Literal

import yagmail
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from duban.errors import UserError
from notifications.models import DeliveryResult, DeliveryStatus, OutgoingMessage
from notifications.render import SHANGHAI, one_line

log = logging.getLogger(__name__)

ResultCallback = Callable[[DeliveryResult], None]


class MailConfigError(UserError):
    """Mail settings that cannot work (missing password variable, bad CA file...)."""


class MailSettings(BaseModel):
    """How duban sends mail. Loaded from ``config/mail.yaml`` (keys below) by the CLI/flows.

    The password is never stored here: ``password_env`` names an environment variable, or
    ``password_block`` names a Prefect Secret block, resolved only when a batch is sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["smtp", "file"] = "smtp"
    host: str = "127.0.0.1"
    port: int = Field(default=8025, ge=1, le=65535)
    security: Literal["plain", "starttls", "ssl"] = "plain"
    username: str | None = None
    password_env: str | None = None
    password_block: str | None = None
    from_address: str = "duban@localhost.localdomain"
    from_name: str = "督办提醒系统"
    timeout: float = Field(default=30.0, gt=0)
    cafile: Path | None = None
    verify: bool = True
    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_seconds: float = Field(default=1.0, ge=0)
    # Some providers (163: "421 MI:DMC") cap mails per connection; 0 = no cap.
    max_messages_per_connection: int = Field(default=0, ge=0)
    outbox_dir: Path = Path("var/outbox")

    @field_validator("from_address")
    @classmethod
    def _address(cls, v: str) -> str:
        if v.count("@") != 1 or any(c in v for c in " \r\n<>,;"):
            raise ValueError(f"not a mail address: {v!r}")
        return v

    @field_validator("from_name")
    @classmethod
    def _single_line(cls, v: str) -> str:
        return one_line(v)

    @model_validator(mode="after")
    def _credentials(self) -> MailSettings:
        if self.password_env and self.password_block:
            raise ValueError("give either password_env or password_block, not both")
        if self.username and not (self.password_env or self.password_block):
            raise ValueError(
                "username is set but no password source: set password_env (name of an "
                "environment variable) or password_block (Prefect Secret block name)"
            )
        if (self.password_env or self.password_block) and not self.username:
            raise ValueError("a password source is set but username is missing")
        return self

    @property
    def message_id_domain(self) -> str:
        return self.from_address.rsplit("@", 1)[1]

    def sender(self) -> Address:
        local, domain = self.from_address.rsplit("@", 1)
        return Address(display_name=self.from_name, username=local, domain=domain)

    def resolve_password(self) -> SecretStr | None:
        """Read the password now (send time). Errors name the variable/block, never the value."""
        if not self.username:
            return None
        if self.password_env:
            value = os.environ.get(self.password_env)
            if not value:
                raise MailConfigError(
                    f"SMTP password: environment variable {self.password_env} is not set"
                )
            return SecretStr(value)
        try:
            from prefect.blocks.system import Secret

            return SecretStr(str(Secret.load(self.password_block).get()))
        except Exception as exc:  # Prefect raises ValueError/ObjectNotFound/httpx errors
            raise MailConfigError(
                f"SMTP password: cannot load Prefect Secret block {self.password_block!r}: "
                f"{type(exc).__name__}"
            ) from exc

    def tls_context(self) -> ssl.SSLContext:
        """Verifying context by default; ``cafile`` replaces the system CAs with one file."""
        if not self.verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if self.cafile is not None:
            try:
                return ssl.create_default_context(cafile=str(self.cafile))
            except (OSError, ssl.SSLError) as exc:
                raise MailConfigError(f"cannot read CA file {self.cafile}: {exc}") from exc
        return ssl.create_default_context()


# --------------------------------------------------------------------------- MIME


# Headers whose values repeat in every mail (part headers, fixed markers): parsed and folded
# once per distinct value instead of once per mail.
_SHARED_HEADERS = frozenset(
    {
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "mime-version",
        "auto-submitted",
        "x-auto-response-suppress",
        "x-duban-kind",
    }
)


class _SharedHeaderRegistry(HeaderRegistry):
    """``HeaderRegistry`` that caches what does not change between mails.

    The stock registry builds a new header *class* on every lookup (~10 µs), and every mail
    re-parses and re-folds the same part headers; together that was about half the cost of a
    message. Header instances are immutable, so identical ones can be shared.
    """

    _LIMIT = 4096

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}
        self._shared: dict[tuple[str, str], BaseHeader] = {}
        self._folded: dict[int, str | None] = {}  # id(shared instance) -> folded text

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __call__(self, name: str, value: object) -> BaseHeader:
        if not (isinstance(value, str) and name.lower() in _SHARED_HEADERS):
            return super().__call__(name, value)
        header = self._shared.get((name, value))
        if header is None:
            if len(self._shared) >= self._LIMIT:
                self._shared.clear()
                self._folded.clear()
            header = self._shared[(name, value)] = super().__call__(name, value)
            self._folded[id(header)] = None
        return header

    def folded(self, header: object, policy: EmailPolicy) -> str | None:
        """Folded text of a shared header (computed once); None for any other header."""
        key = id(header)
        if key not in self._folded:
            return None
        text = self._folded[key]
        if text is None:
            text = self._folded[key] = header.fold(policy=policy)  # type: ignore[attr-defined]
        return text


class _SmtpPolicy(EmailPolicy):
    """``email.policy.SMTP`` (CRLF, RFC 2047/2231), reusing the folding of shared headers."""

    def _fold(self, name, value, refold_binary=False):  # type: ignore[override]
        registry = self.header_factory
        if isinstance(registry, _SharedHeaderRegistry):
            text = registry.folded(value, self)
            if text is not None:
                return text
        return super()._fold(name, value, refold_binary=refold_binary)


_POLICY = _SmtpPolicy(linesep="\r\n", header_factory=_SharedHeaderRegistry())


def build_mime(
    msg: OutgoingMessage, *, sender: Address, date: datetime, policy: EmailPolicy = _POLICY
) -> EmailMessage:
    """multipart/mixed( alternative(text, html), attachments... ), all bodies base64 UTF-8.

    Headers with Chinese are RFC 2047 encoded by the policy; attachment file names are
    RFC 2231 (``filename*=utf-8''…``) via ``add_attachment(filename=...)`` only — calling
    ``set_param`` on them under policy.SMTP mangles the xlsx Content-Type.
    """
    if date.tzinfo is None:
        raise ValueError("date must be aware")
    m = EmailMessage(policy=policy)
    m["Subject"] = one_line(msg.subject)
    m["From"] = sender
    local, domain = msg.recipient_address.rsplit("@", 1)
    m["To"] = Address(display_name=one_line(msg.recipient_name), username=local, domain=domain)
    m["Date"] = format_datetime(date.astimezone(SHANGHAI))
    m["Message-ID"] = f"<{msg.message_id}>"
    # RFC 3834: stop vacation auto-replies from answering reminders (and looping).
    m["Auto-Submitted"] = "auto-generated"
    m["X-Auto-Response-Suppress"] = "All"
    m["X-Duban-Kind"] = msg.kind
    m.set_content(msg.text, subtype="plain", charset="utf-8", cte="base64")
    m.add_alternative(msg.html, subtype="html", charset="utf-8", cte="base64")
    for att in msg.attachments:
        maintype, _, subtype = (att.mime or "application/octet-stream").partition("/")
        m.add_attachment(
            att.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=att.filename,
        )
    # Every body is base64, whose alphabet has no "-", so no body line can start with "--":
    # a boundary derived from the message id is safe, makes the bytes reproducible, and spares
    # the generator compiling and running a collision regex over each message.
    tag = hashlib.sha256(msg.message_id.encode()).hexdigest()[:24]
    for n, part in enumerate(p for p in m.walk() if p.is_multipart()):
        part.set_boundary(f"=_duban_{tag}_{n}")
    return m


def mime_bytes(msg: OutgoingMessage, *, sender: Address, date: datetime) -> bytes:
    """The message as sent on the wire (CRLF, 7-bit)."""
    return build_mime(msg, sender=sender, date=date).as_bytes()


# --------------------------------------------------------------------------- transports


def _reply_text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _ConnectFailed(Exception):
    """Connecting/authenticating failed; ``retryable`` False for auth/TLS/config errors."""

    def __init__(self, code: int | None, reply: str, *, retryable: bool):
        super().__init__(reply)
        self.code = code
        self.reply = reply
        self.retryable = retryable


class SmtpTransport:
    """Delivers a batch over ONE authenticated connection (QUIT at the end).

    Error classes: 4xx replies and dropped/refused/timed-out connections are transient →
    reconnect and retry with exponential backoff, at most ``max_retries`` times per message,
    then ``transient_failure`` (the outbox retries next run). 5xx replies and refused
    recipients are permanent and recorded with the server's code and reply; they do not
    stop the batch. When the server cannot be reached at all (or refuses our login/TLS), the
    rest of the batch is left as ``transient_failure`` without hammering it further.

    SMTP cannot tell whether a message went out in an earlier run, so ``detects_duplicates``
    is False: the outbox must not hand over rows already marked delivered.
    """

    name = "smtp"
    detects_duplicates = False

    def __init__(
        self,
        settings: MailSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._sender = settings.sender()
        self._yag: yagmail.SMTP | None = None
        self._sent_on_connection = 0
        self.connections_opened = 0

    # -- connection -------------------------------------------------------------------

    def _make_client(self, password: SecretStr | None) -> yagmail.SMTP:
        s = self.settings
        ctx = s.tls_context() if s.security != "plain" else None
        kwargs: dict[str, object] = {"timeout": s.timeout}
        if s.security == "ssl":
            kwargs["context"] = ctx
        yag = yagmail.SMTP(
            user=s.username or s.from_address,
            # smtp_skip_login=True when there is no username: yagmail never reaches
            # keyring/getpass because a password is always given when it logs in.
            password=password.get_secret_value() if password else "",
            host=s.host,
            port=s.port,
            smtp_ssl=s.security == "ssl",
            smtp_starttls={"context": ctx} if s.security == "starttls" else False,
            smtp_skip_login=not s.username,
            soft_email_validation=False,
            **kwargs,
        )
        yag.set_logging(None)  # yagmail would add its own stderr handler per client
        # yagmail appends "@gmail.com" to a user name without "@"; intranet relays often
        # authenticate plain user names, so set the login name ourselves.
        yag.user = s.username or s.from_address
        return yag

    def _connect(self, password: SecretStr | None) -> smtplib.SMTP:
        self._close()
        yag = self._make_client(password)
        self.connections_opened += 1
        try:
            yag.login()
        except smtplib.SMTPResponseException as exc:
            self._discard(yag)
            # 535 bad credentials, 530 auth required, 554 no service: retrying won't help
            # and repeated bad logins can lock the account. 4xx greetings are retryable.
            transient = 400 <= exc.smtp_code < 500
            raise _ConnectFailed(
                exc.smtp_code, _reply_text(exc.smtp_error), retryable=transient
            ) from exc
        except (smtplib.SMTPNotSupportedError, ssl.SSLError, ssl.CertificateError) as exc:
            self._discard(yag)
            raise _ConnectFailed(None, f"{type(exc).__name__}: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._discard(yag)
            # Refused, reset, timed out (no greeting), DNS failure: worth another try.
            raise _ConnectFailed(None, f"{type(exc).__name__}: {exc}", retryable=True) from exc
        # Without TCP_NODELAY, a TLS record that ends in a small segment waits for the
        # server's delayed ACK (~40 ms per mail on Linux); with it, one connection is fast.
        with contextlib.suppress(OSError, AttributeError):
            yag.smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._yag = yag
        self._sent_on_connection = 0
        return yag.smtp

    def _connection(self, password: SecretStr | None) -> smtplib.SMTP:
        cap = self.settings.max_messages_per_connection
        yag = self._yag
        if yag is None or yag.smtp is None or yag.smtp.sock is None:
            return self._connect(password)
        if cap and self._sent_on_connection >= cap:
            return self._connect(password)
        return yag.smtp

    @staticmethod
    def _discard(yag: yagmail.SMTP, *, polite: bool = True) -> None:
        """QUIT if the socket is still open (and ``polite``), then close; never raises."""
        smtp = yag.smtp
        yag.is_closed = True
        if smtp is None or smtp.sock is None:
            return
        if polite:
            try:
                smtp.quit()
                return
            except (smtplib.SMTPException, OSError):
                pass
        with contextlib.suppress(OSError):
            smtp.close()

    def _drop(self) -> None:
        """Forget a connection that is broken or in an unknown state (no QUIT attempt)."""
        yag, self._yag = self._yag, None
        if yag is not None:
            self._discard(yag, polite=False)

    def _close(self) -> None:
        """End the batch's connection politely (QUIT) if it still looks alive."""
        yag, self._yag = self._yag, None
        if yag is not None:
            self._discard(yag)

    def _backoff(self, attempt: int) -> None:
        delay = self.settings.backoff_seconds * (2 ** (attempt - 1))
        if delay > 0:
            self._sleep(min(delay, 60.0))

    # -- delivery ---------------------------------------------------------------------

    def deliver(
        self, batch: Sequence[OutgoingMessage], *, on_result: ResultCallback | None = None
    ) -> list[DeliveryResult]:
        """Send every message of ``batch``; one result per message, in order. Never raises
        for delivery problems (only for a configuration error such as a missing password)."""
        if not batch:
            return []
        password = self.settings.resolve_password()
        results: list[DeliveryResult] = []
        stop: DeliveryResult | None = None  # set when the server is unusable for this batch
        try:
            for msg in batch:
                if stop is not None:
                    result = DeliveryResult(
                        message_id=msg.message_id,
                        status=DeliveryStatus.TRANSIENT_FAILURE,
                        code=stop.code,
                        reply=f"not attempted: {stop.reply}",
                        attempts=0,
                    )
                else:
                    result, batch_broken = self._send_one(msg, password)
                    if batch_broken:
                        stop = result
                results.append(result)
                if on_result is not None:
                    on_result(result)
        finally:
            self._close()
        counts = {s: sum(r.status is s for r in results) for s in DeliveryStatus}
        log.info(
            "smtp %s:%s: %d delivered, %d transient, %d permanent (%d connection(s))",
            self.settings.host,
            self.settings.port,
            counts[DeliveryStatus.DELIVERED],
            counts[DeliveryStatus.TRANSIENT_FAILURE],
            counts[DeliveryStatus.PERMANENT_FAILURE],
            self.connections_opened,
        )
        return results

    def _send_one(
        self, msg: OutgoingMessage, password: SecretStr | None
    ) -> tuple[DeliveryResult, bool]:
        """Returns (result, batch_broken); batch_broken leaves the rest of the batch for later."""
        max_attempts = 1 + self.settings.max_retries
        attempt = 0

        def result(status: DeliveryStatus, code: int | None, reply: str) -> DeliveryResult:
            return DeliveryResult(
                message_id=msg.message_id, status=status, code=code, reply=reply, attempts=attempt
            )

        try:
            # Flattened once: every attempt (and a reconnect) sends the very same bytes.
            data = mime_bytes(msg, sender=self._sender, date=self._clock())
        except Exception as exc:  # a message that cannot be encoded will never go out
            log.error("cannot build message %s: %s", msg.message_id, exc)
            return result(DeliveryStatus.PERMANENT_FAILURE, None, f"cannot build: {exc}"), False

        while True:
            attempt += 1
            try:
                smtp = self._connection(password)
            except _ConnectFailed as exc:
                log.warning(
                    "smtp connect failed (attempt %d): %s %s", attempt, exc.code or "", exc.reply
                )
                if exc.retryable and attempt < max_attempts:
                    self._backoff(attempt)
                    continue
                # no connection: the message itself never left (the outbox does not count
                # this against the message's attempts)
                return DeliveryResult(message_id=msg.message_id,
                                      status=DeliveryStatus.TRANSIENT_FAILURE, code=exc.code,
                                      reply=exc.reply, attempts=attempt, connected=False), True

            try:
                # = smtp.send_message(mime) without re-flattening the message on every attempt
                refused = smtp.sendmail(self.settings.from_address, [msg.recipient_address], data)
            except smtplib.SMTPRecipientsRefused as exc:
                code, raw = next(iter(exc.recipients.values()), (None, b""))
                reply = _reply_text(raw)
                if code is None or not 400 <= code < 500:
                    # 550 user unknown etc.; smtplib sent RSET, the connection stays usable.
                    return result(DeliveryStatus.PERMANENT_FAILURE, code, reply), False
                # 450/451/452 mailbox busy: retry (smtplib closed the socket itself on 421).
            except smtplib.SMTPResponseException as exc:
                code, reply = exc.smtp_code, _reply_text(exc.smtp_error)
                if not 400 <= code < 500:
                    # 5xx at MAIL FROM / DATA: smtplib sent RSET; go on with the next message.
                    return result(DeliveryStatus.PERMANENT_FAILURE, code, reply), False
                self._drop()  # 421/451 etc.: start over on a fresh connection
            except (smtplib.SMTPException, OSError) as exc:
                # Disconnected mid-transaction, reset, timed out: the state is unknown.
                code, reply = None, f"{type(exc).__name__}: {exc}"
                self._drop()
            else:
                self._sent_on_connection += 1
                if refused:  # only possible with several recipients; kept for completeness
                    code, raw = next(iter(refused.values()))
                    return result(DeliveryStatus.PERMANENT_FAILURE, code, _reply_text(raw)), False
                return result(DeliveryStatus.DELIVERED, 250, "OK"), False

            log.warning(
                "smtp transient failure for %s (attempt %d/%d): %s %s",
                msg.message_id,
                attempt,
                max_attempts,
                code or "",
                reply,
            )
            if attempt >= max_attempts:
                return result(DeliveryStatus.TRANSIENT_FAILURE, code, reply), True
            self._backoff(attempt)


class FileTransport:
    """Writes each message as ``<outbox_dir>/<message-id>.eml`` (demo, dry runs, audits).

    A file that already exists means the message went out before: it is left untouched and
    reported as delivered with ``already_delivered=True`` — so ``deliver`` may be called again
    with the same messages safely.
    """

    name = "file"
    detects_duplicates = True

    def __init__(
        self,
        settings: MailSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.settings = settings
        self.outbox_dir = Path(settings.outbox_dir)
        self._clock = clock
        self._sender = settings.sender()

    def path_for(self, message_id: str) -> Path:
        return self.outbox_dir / f"{message_id}.eml"

    def already_delivered(self, message_id: str) -> bool:
        return self.path_for(message_id).exists()

    def deliver(
        self, batch: Sequence[OutgoingMessage], *, on_result: ResultCallback | None = None
    ) -> list[DeliveryResult]:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        results = []
        for msg in batch:
            result = self._write(msg)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    def _write(self, msg: OutgoingMessage) -> DeliveryResult:
        target = self.path_for(msg.message_id)
        if target.exists():
            return DeliveryResult(
                message_id=msg.message_id,
                status=DeliveryStatus.DELIVERED,
                reply=f"already delivered: {target}",
                attempts=0,
                already_delivered=True,
            )
        data = mime_bytes(msg, sender=self._sender, date=self._clock())
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(data)
            # link() fails if the target exists: never overwrite, never leave half a file.
            os.link(tmp, target)
        except FileExistsError:
            return DeliveryResult(
                message_id=msg.message_id,
                status=DeliveryStatus.DELIVERED,
                reply=f"already delivered: {target}",
                attempts=0,
                already_delivered=True,
            )
        except OSError as exc:
            return DeliveryResult(
                message_id=msg.message_id,
                status=DeliveryStatus.TRANSIENT_FAILURE,
                reply=f"{type(exc).__name__}: {exc}",
                attempts=1,
            )
        finally:
            tmp.unlink(missing_ok=True)
        return DeliveryResult(
            message_id=msg.message_id,
            status=DeliveryStatus.DELIVERED,
            reply=str(target),
            attempts=1,
            channel=self.name,
        )


Transport = SmtpTransport | FileTransport


def make_transport(settings: MailSettings) -> Transport:
    """The transport ``settings.mode`` asks for."""
    return SmtpTransport(settings) if settings.mode == "smtp" else FileTransport(settings)


def load_mail_settings(path: str | Path | None = None) -> MailSettings:
    """``config/mail.yaml`` (or ``path``) validated into MailSettings; defaults if absent.

    Errors point at ``file:line: field``. A missing explicit ``path`` is an error; the
    default file is optional (defaults send to ``duban mail-sink`` on 127.0.0.1:8025).
    """
    from duban.yamlio import load_model

    default = Path(__file__).resolve().parents[1] / "config" / "mail.yaml"
    if path is None:
        if not default.exists():
            return MailSettings()
        path = default
    return load_model(MailSettings, path)
