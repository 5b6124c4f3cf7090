"""``duban serve``: the Prefect server on loopback, duban's deployments from prefect.yaml, and a
runner that executes them on schedule — everything on one machine, one command.

Equivalent to ``prefect server start`` + ``prefect deploy --all`` + ``prefect worker start``
(see README), but with ``serve()``: no work pool or worker process to manage.

Access: 127.0.0.1 only, unless ``--public`` (every interface, or a non-loopback ``--host``);
then the API requires the basic-auth string from ``PREFECT_SERVER_API_AUTH_STRING``
("user:password"), which the runner in this process uses as its client credentials.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from duban.binding import AUTH_ENV, bind_address, check_auth_string, is_loopback
from duban.errors import UserError
from duban.prefect_server import start_server

console = Console(highlight=False, soft_wrap=True)
ROOT = Path(__file__).resolve().parents[2]


def load_deployments(prefect_yaml: Path) -> list[Any]:
    """``RunnerDeployment`` objects for every deployment of prefect.yaml (schedules included)."""
    from prefect.schedules import Cron

    data = yaml.safe_load(prefect_yaml.read_text(encoding="utf-8"))
    out = []
    for dep in data.get("deployments", []):
        path, _, func = dep["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, func)
        schedules = [Cron(s["cron"], timezone=s.get("timezone", "Asia/Shanghai"))
                     for s in dep.get("schedules") or []]
        out.append(flow.to_deployment(
            name=dep["name"], description=dep.get("description"), tags=dep.get("tags"),
            parameters=dep.get("parameters") or {}, schedules=schedules or None,
            concurrency_limit=dep.get("concurrency_limit")))
    return out


def on_one_host(deployments: list[Any]) -> list[Any]:
    """The deployments as ``duban serve`` runs them: one process runs one flow run at a time,
    so the daily run checks the plans itself instead of fanning out to partition runs it would
    then wait for in vain (the fan-out is for several workers: see README §8)."""
    for d in deployments:
        if "fan_out" in (d.parameters or {}):
            d.parameters = {**d.parameters, "fan_out": False}
    return deployments


def server_access(host: str | None, *, public: bool) -> tuple[str, str | None]:
    """(bind address, auth string or None) for ``duban serve``; a UserError (exit 2) when a
    non-loopback address lacks ``--public`` or a public server lacks a valid auth string.
    On loopback an auth string set in the environment is used too (and must be valid)."""
    bind = bind_address(host, public=public, what="duban serve")
    value = os.environ.get(AUTH_ENV)
    if not is_loopback(bind) or value is not None:
        return bind, check_auth_string(value)
    return bind, None


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Bind address: 127.0.0.1 by default; another address needs --public.")] = None,
    port: Annotated[int, typer.Option("--port")] = 4200,
    public: Annotated[bool, typer.Option("--public", help="Listen on every interface (or the --host given) and require the API auth string from PREFECT_SERVER_API_AUTH_STRING (user:password).")] = False,
    public_url: Annotated[str | None, typer.Option("--public-url", help="With --public: the address browsers use, e.g. http://duban.example.gov.cn:4200 (default: this host's name).")] = None,
    home: Annotated[Path | None, typer.Option("--home", help="Prefect home (server database); default var/prefect.")] = None,
    register_only: Annotated[bool, typer.Option("--register-only", help="Register the deployments, print the UI address and exit (the server keeps running).")] = False,
) -> None:
    """Start the Prefect server and run duban's scheduled flows (daily 09:00, monthly, on-demand
    assessment), printing the UI address. Stop with Ctrl-C.

    Only this machine can reach it unless --public is given; a public server needs
    PREFECT_SERVER_API_AUTH_STRING=user:password (the UI then asks for it).

    Examples: duban serve   (then open http://127.0.0.1:4200) ·
    PREFECT_SERVER_API_AUTH_STRING='duban:…' duban serve --public --public-url http://10.1.2.3:4200
    """
    bind, auth = server_access(host, public=public)
    if public_url and not public:
        raise UserError("--public-url 只能与 --public 一起使用")
    prefect_yaml = ROOT / "prefect.yaml"
    if not prefect_yaml.exists():
        raise UserError(f"找不到 {prefect_yaml}")
    home = home or ROOT / "var" / "prefect"
    try:
        server = start_server(home, host=bind, port=port, auth_string=auth,
                              public_url=public_url)
    except RuntimeError as exc:
        raise UserError(f"Prefect 服务器未能启动：{exc}") from exc
    console.print(f"Prefect 服务器：{server.ui_url}"
                  + ("（已在运行，复用）" if server.process is None else "")
                  + (f"，监听 {bind}（对外开放，需用户名和密码）" if public else "")
                  + ("（API 需要认证）" if auth and not public else ""))
    with server.use():
        deployments = on_one_host(load_deployments(prefect_yaml))
        if register_only:
            for d in deployments:
                d.apply()
            console.print(f"已注册 {len(deployments)} 个部署：" + "、".join(
                f"{d.flow_name}/{d.name}" for d in deployments))
            return
        from prefect import serve as prefect_serve

        console.print(f"正在运行 {len(deployments)} 个部署（每日 09:00 督办检查、每月第一个工作日"
                      "通报、按需考核）；按 Ctrl-C 停止。")
        try:
            prefect_serve(*deployments, limit=1)
        finally:
            server.stop()
            console.print("已停止")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


__all__ = ["load_deployments", "register", "serve", "server_access"]
