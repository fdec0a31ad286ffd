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
    return _weighed(
        {
            "billing_country": billing_country,
            "ip_address": ip_address or "",
            "ip_country": ip_country(ip_address),
            "card_country": (card_country or "").upper(),
        }
    )


def evidence_with_cards(evidence: dict, card_countries: list[str]) -> dict:
    """The evidence kept at the sale, completed by the countries of the cards that paid
    the invoice afterwards (a card is only known once it pays)."""
    cards = sorted({c.upper() for c in card_countries if c})
    kept = (evidence.get("card_country") or "").upper()
    merged = dict(evidence)
    merged["card_country"] = kept or (cards[0] if len(cards) == 1 else "")
    merged["card_countries"] = sorted({kept, *cards} - {""})
    return _weighed(merged)


def _weighed(evidence: dict) -> dict:
    billing_country = evidence.get("billing_country") or ""
    seconds = [evidence.get("ip_country") or "", *evidence.get("card_countries", [])]
    if not evidence.get("card_countries"):
        seconds.append(evidence.get("card_country") or "")
    seconds = [c for c in seconds if c]
    return {
        **evidence,
        "pieces": 1 + sum(1 for c in seconds if c == billing_country),
        "consistent": all(c == billing_country for c in seconds),
    }
