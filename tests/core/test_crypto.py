"""Secrets at rest."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from core.crypto import SecretUnreadable, secret_decrypt, secret_encrypt


def test_round_trip_and_empty() -> None:
    token = secret_encrypt("whm-token-123")
    assert token != "whm-token-123" and secret_decrypt(token) == "whm-token-123"
    assert secret_encrypt("") == "" and secret_decrypt("") == ""


def test_another_key_is_unreadable(settings) -> None:
    token = secret_encrypt("whm-token-123")
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(SecretUnreadable):
        secret_decrypt(token)
