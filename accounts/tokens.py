"""Tokens of password-reset links."""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import connection


class SchemaPasswordResetTokenGenerator(PasswordResetTokenGenerator):
    """A reset link is signed for one schema. User ids repeat from schema to schema (every
    tenant is a copy of the same template), so a link of tenant A opened on tenant B's host
    names some user of B: the schema in the hash makes it void there. The address is in it
    too, so a link sent before the address changed stops working."""

    def _make_hash_value(self, user, timestamp: int) -> str:
        base = super()._make_hash_value(user, timestamp)
        return f"{base}|{user.email}|{connection.schema_name}"
