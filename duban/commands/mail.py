"""``duban mail``: a local SMTP sink and a test send with the configured MailSettings."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

DEFAULT_SINK_DIR = Path("var/mail-sink")

app = typer.Typer(
    help="邮件：本地收信服务器（sink）与测试发送 (mail sink and test send).",
    no_args_is_help=True,
)


@app.command("sink")
def sink(
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (127.0.0.1; another address needs --public)."
    ),
    port: int = typer.Option(8025, "--port", help="Port to listen on."),
    directory: Annotated[
        Path, typer.Option("--dir", help="Where each received mail is stored as .eml.")
    ] = DEFAULT_SINK_DIR,
    public: bool = typer.Option(
        False,
        "--public",
        help="Accept mail from other machines: every interface (or the --host given). "
        "The sink has no authentication.",
    ),
) -> None:
    """Run a local SMTP server that stores every mail it receives (Ctrl-C to stop).

    Only this machine can send to it unless --public is given.
    """
    from duban.binding import bind_address
    from notifications.sink import start_sink

    host = bind_address(host, public=public, what="mail sink")
    if public:
        typer.echo(f"注意：mail sink 对外开放（{host}），任何能连到本机的人都可以向它投递邮件")
    try:
        controller = start_sink(host, port, directory, echo=typer.echo, public=public)
    except (OSError, RuntimeError) as exc:
        from duban.errors import UserError

        raise UserError(f"cannot listen on {host}:{port}: {exc}") from exc
    typer.echo(f"mail sink listening on {host}:{port}, saving to {directory} (Ctrl-C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
        typer.echo("mail sink stopped")


@app.command("test-send")
def test_send(
    to: str = typer.Option(..., "--to", help="Recipient address."),
    name: str = typer.Option("测试收件人", "--name", help="Recipient display name."),
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Mail settings YAML (default: config/mail.yaml if present)."),
    ] = None,
) -> None:
    """Send one sample digest (text + HTML + .xlsx with a Chinese file name) to --to.

    Try each mailbox type your recipients use (163, QQ, 政务邮箱): subject, table, file name.
    """
    from notifications.mail import load_mail_settings, make_transport
    from notifications.models import OutgoingMessage, Recipient, make_message_id
    from notifications.render import SHANGHAI, DigestContext, DigestRow, render_digest

    settings = load_mail_settings(config)
    now = datetime.now(UTC)
    today = now.astimezone(SHANGHAI).date()
    ctx = DigestContext(
        recipient_name=name,
        unit_name="测试单位",
        generated_at=now,
        rows=(
            DigestRow(
                item="（测试）关于报送年度工作要点落实情况的通知",
                requirement="请核对本邮件的标题、表格与附件名称显示是否正常",
                due_date=today + timedelta(days=3),
                working_days_left=3,
            ),
            DigestRow(
                item="（测试）第二项：预算<草案> & 说明",
                requirement="特殊字符应原样显示",
                due_date=today,
                working_days_left=0,
            ),
        ),
    )
    rendered = render_digest(ctx, attach_xlsx=True)
    message_id = make_message_id(f"test.{uuid.uuid4().hex[:16]}", settings.message_id_domain)
    try:
        msg = OutgoingMessage.from_rendered(
            rendered, message_id=message_id, recipient=Recipient(name=name, email=to)
        )
    except ValueError as exc:
        from duban.errors import UserError

        raise UserError(f"--to: {exc}") from exc
    result = make_transport(settings).deliver([msg])[0]
    where = (
        f"{settings.host}:{settings.port} ({settings.security})"
        if settings.mode == "smtp"
        else str(settings.outbox_dir)
    )
    typer.echo(
        f"{result.status.value}: <{message_id}> to {to} via {settings.mode} {where}; "
        f"attempts={result.attempts} code={result.code} reply={result.reply}"
    )
    if not result.delivered:
        raise typer.Exit(1)
