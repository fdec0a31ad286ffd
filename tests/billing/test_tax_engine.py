"""The tax engine, case by case: each sale of the table is decided by the engine, then
invoiced for real in tenant A (settings of the seller, a client with a billing address,
its VAT number asked of the local VIES), and the invoice is checked: rate, EN 16931 VAT
category, legal mention, and its Factur-X XML against the EN 16931 schematron; the
FatturaPA of the Italian seller's cases against a38."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest

from billing import einvoices, fatturapa, services, taxes
from billing.models import Invoice
from billing.taxes import (
    BuyerProfile,
    SellerProfile,
    TaxDecisionPending,
    TaxRateMissing,
    VatStatus,
    tax_decide,
)
from tests.billing.conftest import eur
from tests.billing.test_einvoices import assert_valid

pytestmark = pytest.mark.django_db

SELLERS = {
    "IT": dict(
        legal_name="Alfa Servizi Internet S.r.l.",
        address_line1="Via Roma 1",
        postal_code="00184",
        city="Roma",
        region="RM",
        vat_number="IT01234567890",
        tax_id="01234567890",
    ),
    "DE": dict(
        legal_name="Delta Hosting GmbH",
        address_line1="Hauptstrasse 5",
        postal_code="10115",
        city="Berlin",
        vat_number="DE136695976",
    ),
    "FR": dict(
        legal_name="Gamma Hébergement SARL",
        address_line1="1 rue de Rivoli",
        postal_code="75001",
        city="Paris",
        vat_number="FR40303265045",
    ),
    "IE": dict(
        legal_name="Emerald Web Ltd",
        address_line1="1 O'Connell Street",
        postal_code="D01 F5P2",
        city="Dublin",
        vat_number="IE6388047V",
    ),
    "GB": dict(
        legal_name="Albion Hosting Ltd",
        address_line1="10 Fleet Street",
        postal_code="EC4Y 1AA",
        city="London",
        vat_number="GB980780684",
    ),
    "CH": dict(
        legal_name="Helvetia Web AG",
        address_line1="Bahnhofstrasse 1",
        postal_code="8001",
        city="Zürich",
        vat_number="CHE116281710",
    ),
    "US": dict(
        legal_name="Liberty Web Inc",
        address_line1="1 Main Street",
        postal_code="10001",
        city="New York",
        region="NY",
        tax_id="12-3456789",
    ),
}
BUYERS = {
    "IT": dict(address_line1="Via Torino 12", postal_code="20123", city="Milano", region="MI"),
    "DE": dict(address_line1="Unter den Linden 1", postal_code="10117", city="Berlin"),
    "FR": dict(address_line1="2 place Bellecour", postal_code="69002", city="Lyon"),
    "IE": dict(address_line1="12 Grafton Street", postal_code="D02 Y006", city="Dublin"),
    "AT": dict(address_line1="Stephansplatz 1", postal_code="1010", city="Wien"),
    "BE": dict(address_line1="Rue Neuve 1", postal_code="1000", city="Bruxelles"),
    "FI": dict(address_line1="Mannerheimintie 1", postal_code="00100", city="Helsinki"),
    "EE": dict(address_line1="Viru 1", postal_code="10140", city="Tallinn"),
    "GB": dict(address_line1="1 High Street", postal_code="M1 1AA", city="Manchester"),
    "CH": dict(address_line1="Rue du Rhône 1", postal_code="1204", city="Genève"),
    "US": dict(address_line1="5 Market Street", postal_code="94105", city="San Francisco"),
}
# A number VIES knows per country (the local stand-in registers them), and one whose
# checksum is right but VIES does not know.
REGISTERED = {
    "IT": "IT00743110157",
    "DE": "DE136695976",
    "FR": "FR40303265045",
    "IE": "IE6388047V",
    "AT": "ATU13585627",
    "BE": "BE0403019261",
    "GB": "GB980780684",  # not an EU number: VIES never confirms it
}
UNREGISTERED = {"IE": "IE9825613N", "DE": "DE811907980"}

RC = taxes.REVERSE_CHARGE_NOTE
OSS = "VAT of {country}, declared through the One-Stop Shop (OSS)"


@dataclass(frozen=True)
class Case:
    id: str
    seller: str
    buyer: str
    vat: str = "none"  # none | valid | invalid | unregistered | unavailable | busy
    supply: str = "electronic"
    rate: Decimal | int | str | None = None  # None: the engine refuses
    category: str = ""
    note: str = ""
    on: date = date(2026, 3, 2)
    settings: dict = field(default_factory=dict)
    rules: dict = field(default_factory=dict)
    sales_so_far: Decimal = Decimal(0)
    refused: type[Exception] | None = None


OSS_ON = {"oss_registered": True}
UNDER = {"oss_under_threshold": True}
CASES = [
    # An Italian seller.
    Case("it-consumer-home", "IT", "IT", rate=22, category="S"),
    Case("it-business-home", "IT", "IT", vat="valid", rate=22, category="S"),
    Case(
        "it-business-home-domestic-reverse-charge", "IT", "IT", vat="valid", rate=0,
        category="AE", note=taxes.DOMESTIC_REVERSE_CHARGE_NOTE,
        settings={"domestic_reverse_charge": ["electronic"]},
    ),
    Case(
        "it-consumer-ie-oss", "IT", "IE", rate=23, category="S",
        note=OSS.format(country="Ireland"), settings=OSS_ON,
    ),
    Case("it-consumer-ie-under-threshold", "IT", "IE", rate=22, category="S", settings=UNDER),
    Case(
        "it-consumer-ie-threshold-passed", "IT", "IE", rate=23, category="S",
        note=OSS.format(country="Ireland"), settings={**UNDER, **OSS_ON},
        sales_so_far=Decimal("9995"),
    ),
    Case("it-business-ie", "IT", "IE", vat="valid", rate=0, category="AE", note=RC),
    Case(
        "it-business-ie-invalid-number", "IT", "IE", vat="invalid", rate=23, category="S",
        note=OSS.format(country="Ireland"), settings=OSS_ON,
    ),
    Case(
        "it-business-ie-not-in-vies", "IT", "IE", vat="unregistered", rate=23, category="S",
        note=OSS.format(country="Ireland"), settings=OSS_ON,
    ),
    Case(
        "it-business-ie-vies-down-sells-to-consumer", "IT", "IE", vat="unavailable", rate=23,
        category="S", note=OSS.format(country="Ireland"), settings=OSS_ON,
    ),
    Case(
        "it-business-ie-vies-busy-waits", "IT", "IE", vat="busy",
        settings={**OSS_ON, "vies_unavailable": "wait"}, refused=TaxDecisionPending,
    ),
    Case("it-consumer-us", "IT", "US", rate=0, category="O", note=taxes.OUT_OF_SCOPE_EU_NOTE),
    Case(
        "it-goods-ch-export", "IT", "CH", supply="physical", rate=0, category="G",
        note=taxes.EXPORT_NOTE,
    ),
    Case(
        "it-goods-de-business", "IT", "DE", vat="valid", supply="physical", rate=0,
        category="K", note=taxes.INTRA_EU_GOODS_NOTE,
    ),
    Case(
        "it-goods-de-consumer", "IT", "DE", supply="physical", rate=19, category="S",
        note=OSS.format(country="Germany"), settings=OSS_ON,
    ),
    Case(
        "it-domain-de-consumer", "IT", "DE", supply="domain", rate=19, category="S",
        note=OSS.format(country="Germany"), settings=OSS_ON,
    ),
    Case("it-exempt-supply", "IT", "IT", supply="exempt", rate=0, category="E",
         note=taxes.EXEMPT_NOTE),
    Case(
        "it-forfettario", "IT", "IT", rate=0, category="E", note=taxes.SMALL_BUSINESS_NOTE,
        settings={"fatturapa_regime": "RF19"},
    ),
    Case(
        "it-consumer-fr-tenant-rule", "IT", "FR", rate="5.5", category="S",
        note=OSS.format(country="France"), settings=OSS_ON, rules={"FR": "5.5"},
    ),
    # A German seller.
    Case("de-consumer-home", "DE", "DE", rate=19, category="S"),
    Case("de-business-fr", "DE", "FR", vat="valid", rate=0, category="AE", note=RC),
    Case(
        "de-consumer-fr-oss", "DE", "FR", rate=20, category="S",
        note=OSS.format(country="France"), settings=OSS_ON,
    ),
    Case("de-consumer-at-registered-there", "DE", "AT", rate=20, category="S"),
    Case("de-consumer-gb", "DE", "GB", rate=0, category="O", note=taxes.OUT_OF_SCOPE_EU_NOTE),
    # A French seller.
    Case("fr-business-home", "FR", "FR", vat="valid", rate=20, category="S"),
    Case("fr-business-be", "FR", "BE", vat="valid", rate=0, category="AE", note=RC),
    Case("fr-business-us", "FR", "US", rate=0, category="O", note=taxes.OUT_OF_SCOPE_EU_NOTE),
    # An Irish seller, and rates that changed during the year.
    Case("ie-consumer-home", "IE", "IE", rate=23, category="S"),
    Case(
        "ie-consumer-fi-before-the-change", "IE", "FI", rate=24, category="S",
        note=OSS.format(country="Finland"), settings=OSS_ON, on=date(2024, 8, 31),
    ),
    Case(
        "ie-consumer-fi-after-the-change", "IE", "FI", rate="25.5", category="S",
        note=OSS.format(country="Finland"), settings=OSS_ON, on=date(2024, 9, 1),
    ),
    Case(
        "ie-consumer-ee-mid-2025-before", "IE", "EE", rate=22, category="S",
        note=OSS.format(country="Estonia"), settings=OSS_ON, on=date(2025, 6, 30),
    ),
    Case(
        "ie-consumer-ee-mid-2025-after", "IE", "EE", rate=24, category="S",
        note=OSS.format(country="Estonia"), settings=OSS_ON, on=date(2025, 7, 1),
    ),
    # Sellers outside the EU.
    Case("gb-consumer-home", "GB", "GB", rate=20, category="S"),
    Case("gb-business-home", "GB", "GB", vat="valid", rate=20, category="S"),
    Case(
        "gb-consumer-de-non-union-oss", "GB", "DE", rate=19, category="S",
        note=OSS.format(country="Germany"), settings=OSS_ON,
    ),
    Case("gb-business-de", "GB", "DE", vat="valid", rate=0, category="O",
         note=taxes.OUT_OF_SCOPE_NOTE),
    Case("gb-consumer-fr-unregistered", "GB", "FR", refused=TaxRateMissing),
    Case("gb-consumer-us", "GB", "US", rate=0, category="O", note=taxes.OUT_OF_SCOPE_NOTE),
    Case("ch-consumer-home-2023", "CH", "CH", rate="7.7", category="S", on=date(2023, 12, 29)),
    Case("ch-consumer-home-2024", "CH", "CH", rate="8.1", category="S", on=date(2024, 1, 2)),
    Case(
        "ch-not-registered", "CH", "CH", rate=0, category="O", note=taxes.NOT_REGISTERED_NOTE,
        settings={"vat_registered": False},
    ),
    Case("us-without-a-rule", "US", "US", refused=TaxRateMissing),
    Case("us-with-its-rule", "US", "US", rate=7, category="S", rules={"US": "7"}),
]  # fmt: skip


def _status(case: Case) -> str:
    return {
        "none": VatStatus.NONE,
        "valid": VatStatus.VALID,
        "invalid": VatStatus.INVALID,
        "unregistered": VatStatus.INVALID,
        "unavailable": VatStatus.UNAVAILABLE,
        "busy": VatStatus.UNAVAILABLE,
    }[case.vat]


def _settings(case: Case) -> dict:
    return {
        "country": case.seller,
        "vat_registered": True,
        "vat_small_business": False,
        "oss_registered": False,
        "oss_under_threshold": False,
        "domestic_reverse_charge": [],
        "vies_unavailable": "consumer",
        "fatturapa_regime": "RF01",
        **SELLERS[case.seller],
        **case.settings,
    }


def test_the_table_covers_what_the_law_distinguishes():
    assert len(CASES) >= 30
    assert {c.seller for c in CASES} >= {"IT", "DE", "FR", "IE", "GB", "CH"}
    assert {c.vat for c in CASES} >= {"none", "valid", "invalid", "unavailable"}
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_engine_decides(case: Case):
    chosen = _settings(case)
    seller = SellerProfile(
        country=case.seller,
        vat_registered=chosen["vat_registered"],
        small_business=chosen["fatturapa_regime"] == "RF19",
        oss_registered=chosen["oss_registered"],
        under_threshold=chosen["oss_under_threshold"],
        eu_distance_sales=case.sales_so_far,
        domestic_reverse_charge=frozenset(chosen["domestic_reverse_charge"]),
        vies_unavailable=chosen["vies_unavailable"],
        rules={c: (Decimal(r), "VAT") for c, r in case.rules.items()},
    )
    buyer = BuyerProfile(
        country=case.buyer,
        vat_number=REGISTERED.get(case.buyer, "") if case.vat != "none" else "",
        vat_status=_status(case),
    )
    if case.refused:
        with pytest.raises(case.refused):
            tax_decide(
                seller=seller, buyer=buyer, supply=case.supply, on_date=case.on,
                sale_amount=Decimal(10),
            )  # fmt: skip
        return
    decision = tax_decide(
        seller=seller, buyer=buyer, supply=case.supply, on_date=case.on, sale_amount=Decimal(10)
    )
    assert decision.rate == Decimal(case.rate)
    assert decision.category == case.category
    assert taxes.legal_mentions([decision], "en") == case.note
    assert decision.reasons  # the invoice keeps why


def _client(case: Case):
    vat_number = ""
    if case.vat in ("valid", "unavailable", "busy"):
        vat_number = REGISTERED[case.buyer]
    elif case.vat == "unregistered":
        vat_number = UNREGISTERED[case.buyer]
    elif case.vat == "invalid":
        vat_number = case.buyer + "12345"
    business = case.vat != "none"
    return services.client_create(
        name="Anna Bianchi",
        kind="company" if business else "person",
        company_name="Bianchi Web" if business else "",
        email=f"{case.id}@example.test",
        country=case.buyer,
        vat_number=vat_number,
        # An Italian consumer is known to SdI by her codice fiscale.
        tax_id="BNCNNA80A41H501Z" if case.buyer == "IT" and not business else "",
        **BUYERS[case.buyer],
    )


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_invoice_says_it_and_its_einvoices_validate(in_tenant_a, vies, case: Case):
    settings = services.billing_settings_update(**_settings(case))
    for country, rate in case.rules.items():
        services.tax_rule_set(country=country, rate=rate)
    if case.vat == "unavailable":
        vies.faults[case.buyer] = "MS_UNAVAILABLE"
    if case.vat == "busy":
        vies.faults[case.buyer] = "MS_MAX_CONCURRENT_REQ"
    if case.sales_so_far:
        # This year's earlier sales to consumers elsewhere in the EU.
        earlier = _client(Case("earlier", case.seller, "DE"))
        services.invoice_issue(
            invoice=_draft(earlier, eur(case.sales_so_far), "electronic"), issue_date=case.on
        )
    client = _client(case)
    check = services.client_vat_number_verify(client=client, settings=settings)
    if check is not None:
        eu_number = case.buyer in taxes.EU_COUNTRIES
        assert check.status == (_status(case) if eu_number else VatStatus.INVALID)
    if case.refused:
        with pytest.raises(case.refused) as refused:
            draft = _draft(client, eur("100.00"), case.supply)
            services.invoice_issue(invoice=draft, issue_date=case.on)
        if case.refused is TaxRateMissing:
            # What the reseller must configure is named.
            assert case.buyer in str(refused.value) and "tax rule" in str(refused.value)
        assert not Invoice.objects.exclude(number="").filter(client=client).exists()
        return
    draft = _draft(client, eur("100.00"), case.supply)
    invoice = services.invoice_issue(invoice=draft, issue_date=case.on)

    (line,) = invoice.lines.all()
    assert line.tax_rate == Decimal(case.rate)
    assert line.vat_category == case.category
    assert invoice.tax_note == case.note
    assert invoice.tax_total.amount == Decimal(case.rate)  # 100.00 at the rate
    assert invoice.buyer["tax"]["decisions"][0]["category"] == case.category
    assert invoice.buyer["address"]["line1"] == BUYERS[case.buyer]["address_line1"]
    assert invoice.seller["address"]["line1"] == SELLERS[case.seller]["address_line1"]
    if check is not None:
        assert invoice.buyer["tax"]["vies"]["status"] == check.status

    assert_valid(einvoices.document_cii_xml(document=invoice))
    if case.seller == "IT":
        # document_fatturapa_xml raises with a38's findings when it is not valid.
        assert fatturapa.document_fatturapa_xml(document=invoice)


def _draft(client, price, supply: str) -> Invoice:
    draft = services.invoice_create(client=client)
    services.invoice_line_add(
        invoice=draft, description="Web hosting, one month", unit_price=price, supply_type=supply
    )
    return draft


@pytest.mark.parametrize(
    "case_id", ["it-business-ie", "it-goods-de-business", "it-consumer-us", "it-consumer-ie-oss"]
)
def test_a_credit_note_carries_the_rule_of_its_invoice(in_tenant_a, vies, case_id):
    case = next(c for c in CASES if c.id == case_id)
    settings = services.billing_settings_update(**_settings(case))
    client = _client(case)
    services.client_vat_number_verify(client=client, settings=settings)
    invoice = services.invoice_issue(
        invoice=_draft(client, eur("100.00"), case.supply), issue_date=case.on
    )
    note = services.credit_note_issue(invoice=invoice, reason="Refund", issue_date=case.on)

    (line,) = note.lines.all()
    assert (line.vat_category, line.tax_rate) == (case.category, Decimal(case.rate))
    assert note.tax_note == invoice.tax_note == case.note
    assert note.buyer["tax"] == invoice.buyer["tax"]
    xml = einvoices.document_cii_xml(document=note)
    assert_valid(xml)
    assert fatturapa.document_fatturapa_xml(document=note)
