"""FatturaPA: the XML an Italian seller sends to the Sistema di Interscambio (SdI), built
and validated with a38's model of FatturaElettronica 1.2 (format FPR12, between
private parties).

Only documents whose seller is in Italy have one. The data is the same e-invoice view
of the document as the Factur-X export (billing.einvoices), so both say the same thing.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import a38.fattura as fa
from a38.validation import Validation
from django.utils.translation import gettext as _
from lxml import etree

from billing.einvoices import (
    CENT,
    EDocument,
    EInvoiceError,
    ELine,
    EParty,
    einvoice_document,
)
from billing.taxes import SaleRule, VatCategory

TIPO_FATTURA = "TD01"
TIPO_NOTA_DI_CREDITO = "TD04"
# The seller's tax regime, a setting of the tenant: ordinary, or the flat-rate regime
# of small businesses, whose every line is outside the scope of VAT (N2.2).
REGIME_ORDINARIO = "RF01"
REGIME_FORFETTARIO = "RF19"
# SdI delivery codes: a buyer abroad, and a buyer in Italy who gave no code (SdI then
# sends the invoice to the PEC address given with it, or to the buyer's registered
# channel, or leaves it in the buyer's reserved area).
CODICE_ESTERO = "XXXXXXX"
CODICE_NESSUNO = "0000000"
# Nature of a line without Italian VAT (Natura, tables of the Agenzia delle Entrate).
NATURA_NON_SOGGETTA_ART_7 = "N2.1"  # services located abroad, artt. 7 to 7-septies DPR 633/72
NATURA_NON_SOGGETTA_ALTRO = "N2.2"  # other non-taxable operations, the forfettario among them
NATURA_ESPORTAZIONE = "N3.1"  # export of goods
NATURA_CESSIONE_INTRACOMUNITARIA = "N3.2"  # intra-Community supply of goods
NATURA_ESENTE = "N4"
NATURA_INVERSIONE_CONTABILE = "N6.9"  # domestic reverse charge, other cases
NATURA_IVA_ALTRO_STATO_UE = "N7"  # VAT paid in another member state (OSS)
RIFERIMENTI = {
    NATURA_NON_SOGGETTA_ART_7: "Operazione non soggetta - artt. da 7 a 7-septies DPR 633/72",
    NATURA_NON_SOGGETTA_ALTRO: "Operazione non soggetta",
    NATURA_ESPORTAZIONE: "Esportazione - art. 8 DPR 633/72",
    NATURA_CESSIONE_INTRACOMUNITARIA: "Cessione intracomunitaria - art. 41 DL 331/93",
    NATURA_ESENTE: "Operazione esente",
    NATURA_INVERSIONE_CONTABILE: "Inversione contabile - art. 17 DPR 633/72",
    NATURA_IVA_ALTRO_STATO_UE: "IVA assolta in altro stato UE - art. 74-sexies DPR 633/72",
}
FORFETTARIO_RIFERIMENTO = (
    "Operazione effettuata ai sensi dell'art. 1, commi da 54 a 89, Legge n. 190/2014 "
    "- Regime forfettario"
)
# Rules of the tax engine under which the VAT is another member state's.
_OTHER_STATE_RULES = {SaleRule.EU_OSS, SaleRule.EU_DESTINATION}
# a38 still applies the first wording of SdI check 00426, which refused code 0000000
# without a PEC address. The specifications since 1.3 allow it (a consumer has no PEC),
# and SdI accepts it: that one finding is not an error.
_OUTDATED_CHECKS = {"00426"}


def fatturapa_supported(document: Any) -> bool:
    seller = document.seller if isinstance(document.seller, dict) else {}
    return str(seller.get("country", "")).upper() == "IT"


def _base36(value: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if not value:
            return out


def progressivo_invio(doc: EDocument) -> str:
    """The file's identifier at SdI (at most 10 characters, unique per sender), derived
    from the document's number in its sequence: the same document, the same file."""
    prefix = "N" if doc.kind == "credit_note" else "F"
    return prefix + _base36((doc.sequence_year or 0) * 10_000_000 + (doc.sequence_number or 0))


def _id_fiscale(party: EParty) -> fa.IdFiscaleIVA | None:
    if not party.vat_number:
        return None
    return fa.IdFiscaleIVA(id_paese=party.vat_number[:2], id_codice=party.vat_number[2:])


