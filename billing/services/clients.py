"""Clients, their contacts and the users who log in for them."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import vies
from billing.errors import BillingError
from billing.models import BillingSettings, Client, ClientUser, Contact, VatNumberCheck
from billing.selectors import client_vat_check

SDI_CODE_RE = re.compile(r"[A-Z0-9]{7}")
_EDITABLE = {
    "kind",
    "name",
    "company_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "region",
    "country",
    "vat_number",
    "tax_id",
    "sdi_code",
    "pec_email",
    "tax_exempt",
    "language",
    "status",
    "notes",
}


def _clean(client: Client) -> Client:
    client.name = (client.name or "").strip()
    if not client.name:
        raise BillingError("A client needs a name.")
    client.email = (client.email or "").strip().lower()
    try:
        validate_email(client.email)
    except ValidationError as exc:
        raise BillingError(f"“{client.email}” is not a valid e-mail address.") from exc
    client.country = (client.country or "").strip().upper()
    if client.country and (len(client.country) != 2 or not client.country.isalpha()):
        raise BillingError(f"“{client.country}” is not a two-letter country code.")
    client.vat_number = (client.vat_number or "").replace(" ", "").upper()
    client.tax_id = (client.tax_id or "").strip().upper()
    client.sdi_code = (client.sdi_code or "").strip().upper()
    if client.sdi_code and not SDI_CODE_RE.fullmatch(client.sdi_code):
        raise BillingError(
            f"“{client.sdi_code}” is not an SdI recipient code: seven letters and digits."
        )
    client.pec_email = (client.pec_email or "").strip().lower()
    if client.pec_email:
        try:
            validate_email(client.pec_email)
        except ValidationError as exc:
            raise BillingError(f"“{client.pec_email}” is not a valid PEC address.") from exc
    if client.kind == Client.Kind.COMPANY and not client.company_name.strip():
        raise BillingError("A company client needs a company name.")
    if client.kind not in Client.Kind.values or client.status not in Client.Status.values:
        raise BillingError("Unknown client kind or status.")
    return client


def client_create(*, name: str, email: str, **fields: Any) -> Client:
    unknown = set(fields) - _EDITABLE
    if unknown:
        raise BillingError(f"Unknown client fields: {', '.join(sorted(unknown))}.")
    client = _clean(Client(name=name, email=email, **fields))
    client.save()
    return client


@transaction.atomic
def client_update(*, client: Client, **changes: Any) -> Client:
    """Issued invoices keep the billing details they were issued with."""
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise BillingError(f"Unknown client fields: {', '.join(sorted(unknown))}.")
    client = Client.objects.select_for_update().get(pk=client.pk)
    for name, value in changes.items():
        setattr(client, name, value)
    _clean(client).save()
    return client


def _kind_for(company_name: str) -> str:
    return Client.Kind.COMPANY if company_name.strip() else Client.Kind.PERSON


@transaction.atomic
def client_details_save(
    *, client: Client | None = None, name: str, email: str, company_name: str = "", **details: Any
) -> Client:
    """Creates a client (``client`` None) or changes one from the details a person typed,
    deciding here, and only here, whether it is a company or a person: a company name
    makes it a company, none makes it a person. A company that becomes a person leaves
    the company's name and VAT number behind, so that invoices to the person are no
    longer issued as business-to-business ones (reverse charge)."""
    if "kind" in details:
        raise BillingError("Whether a client is a company follows from its company name.")
    kind = _kind_for(company_name)
    if client is None:
        return client_create(
            name=name, email=email, company_name=company_name.strip(), kind=kind, **details
        )
    if kind == Client.Kind.PERSON and client.kind == Client.Kind.COMPANY:
        details["vat_number"] = ""
    return client_update(
        client=client,
        name=name,
        email=email,
        company_name=company_name.strip(),
        kind=kind,
        **details,
    )


def contact_create(
    *,
    client: Client,
    name: str,
    email: str,
    phone: str = "",
    receives_invoices: bool = False,
    receives_technical: bool = False,
) -> Contact:
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise BillingError(f"“{email}” is not a valid e-mail address.") from exc
    if not name.strip():
        raise BillingError("A contact needs a name.")
    return Contact.objects.create(
        client=client,
        name=name.strip(),
        email=email,
        phone=phone,
        receives_invoices=receives_invoices,
        receives_technical=receives_technical,
    )


def client_user_link(*, client: Client, user, role: str = ClientUser.Role.OWNER) -> ClientUser:
    """Lets ``user`` (a client login of this tenant) act for ``client``."""

    if user.kind != User.Kind.CLIENT:
        raise BillingError("Only client accounts can be linked to a client.")
    if role not in ClientUser.Role.values:
        raise BillingError(f"“{role}” is not a client user role.")
    existing = ClientUser.objects.filter(user=user).first()
    if existing is not None and existing.client_id != client.pk:
        raise BillingError(f"{user} already acts for another client.")
    link, _ = ClientUser.objects.update_or_create(
        user=user, defaults={"client": client, "role": role}
    )
    return link


def client_vat_number_verify(
    *, client: Client, settings: BillingSettings | None = None
) -> VatNumberCheck | None:
    """Asks VIES about the client's VAT number (none: nothing to ask) and keeps the
    answer, with the day and VIES's consultation number, as the proof of the client's
    status. Called where the number is given (checkout, profile, console), never inside
    a transaction that holds locks: VIES may take seconds."""
    if not client.vat_number:
        return None
    requester = settings.vat_number if settings is not None else ""
    result = vies.vat_number_check(
        vat_number=client.vat_number, country=client.country, requester=requester
    )
    return VatNumberCheck.objects.create(
        client=client,
        vat_number=client.vat_number,
        status=result.status,
        checked_at=timezone.now(),
        request_date=result.request_date,
        request_identifier=result.request_identifier[:64],
        trader_name=result.name[:200],
        trader_address=result.address[:500],
        fault=result.fault[:64],
    )


def client_vat_number_confirm(
    *, client: Client, settings: BillingSettings | None = None
) -> VatNumberCheck | None:
    """The VIES answer the client's sales go by: the kept confirmation of its current
    number, else a new question to VIES (none without a number)."""
    if not client.vat_number:
        return None
    check = client_vat_check(client=client)
    if check is not None and check.status == VatNumberCheck.Status.VALID:
        return check
    return client_vat_number_verify(client=client, settings=settings)
