"""EN 16931 e-invoices: the CII XML of an issued invoice or credit note, and the Factur-X
PDF that carries it (profile EN 16931).

The XML is built from the document's own snapshot of seller and buyer, like its PDF: an
e-invoice exported years later names the legal identity that issued it. It describes the
document as issued; payments and credit notes that came later are documents of their
own, so the same invoice always exports the same XML.

A Factur-X file is the stored PDF/A-3 rendering (billing.documents) with the XML
embedded. Embedding is quick and needs no WeasyPrint, so a request may do it; while the
PDF itself is still being rendered the caller gets None, as with the PDF download.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from lxml import etree

from billing import documents
from billing.documents import BankDetails, bank_from_snapshot
from billing.errors import BillingError
from billing.models import CreditNote, Invoice
from billing.payments.gateways.bank_transfer import payment_reference
from billing.snapshots import period_last_day, snapshot_address_lines, snapshot_mapping
from billing.snapshots import snapshot_text as _text
from billing.taxes import EXEMPT_NOTE, VatCategory

GUIDELINE_EN16931 = "urn:cen.eu:en16931:2017"
TYPE_CODE_INVOICE = "380"
TYPE_CODE_CREDIT_NOTE = "381"
# UN/ECE recommendation 20: "one", a unit of anything.
UNIT_CODE = "C62"
# UNTDID 4461: SEPA credit transfer.
PAYMENT_MEANS_CREDIT_TRANSFER = "58"

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}

CENT = Decimal("0.01")
# Prices may carry more decimals than amounts (EN 16931 BT-146).
PRICE_QUANTUM = Decimal("0.0001")


class EInvoiceError(BillingError):
    """The document cannot be an e-invoice as it stands: the seller's or buyer's data
    lacks something the standard requires. Nothing is wrong with the document itself;
    the message says what to complete."""


# Why a line carries no VAT, where EN 16931 asks for a reason (BR-AE-10, BR-E-10,
# BR-IC-10, BR-G-10, BR-O-10), with the code of the VATEX list.
EXEMPTION_REASONS = {
    VatCategory.REVERSE_CHARGE: ("Reverse charge", "VATEX-EU-AE"),
    VatCategory.EXEMPT: ("Exempt from tax", ""),
    VatCategory.INTRA_EU_GOODS: ("Intra-Community supply", "VATEX-EU-IC"),
    VatCategory.EXPORT: ("Export outside the EU", "VATEX-EU-G"),
    VatCategory.OUT_OF_SCOPE: ("Not subject to VAT", "VATEX-EU-O"),
}


@dataclass(frozen=True)
class EParty:
    name: str
    country: str
    line1: str = ""
    line2: str = ""
    postal_code: str = ""
    city: str = ""
    region: str = ""
    vat_number: str = ""
    tax_id: str = ""
    registration: str = ""
    email: str = ""
    is_company: bool = True
    # Italy's delivery channel for e-invoices (FatturaPA): recipient code, or PEC address.
    sdi_code: str = ""
    pec_email: str = ""
    # Italy: the seller's tax regime on its FatturaPA (RF01 ordinario, RF19 forfettario).
    fatturapa_regime: str = ""


@dataclass(frozen=True)
class ELine:
    position: int
    description: str
    quantity: Decimal
    net_price: Decimal
    net: Decimal
    tax: Decimal
    rate: Decimal
    category: str
    period_start: date | None = None
    # The last day covered (the model stores the first day not covered).
    period_end: date | None = None
    # The tax engine's rule (billing.taxes.SaleRule); empty on documents issued before
    # the engine recorded it.
    rule: str = ""


@dataclass(frozen=True)
class ETaxRow:
    category: str
    rate: Decimal
    basis: Decimal
    tax: Decimal
    exemption_reason: str = ""
    exemption_code: str = ""


@dataclass(frozen=True)
class EDocument:
    """An issued invoice or credit note as an e-invoice sees it: plain values, no
    formatting, amounts as they were issued."""

    kind: str  # "invoice" or "credit_note"
    number: str
    issue_date: date
    currency: str
    language: str
    seller: EParty
    buyer: EParty
    lines: tuple[ELine, ...]
    taxes: tuple[ETaxRow, ...]
    subtotal: Decimal
    tax_total: Decimal
    total: Decimal
    due_date: date | None = None
    bank: BankDetails = field(default_factory=BankDetails)
    # BT-83: the reference the invoice's page and PDF give for a transfer.
    payment_reference: str = ""
    related_number: str = ""
    related_date: date | None = None
    notes: tuple[str, ...] = ()
    sequence_year: int | None = None
    sequence_number: int | None = None

    @property
    def type_code(self) -> str:
        return TYPE_CODE_CREDIT_NOTE if self.kind == "credit_note" else TYPE_CODE_INVOICE

    @property
    def reverse_charge(self) -> bool:
        return any(row.category == VatCategory.REVERSE_CHARGE for row in self.taxes)

    @property
    def out_of_scope(self) -> bool:
        return any(row.category == VatCategory.OUT_OF_SCOPE for row in self.taxes)

    @property
    def intra_eu_goods(self) -> bool:
        return any(row.category == VatCategory.INTRA_EU_GOODS for row in self.taxes)


# --- from the document -------------------------------------------------------------


def party_from_snapshot(snapshot: Mapping[str, Any] | None) -> EParty:
    """A seller or buyer as the document recorded it. Snapshots taken before the address
    was kept field by field have only its printed lines: the first one is the street."""
    data = snapshot_mapping(snapshot)
    address = data.get("address") if isinstance(data.get("address"), Mapping) else None
    country = _text(data.get("country")).upper()
    if address is None:
        printed = [line for line in snapshot_address_lines(data) if line.upper() != country]
        address = {"line1": printed[0] if printed else ""}
    kind = _text(data.get("kind"))
    return EParty(
        name=_text(data.get("name")),
        country=_text(address.get("country")).upper() or country,
        line1=_text(address.get("line1")),
        line2=_text(address.get("line2")),
        postal_code=_text(address.get("postal_code")),
        city=_text(address.get("city")),
        region=_text(address.get("region")),
        vat_number=vat_number_clean(_text(data.get("vat_number")), country),
        tax_id=_text(data.get("tax_id")),
        registration=_text(data.get("registration")),
        email=_text(data.get("email")),
        sdi_code=_text(data.get("sdi_code")).upper(),
        pec_email=_text(data.get("pec_email")),
        fatturapa_regime=_text(data.get("fatturapa_regime")).upper(),
        is_company=kind != "person" if kind else bool(_text(data.get("vat_number"))),
    )


def vat_number_clean(value: str, country: str) -> str:
    """A VAT number with its country prefix (EN 16931 BR-CO-9), without spaces or dots."""
    value = "".join(ch for ch in value if ch.isalnum()).upper()
    if value and not value[:2].isalpha() and country:
        # Greece's VAT numbers start with EL, not with its ISO code.
        value = ("EL" if country == "GR" else country) + value
    return value


def _category(row: Any, rate: Decimal, *, reverse_charge: bool, tax_note: str) -> str:
    if getattr(row, "vat_category", ""):
        return row.vat_category
    # Documents issued before the tax engine recorded the category.
    if rate > 0:
        return VatCategory.STANDARD
    if reverse_charge:
        return VatCategory.REVERSE_CHARGE
    if tax_note.strip() in (EXEMPT_NOTE, "Exempt from tax"):
        return VatCategory.EXEMPT
    return VatCategory.ZERO


def _lines(rows: Iterable[Any], *, reverse_charge: bool, tax_note: str) -> tuple[ELine, ...]:
    lines = []
    for position, row in enumerate(rows, 1):
        net = Decimal(row.net_amount)
        quantity = Decimal(row.quantity) or Decimal(1)
        # The price is the net one whatever the tenant's price convention; a discount is
        # a negative quantity at a positive price (BR-27: a price is never negative).
        if net < 0:
            quantity = -abs(quantity)
        price = (net / quantity).quantize(PRICE_QUANTUM, ROUND_HALF_UP).normalize()
        rate = Decimal(row.tax_rate)
        start = getattr(row, "period_start", None)
        end = getattr(row, "period_end", None)
        lines.append(
            ELine(
                position=position,
                description=row.description,
                quantity=quantity.normalize(),
                net_price=price,
                net=net,
                tax=Decimal(row.tax_amount),
                rate=rate,
                category=_category(row, rate, reverse_charge=reverse_charge, tax_note=tax_note),
                period_start=start,
                period_end=period_last_day(start, end),
                rule=getattr(row, "tax_rule", "") or "",
            )
        )
    return tuple(lines)


def _taxes(lines: Iterable[ELine]) -> tuple[ETaxRow, ...]:
    # One breakdown row per category and rate; its amounts are the sums of the lines, so
    # the XML says what the invoice says, to the cent.
    groups: dict[tuple[str, Decimal], tuple[Decimal, Decimal]] = {}
    for line in lines:
        key = (line.category, line.rate.normalize())
        basis, tax = groups.get(key, (Decimal(0), Decimal(0)))
        groups[key] = (basis + line.net, tax + line.tax)
    rows = []
    for (category, rate), (basis, tax) in sorted(groups.items()):
        reason, code = EXEMPTION_REASONS.get(category, ("", ""))
        rows.append(ETaxRow(category, rate, basis, tax, reason, code))
    return tuple(rows)


def einvoice_document(document: Any) -> EDocument:
    """The e-invoice view of an issued invoice or credit note."""

    if isinstance(document, Invoice):
        if document.status == Invoice.Status.DRAFT or not document.number:
            raise EInvoiceError(_("A draft is not an invoice yet; issue it first."))
        kind, related_number, related_date, due_date = "invoice", "", None, document.due_date
        notes = (document.tax_note, document.notes)
    elif isinstance(document, CreditNote):
        kind, due_date = "credit_note", None
        related_number, related_date = document.invoice.number, document.invoice.issue_date
        notes = (document.tax_note, document.reason)
    else:
        raise TypeError(f"{document!r} is neither an invoice nor a credit note")
    lines = _lines(
        document.lines.all(), reverse_charge=document.reverse_charge, tax_note=document.tax_note
    )
    return EDocument(
        kind=kind,
        number=document.number,
        issue_date=document.issue_date,
        currency=document.currency,
        language=documents.document_language(document.language),
        seller=party_from_snapshot(document.seller),
        buyer=party_from_snapshot(document.buyer),
        lines=lines,
        taxes=_taxes(lines),
        subtotal=Decimal(document.subtotal_amount),
        tax_total=Decimal(document.tax_total_amount),
        total=Decimal(document.total_amount),
        due_date=due_date,
        bank=bank_from_snapshot(document.seller),
        payment_reference=payment_reference(document.number) if kind == "invoice" else "",
        related_number=related_number,
        related_date=related_date,
        notes=tuple(note.strip() for note in notes if note and note.strip()),
        sequence_year=document.sequence_year,
        sequence_number=document.sequence_number,
    )


def einvoice_check(doc: EDocument) -> None:
    """Refuses, with what to complete, a document whose parties lack what every
    e-invoice must carry (EN 16931 BR-6, BR-7, BR-9, BR-11, BR-S-02, BR-AE-02)."""
    missing = []
    if not doc.seller.name:
        missing.append(_("the seller's legal name"))
    if not doc.seller.country:
        missing.append(_("the seller's country"))
    if not (doc.seller.vat_number or doc.seller.tax_id):
        missing.append(_("the seller's VAT number or tax id"))
    if not doc.buyer.name:
        missing.append(_("the client's name"))
    if not doc.buyer.country:
        missing.append(_("the client's country"))
    if doc.reverse_charge and not doc.buyer.vat_number:
        missing.append(_("the client's VAT number (reverse charge)"))
    if missing:
        raise EInvoiceError(
            _("%(number)s cannot be exported as an e-invoice: it lacks %(missing)s.")
            % {"number": doc.number, "missing": ", ".join(missing)}
        )


# --- CII XML -----------------------------------------------------------------------


def _amount(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT, ROUND_HALF_UP))


def _decimal(value: Decimal) -> str:
    # normalize() may give an exponent ("1E+1"); the XML wants plain digits.
    return format(Decimal(value).normalize(), "f")


def _date102(value: date) -> str:
    return value.strftime("%Y%m%d")


def _el(parent: etree._Element, tag: str, text: str | None = None, **attrs: str):
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NSMAP[prefix]}}}{name}", attrs or None)
    if text is not None:
        element.text = text
    return element


def _date_el(parent: etree._Element, tag: str, value: date, *, qualified: bool = False):
    holder = _el(parent, tag)
    kind = "qdt:DateTimeString" if qualified else "udt:DateTimeString"
    _el(holder, kind, _date102(value), format="102")
    return holder


def _party(
    parent: etree._Element, tag: str, party: EParty, *, seller: bool, vat_ids: bool = True
) -> None:
    """``vat_ids`` False leaves the VAT identifiers out, as a sale not subject to VAT
    requires (BR-O-02); the seller is then identified by its VAT number as seller
    identifier (BT-29, BR-CO-26)."""
    node = _el(parent, tag)
    identifier = party.vat_number if not vat_ids else ("" if party.vat_number else party.tax_id)
    if seller and identifier:
        # BR-CO-26: a seller shown without its VAT identifier is identified otherwise.
        _el(node, "ram:ID", identifier)
    _el(node, "ram:Name", party.name)
    if seller and party.registration:
        # BT-33: the register and number the seller's letterhead shows.
        _el(node, "ram:Description", party.registration)
    address = _el(node, "ram:PostalTradeAddress")
    if party.postal_code:
        _el(address, "ram:PostcodeCode", party.postal_code)
    if party.line1:
        _el(address, "ram:LineOne", party.line1)
    if party.line2:
        _el(address, "ram:LineTwo", party.line2)
    if party.city:
        _el(address, "ram:CityName", party.city)
    _el(address, "ram:CountryID", party.country)
    if party.region:
        _el(address, "ram:CountrySubDivisionName", party.region)
    if party.email:
        _el(_el(node, "ram:URIUniversalCommunication"), "ram:URIID", party.email, schemeID="EM")
    if party.vat_number and vat_ids:
        _el(_el(node, "ram:SpecifiedTaxRegistration"), "ram:ID", party.vat_number, schemeID="VA")
    if seller and party.tax_id:
        _el(_el(node, "ram:SpecifiedTaxRegistration"), "ram:ID", party.tax_id, schemeID="FC")


def _trade_tax(parent: etree._Element, *, category: str, rate: Decimal):
    tax = _el(parent, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", category)
    if category != VatCategory.OUT_OF_SCOPE:
        # A sale not subject to VAT has no rate at all (BR-O-05).
        _el(tax, "ram:RateApplicablePercent", _decimal(rate))
    return tax


def _line(parent: etree._Element, line: ELine) -> None:
    item = _el(parent, "ram:IncludedSupplyChainTradeLineItem")
    _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(line.position))
    _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)
    agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
    price = _el(agreement, "ram:NetPriceProductTradePrice")
    _el(price, "ram:ChargeAmount", _decimal(line.net_price))
    delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
    _el(delivery, "ram:BilledQuantity", _decimal(line.quantity), unitCode=UNIT_CODE)
    settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
    _trade_tax(settlement, category=line.category, rate=line.rate)
    if line.period_start:
        period = _el(settlement, "ram:BillingSpecifiedPeriod")
        _date_el(period, "ram:StartDateTime", line.period_start)
        _date_el(period, "ram:EndDateTime", line.period_end or line.period_start)
    summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _el(summation, "ram:LineTotalAmount", _amount(line.net))


def _settlement(parent: etree._Element, doc: EDocument) -> None:
    settlement = _el(parent, "ram:ApplicableHeaderTradeSettlement")
    payable = doc.kind == "invoice" and doc.total > 0
    if payable:
        # BT-83: what the buyer quotes with the transfer, so the payment finds its invoice.
        _el(settlement, "ram:PaymentReference", doc.payment_reference or doc.number)
    _el(settlement, "ram:InvoiceCurrencyCode", doc.currency)
    if payable and doc.bank.iban:
        means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", PAYMENT_MEANS_CREDIT_TRANSFER)
        account = _el(means, "ram:PayeePartyCreditorFinancialAccount")
        _el(account, "ram:IBANID", "".join(doc.bank.iban.split()).upper())
        if doc.bank.account_holder:
            _el(account, "ram:AccountName", doc.bank.account_holder)
        if doc.bank.bic:
            _el(
                _el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution"),
                "ram:BICID",
                doc.bank.bic,
            )
    for row in doc.taxes:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", _amount(row.tax))
        _el(tax, "ram:TypeCode", "VAT")
        if row.exemption_reason:
            _el(tax, "ram:ExemptionReason", row.exemption_reason)
        _el(tax, "ram:BasisAmount", _amount(row.basis))
        _el(tax, "ram:CategoryCode", row.category)
        if row.exemption_code:
            _el(tax, "ram:ExemptionReasonCode", row.exemption_code)
        if row.category != VatCategory.OUT_OF_SCOPE:
            _el(tax, "ram:RateApplicablePercent", _decimal(row.rate))
    if doc.due_date:
        _date_el(
            _el(settlement, "ram:SpecifiedTradePaymentTerms"), "ram:DueDateDateTime", doc.due_date
        )
    elif doc.kind == "credit_note":
        # BR-CO-25: an amount due needs a due date or payment terms; a credit note is
        # settled against its invoice, not paid by the buyer.
        terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
        _el(
            terms,
            "ram:Description",
            f"Credited against invoice {doc.related_number}; "
            "any part already paid becomes account credit.",
        )
    summation = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summation, "ram:LineTotalAmount", _amount(sum((ln.net for ln in doc.lines), Decimal(0))))
    _el(summation, "ram:TaxBasisTotalAmount", _amount(doc.subtotal))
    _el(summation, "ram:TaxTotalAmount", _amount(doc.tax_total), currencyID=doc.currency)
    _el(summation, "ram:GrandTotalAmount", _amount(doc.total))
    _el(summation, "ram:DuePayableAmount", _amount(doc.total))
    if doc.related_number:
        related = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(related, "ram:IssuerAssignedID", doc.related_number)
        if doc.related_date:
            _date_el(related, "ram:FormattedIssueDateTime", doc.related_date, qualified=True)


def cii_xml_build(*, doc: EDocument) -> bytes:
    """The document as UN/CEFACT Cross Industry Invoice XML, EN 16931 profile."""
    einvoice_check(doc)
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE_EN16931)
    header = _el(root, "rsm:ExchangedDocument")
    _el(header, "ram:ID", doc.number)
    _el(header, "ram:TypeCode", doc.type_code)
    _date_el(header, "ram:IssueDateTime", doc.issue_date)
    for note in doc.notes:
        _el(_el(header, "ram:IncludedNote"), "ram:Content", note)
    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for line in doc.lines:
        _line(transaction, line)
    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    vat_ids = not doc.out_of_scope
    _party(agreement, "ram:SellerTradeParty", doc.seller, seller=True, vat_ids=vat_ids)
    _party(agreement, "ram:BuyerTradeParty", doc.buyer, seller=False, vat_ids=vat_ids)
    delivery = _el(transaction, "ram:ApplicableHeaderTradeDelivery")
    # The element is required and may not be empty; what is supplied goes to the buyer.
    ship_to = _el(delivery, "ram:ShipToTradeParty")
    _el(ship_to, "ram:Name", doc.buyer.name)
    _el(_el(ship_to, "ram:PostalTradeAddress"), "ram:CountryID", doc.buyer.country)
    if doc.intra_eu_goods:
        # BR-IC-11: an intra-Community supply says when the goods were delivered.
        event = _el(delivery, "ram:ActualDeliverySupplyChainEvent")
        _date_el(event, "ram:OccurrenceDateTime", doc.issue_date)
    _settlement(transaction, doc)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def cii_xml_validate(*, xml: bytes) -> None:
    """Checks the XML against the Factur-X EN 16931 schema. A failure is a fault of this
    module, not of the tenant's data (einvoice_check covers that), so it is not an
    EInvoiceError."""
    # factur-x loads its XML schemas on import; only an e-invoice download needs it.
    import facturx

    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")


def document_cii_xml(*, document: Any) -> bytes:
    """The validated CII XML of an issued invoice or credit note."""
    xml = cii_xml_build(doc=einvoice_document(document))
    cii_xml_validate(xml=xml)
    return xml


# --- Factur-X ----------------------------------------------------------------------


def facturx_pdf_build(*, pdf: bytes, xml: bytes, language: str) -> bytes:
    """A PDF/A-3 with ``xml`` embedded as factur-x.xml, and the XMP metadata that says
    so. ``xml`` is validated already."""
    # factur-x loads its XML schemas on import; only an e-invoice download needs it.
    import facturx

    return facturx.generate_from_binary(
        pdf, xml, flavor="factur-x", level="en16931", check_xsd=False, lang=language
    )


def document_facturx_get(*, document: Any) -> bytes | None:
    """The Factur-X PDF of an issued invoice or credit note, made from its stored
    rendering; None while that rendering is queued (as ``invoice_pdf_get``). Raises
    EInvoiceError when the parties' data is incomplete."""

    xml = document_cii_xml(document=document)
    if isinstance(document, Invoice):
        stored = documents.invoice_pdf_get(document)
    else:
        stored = documents.credit_note_pdf_get(document)
    if stored is None:
        return None
    with stored.open("rb") as handle:
        pdf = handle.read()
    return facturx_pdf_build(
        pdf=pdf, xml=xml, language=documents.document_language(document.language)
    )


def einvoice_filename(document: Any, extension: str) -> str:
    return (
        get_valid_filename(f"{document.number.replace('/', '-')}.{extension}")
        or f"document.{extension}"
    )
