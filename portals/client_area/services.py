"""Writes of the client area and of sign-up that are not billing's: the login that comes
with a new client, contact removal, and data-protection requests."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import PrivacyRequest, User
from billing.errors import BillingError
from billing.events import ClientEventKind, client_event_emit
from billing.gdpr import client_erase
from billing.models import Client, ClientUser, Contact, Service
from billing.services import client_details_save, client_user_link


@transaction.atomic
def client_signup(
    *,
    email: str,
    password: str,
    name: str,
    company_name: str = "",
    country: str = "",
    vat_number: str = "",
    phone: str = "",
    language: str = "",
) -> tuple[User, Client]:
    """A new client and the login that acts for it. An e-mail address already known on
    this site is refused rather than linked: linking would hand an existing client's
    account to whoever typed its address."""
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise ValidationError(
            _("An account with this e-mail address already exists; log in instead.")
        )
    try:
        client = client_details_save(
            name=name,
            email=email,
            company_name=company_name,
            country=country,
            vat_number=vat_number,
            phone=phone,
            language=language,
        )
    except BillingError as exc:
        raise ValidationError(str(exc)) from exc
    user = User.objects.create_user(
        email, password, kind=User.Kind.CLIENT, full_name=name.strip(), language=language
    )
    client_user_link(client=client, user=user, role=ClientUser.Role.OWNER)
    # The welcome e-mail goes once this commits: a refused order rolls the sign-up back
    # and welcomes no one.
    client_event_emit(kind=ClientEventKind.SIGNED_UP, client_id=client.pk)
    return user, client


def contact_remove(*, client: Client, contact_id: int) -> bool:
    """Removes one of the client's contacts; False when it has no such contact."""
    deleted, _rows = Contact.objects.filter(client=client, pk=contact_id).delete()
    return bool(deleted)


def privacy_request_create(*, client: Client, user: User | None, kind: str) -> PrivacyRequest:
    """Records a request for a data export or an erasure. While one of the same kind is
    open, asking again returns it."""
    if kind not in PrivacyRequest.Kind.values:
        raise ValidationError(_("Unknown kind of request."))
    open_statuses = [PrivacyRequest.Status.RECEIVED, PrivacyRequest.Status.IN_PROGRESS]
    existing = PrivacyRequest.objects.filter(
        client=client, kind=kind, status__in=open_statuses
    ).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return PrivacyRequest.objects.create(client=client, requested_by=user, kind=kind)
    except IntegrityError:
        return PrivacyRequest.objects.get(client=client, kind=kind, status__in=open_statuses)


def privacy_request_close(*, privacy_request: PrivacyRequest, status: str) -> PrivacyRequest:
    """Staff mark a request done (or refused, with the reason given to the client
    separately)."""
    if status not in (PrivacyRequest.Status.COMPLETED, PrivacyRequest.Status.REFUSED):
        raise ValidationError(_("Unknown outcome."))
    if not privacy_request.is_open:
        raise ValidationError(_("This request is already closed."))
    privacy_request.status = status
    privacy_request.completed_at = timezone.now()
    privacy_request.save(update_fields=["status", "completed_at"])
    return privacy_request


@transaction.atomic
def client_erasure_carry_out(*, client: Client) -> Client:
    """Erases the client (billing.gdpr) once nothing is running for it any more, and
    closes its open erasure requests."""

    running = client.services.filter(
        status__in=[Service.Status.PENDING, Service.Status.ACTIVE, Service.Status.SUSPENDED]
    )
    if running.exists():
        raise ValidationError(_("Cancel or terminate the client's services before erasing it."))
    erased = client_erase(client)
    for request in PrivacyRequest.objects.filter(
        client=client,
        kind=PrivacyRequest.Kind.ERASURE,
        status__in=[PrivacyRequest.Status.RECEIVED, PrivacyRequest.Status.IN_PROGRESS],
    ):
        privacy_request_close(privacy_request=request, status=PrivacyRequest.Status.COMPLETED)
    return erased
