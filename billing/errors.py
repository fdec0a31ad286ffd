"""The one error billing services raise for input or state they refuse.

It is a Django ``ValidationError`` so forms and the admin show its message as it is; the
message is written for the person who caused it. A service that raises it has changed
nothing: every service is atomic, so the transaction rolls back."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class BillingError(ValidationError):
    def __init__(self, message: str, code: str | None = None, params=None) -> None:
        super().__init__(message, code=code, params=params)

    def __str__(self) -> str:
        return self.messages[0] if self.messages else super().__str__()


class ImmutableRecordError(BillingError):
    """A write to something the law or the ledger says must never change."""
