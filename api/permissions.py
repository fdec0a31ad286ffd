"""Which scope each request needs: a view names one scope per HTTP method."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from accounts.models import ApiKey
from api.keys import scopes_granting


def required_scope(view, method: str) -> str | None:
    scopes: dict[str, str] = getattr(view, "required_scopes", {})
    if method == "HEAD":
        method = "GET"
    return scopes.get(method)


class HasScope(BasePermission):
    """An authenticated key holding the scope its view asks for this method. A view
    without a scope for the method refuses it: forgetting a scope never opens a door."""

    message = "This API key lacks the scope this request needs."

    def has_permission(self, request, view) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        if request.method == "OPTIONS" or not hasattr(view, request.method.lower()):
            # Nothing would run: let the view answer 405 (or describe itself).
            return True
        scope = required_scope(view, request.method)
        if scope is None:
            return False
        if not scopes_granting(scope) & set(key.scopes):
            self.message = f"This API key lacks the “{scope}” scope."
            return False
        return True
