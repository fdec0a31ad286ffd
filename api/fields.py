"""Input fields that take JSON as the schema says and nothing looser. DRF's own fields
also accept ``5`` for a string, ``"true"`` for a boolean or ``"5"`` for a number; a
client written from the OpenAPI document must get a 400 for those, not a guess."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from billing.number_input import NumberInputError, decimal_parse


def _refuse_unless(field: serializers.Field, data: Any, *types: type) -> None:
    if isinstance(data, bool) and bool not in types:
        field.fail("invalid_type")
    if not isinstance(data, types):
        field.fail("invalid_type")


class Text(serializers.CharField):
    default_error_messages = {"invalid_type": "Send a string."}

    def to_internal_value(self, data: Any) -> str:
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)


class Email(serializers.EmailField):
    default_error_messages = {"invalid_type": "Send a string."}

    def to_internal_value(self, data: Any) -> str:
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)


class Url(serializers.URLField):
    default_error_messages = {"invalid_type": "Send a string."}

    def to_internal_value(self, data: Any) -> str:
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)


class Uuid(serializers.UUIDField):
    default_error_messages = {"invalid_type": "Send the id as a string."}

    def to_internal_value(self, data: Any):
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)


class Boolean(serializers.BooleanField):
    default_error_messages = {"invalid_type": "Send true or false."}

    def to_internal_value(self, data: Any) -> bool:
        _refuse_unless(self, data, bool)
        return data


class Integer(serializers.IntegerField):
    default_error_messages = {"invalid_type": "Send a whole number."}

    def to_internal_value(self, data: Any) -> int:
        _refuse_unless(self, data, int)
        return super().to_internal_value(data)


class Choice(serializers.ChoiceField):
    default_error_messages = {"invalid_type": "Send one of the choices as a string."}

    def to_internal_value(self, data: Any) -> Any:
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)


class Amount(serializers.DecimalField):
    """A decimal string (amounts, quantities): never a JSON number, which many clients
    would have made from a float. ASCII digits only, and no signed zero
    (``billing.number_input``)."""

    default_error_messages = {"invalid_type": 'Send a decimal string, such as "12.50".'}

    def to_internal_value(self, data: Any):
        _refuse_unless(self, data, str)
        try:
            decimal_parse(data)
        except NumberInputError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from exc
        return super().to_internal_value(data)


class IpAddress(serializers.IPAddressField):
    default_error_messages = {"invalid_type": "Send a string."}

    def to_internal_value(self, data: Any) -> str:
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)


class DateTime(serializers.DateTimeField):
    default_error_messages = {"invalid_type": "Send an ISO 8601 date-time string."}

    def to_internal_value(self, data: Any):
        _refuse_unless(self, data, str)
        return super().to_internal_value(data)
