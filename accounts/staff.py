"""A tenant's staff: invitations, roles and deactivation. A site always keeps one active
owner, nobody changes their own role, and only an owner makes or unmakes owners. Whether
staff must use two-factor authentication is accounts.two_factor's."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from accounts.mail import tenant_from_email
from accounts.models import User
from accounts.tokens import login_link_make


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
            tenant_from_email(),
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
