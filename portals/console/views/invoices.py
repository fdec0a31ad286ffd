"""The console's invoices: the list, a manual invoice, an invoice's page with payments
and credit notes, and the downloads (PDF, Factur-X and FatturaPA for invoices and
credit notes)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from billing.documents import invoice_pdf_get
from billing.errors import BillingError
from billing.models import Client, Invoice
from billing.money import Money
from billing.number_input import NumberInputError, decimal_parse
from billing.payments.flows import bank_transfer_record
from billing.selectors import (
    credit_note_list,
    invoice_list,
    invoice_tax_record,
    invoice_tax_summary,
)
from billing.services import (
    CreditLine,
    credit_note_issue,
    invoice_cancel,
    invoice_create,
    invoice_issue,
    invoice_line_add,
    payment_record,
)
from core.ids import uuid_or_none
from portals.common.access import console_page
from portals.common.einvoices import FACTUR_X, FATTURAPA, einvoice_download
from portals.common.paging import paginate
from portals.console.forms import CreditNoteForm, InvoiceNewForm, PaymentForm
from portals.console.views._helpers import form_token


@console_page
def invoices(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status == "open":
        rows = invoice_list(statuses=list(Invoice.OPEN_STATUSES))
    else:
        rows = invoice_list(statuses=[status] if status in Invoice.Status.values else None)
    return render(
        request,
        "console/invoices.html",
        {"page": paginate(request, rows), "status": status, "statuses": Invoice.Status.choices},
    )


@console_page(write="money")
def invoice_new(request: HttpRequest) -> HttpResponse:
    initial = {}
    if request.GET.get("client"):
        initial["client"] = Client.objects.filter(
            public_id=uuid_or_none(request.GET["client"])
        ).first()
    form = InvoiceNewForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invoice = _invoice_make(data)
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Invoice saved."))
            return redirect("console:invoice", public_id=invoice.public_id)
    return render(
        request, "console/invoice_new.html", {"form": form}, status=400 if form.errors else 200
    )


def _invoice_make(data: dict) -> Invoice:
    with transaction.atomic():
        invoice = invoice_create(client=data["client"], notes=data["notes"])
        invoice_line_add(
            invoice=invoice,
            description=data["description"],
            unit_price=Money(data["unit_price"], invoice.currency),
            quantity=data["quantity"],
        )
        if data["issue"]:
            invoice = invoice_issue(invoice=invoice)
    return invoice


@console_page(write="money")
def invoice_detail(request: HttpRequest, public_id) -> HttpResponse:
    invoice = get_object_or_404(invoice_list(), public_id=public_id)
    payment_form = PaymentForm(
        initial={"amount": invoice.amount_due.amount, "token": form_token()}, prefix="payment"
    )
    credit_form = CreditNoteForm(initial={"token": form_token()}, prefix="credit")
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "issue":
            invoice_issue(invoice=invoice)
            messages.success(request, _("Invoice issued."))
            return redirect("console:invoice", public_id=invoice.public_id)
        if action == "cancel":
            invoice_cancel(invoice=invoice, reason=request.POST.get("reason", "").strip())
            messages.success(request, _("Invoice cancelled."))
            return redirect("console:invoice", public_id=invoice.public_id)
        if action == "payment":
            payment_form = PaymentForm(request.POST, prefix="payment")
            if payment_form.is_valid():
                _payment_record(request, invoice, payment_form.cleaned_data)
                messages.success(request, _("Payment recorded."))
                return redirect("console:invoice", public_id=invoice.public_id)
        if action == "credit_note":
            credit_form = CreditNoteForm(request.POST, prefix="credit")
            if credit_form.is_valid():
                note = _credit_note(request, invoice, credit_form.cleaned_data)
                messages.success(
                    request, _("Credit note %(number)s issued.") % {"number": note.number}
                )
                return redirect("console:invoice", public_id=invoice.public_id)
    except BillingError as exc:
        messages.error(request, str(exc))
    except ValueError as exc:
        messages.error(request, str(exc))
    bad = request.method == "POST" and (payment_form.errors or credit_form.errors)
    return render(
        request,
        "console/invoice.html",
        {
            "invoice": invoice,
            "lines": invoice.lines.all(),
            "tax_rows": invoice_tax_summary(invoice=invoice),
            "tax_record": invoice_tax_record(invoice=invoice),
            "payments": invoice.payments.all(),
            "credit_notes": invoice.credit_notes.all(),
            "payment_form": payment_form,
            "credit_form": credit_form,
        },
        status=400 if bad else 200,
    )


def _payment_record(request: HttpRequest, invoice: Invoice, data: dict) -> None:
    amount = Money(data["amount"], invoice.currency)
    if data["method"] == "bank_transfer" and data["reference"]:
        bank_transfer_record(
            invoice=invoice,
            amount=amount,
            bank_reference=data["reference"],
            recorded_by=request.user,
        )
        return
    payment_record(
        invoice=invoice,
        amount=amount,
        method=data["method"],
        idempotency_key=f"console:{data['token']}"[:100],
        note=data["note"],
        created_by=request.user,
    )


def _credit_note(request: HttpRequest, invoice: Invoice, data: dict):
    lines = None
    if not data["full"]:
        lines = []
        for line in invoice.lines.all():
            raw = request.POST.get(f"credit-line-{line.pk}", "").strip()
            if raw:
                try:
                    amount = decimal_parse(raw, decimal_comma=True)
                except NumberInputError as exc:
                    raise BillingError(str(exc)) from exc
                lines.append(CreditLine(line, Money(amount, invoice.currency)))
        if not lines:
            raise BillingError(_("Give an amount for at least one line, or credit everything."))
    return credit_note_issue(
        invoice=invoice,
        reason=data["reason"],
        lines=lines,
        idempotency_key=f"console:{data['token']}"[:100],
    )


@console_page
def invoice_pdf(request: HttpRequest, public_id) -> HttpResponse:
    invoice = get_object_or_404(Invoice, public_id=public_id)
    if invoice.status == Invoice.Status.DRAFT:
        raise Http404
    pdf = invoice_pdf_get(invoice)
    if pdf is None:
        return render(request, "console/pdf_pending.html", {"invoice": invoice}, status=202)
    return FileResponse(
        pdf.open("rb"),
        as_attachment=True,
        filename=f"invoice-{invoice.number.replace('/', '-')}.pdf",
        content_type="application/pdf",
    )


def _einvoice(request: HttpRequest, document, invoice: Invoice, syntax: str) -> HttpResponse:
    return einvoice_download(
        request,
        document=document,
        syntax=syntax,
        back_url=reverse("console:invoice", kwargs={"public_id": invoice.public_id}),
        pending_template="console/pdf_pending.html",
    )


def _issued_invoice(public_id) -> Invoice:
    invoice = get_object_or_404(Invoice, public_id=public_id)
    if invoice.status == Invoice.Status.DRAFT:
        raise Http404
    return invoice


@console_page
def invoice_einvoice(request: HttpRequest, public_id) -> HttpResponse:
    invoice = _issued_invoice(public_id)
    return _einvoice(request, invoice, invoice, FACTUR_X)


@console_page
def invoice_fatturapa(request: HttpRequest, public_id) -> HttpResponse:
    invoice = _issued_invoice(public_id)
    return _einvoice(request, invoice, invoice, FATTURAPA)


@console_page
def credit_note_einvoice(request: HttpRequest, public_id) -> HttpResponse:
    note = get_object_or_404(credit_note_list(), public_id=public_id)
    return _einvoice(request, note, note.invoice, FACTUR_X)


@console_page
def credit_note_fatturapa(request: HttpRequest, public_id) -> HttpResponse:
    note = get_object_or_404(credit_note_list(), public_id=public_id)
    return _einvoice(request, note, note.invoice, FATTURAPA)
