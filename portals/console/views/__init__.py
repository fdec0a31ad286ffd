"""The reseller console (``/console/``): this tenant's staff run their business here.

Every staff role reads every page; writes check the role's capability (portals.common.access).
Views stay thin: forms check input, billing's and this app's services write."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import PrivacyRequest, User
from accounts.two_factor import (
    security_settings_get,
    staff_two_factor_annotate,
    staff_without_two_factor_count,
    two_factor_enabled,
)
from billing.documents import invoice_pdf_get
from billing.errors import BillingError
from billing.models import (
    Client,
    CreditNote,
    Invoice,
    Order,
    Product,
    Service,
    TaxRule,
)
from billing.money import Money
from billing.selectors import (
    billing_settings_get,
    client_amount_due,
    client_credit,
    invoice_tax_summary,
)
from billing.services import (
    CreditLine,
    billing_settings_update,
    client_create,
    client_update,
    credit_note_issue,
    invoice_cancel,
    invoice_create,
    invoice_issue,
    invoice_line_add,
    payment_record,
    service_cancel,
    service_suspend,
    service_terminate,
    service_unsuspend,
    tax_rule_set,
)
from portals.common.access import capability_require, console_page
from portals.common.charts import ChartPoint, bar_line_chart
from portals.common.einvoices import FACTUR_X, FATTURAPA, einvoice_download
from portals.common.forms import (
    BrandingForm,
    ClientForm,
    CreditNoteForm,
    DomainAddForm,
    InvoiceNewForm,
    MarkupForm,
    PaymentForm,
    SettingsForm,
    StaffInviteForm,
    StaffTwoFactorForm,
    TaxRuleForm,
)
from portals.common.paging import paginate
from portals.console import selectors as console_selectors
from resale import catalogue_import
from tenants import domains, staff
from tenants.branding import (
    branding_get,
    branding_update,
    color_or_default,
    contrast_with_white,
)
from tenants.locale import babel_locale, number_format
from tenants.models import Domain


def _token() -> str:
    return uuid.uuid4().hex


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


# --- dashboard ---------------------------------------------------------------------------


def _axis_number(value: Decimal) -> str:
    # Small axes need their decimals (0.25); large ones read better without them.
    return number_format(value.quantize(Decimal("0.01")).normalize())


@console_page
def home(request: HttpRequest) -> HttpResponse:
    from babel.dates import format_date

    today = timezone.localdate()
    series = console_selectors.dashboard_series(today)
    locale = babel_locale()
    points = [
        ChartPoint(format_date(row.month, "MMM", locale=locale), row.revenue.amount, row.mrr.amount)
        for row in series
    ]
    chart = bar_line_chart(
        points,
        title=_("Revenue and MRR, last 12 months"),
        bar_name=_("Revenue"),
        line_name=_("MRR"),
        axis_format=_axis_number,
    )
    overdue = console_selectors.overdue_invoices(today)
    return render(
        request,
        "console/home.html",
        {
            "chart": chart,
            "series": series,
            "mrr": series[-1].mrr if series else None,
            "revenue": series[-1].revenue if series else None,
            "overdue": overdue[:10],
            "overdue_count": overdue.count(),
            "counts": console_selectors.dashboard_counts(),
            "balance": console_selectors.provider_balance(),
        },
    )


# --- clients -----------------------------------------------------------------------------


@console_page
def clients(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    rows = Client.objects.all()
    if query:
        rows = rows.filter(
            Q(name__icontains=query) | Q(company_name__icontains=query) | Q(email__icontains=query)
        )
    return render(
        request, "console/clients.html", {"page": paginate(request, rows), "query": query}
    )


@console_page(write="money")
def client_new(request: HttpRequest) -> HttpResponse:
    form = ClientForm(
        request.POST if request.method == "POST" else None,
        initial={"language": request.tenant.default_language},
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["kind"] = Client.Kind.COMPANY if data["company_name"] else Client.Kind.PERSON
        try:
            client = client_create(**data)
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Client created."))
            return redirect("console:client", public_id=client.public_id)
    return render(
        request,
        "console/client_form.html",
        {"form": form, "client": None},
        status=400 if form.errors else 200,
    )


@console_page(write="money")
def client_detail(request: HttpRequest, public_id) -> HttpResponse:
    client = get_object_or_404(Client, public_id=public_id)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action.startswith("privacy_") or action == "erase":
        return _client_privacy(request, client, action)
    form = ClientForm(
        request.POST if request.method == "POST" else None,
        initial={name: getattr(client, name) for name in ClientForm.base_fields},
    )
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if data["company_name"]:
            data["kind"] = Client.Kind.COMPANY
        try:
            client_update(client=client, **data)
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Client saved."))
            return redirect("console:client", public_id=client.public_id)
    return render(
        request,
        "console/client.html",
        {
            "client": client,
            "form": form,
            "services": client.services.select_related("plan__product")[:50],
            "invoices": client.invoices.exclude(status=Invoice.Status.DRAFT)[:50],
            "amount_due": client_amount_due(client=client),
            "credit": client_credit(client=client),
            "privacy_requests": PrivacyRequest.objects.filter(client=client),
            "users": User.objects.filter(client_link__client=client),
        },
        status=400 if form.errors else 200,
    )


def _client_privacy(request: HttpRequest, client: Client, action: str) -> HttpResponse:
    """Data-protection work on a client: personal data is the owners' and admins' to
    hand out or erase."""
    from portals.client_area.services import client_erasure_carry_out, privacy_request_close
    from portals.common.access import capability_require

    capability_require(request, "admin")
    try:
        if action == "erase":
            if request.POST.get("confirm") != client.email:
                raise ValidationError(_("Type the client's e-mail address to confirm."))
            client_erasure_carry_out(client=client)
            messages.success(request, _("The client's personal data has been erased."))
        else:
            item = get_object_or_404(
                PrivacyRequest, client=client, public_id=_uuid(request.POST.get("request", ""))
            )
            status = "completed" if action == "privacy_complete" else "refused"
            privacy_request_close(privacy_request=item, status=status)
            messages.success(request, _("Request closed."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("console:client", public_id=client.public_id)


@console_page
def client_export(request: HttpRequest, public_id) -> HttpResponse:
    """The client's data as billing.gdpr packs it (a zip), for an export request."""
    from billing.gdpr import client_data_export
    from portals.common.access import capability_require

    capability_require(request, "admin")
    client = get_object_or_404(Client, public_id=public_id)
    response = HttpResponse(client_data_export(client), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="client-{client.public_id}.zip"'
    return response


# --- orders and services -------------------------------------------------------------------


@console_page
def orders(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    rows = Order.objects.select_related("client", "invoice")
    if status in Order.Status.values:
        rows = rows.filter(status=status)
    return render(
        request,
        "console/orders.html",
        {"page": paginate(request, rows), "status": status, "statuses": Order.Status.choices},
    )


@console_page
def order_detail(request: HttpRequest, public_id) -> HttpResponse:
    order = get_object_or_404(
        Order.objects.select_related("client", "invoice"), public_id=public_id
    )
    return render(
        request,
        "console/order.html",
        {
            "order": order,
            "items": order.items.select_related("plan"),
            "services": Service.objects.filter(order_item__order=order).select_related("plan"),
        },
    )


@console_page
def services(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    rows = Service.objects.select_related("plan__product", "client")
    if status in Service.Status.values:
        rows = rows.filter(status=status)
    return render(
        request,
        "console/services.html",
        {"page": paginate(request, rows), "status": status, "statuses": Service.Status.choices},
    )


SERVICE_ACTIONS = {
    "suspend": lambda service, reason: service_suspend(service=service, reason=reason),
    "unsuspend": lambda service, reason: service_unsuspend(service=service),
    "terminate": lambda service, reason: service_terminate(service=service, reason=reason),
    "cancel": lambda service, reason: service_cancel(service=service, reason=reason),
    "cancel_at_end": lambda service, reason: service_cancel(
        service=service, at_period_end=True, reason=reason
    ),
}


@console_page(write="service")
def service_detail(request: HttpRequest, public_id) -> HttpResponse:
    from resale.models import UpstreamCommand

    service = get_object_or_404(
        Service.objects.select_related("plan__product", "client"), public_id=public_id
    )
    if request.method == "POST":
        action = SERVICE_ACTIONS.get(request.POST.get("action", ""))
        if action is None:
            messages.error(request, _("Unknown action."))
        else:
            try:
                action(service, request.POST.get("reason", "").strip()[:200])
            except BillingError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _("Done."))
        return redirect("console:service", public_id=service.public_id)
    return render(
        request,
        "console/service.html",
        {
            "service": service,
            "options": service.options.select_related("option", "choice"),
            "commands": UpstreamCommand.objects.filter(service_ref=str(service.public_id)),
            "lines": service.invoice_lines.select_related("invoice").order_by("-id")[:20],
        },
    )


# --- invoices ------------------------------------------------------------------------------


@console_page
def invoices(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    rows = Invoice.objects.select_related("client")
    if status == "open":
        rows = rows.filter(status__in=Invoice.OPEN_STATUSES)
    elif status in Invoice.Status.values:
        rows = rows.filter(status=status)
    return render(
        request,
        "console/invoices.html",
        {"page": paginate(request, rows), "status": status, "statuses": Invoice.Status.choices},
    )


@console_page(write="money")
def invoice_new(request: HttpRequest) -> HttpResponse:
    initial = {}
    if request.GET.get("client"):
        initial["client"] = Client.objects.filter(public_id=_uuid(request.GET["client"])).first()
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


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError):
        return None


def _invoice_make(data: dict) -> Invoice:
    from django.db import transaction

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
    invoice = get_object_or_404(Invoice.objects.select_related("client"), public_id=public_id)
    payment_form = PaymentForm(
        initial={"amount": invoice.amount_due.amount, "token": _token()}, prefix="payment"
    )
    credit_form = CreditNoteForm(initial={"token": _token()}, prefix="credit")
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
        from billing.payments.flows import bank_transfer_record

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
            raw = request.POST.get(f"credit-line-{line.pk}", "").strip().replace(",", ".")
            if raw:
                lines.append(CreditLine(line, Money(Decimal(raw), invoice.currency)))
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
    note = get_object_or_404(CreditNote.objects.select_related("invoice"), public_id=public_id)
    return _einvoice(request, note, note.invoice, FACTUR_X)


@console_page
def credit_note_fatturapa(request: HttpRequest, public_id) -> HttpResponse:
    note = get_object_or_404(CreditNote.objects.select_related("invoice"), public_id=public_id)
    return _einvoice(request, note, note.invoice, FATTURAPA)


# --- catalogue ---------------------------------------------------------------------------


@console_page(write="admin")
def catalogue(request: HttpRequest) -> HttpResponse:
    products = Product.objects.select_related("group").prefetch_related("plans__prices")
    options = console_selectors.configurable_options()
    return render(request, "console/catalogue.html", {"products": products, "options": options})


@console_page(write="admin")
def catalogue_import_view(request: HttpRequest) -> HttpResponse:
    form = MarkupForm(request.POST if request.method == "POST" else None)
    markup = catalogue_import.Markup()
    error = ""
    if form.is_bound and form.is_valid():
        markup = catalogue_import.Markup(
            form.cleaned_data["kind"], form.cleaned_data["value"], form.cleaned_data["rounding"]
        )
    try:
        offers = catalogue_import.wholesale_offer(tenant=request.tenant)
    except BillingError as exc:
        offers, error = [], str(exc)
    if request.method == "POST" and request.POST.get("action") == "import" and form.is_valid():
        codes = request.POST.getlist("plans")
        if not codes:
            messages.error(request, _("Tick the plans to import."))
        else:
            try:
                result = catalogue_import.wholesale_plans_import(
                    tenant=request.tenant, codes=codes, markup=markup
                )
            except BillingError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(
                    request,
                    _("%(created)s plans imported, %(repriced)s repriced.")
                    % {"created": len(result.created), "repriced": len(result.repriced)},
                )
                return redirect("console:catalogue")
    currency = billing_settings_get().currency
    rows = []
    for offer in offers:
        retail = offer.retail(markup) if offer.currency == currency else {}
        rows.append(
            {
                "offer": offer,
                "cycles": [
                    {
                        "cycle": cycle,
                        "cost": price,
                        "retail": retail.get(cycle, (None, None))[0],
                        "setup_cost": setup,
                        "setup_retail": retail.get(cycle, (None, None))[1],
                    }
                    for cycle, (price, setup) in offer.prices.items()
                ],
                "same_currency": offer.currency == currency,
            }
        )
    return render(
        request,
        "console/catalogue_import.html",
        {"form": form, "rows": rows, "error": error, "selected": request.POST.getlist("plans")},
        status=400 if form.is_bound and form.errors else 200,
    )


# --- branding, domains, staff ------------------------------------------------------------------


@console_page(write="admin")
def branding(request: HttpRequest) -> HttpResponse:
    current = branding_get()
    initial = {
        "company_name": current.company_name,
        "brand_color": current.brand_color,
        "legal_footer": current.legal_footer,
        "homepage_title": current.homepage_title,
        "homepage_text": current.homepage_text,
        "terms_text": current.terms_text,
    }
    form = BrandingForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = branding_update(**data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if contrast_with_white(saved.brand_color) < 3:
                messages.warning(
                    request,
                    _("White text is hard to read on this colour; consider a darker one."),
                )
            messages.success(request, _("Branding saved."))
            return redirect("console:branding")
    return render(
        request,
        "console/branding.html",
        {
            "form": form,
            "current": current,
            "preview_color": color_or_default(form["brand_color"].value() or ""),
        },
        status=400 if form.errors else 200,
    )


@console_page(write="admin")
def domains_view(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    form = DomainAddForm(request.POST if request.POST.get("action") == "add" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add":
                if form.is_valid():
                    added = domains.custom_domain_add(
                        tenant=tenant, hostname=form.cleaned_data["hostname"]
                    )
                    messages.success(
                        request,
                        _("%(domain)s added. Create its TXT record, then verify it.")
                        % {"domain": added.domain},
                    )
                    return redirect("console:domains")
            else:
                domain = domains.tenant_domain_get(
                    tenant=tenant, domain_id=_int(request.POST.get("domain"))
                )
                if action == "verify":
                    result = domains.custom_domain_verify(domain=domain)
                    (messages.success if result.verified else messages.error)(
                        request, result.message
                    )
                elif action == "primary":
                    domains.custom_domain_make_primary(domain=domain)
                    messages.success(
                        request, _("%(domain)s is now the primary address.") % {"domain": domain}
                    )
                elif action == "remove":
                    domains.custom_domain_remove(domain=domain)
                    messages.success(request, _("%(domain)s removed.") % {"domain": domain})
                return redirect("console:domains")
        except ValidationError as exc:
            if action == "add":
                form.add_error("hostname", exc)
            else:
                messages.error(request, " ".join(exc.messages))
                return redirect("console:domains")
        except Domain.DoesNotExist:
            raise Http404 from None
    rows = [
        {
            "domain": domain,
            "record": domains.txt_record_name(domain),
            "platform": domains.is_platform_host(domain.domain),
        }
        for domain in domains.tenant_domains(tenant=tenant)
    ]
    return render(
        request,
        "console/domains.html",
        {"form": form, "rows": rows},
        status=400 if form.errors else 200,
    )


@console_page(write="admin")
def staff_view(request: HttpRequest) -> HttpResponse:
    form = StaffInviteForm(request.POST if request.POST.get("action") == "invite" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "invite":
                if form.is_valid():
                    invited = staff.staff_invite(
                        email=form.cleaned_data["email"],
                        full_name=form.cleaned_data["full_name"],
                        role=form.cleaned_data["role"],
                        invited_by=request.user,
                        hostname=request.get_host().split(":")[0],
                        site_name=branding_get().company_name or request.tenant.name,
                    )
                    messages.success(
                        request,
                        _("Invitation sent to %(email)s.") % {"email": invited.email},
                    )
                    return redirect("console:staff")
            else:
                member = get_object_or_404(
                    User, pk=_int(request.POST.get("user")), kind=User.Kind.STAFF
                )
                if action == "role":
                    staff.staff_role_set(
                        user=member, role=request.POST.get("role", ""), changed_by=request.user
                    )
                elif action in ("deactivate", "activate"):
                    staff.staff_active_set(
                        user=member, active=action == "activate", changed_by=request.user
                    )
                messages.success(request, _("Saved."))
                return redirect("console:staff")
        except ValidationError as exc:
            if action == "invite":
                form.add_error(None, exc)
            else:
                messages.error(request, " ".join(exc.messages))
                return redirect("console:staff")
    return render(
        request,
        "console/staff.html",
        {
            "form": form,
            "members": staff_two_factor_annotate(
                User.objects.filter(kind=User.Kind.STAFF).order_by("-is_active", "email")
            ),
            "roles": User.Role.choices,
            "two_factor_required": security_settings_get().staff_two_factor_required,
        },
        status=400 if form.errors else 200,
    )


# --- upstream queue and settings -------------------------------------------------------------


@console_page(write="service")
def upstream(request: HttpRequest) -> HttpResponse:
    from resale.models import UpstreamCommand
    from resale.outbox import upstream_command_retry

    if request.method == "POST":
        command = get_object_or_404(UpstreamCommand, public_id=request.POST.get("command", ""))
        if command.state != UpstreamCommand.State.FAILED:
            messages.error(request, _("Only a failed command can be retried."))
        else:
            upstream_command_retry(command=command)
            messages.success(request, _("The command is queued again."))
        return redirect(f"{request.path}?{request.GET.urlencode()}")
    state = request.GET.get("state", "")
    rows = UpstreamCommand.objects.order_by("-created_at", "-id")
    if state in UpstreamCommand.State.values:
        rows = rows.filter(state=state)
    page = paginate(request, rows)
    for command in page.object_list:
        try:
            command.service_url = reverse("console:service", args=[uuid.UUID(command.service_ref)])
        except ValueError:
            command.service_url = ""
    return render(
        request,
        "console/upstream.html",
        {
            "page": page,
            "state": state,
            "states": UpstreamCommand.State.choices,
            "balance": console_selectors.provider_balance(),
        },
    )


SETTINGS_FIELDS = [name for name in SettingsForm.base_fields if name != "default_language"]


@console_page(write="admin")
def settings_view(request: HttpRequest) -> HttpResponse:
    current = billing_settings_get()
    initial = {name: getattr(current, name) for name in SETTINGS_FIELDS}
    initial["reminder_days"] = ", ".join(str(day) for day in current.reminder_days or [])
    initial["default_language"] = request.tenant.default_language
    action = request.POST.get("action") if request.method == "POST" else None
    form = SettingsForm(request.POST if action == "settings" else None, initial=initial)
    tax_form = TaxRuleForm(request.POST if action == "tax" else None, prefix="tax")
    security = security_settings_get()
    two_factor_form = StaffTwoFactorForm(
        request.POST if action == "two_factor" else None,
        initial={"required": security.staff_two_factor_required},
        prefix="two_factor",
    )
    if action == "two_factor":
        # Administrators may save the rest of this page, but not this.
        capability_require(request, "owner")
    if action == "two_factor" and two_factor_form.is_valid():
        required = two_factor_form.cleaned_data["required"]
        try:
            staff.staff_two_factor_require_set(required=required, changed_by=request.user)
        except ValidationError as exc:
            two_factor_form.add_error(None, exc)
        else:
            if required:
                saved = _(
                    "Two-factor authentication is now required for all staff. Those who have "
                    "not set it up will be asked to the next time they open the console."
                )
            else:
                saved = _("Two-factor authentication is no longer required.")
            messages.success(request, saved)
            return redirect("console:settings")
    if action == "settings" and form.is_valid():
        data = dict(form.cleaned_data)
        language = data.pop("default_language")
        try:
            billing_settings_update(**data, default_language=language)
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            _tenant_language_set(request.tenant, language)
            messages.success(request, _("Settings saved."))
            return redirect("console:settings")
    if action == "tax" and tax_form.is_valid():
        try:
            tax_rule_set(**tax_form.cleaned_data)
        except BillingError as exc:
            tax_form.add_error(None, str(exc))
        else:
            messages.success(request, _("Tax rule saved."))
            return redirect("console:settings")
    if action == "tax_remove":
        rule = get_object_or_404(TaxRule, pk=_int(request.POST.get("rule")), is_active=True)
        # A rule is never deleted: issued invoices name it; it just stops applying.
        rule.is_active = False
        rule.save(update_fields=["is_active"])
        messages.success(request, _("Tax rule removed."))
        return redirect("console:settings")
    return render(
        request,
        "console/settings.html",
        {
            "form": form,
            "tax_form": tax_form,
            "rules": TaxRule.objects.filter(is_active=True),
            "two_factor_form": two_factor_form,
            "two_factor_required": security.staff_two_factor_required,
            "two_factor_own": two_factor_enabled(request.user),
            "staff_without_two_factor": staff_without_two_factor_count(),
        },
        status=400 if form.errors or tax_form.errors or two_factor_form.errors else 200,
    )


def _tenant_language_set(tenant, language: str) -> None:
    from django_tenants.utils import get_public_schema_name, schema_context

    from tenants.models import Tenant

    if tenant.default_language == language:
        return
    with schema_context(get_public_schema_name()):
        Tenant.objects.filter(pk=tenant.pk).update(default_language=language)
    tenant.default_language = language
