"""Where a buyer is, as the evidence EU VAT asks of a seller of electronic services to
consumers (Article 24b of Regulation 282/2011): the billing country, plus a second piece
that does not contradict it, the country of the buyer's IP address (from GeoIP2Fast's
offline database, shipped with the package: no lookup leaves the machine) or the
country of its card."""

from __future__ import annotations

import functools
import ipaddress

from geoip2fast import GeoIP2Fast


@functools.cache
def _database() -> GeoIP2Fast:
    return GeoIP2Fast()


def ip_country(address: str) -> str:
    """The ISO country of a public IP address; empty for a private, reserved or unknown
    one."""
    try:
        parsed = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if not parsed.is_global:
        return ""
    code = _database().lookup(str(parsed)).country_code or ""
    return code.upper() if len(code) == 2 and code.isalpha() else ""


def location_evidence(
    *, billing_country: str, ip_address: str = "", card_country: str = ""
) -> dict:
    """The pieces of evidence of the buyer's country, as the invoice keeps them.
    ``consistent`` is False when a second piece names another country."""
    billing_country = (billing_country or "").upper()
    from_ip = ip_country(ip_address)
    card_country = (card_country or "").upper()
    seconds = [c for c in (from_ip, card_country) if c]
    return {
        "billing_country": billing_country,
        "ip_address": ip_address or "",
        "ip_country": from_ip,
        "card_country": card_country,
        "pieces": 1 + sum(1 for c in seconds if c == billing_country),
        "consistent": all(c == billing_country for c in seconds),
    }
