"""How the tenant API describes itself in OpenAPI (drf-spectacular): the bearer key
scheme, the scope each operation needs, ``Idempotency-Key`` on every POST, and the
problem documents every operation may answer with."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import get_public_schema_name
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from accounts.branding import branding_get
from api.errors import PROBLEM_CONTENT_TYPE, ProblemSerializer
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import MAX_KEY_LENGTH
from api.permissions import required_scope

PROBLEM_DESCRIPTIONS = {
    "400": "The request is malformed or a field is invalid (see ``errors``).",
    "401": "No API key, or a key that is not valid, revoked or expired.",
    "403": "The key lacks the scope, or is used from an address it is not allowed from.",
    "404": "No such object here (or the key belongs to another site).",
    "409": "A request with the same Idempotency-Key is still running, or a conflict.",
    "415": "The body is not JSON.",
    "422": "Well formed, but refused: the billing rules say no, or the Idempotency-Key "
    "was used for a different request.",
    "429": "Too many requests for this key; retry after ``Retry-After`` seconds.",
    "503": "The provider could not be reached; retry later.",
}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.keys.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "tsk_<prefix>_<secret>",
            "description": "An API key of this site, made in the reseller console. Each key "
            "has scopes; an operation's description says which scope it needs.",
        }


class TenantApiSchema(AutoSchema):
    def get_description(self) -> str:
        description = super().get_description() or ""
        scope = required_scope(self.view, self.method)
        if scope:
            description = f"{description}\n\nRequires the `{scope}` scope.".strip()
        return description

    def get_tags(self) -> list[str]:
        tag = getattr(self.view, "schema_tag", None)
        return [tag] if tag else super().get_tags()

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
                    OpenApiParameter.HEADER,
                    required=False,
                    description="Makes the POST safe to retry: the same key and body within "
                    "24 hours return the first response instead of acting again.",
                )
            )
        return parameters

    def _problem_codes(self) -> list[str]:
        codes = ["401", "403", "404", "429"]
        if self.method in ("POST", "PATCH", "PUT"):
            codes += ["400", "409", "415", "422"]
        elif self.method == "GET":
            codes.append("400")
        codes += [str(code) for code in getattr(self.view, "extra_problem_codes", ())]
        return sorted(set(codes))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._problem_codes():
            if code in responses:
                continue
            response = self._get_response_for_code(
                ProblemSerializer, code, media_types=[PROBLEM_CONTENT_TYPE]
            )
            response["description"] = PROBLEM_DESCRIPTIONS.get(code, "")
            if code == "429" or code == "503":
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer", "minimum": 0},
                        "description": "Seconds to wait before retrying.",
                    }
                }
            if code == "401":
                response["headers"] = {
                    "WWW-Authenticate": {
                        "schema": {"type": "string"},
                        "description": "The scheme to authenticate with.",
                    }
                }
            responses[code] = response
        return responses


def schema_brand(result: dict, generator, request, public: bool) -> dict:
    """The document carries the site's own brand: a reseller's integrators read its API
    reference and must not learn which platform runs it."""

    if connection.schema_name != get_public_schema_name():
        brand = branding_get().company_name or getattr(connection.tenant, "name", "")
        if brand:
            result.setdefault("info", {})["title"] = f"{brand} API"
    return result
