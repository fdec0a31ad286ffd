"""What each provider staff role may do in the provider console on the platform host
(``portals.provider``, and the raw model pages of the Django admin). Owners and
administrators do everything; billing staff move money (reseller balances, price lists,
wholesale invoices) and manage resellers and the catalogue; support staff run the servers
and provisioning jobs and answer resellers' escalations; read-only staff look. Everyone
on the provider's staff may look at everything the console shows, which never includes a
reseller's end clients.

Reseller staff are checked by ``portals.common.access`` in their own console; this backend
answers only on the platform host."""

from __future__ import annotations

from django.contrib.auth.backends import BaseBackend
from django.db import connection
from django_tenants.utils import get_public_schema_name

from accounts.models import User

Role = User.Role

# Apps whose rows a role may add and change (deleting is for owners and administrators).
ROLE_WRITES: dict[str, frozenset[str]] = {
    Role.BILLING: frozenset({"resale"}),
    Role.SUPPORT: frozenset({"provisioning"}),
    Role.READONLY: frozenset(),
}
# Single models a role may add and change beyond its apps: support staff answer resellers'
# escalations at the provider's desk.
ROLE_MODEL_WRITES: dict[str, frozenset[str]] = {
    Role.SUPPORT: frozenset({"resale.providerticket", "resale.providerticketmessage"}),
}
FULL_ACCESS = frozenset({Role.OWNER, Role.ADMIN})


def is_provider_staff(user) -> bool:
    return (
        connection.schema_name == get_public_schema_name()
        and getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and getattr(user, "role", "") in FULL_ACCESS | set(ROLE_WRITES)
    )


def provider_role_allows(*, role: str, perm: str) -> bool:
    """``perm`` is Django's ``app_label.action_model`` (``resale.add_balanceentry``)."""
    if role in FULL_ACCESS:
        return True
    app_label, _, codename = perm.partition(".")
    action = codename.split("_", 1)[0]
    if action == "view":
        return True
    if action not in ("add", "change"):
        return False
    model = codename.split("_", 1)[1] if "_" in codename else ""
    return app_label in ROLE_WRITES.get(role, frozenset()) or (
        f"{app_label}.{model}" in ROLE_MODEL_WRITES.get(role, frozenset())
    )


class ProviderRoleBackend(BaseBackend):
    """Grants the admin permissions of a provider staff member's role; authenticates
    nobody (the other backends do)."""

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        return is_provider_staff(user_obj) and provider_role_allows(role=user_obj.role, perm=perm)

    def has_module_perms(self, user_obj, app_label: str) -> bool:
        return is_provider_staff(user_obj)
