"""A tenant's staff: invitations, roles, deactivation, and whether they must use two-factor
authentication. A site always keeps one active owner, nobody changes their own role, and
only an owner makes or unmakes owners or decides about two-factor authentication."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from accounts.models import SecuritySettings, User
from accounts.tokens import login_link_make
from accounts.two_factor import two_factor_enabled
from audit.services import audit_record


def _owner_guard(actor: User, *roles: str) -> None:
    if User.Role.OWNER in roles and actor.role != User.Role.OWNER:
        raise ValidationError(_("Only an owner can give or take away the owner role."))


def _other_owners(user: User) -> bool:
    return (
        User.objects.filter(kind=User.Kind.STAFF, role=User.Role.OWNER, is_active=True)
        .exclude(pk=user.pk)
        .exists()
    )


@transaction.atomic
def staff_invite(
    *, email: str, role: str, invited_by: User, hostname: str, full_name: str = "", site_name: str
) -> User:
    """A staff account without a password; the invitation e-mail carries a one-time
    login link on the site's own host."""
    email = email.strip().lower()
    if role not in User.Role.values:
        raise ValidationError(_("Unknown role."))
    _owner_guard(invited_by, role)
    if User.objects.filter(email=email).exists():
        raise ValidationError(_("Somebody on this site already uses that e-mail address."))
    user = User.objects.create_user(
        email, kind=User.Kind.STAFF, role=role, full_name=full_name.strip()
    )
    link = login_link_make(user=user, hostname=hostname)
    context = {"site_name": site_name, "link": link, "inviter": invited_by, "user": user}
    transaction.on_commit(
        lambda: send_mail(
            _("Your access to %(site)s") % {"site": site_name},
            render_to_string("console/emails/staff_invite.txt", context),
            None,
            [email],
        )
    )
    return user


@transaction.atomic
def staff_role_set(*, user: User, role: str, changed_by: User) -> User:
    if role not in User.Role.values:
        raise ValidationError(_("Unknown role."))
    if user.pk == changed_by.pk:
        raise ValidationError(_("You cannot change your own role."))
    _owner_guard(changed_by, role, user.role)
    if user.role == User.Role.OWNER and role != User.Role.OWNER and not _other_owners(user):
        raise ValidationError(_("The site needs at least one owner."))
    user.role = role
    user.save(update_fields=["role"])
    return user


@transaction.atomic
def staff_active_set(*, user: User, active: bool, changed_by: User) -> User:
    if user.pk == changed_by.pk:
        raise ValidationError(_("You cannot deactivate yourself."))
    _owner_guard(changed_by, user.role)
    if not active and user.role == User.Role.OWNER and not _other_owners(user):
        raise ValidationError(_("The site needs at least one owner."))
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user


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
