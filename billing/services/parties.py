"""The seller and the buyer as an invoice or credit note records them at issue: a snapshot,
so a later change of address never rewrites an issued document."""

from __future__ import annotations

from typing import Any

from billing.models import BillingSettings, Client
from billing.selectors import client_vat_check
from billing.taxes import TaxDecision


def party_seller(settings: BillingSettings) -> dict[str, Any]:
    """The tenant's legal identity as printed on its documents."""
    return {
        "name": settings.legal_name,
        "address_lines": settings.address_lines,
        "country": settings.country,
        "vat_number": settings.vat_number,
        "tax_id": settings.tax_id,
        "registration": settings.registration,
        "email": settings.email_from_address,
        "fatturapa_regime": settings.fatturapa_regime,
        # The address line by line as well: an e-invoice has a field for each part.
        "address": party_address(settings),
        "bank": {
            "account_holder": settings.legal_name,
            "bank_name": settings.bank_name,
            "iban": settings.iban,
            "bic": settings.bic,
        },
    }


def party_buyer(client: Client) -> dict[str, Any]:
    return {
        "name": client.display_name,
        "contact_name": client.name if client.company_name else "",
        "address_lines": client.address_lines,
        "country": client.country,
        "vat_number": client.vat_number,
        "tax_id": client.tax_id,
        "sdi_code": client.sdi_code,
        "pec_email": client.pec_email,
        "email": client.email,
        "kind": client.kind,
        "address": party_address(client),
    }


def party_address(row: BillingSettings | Client) -> dict[str, str]:
    return {
        "line1": row.address_line1,
        "line2": row.address_line2,
        "postal_code": row.postal_code,
        "city": row.city,
        "region": row.region,
        "country": row.country,
    }


def tax_record(
    client: Client, decisions: list[TaxDecision], evidence: dict[str, Any] | None
) -> dict[str, Any]:
    """What the invoice keeps of why it is taxed as it is: the engine's decisions, the
    VIES consultation behind the buyer's status, and the evidence of its location."""
    check = client_vat_check(client=client)
    return {
        "decisions": [decision.record() for decision in decisions],
        "vies": (
            {
                "vat_number": check.vat_number,
                "status": check.status,
                "checked_at": check.checked_at.isoformat(),
                "request_date": check.request_date.isoformat() if check.request_date else "",
                "request_identifier": check.request_identifier,
                "fault": check.fault,
            }
            if check is not None
            else None
        ),
        "location": evidence or {"billing_country": client.country, "pieces": 1},
    }
