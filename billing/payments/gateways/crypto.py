"""Secrets at rest: a tenant's Stripe key and webhook secret are stored encrypted with
Fernet under ``settings.FIELD_ENCRYPTION_KEY``, so a database dump alone does not hand
out anybody's Stripe account."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    """The value was encrypted with another key (the key was rotated without re-encrypting)."""


def _fernet() -> Fernet:
    return Fernet(settings.FIELD_ENCRYPTION_KEY.encode())


def secret_encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def secret_decrypt(value: str) -> str:
    if not value:
        return ""
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("A stored payment secret cannot be decrypted.") from exc
