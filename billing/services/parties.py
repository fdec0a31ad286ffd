"""The seller and the buyer as an invoice or credit note records them at issue: a snapshot,
so a later change of address never rewrites an issued document."""

from __future__ import annotations

from typing import Any

from billing.models import BillingSettings, Client


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
