"""A client that knows nothing of Tessera but its OpenAPI document: it finds operations
by operationId, fills in path templates, authenticates as the security scheme says,
checks each request body and each response against the document's schemas, and sends
over any ``send(method, url, headers, body) -> (status, headers, bytes)``."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

Send = Callable[[str, str, dict[str, str], bytes | None], tuple[int, dict[str, str], bytes]]


class ContractError(AssertionError):
    pass


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


class OpenApiClient:
    def __init__(self, document: dict, send: Send, *, token: str) -> None:
        self.document = document
        self.send = send
        self.token = token
        self.operations: dict[str, tuple[str, str, dict]] = {}
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                self.operations[operation["operationId"]] = (method.upper(), path, operation)

    def _validate(self, schema: dict, value: Any, what: str) -> None:
        # The document is the root, so its "#/components/..." references resolve.
        validator = Draft202012Validator(
            {**schema, "components": self.document.get("components", {})},
            format_checker=FormatChecker(),
        )
        errors = sorted(validator.iter_errors(value), key=lambda e: e.path)
        if errors:
            raise ContractError(f"{what}: {errors[0].message} at {list(errors[0].path)}")

    def _auth_headers(self, operation: dict) -> dict[str, str]:
        headers = {}
        for requirement in operation.get("security", self.document.get("security", [])):
            for name in requirement:
                scheme = self.document["components"]["securitySchemes"][name]
                if scheme["type"] == "http" and scheme["scheme"] == "bearer":
                    headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def call(
        self,
        operation_id: str,
        *,
        path: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        body: Any = None,
        idempotent: bool = False,
    ) -> Reply:
        if operation_id not in self.operations:
            raise ContractError(f"the document has no operation {operation_id}")
        method, template, operation = self.operations[operation_id]
        url = re.sub(r"\{(\w+)\}", lambda m: str((path or {})[m.group(1)]), template)
        parameters = {p["name"]: p for p in operation.get("parameters", [])}
        for name in query or {}:
            if parameters.get(name, {}).get("in") != "query":
                raise ContractError(f"{operation_id} takes no query parameter {name}")
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        headers = {"Accept": "application/json", **self._auth_headers(operation)}
        if idempotent:
            if parameters.get("Idempotency-Key", {}).get("in") != "header":
                raise ContractError(f"{operation_id} documents no Idempotency-Key")
            headers["Idempotency-Key"] = uuid.uuid4().hex
        payload = None
        if body is not None:
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                raise ContractError(f"{operation_id} takes no JSON body")
            self._validate(content["application/json"]["schema"], body, f"{operation_id} body")
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body).encode()
        status, response_headers, raw = self.send(method, url, headers, payload)
        documented = operation["responses"].get(str(status))
        if documented is None:
            raise ContractError(f"{operation_id} answered {status}, which is not documented")
        content_type = response_headers.get("Content-Type", "").split(";")[0]
        parsed: Any = None
        if documented.get("content"):
            if content_type not in documented["content"]:
                raise ContractError(f"{operation_id} {status} sent {content_type}")
            parsed = json.loads(raw) if content_type.endswith("json") else raw
            schema = documented["content"][content_type].get("schema", {})
            if content_type.endswith("json"):
                self._validate(schema, parsed, f"{operation_id} {status} response")
        return Reply(status, response_headers, parsed)