def _anagrafica(party: EParty) -> fa.Anagrafica:
    if not party.is_company and " " in party.name:
        nome, cognome = party.name.rsplit(" ", 1)
        return fa.Anagrafica(nome=nome[:60], cognome=cognome[:60])
    return fa.Anagrafica(denominazione=party.name[:80])


def _sede(party: EParty) -> fa.Sede:
    abroad = party.country != "IT"
    return fa.Sede(
        indirizzo=(" ".join(p for p in (party.line1, party.line2) if p) or None),
        # A foreign postcode has no place in the five digits of CAP.
        cap="00000" if abroad else (party.postal_code or None),
        comune=party.city or None,
        provincia=party.region.upper() if len(party.region) == 2 and not abroad else None,
        nazione=party.country,
    )


def _recipient(buyer: EParty) -> tuple[str, str | None]:
    """CodiceDestinatario and PECDestinatario: the buyer's SdI code when it gave one, else
    seven zeros with its PEC address when it gave one (SdI delivers there), else seven
    zeros alone; a buyer abroad is always XXXXXXX."""
    if buyer.country != "IT":
        return CODICE_ESTERO, None
    if buyer.sdi_code:
        return buyer.sdi_code, None
    return CODICE_NESSUNO, buyer.pec_email or None


def _natura(line: ELine, buyer: EParty, regime: str) -> str | None:
    """The nature of a line without Italian VAT; None for a line with Italian VAT."""
    if regime == REGIME_FORFETTARIO:
        return NATURA_NON_SOGGETTA_ALTRO
    if line.rule in _OTHER_STATE_RULES:
        return NATURA_IVA_ALTRO_STATO_UE
    category = line.category
    if category == VatCategory.STANDARD:
        return None
    if category == VatCategory.EXEMPT:
        return NATURA_ESENTE
    if category == VatCategory.INTRA_EU_GOODS:
        return NATURA_CESSIONE_INTRACOMUNITARIA
    if category == VatCategory.EXPORT:
        return NATURA_ESPORTAZIONE
    if line.rule == SaleRule.DOMESTIC_REVERSE_CHARGE:
        return NATURA_INVERSIONE_CONTABILE
    if category in (VatCategory.REVERSE_CHARGE, VatCategory.OUT_OF_SCOPE) and (
        buyer.country != "IT" or line.rule in (SaleRule.EU_REVERSE_CHARGE, SaleRule.OUT_OF_SCOPE)
    ):
        return NATURA_NON_SOGGETTA_ART_7
    return NATURA_NON_SOGGETTA_ALTRO


def _line_amounts(line: ELine, natura: str | None) -> tuple[Decimal, Decimal, Decimal]:
    """(unit price, total, rate) as FatturaPA states them. A line with another member
    state's VAT carries no Italian VAT: its amount is what the buyer pays, VAT of that
    state included."""
    if natura == NATURA_IVA_ALTRO_STATO_UE:
        total = line.net + line.tax
        return total / (line.quantity or Decimal(1)), total, Decimal(0)
    if natura is not None:
        return line.net_price, line.net, Decimal(0)
    return line.net_price, line.net, line.rate


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, ROUND_HALF_UP)


