"""Who must use two-factor authentication, and what happens to those who have not set it up.

A tenant's owner can require it of all the tenant's staff (``SecuritySettings``, in the
tenant's schema); the provider requires it of its own staff with
``TESSERA_PROVIDER_REQUIRE_2FA``. Clients are never required to, and API keys are not
people: neither is affected. A person who must and has not is sent to the set-up page from
every console page; the set-up, password and logout pages stay open to them, or they could
never comply."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name

from accounts.models import SecuritySettings, User
from audit.services import audit_record

SETUP_URL_NAME = "mfa_activate_totp"


def security_settings_get() -> SecuritySettings:
    """The tenant's row; an unsaved default (nothing required) when it has none yet."""
    found = SecuritySettings.objects.filter(pk=SecuritySettings.SINGLETON_ID).first()
    return found if found is not None else SecuritySettings(pk=SecuritySettings.SINGLETON_ID)


def two_factor_enabled(user) -> bool:
    return is_mfa_enabled(user, [Authenticator.Type.TOTP])


def two_factor_required_for(user) -> bool:
    """Whether ``user`` must have a TOTP authenticator on the host in use."""
    if not (user.is_authenticated and user.is_active):
        return False
    if connection.schema_name == get_public_schema_name():
        # The provider console is the Django admin: its staff are the ``is_staff`` accounts.
        return bool(settings.PROVIDER_REQUIRE_2FA and user.is_staff)
    if not user.is_tenant_staff:
        return False
    return security_settings_get().staff_two_factor_required


def two_factor_setup_redirect(request: HttpRequest) -> HttpResponse | None:
    """A redirect to the set-up page, with the reason, when the person signed in on
    ``request`` must use two-factor authentication and has not set it up; else None."""
    user = request.user
    if not two_factor_required_for(user) or two_factor_enabled(user):
        return None
    if connection.schema_name == get_public_schema_name():
        reason = _(
            "The provider requires two-factor authentication for everyone who uses the "
            "provider console. Set it up to continue."
        )
    else:
        reason = _(
            "This site requires two-factor authentication for all its staff. Set it up to "
            "continue to the console."
        )
    messages.warning(request, reason)
    return redirect(SETUP_URL_NAME)


def staff_two_factor_annotate(users: QuerySet[User]) -> QuerySet[User]:
    """``users``, each with ``two_factor``: whether it has a TOTP authenticator."""
    totp = Authenticator.objects.filter(user=OuterRef("pk"), type=Authenticator.Type.TOTP)
    return users.annotate(two_factor=Exists(totp))


def staff_without_two_factor_count() -> int:
    """Active staff of this site who have not set two-factor authentication up."""
    active = User.objects.filter(kind=User.Kind.STAFF, is_active=True)
    return staff_two_factor_annotate(active).filter(two_factor=False).count()


@transaction.atomic
def staff_two_factor_require_set(*, required: bool, changed_by: User) -> SecuritySettings:
    """Requires two-factor authentication of every staff member of the site, or stops
    requiring it. The owner who turns it on must already use it. Staff who have not set it
    up are asked to the next time they open the console; nobody is logged out. Setting the
    value it already has logs nothing."""
    if not (changed_by.is_tenant_staff and changed_by.role == User.Role.OWNER):
        raise PermissionDenied(_("Only an owner can decide this."))
    if required and not two_factor_enabled(changed_by):
        # Otherwise the owner's very next page would be the set-up page.
        raise ValidationError(
            _(
                "Set up two-factor authentication for your own account first: once it is "
                "required, you need it too."
            )
        )
    row, _created = SecuritySettings.objects.select_for_update().get_or_create(
        pk=SecuritySettings.SINGLETON_ID
    )
    if row.staff_two_factor_required == required:
        return row
    before = {"staff_two_factor_required": row.staff_two_factor_required}
    row.staff_two_factor_required = required
    row.save(update_fields=["staff_two_factor_required", "updated_at"])
    audit_record(
        action="security.staff_two_factor_required",
        object_type="security_settings",
        object_id=row.pk,
        before=before,
        after={"staff_two_factor_required": required},
    )
    return row
