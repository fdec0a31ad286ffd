"""Schemathesis against the OpenAPI document: every operation, generated requests, real
objects of tenant A behind the ids. No 5xx, and every response (status, content type,
headers, body) as the document says. Bounded: a handful of examples per operation
(``TESSERA_SCHEMATHESIS_EXAMPLES``, default 10)."""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import public_id_of

MAX_EXAMPLES = int(os.environ.get("TESSERA_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def openapi_document() -> dict:
    """The document /api/schema/ serves (test_the_served_document_is_this_one checks it),
    built here because collection happens before any database exists."""
    from drf_spectacular.generators import SchemaGenerator

    from api.urls import schema_patterns

    return SchemaGenerator(patterns=schema_patterns).get_schema(request=None, public=True)


def _schema():
    from config.wsgi import application

    loaded = schemathesis.openapi.from_dict(openapi_document())
    loaded.app = application
    return loaded


schema = _schema()


@pytest.fixture
def wsgi_in_test_transaction() -> Iterator[None]:
    # As Django's own test client does: requests served inside the test's transaction
    # must not close its connection when they finish.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _object_id(path: str, shop) -> str | None:
    """A real object for the operation's ``{id}``: more is tested when it exists than when
    every call is a 404."""
    from django.urls import resolve

    match = resolve(path.replace("{id}", "00000000-0000-4000-8000-000000000000"))
    model = getattr(match.func.view_class, "object_model", None)
    obj = shop.objects.get(model)
    return public_id_of(obj) if obj is not None else None


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_its_schema(case, shop, tenant_a, key_a, wsgi_in_test_transaction):
    # What schemathesis made invalid on purpose stays as it made it; the rest is pointed
    # at tenant A with a working key and, three times in four, a real object.
    negative = {
        str(getattr(location, "value", location))
        for location, info in (case.meta.components.items() if case.meta else ())
        if info.mode.is_negative
    }
    headers = {"Host": tenant_a.host}
    if "header" not in negative:
        headers["Authorization"] = f"Bearer {key_a}"
    if "path" not in negative and "id" in (case.path_parameters or {}):
        real = _object_id(case.path, shop)
        if real is not None and zlib.crc32(repr(case.body).encode()) % 4:
            case.path_parameters["id"] = real
    case.call_and_validate(headers=headers, checks=CHECKS)


@pytest.mark.django_db
def test_the_served_document_is_this_one(tenant_a):
    from tests.api.conftest import Api

    served = Api(tenant_a.host).get("/api/schema/?format=json")
    assert served.status_code == 200
    assert served.json() == openapi_document()
    assert served.json()["openapi"].startswith("3.1")
