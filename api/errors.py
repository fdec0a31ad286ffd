"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error of the API has ``type``, ``title``, ``status``, ``detail`` and a stable
``code``; a validation error adds ``errors``, one entry per field (``field`` is a dotted
path such as ``items.0.plan``). A billing service refusing something (``BillingError``)
is a 422: the request was well formed, the business said no.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.problems import PROBLEM_BASE

PROBLEM_CONTENT_TYPE = "application/problem+json"

TITLES = {
    400: "Invalid request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
}


class ProblemError(exceptions.APIException):
    """An error a view raises with its own status and code."""

    def __init__(self, status_code: int, detail: str, code: str) -> None:
        self.status_code = status_code
        super().__init__(detail, code)


def problem_body(
    status_code: int, detail: str, code: str, *, instance: str = "", errors: list | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code.replace("_", "-"),
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    status_code: int,
    detail: str,
    code: str,
    *,
    instance: str = "",
    errors: list | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        problem_body(status_code, detail, code, instance=instance, errors=errors),
        status=status_code,
        headers=headers,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _flatten(detail: Any, path: str = "") -> list[dict[str, str]]:
    """DRF's nested error structure as a flat list of ``{field, message, code}``."""
    if isinstance(detail, dict):
        entries = []
        for name, value in detail.items():
            # Items of a list come keyed by their index (0 included).
            name = "" if name == "non_field_errors" else str(name)
            entries += _flatten(value, f"{path}.{name}" if path and name else path or name)
        return entries
    if isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            return [
                {
                    "field": path,
                    "message": str(item),
                    "code": getattr(item, "code", None) or "invalid",
                }
                for item in detail
            ]
        entries = []
        for index, item in enumerate(detail):
            entries += _flatten(item, f"{path}.{index}" if path else str(index))
        return entries
    return [{"field": path, "message": str(detail), "code": getattr(detail, "code", "invalid")}]


def _first_code(detail: Any, default: str) -> str:
    if isinstance(detail, exceptions.ErrorDetail):
        return detail.code or default
    if isinstance(detail, list | tuple) and detail:
        return _first_code(detail[0], default)
    return default


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    """REST_FRAMEWORK's EXCEPTION_HANDLER: every error as a problem document. Anything
    not listed here is a bug and propagates as a 500."""
    request = context.get("request")
    instance = request.path if request is not None else ""
    if isinstance(exc, DjangoValidationError):
        # A billing service's refusal (BillingError) or a model's own validation.
        messages = exc.messages or ["The request was refused."]
        set_rollback()
        return problem_response(
            422,
            " ".join(messages),
            getattr(exc, "code", None) or "billing_refused",
            instance=instance,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
    set_rollback()

    status_code = exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        summary = "; ".join(
            f"{entry['field']}: {entry['message']}" if entry["field"] else entry["message"]
            for entry in errors[:5]
        )
        return problem_response(
            status.HTTP_400_BAD_REQUEST,
            summary or "The request is not valid.",
            "validation_failed",
            instance=instance,
            errors=errors,
            headers=headers,
        )
    detail = exc.detail
    if isinstance(detail, dict | list):
        text = "; ".join(entry["message"] for entry in _flatten(detail)) or str(exc)
    else:
        text = str(detail)
    code = _first_code(detail, exc.default_code)
    return problem_response(status_code, text, code, instance=instance, headers=headers)


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Dotted path of the field; empty for the request.")
    message = serializers.CharField()
    code = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """For the schema: the shape of every error."""

    type = serializers.CharField(help_text="A URI reference naming the kind of problem.")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable, machine-readable reason.")
    instance = serializers.CharField(required=False)
    errors = ProblemFieldErrorSerializer(many=True, required=False)
