"""Secrets at rest: a tenant's Stripe key and webhook secret, server API tokens and
passwords, and two-factor secrets are stored encrypted with Fernet under
``settings.FIELD_ENCRYPTION_KEY``, so a database dump alone hands out neither anybody's
Stripe account nor the provider's control panels."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    """Encrypted under another key (rotated without re-encrypting), or not a Fernet token."""


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
        raise SecretUnreadable("A stored secret cannot be decrypted.") from exc
