"""A local RDAP server (RFC 9082 queries, RFC 9083 answers) for domain availability tests.

``/domain/<name>`` answers 200 with a domain object for a registered name and 404 with an
RFC 9083 error object for any other. Names listed in ``faults`` misbehave the way real
registries do: a server error, a rate limit, a body that is not JSON, an object of the
wrong class, a slow answer, a redirect to another base URL. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

RDAP_CONTENT_TYPE = "application/rdap+json"
CONFORMANCE = ["rdap_level_0"]


@dataclass
class RecordedRequest:
    path: str
    accept: str


@dataclass
class RdapServer:
    registered: set[str] = field(default_factory=set)
    # name → "500" | "503" | "429" | "garbage" | "wrong-class" | "slow" | "redirect"
    faults: dict[str, str] = field(default_factory=dict)
    slow_s: float = 2.0
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> RdapServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                return

            def _send(self, status: int, body: object, content_type: str = RDAP_CONTENT_TYPE):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "60")
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, title: str) -> None:
                self._send(
                    status,
                    {
                        "rdapConformance": CONFORMANCE,
                        "errorCode": status,
                        "title": title,
                        "description": [title],
                    },
                )

            def do_GET(self) -> None:
                server.requests.append(RecordedRequest(self.path, self.headers.get("Accept", "")))
                path = self.path.split("?", 1)[0]
                if path.startswith("/moved/"):
                    path = path[len("/moved") :]
                if not path.startswith("/domain/"):
                    self._error(400, "Bad Request")
                    return
                name = unquote(path[len("/domain/") :]).lower().rstrip(".")
                fault = server.faults.get(name)
                if fault in ("500", "503", "429"):
                    self._error(int(fault), "Try again later")
                    return
                if fault == "garbage":
                    self._send(200, b"<html>registry maintenance</html>", "text/html")
                    return
                if fault == "wrong-class":
                    self._send(
                        200,
                        {"rdapConformance": CONFORMANCE, "objectClassName": "entity"},
                    )
                    return
                if fault == "slow":
                    time.sleep(server.slow_s)
                if fault == "redirect" and not self.path.startswith("/moved/"):
                    self.send_response(301)
                    self.send_header("Location", f"/moved/domain/{name}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if name in server.registered:
                    self._send(200, _domain_object(name))
                    return
                self._error(404, "Not Found")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def bootstrap(self, tlds: list[str]) -> dict:
        """An RFC 9224 bootstrap document sending ``tlds`` to this server."""
        return {
            "description": "RDAP bootstrap file for Domain Name System registrations",
            "publication": "2026-01-01T00:00:00Z",
            "services": [[tlds, [self.base_url]]],
            "version": "1.0",
        }


def _domain_object(name: str) -> dict:
    return {
        "rdapConformance": CONFORMANCE,
        "objectClassName": "domain",
        "handle": f"{name.replace('.', '_').upper()}-TEST",
        "ldhName": name.upper(),
        "status": ["active", "client transfer prohibited"],
        "events": [
            {"eventAction": "registration", "eventDate": "2010-03-19T00:00:00Z"},
            {"eventAction": "expiration", "eventDate": "2031-03-19T00:00:00Z"},
        ],
        "nameservers": [
            {"objectClassName": "nameserver", "ldhName": "NS1.EXAMPLE.NET"},
        ],
        "notices": [{"title": "Terms of Use", "description": ["Test registry."]}],
    }
