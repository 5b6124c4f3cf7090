"""Which address a duban server listens on: loopback unless the user says ``--public``.

``duban serve`` (the Prefect server and UI) and ``duban mail-sink`` bind to 127.0.0.1 by
default, so nothing on the network can reach them. A non-loopback ``--host`` is refused
unless ``--public`` is given too; ``--public`` alone binds every interface (0.0.0.0). The
Prefect server additionally needs an API auth string when it is public
(:func:`check_auth_string`).
"""

from __future__ import annotations

import ipaddress

from duban.errors import UserError

LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # only with --public
AUTH_ENV = "PREFECT_SERVER_API_AUTH_STRING"  # what the Prefect server reads ("user:password")
CLIENT_AUTH_ENV = "PREFECT_API_AUTH_STRING"  # what Prefect clients send
MIN_PASSWORD = 8


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``; anything else (a name, 0.0.0.0, a LAN address)
    may be reachable from other machines."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_unspecified(host: str) -> bool:
    """0.0.0.0 or :: — every interface; clients on this machine connect via loopback."""
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_unspecified
    except ValueError:
        return False


def bind_address(host: str | None, *, public: bool, what: str) -> str:
    """The address to listen on, or a UserError (exit code 2) explaining ``--public``.

    ``host`` None → 127.0.0.1, or 0.0.0.0 with ``public``. A non-loopback host needs
    ``public``; ``public`` with an explicit loopback host is a contradiction.
    """
    if host is None or not host.strip():
        return ALL_INTERFACES if public else LOOPBACK
    host = host.strip()
    if is_loopback(host):
        if public:
            raise UserError(f"{what}：--public 表示对外开放，不能与回环地址 --host {host} 同时使用"
                            f"（去掉 --host 即监听所有网卡 {ALL_INTERFACES}）")
        return host
    if not public:
        raise UserError(f"{what}：--host {host} 不是本机回环地址，其他机器可以访问；默认只监听 "
                        f"{LOOPBACK}。确需对外开放请同时加 --public")
    return host


def check_auth_string(value: str | None, *, source: str = AUTH_ENV) -> str:
    """A valid ``user:password`` basic-auth string, or a UserError that names the problem
    (never the value itself)."""
    if value is None or not value.strip():
        raise UserError(f"缺少 API 认证：对外开放的 Prefect 服务器必须设置环境变量 {source}"
                        "（格式 用户名:密码，例如 export "
                        f"{source}='duban:一个足够长的密码'）")
    user, sep, password = value.partition(":")
    problem = None
    if not sep:
        problem = "缺少冒号，应为 用户名:密码"
    elif not user.strip() or user != user.strip():
        problem = "用户名为空或首尾有空格"
    elif any(ord(c) < 32 or ord(c) == 127 for c in value):
        problem = "含有换行或控制字符"
    elif len(password) < MIN_PASSWORD:
        problem = f"密码太短（至少 {MIN_PASSWORD} 个字符）"
    if problem:
        raise UserError(f"环境变量 {source} 格式不对：{problem}")
    return value


__all__ = [
    "ALL_INTERFACES",
    "AUTH_ENV",
    "CLIENT_AUTH_ENV",
    "LOOPBACK",
    "bind_address",
    "check_auth_string",
    "is_loopback",
    "is_unspecified",
]
