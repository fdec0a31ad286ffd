"""Secrets at rest for provisioning: server API tokens/passwords and the initial account
passwords are stored encrypted with Fernet under ``settings.FIELD_ENCRYPTION_KEY``, so a
database dump alone does not open the provider's control panels."""

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
        raise SecretUnreadable("A stored provisioning secret cannot be decrypted.") from exc
