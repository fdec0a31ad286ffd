"""The one error support services raise for input or state they refuse.

Like ``billing.errors.BillingError`` it is a Django ``ValidationError`` whose message is
written for the person who caused it, and a service that raises it changed nothing."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class SupportError(ValidationError):
    def __init__(self, message: str, code: str | None = None, params=None) -> None:
        super().__init__(message, code=code, params=params)

    def __str__(self) -> str:
        return self.messages[0] if self.messages else super().__str__()
