"""The pages of the simulated panel and the simulated registrar, served on ``127.0.0.1``.

``provisioning.modules.simulated`` keeps its accounts in Redis and hands out single
sign-on links ``<base>/sso/<server hostname>/<token>`` when ``SIMULATED_PANEL_URL`` names
this server. Opening one uses the token up (a second visit is refused, as on a real panel)
and shows the account it opens: domain, package, status. ``/registrar/`` lists the domains
the simulated registrar (``provisioning.registrars.simulated``) holds. Nothing here writes
anything but the spent token.

    with SimulatedPanelServer(redis_url="redis://127.0.0.1:6379/0") as panel:
        os.environ["SIMULATED_PANEL_URL"] = panel.url
"""

from __future__ import annotations

import html
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis

PANEL_PREFIX = "tessera:simpanel:"
REGISTRAR_PREFIX = "tessera:simregistrar:"
_SSO_PATH = re.compile(r"/sso/([A-Za-z0-9.-]{1,253})/([A-Za-z0-9_-]{16,64})")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:2rem auto;max-width:40rem;padding:0 1rem}}
dt{{font-weight:600}}dd{{margin:0 0 .5rem}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ccc;padding:.25rem .75rem;text-align:left}}</style>
</head><body><header><p>Simulated panel — a local stand-in</p></header>
<main>{body}</main></body></html>"""


def _page(title: str, body: str) -> bytes:
    return _PAGE.format(title=html.escape(title), body=body).encode()


class SimulatedPanelServer:
    """The simulated panel's sign-on page and the simulated registrar's list, in a thread."""

    def __init__(self, *, redis_url: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.redis_url = redis_url
        self._address = (host, port)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SimulatedPanelServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimulatedPanelServer:
        store = redis.Redis.from_url(self.redis_url, decode_responses=True)
        handler = type("Handler", (_Handler,), {"store": store})
        self._httpd = ThreadingHTTPServer(self._address, handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="simulated-panel",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)


def _account_opened(store: redis.Redis, hostname: str, token: str) -> dict[str, Any] | None:
    prefix = f"{PANEL_PREFIX}{hostname}:"
    remote_id = store.getdel(f"{prefix}sso:{token}")
    if not remote_id:
        return None
    username = store.get(f"{prefix}remote:{remote_id}")
    raw = store.get(f"{prefix}account:{username}") if username else None
    return json.loads(raw) if raw else None


def _registrations(store: redis.Redis) -> list[dict[str, Any]]:
    records = []
    for key in store.scan_iter(f"{REGISTRAR_PREFIX}*:domain:*", count=500):
        raw = store.get(key)
        if raw:
            record = json.loads(raw)
            record["registrar"] = key[len(REGISTRAR_PREFIX) :].split(":domain:", 1)[0]
            records.append(record)
    return sorted(records, key=lambda r: r.get("domain", ""))


class _Handler(BaseHTTPRequestHandler):
    store: redis.Redis

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        try:
            if path == "/":
                self._send(200, _page("Simulated panel", _INDEX))
            elif path == "/registrar/":
                self._send(200, _registrar_page(_registrations(self.store)))
            elif match := _SSO_PATH.fullmatch(path):
                account = _account_opened(self.store, match.group(1), match.group(2))
                if account is None:
                    self._send(
                        403,
                        _page(
                            "Sign-in link expired",
                            "<h1>This sign-in link is not valid</h1><p>Sign-in links work "
                            "once and for five minutes: open the control panel again from "
                            "the client area.</p>",
                        ),
                    )
                else:
                    self._send(200, _account_page(match.group(1), account))
            else:
                self._send(404, _page("Not found", "<h1>Not found</h1>"))
        except redis.RedisError as exc:
            self._send(503, _page("Unavailable", f"<h1>Redis unavailable</h1><p>{exc}</p>"))


_INDEX = (
    "<h1>Simulated panel</h1><p>Control panel sign-on links of the simulated module open "
    'here. The simulated registrar\'s domains are listed on <a href="/registrar/">'
    "/registrar/</a>.</p>"
)


def _account_page(hostname: str, account: dict[str, Any]) -> bytes:
    rows = "".join(
        f"<dt>{label}</dt><dd>{html.escape(str(account.get(key) or '—'))}</dd>"
        for label, key in (
            ("Domain", "domain"),
            ("User name", "username"),
            ("Package", "package"),
            ("Status", "status"),
        )
    )
    body = (
        f"<h1>Control panel</h1><p>Signed in to <strong>{html.escape(hostname)}</strong> "
        f"as {html.escape(str(account.get('username', '')))}.</p><dl>{rows}</dl>"
    )
    return _page("Control panel", body)


def _registrar_page(records: list[dict[str, Any]]) -> bytes:
    if not records:
        rows = '<tr><td colspan="4">No domain registered yet.</td></tr>'
    else:
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(r.get(k, '')))}</td>"
                for k in ("domain", "status", "expires_on", "registrar")
            )
            + "</tr>"
            for r in records
        )
    body = (
        "<h1>Simulated registrar</h1><table><thead><tr><th>Domain</th><th>Status</th>"
        f"<th>Expires</th><th>Registrar account</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _page("Simulated registrar", body)
