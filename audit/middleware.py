"""Binds the request to the audit context, so entries written while serving it name the
user (or API key) and carry the request id and address."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.context import request_bind, request_unbind

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class AuditContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        # A proxy's id ties the entry to its access log; anything odd is replaced.
        request.audit_request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_bind(request)
        try:
            return self.get_response(request)
        finally:
            request_unbind(token)