def fatturapa_build(*, doc: EDocument) -> fa.FatturaPrivati12:
    seller, buyer = doc.seller, doc.buyer
    if seller.country != "IT":
        raise EInvoiceError(_("FatturaPA is for sellers in Italy."))
    transmitter = seller.tax_id or seller.vat_number[2:]
    codice_destinatario, pec_destinatario = _recipient(buyer)
    header = fa.FatturaElettronicaHeader(
        dati_trasmissione=fa.DatiTrasmissione(
            id_trasmittente=fa.IdTrasmittente(id_paese="IT", id_codice=transmitter or None),
            progressivo_invio=progressivo_invio(doc),
            codice_destinatario=codice_destinatario,
            pec_destinatario=pec_destinatario,
        ),
        cedente_prestatore=fa.CedentePrestatore(
            dati_anagrafici=fa.DatiAnagraficiCedentePrestatore(
                id_fiscale_iva=_id_fiscale(seller),
                codice_fiscale=seller.tax_id or None,
                anagrafica=fa.Anagrafica(denominazione=seller.name[:80]),
                regime_fiscale=seller.fatturapa_regime or REGIME_ORDINARIO,
            ),
            sede=_sede(seller),
        ),
        cessionario_committente=fa.CessionarioCommittente(
            dati_anagrafici=fa.DatiAnagraficiCessionarioCommittente(
                id_fiscale_iva=_id_fiscale(buyer),
                codice_fiscale=(buyer.tax_id or None) if buyer.country == "IT" else None,
                anagrafica=_anagrafica(buyer),
            ),
            sede=_sede(buyer),
        ),
    )
    general = fa.DatiGeneraliDocumento(
        tipo_documento=TIPO_NOTA_DI_CREDITO if doc.kind == "credit_note" else TIPO_FATTURA,
        divisa=doc.currency,
        data=doc.issue_date,
        numero=doc.number,
        importo_totale_documento=_money(doc.total),
        causale=[note[:200] for note in doc.notes] or None,
    )
    dati_generali = fa.DatiGenerali(dati_generali_documento=general)
    if doc.related_number:
        dati_generali.dati_fatture_collegate.append(
            fa.DatiFattureCollegate(id_documento=doc.related_number, data=doc.related_date)
        )
    goods = fa.DatiBeniServizi()
    regime = seller.fatturapa_regime or REGIME_ORDINARIO
    summary: dict[tuple[Decimal, str | None], list[Decimal]] = {}
    for line in doc.lines:
        natura = _natura(line, buyer, regime)
        price, total, rate = _line_amounts(line, natura)
        goods.dettaglio_linee.append(
            fa.DettaglioLinee(
                numero_linea=line.position,
                descrizione=line.description[:1000],
                quantita=line.quantity.quantize(CENT),
                unita_misura="pz",
                data_inizio_periodo=line.period_start,
                data_fine_periodo=line.period_end,
                prezzo_unitario=price.quantize(Decimal("0.00000001")),
                prezzo_totale=_money(total),
                aliquota_iva=_money(rate),
                natura=natura,
            )
        )
        sums = summary.setdefault((_money(rate), natura), [Decimal(0), Decimal(0)])
        sums[0] += total
        sums[1] += line.tax if natura is None else Decimal(0)
    for (rate, natura), (basis, tax) in sorted(
        summary.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")
    ):
        goods.dati_riepilogo.append(
            fa.DatiRiepilogo(
                aliquota_iva=rate,
                natura=natura,
                imponibile_importo=_money(basis),
                imposta=_money(tax),
                # Immediate VAT; a line without VAT has no esigibilità.
                esigibilita_iva=None if natura else "I",
                riferimento_normativo=(
                    FORFETTARIO_RIFERIMENTO
                    if regime == REGIME_FORFETTARIO
                    else RIFERIMENTI.get(natura or "")
                ),
            )
        )
    body = fa.FatturaElettronicaBody(dati_generali=dati_generali, dati_beni_servizi=goods)
    if doc.kind == "invoice" and doc.total > 0 and doc.bank.iban:
        body.dati_pagamento.append(
            fa.DatiPagamento(
                condizioni_pagamento="TP02",  # payment in full
                dettaglio_pagamento=[
                    fa.DettaglioPagamento(
                        beneficiario=(doc.bank.account_holder or seller.name)[:200],
                        modalita_pagamento="MP05",  # bank transfer
                        data_scadenza_pagamento=doc.due_date,
                        importo_pagamento=_money(doc.total),
                        iban="".join(doc.bank.iban.split()).upper(),
                        bic=doc.bank.bic or None,
                    )
                ],
            )
        )
    return fa.FatturaPrivati12(fattura_elettronica_header=header, fattura_elettronica_body=[body])


def fatturapa_errors(invoice: fa.FatturaPrivati12) -> list[str]:
    """a38's findings that SdI would refuse the file for."""
    validation = Validation()
    invoice.validate(validation)
    return [str(error) for error in validation.errors if error.code not in _OUTDATED_CHECKS]


def document_fatturapa_xml(*, document: Any) -> bytes:
    """The validated FatturaPA XML of an issued invoice or credit note of an Italian
    seller. Raises EInvoiceError, saying what is missing, when a38 finds the file
    incomplete."""
    doc = einvoice_document(document)
    invoice = fatturapa_build(doc=doc)
    errors = fatturapa_errors(invoice)
    if errors:
        # a38's findings stay as a38 words them: they name the XML elements SdI checks.
        raise EInvoiceError(
            _("%(number)s cannot be exported as FatturaPA: %(findings)s.")
            % {"number": doc.number, "findings": "; ".join(errors)}
        )
    tree = invoice.build_etree(lxml=True)
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)
