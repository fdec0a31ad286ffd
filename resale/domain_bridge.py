"""The tenant's side of resold domains: what the registrar must be told about a domain
order, and what the tenant does with the registry's answers.

- ``domain_secrets_for``: when a ``domain_register``/``domain_transfer`` command is sent,
  the registrant's contact is read from the client's billing details and a transfer's
  auth code from its order line, in memory, for that one call; the command's stored
  payload never holds them.
- ``domain_state_apply``: the provider reports a domain's status and expiry (after an
  operation, or from the nightly read-back of the registry); the tenant keeps them on
  ``ResoldDomain`` and moves the service's due date to the registry's expiry, which is
  the truth.
"""

from __future__ import annotations

import re
from datetime import date

from django.db import transaction

from billing.models import Client, Service
from billing.services import service_due_date_align
from core.crypto import secret_decrypt
from provisioning.registrars.base import Contact
from resale.domains import TRANSFER, DomainSecrets
from resale.models import ResoldDomain, UpstreamCommand

# Country calling codes (ITU-T E.164 assignments) of the countries clients most often
# give, so that a number typed without one can be written as EPP wants it (+CC.NUMBER).
CALLING_CODES = {
    "AT": "43", "BE": "32", "BG": "359", "CH": "41", "CY": "357", "CZ": "420", "DE": "49",
    "DK": "45", "EE": "372", "ES": "34", "FI": "358", "FR": "33", "GB": "44", "GR": "30",
    "HR": "385", "HU": "36", "IE": "353", "IT": "39", "LT": "370", "LU": "352", "LV": "371",
    "MT": "356", "NL": "31", "NO": "47", "PL": "48", "PT": "351", "RO": "40", "RU": "7",
    "SE": "46", "SI": "386", "SK": "421", "UA": "380", "US": "1", "CA": "1",
}  # fmt: skip


def phone_e164(phone: str, country: str) -> str:
    """``+CC.NUMBER`` (RFC 5733 §2.5) from what a client typed."""
    text = (phone or "").strip()
    if re.fullmatch(r"\+\d{1,3}\.\d{4,14}", text):
        return text
    digits = re.sub(r"\D", "", text)
    code = CALLING_CODES.get((country or "").upper(), "")
    if text.startswith("+") or text.startswith("00"):
        digits = digits[2:] if text.startswith("00") else digits
        if code and digits.startswith(code):
            return f"+{code}.{digits[len(code) :]}"
        return f"+{digits[:2]}.{digits[2:]}"
    if code:
        return f"+{code}.{digits.lstrip('0') if code != '39' else digits}"
    return f"+{digits[:2]}.{digits[2:]}"


def registrant_contact(client: Client) -> Contact:
    """The client's billing details as the registry's registrant, in memory only."""
    street = tuple(line for line in (client.address_line1, client.address_line2) if line)
    return Contact(
        name=client.name,
        organisation=client.company_name,
        email=client.email,
        phone=phone_e164(client.phone, client.country),
        street=street,
        city=client.city,
        postcode=client.postal_code,
        state=client.region,
        country_code=(client.country or "").upper(),
    )


def domain_secrets_for(command: UpstreamCommand) -> DomainSecrets | None:
    """What a domain command carries beside its payload, read now and never stored."""
    if command.action not in (
        UpstreamCommand.Action.DOMAIN_REGISTER,
        UpstreamCommand.Action.DOMAIN_TRANSFER,
    ):
        return None
    service = (
        Service.objects.select_related("client", "order_item")
        .filter(public_id=command.service_ref)
        .first()
    )
    if service is None:
        return None
    auth_code = ""
    if command.action == TRANSFER and service.order_item is not None:
        encrypted = service.order_item.domain_auth_code_encrypted
        auth_code = secret_decrypt(encrypted) if encrypted else ""
    return DomainSecrets(contact=registrant_contact(service.client), auth_code=auth_code)


@transaction.atomic
def domain_state_apply(*, upstream_ref: str, state: dict) -> ResoldDomain | None:
    """The registry's status and expiry of one of the tenant's domains, as the provider
    reports them."""
    row = ResoldDomain.objects.select_for_update().filter(upstream_ref=upstream_ref).first()
    if row is None:
        command = (
            UpstreamCommand.objects.filter(upstream_ref=upstream_ref).order_by("created_at").first()
        )
        if command is None:
            return None
        row, _created = ResoldDomain.objects.get_or_create(
            service_ref=command.service_ref,
            defaults={"upstream_ref": upstream_ref, "domain": state.get("domain", "")},
        )
        row = ResoldDomain.objects.select_for_update().get(pk=row.pk)
    expires = state.get("expires_on")
    row.upstream_ref = upstream_ref
    row.domain = state.get("domain") or row.domain
    row.status = state.get("status") or row.status
    row.expires_on = date.fromisoformat(expires) if expires else row.expires_on
    row.save()
    service = Service.objects.filter(public_id=row.service_ref).first()
    if service is not None and row.expires_on and service.status == Service.Status.ACTIVE:
        service_due_date_align(service=service, next_due_date=row.expires_on)
    return row
