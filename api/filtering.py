"""Pagination, filtering and ordering of every list.

A list view names a ``filter_serializer`` (its query parameters, validated like a body:
a bad value is a 400) whose ``lookups`` map each parameter to an ORM lookup, and an
``ordering_fields`` map from the names a caller may sort by to columns. Every ordering
ends with the primary key, so pages never overlap or skip a row."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import PageNumberPagination


class ApiPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        # DRF quietly falls back to the default for a bad value; a client should learn
        # that its page_size was not taken.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        paginated = super().get_paginated_response_schema(schema)
        # DRF writes OpenAPI 3.0's "nullable"; in 3.1 (JSON Schema) null is a type.
        for name in ("next", "previous"):
            link = paginated["properties"][name]
            link.pop("nullable", None)
            link["type"] = ["string", "null"]
        paginated["required"] = ["count", "next", "previous", "results"]
        return paginated

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 200}
            if parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


class QueryBoolean(serializers.BooleanField):
    """``true`` or ``false``, as the document says; DRF would also take yes, on, 1…"""

    def to_internal_value(self, data):
        if data in (True, False):
            return data
        if data in ("true", "false"):
            return data == "true"
        self.fail("invalid", input=data)


class FilterSerializer(serializers.Serializer):
    """Query parameters of a list. ``lookups``: parameter → ORM lookup; ``search``: the
    columns a ``search`` parameter matches (case-insensitive, any of them)."""

    lookups: dict[str, str] = {}
    search_columns: tuple[str, ...] = ()


def _parameter_schema(field: serializers.Field) -> dict[str, Any]:
    if isinstance(field, serializers.ChoiceField):
        return {"type": "string", "enum": sorted(str(choice) for choice in field.choices)}
    if isinstance(field, serializers.UUIDField):
        return {"type": "string", "format": "uuid"}
    if isinstance(field, serializers.DateTimeField):
        return {"type": "string", "format": "date-time"}
    if isinstance(field, serializers.DateField):
        return {"type": "string", "format": "date"}
    if isinstance(field, serializers.BooleanField):
        return {"type": "boolean"}
    if isinstance(field, serializers.IntegerField):
        return {"type": "integer"}
    schema: dict[str, Any] = {"type": "string"}
    if getattr(field, "max_length", None):
        schema["maxLength"] = field.max_length
    return schema


class QueryFilterBackend(BaseFilterBackend):
    def filter_queryset(self, request, queryset: QuerySet, view) -> QuerySet:
        serializer_class = getattr(view, "filter_serializer", None)
        if serializer_class is None:
            return queryset
        # A plain dict: as a QueryDict, an absent boolean would read as False.
        params = {name: value for name, value in request.query_params.dict().items()}
        serializer = serializer_class(data=params)
        serializer.is_valid(raise_exception=True)
        for name, value in serializer.validated_data.items():
            if value is None or value == "":
                continue
            if name == "search":
                condition = Q()
                for column in serializer_class.search_columns:
                    condition |= Q(**{f"{column}__icontains": value})
                queryset = queryset.filter(condition)
                continue
            queryset = queryset.filter(**{serializer_class.lookups.get(name, name): value})
        return queryset

    def get_schema_operation_parameters(self, view) -> list[dict]:
        serializer_class = getattr(view, "filter_serializer", None)
        if serializer_class is None:
            return []
        parameters = []
        for name, field in serializer_class().fields.items():
            parameters.append(
                {
                    "name": name,
                    "required": False,
                    "in": "query",
                    "description": str(field.help_text or ""),
                    "schema": _parameter_schema(field),
                }
            )
        return parameters


class OrderingBackend(BaseFilterBackend):
    param = "ordering"

    def filter_queryset(self, request, queryset: QuerySet, view) -> QuerySet:
        fields: dict[str, str] = getattr(view, "ordering_fields", {})
        default = getattr(view, "default_ordering", None)
        raw = request.query_params.get(self.param, "").strip()
        terms = [term.strip() for term in raw.split(",") if term.strip()] if raw else []
        ordering = []
        for term in terms:
            descending = term.startswith("-")
            name = term[1:] if descending else term
            if name not in fields:
                allowed = ", ".join(sorted(fields)) or "none"
                raise ValidationError({self.param: [f"“{name}” is not sortable; use {allowed}."]})
            ordering.append(("-" if descending else "") + fields[name])
        if not ordering:
            if default:
                ordering = list(default)
            elif queryset.query.order_by:
                ordering = list(queryset.query.order_by)
            else:
                ordering = list(queryset.model._meta.ordering or [])
        if not any(term.lstrip("-") in ("pk", "id") for term in ordering):
            ordering.append("-pk" if ordering and ordering[0].startswith("-") else "pk")
        return queryset.order_by(*ordering)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        fields = getattr(view, "ordering_fields", {})
        if not fields:
            return []
        values = sorted([*fields, *(f"-{name}" for name in fields)])
        return [
            {
                "name": self.param,
                "required": False,
                "in": "query",
                "description": "Sort by this field; a leading “-” sorts descending.",
                "schema": {"type": "string", "enum": values},
            }
        ]
