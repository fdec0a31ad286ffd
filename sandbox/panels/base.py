"""What every fake control panel shares: a real HTTP server on 127.0.0.1, run in a
thread, with fault injection the tests drive.

Subclasses implement ``handle(request) -> Reply`` with the panel's paths, auth
and JSON shapes. The base class applies injected faults first, in order:

- ``fail_next(n, status=500)``: the next ``n`` matching calls answer ``status``
  with an HTML error page, as a crashed backend behind a proxy would;
- ``hang_next(n, seconds, after=False)``: the next calls stall past the client's
  timeout; with ``after=True`` the panel does the work first and then stalls, so
  the change happens but the reply never arrives;
- ``malform_next(n, after=False)``: the next calls answer 200 with a body that
  is not what the API promises;
- ``busy_for(seconds)``: until that time has passed, calls answer 503 with a
  ``Retry-After`` header, as a panel whose API daemon is restarting or
  overloaded does.

A fault can be limited to paths containing ``path`` and to one HTTP ``method``.
Every request is recorded in ``requests`` (headers included) so tests can check
what went over the wire.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MALFORMED_BODY = b'{"metadata": {"result": 1, "reas'  # cut short mid-reply
ERROR_PAGE = "<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    client: str = ""  # the address the request came from

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def args(self) -> dict[str, str]:
        """Query string and form body merged, as panels reading either do."""
        merged = dict(self.query)
        if "json" not in self.header("content-type"):
            merged.update(self.form())
        return merged


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # bytes/str are sent as they are, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    reason: str | None = None  # some panels put the error text in the status line

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/html")
        return json.dumps(self.body).encode(), "application/json"


@dataclass
class Fault:
    kind: str  # "fail", "hang" or "malform"
    remaining: int
    path: str | None = None
    method: str | None = None
    status: int = 500
    seconds: float = 2.0
    after: bool = False


class FakePanel:
    """Base for the fakes; use as a context manager or call start()/stop()."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._faults: deque[Fault] = deque()
        self._busy_until = 0.0
        self._busy_path: str | None = None
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle.

    def start(self) -> FakePanel:
        panel = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, each keep-alive reply
            # would wait ~40 ms for the client's delayed ACK.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                panel._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass  # tests read panel.requests instead

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda *args: None  # clients that gave up on a hang
        # A short poll interval keeps stop() (and so every test's teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakePanel:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def hostname(self) -> str:
        return "127.0.0.1"

    # Fault injection.

    def fail_next(
        self, n: int = 1, status: int = 500, path: str | None = None, method: str | None = None
    ) -> None:
        with self.lock:
            self._faults.append(Fault("fail", n, path, method, status=status))

    def hang_next(
        self,
        n: int = 1,
        seconds: float = 2.0,
        after: bool = False,
        path: str | None = None,
        method: str | None = None,
    ) -> None:
        with self.lock:
            self._faults.append(Fault("hang", n, path, method, seconds=seconds, after=after))

    def malform_next(
        self, n: int = 1, after: bool = False, path: str | None = None, method: str | None = None
    ) -> None:
        with self.lock:
            self._faults.append(Fault("malform", n, path, method, after=after))

    def busy_for(self, seconds: float, path: str | None = None) -> None:
        with self.lock:
            self._busy_until = time.monotonic() + seconds
            self._busy_path = path

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
            self._busy_until = 0.0

    def busy_reply(self) -> Reply:
        """What the panel answers while busy; panels override it with their own body."""
        return Reply(503, ERROR_PAGE.format(status=503), {"Retry-After": "1"})

    def _is_busy(self, request: Request) -> bool:
        with self.lock:
            return time.monotonic() < self._busy_until and (
                self._busy_path is None or self._busy_path in request.path
            )

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if (fault.path is None or fault.path in request.path) and (
                    fault.method is None or fault.method == request.method
                ):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # To implement.

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    # Plumbing.

    def _dispatch(self, http: BaseHTTPRequestHandler) -> None:
        split = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        request = Request(
            method=http.command,
            path=unquote(split.path),
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in http.headers.items()},
            body=http.rfile.read(length) if length else b"",
            client=http.client_address[0],
        )
        with self.lock:
            self.requests.append(request)
        if self._is_busy(request):
            self._write(http, self.busy_reply())
            return
        fault = self._take_fault(request)
        if fault is None:
            reply = self._handle_safely(request)
        elif fault.kind == "fail":
            reply = Reply(fault.status, ERROR_PAGE.format(status=fault.status))
        elif fault.kind == "hang":
            reply = self._handle_safely(request) if fault.after else Reply(504, "")
            if self._stopping.wait(fault.seconds):
                return
        else:
            if fault.after:
                self._handle_safely(request)
            reply = Reply(200, MALFORMED_BODY, {"Content-Type": "application/json"})
        self._write(http, reply)

    def _handle_safely(self, request: Request) -> Reply:
        try:
            with self.lock:
                return self.handle(request)
        except Exception as exc:  # a bug in the fake shows up as a 500 the test can read
            return Reply(500, f"fake panel error: {type(exc).__name__}: {exc}")

    def _write(self, http: BaseHTTPRequestHandler, reply: Reply) -> None:
        body, content_type = reply.encoded()
        try:
            http.send_response(reply.status, reply.reason)
            http.send_header("Content-Type", content_type)
            http.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                if name.lower() != "content-type":
                    http.send_header(name, value)
            http.end_headers()
            http.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out and left
