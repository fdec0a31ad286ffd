"""Tokens of password-reset and one-time login links."""

from __future__ import annotations

from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.db import connection
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from core.hosts import portal_url_for


class SchemaPasswordResetTokenGenerator(PasswordResetTokenGenerator):
    """A reset link is signed for one schema. User ids repeat from schema to schema (every
    tenant is a copy of the same template), so a link of tenant A opened on tenant B's host
    names some user of B: the schema in the hash makes it void there. The address is in it
    too, so a link sent before the address changed stops working."""

    def _make_hash_value(self, user, timestamp: int) -> str:
        base = super()._make_hash_value(user, timestamp)
        return f"{base}|{user.email}|{connection.schema_name}"


def login_link_make(*, user: User, hostname: str) -> str:
    """A link that logs the user in once: the token hashes last_login, so using it
    invalidates it."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("login-link", kwargs={"uidb64": uid, "token": token}, urlconf="config.urls")
    return portal_url_for(hostname, path)
