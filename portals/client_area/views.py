"""The client area (``/account/``): services, invoices, profile, contacts and
data-protection requests of the signed-in client. Every query is bounded by the client,
so another client's id is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import PrivacyRequest
from billing.documents import invoice_pdf_get
from billing.errors import BillingError
from billing.models import Invoice, Plan, PlanPrice, Service
from billing.models.gateway import PaymentAttempt, SavedPaymentMethod
from billing.payments.flows import (
    card_payments_available,
    invoice_checkout_finish,
    invoice_checkout_start,
    payment_method_autocharge_set,
    payment_method_checkout_finish,
    payment_method_checkout_start,
    payment_method_remove,
    payment_methods_expiry,
)
from billing.payments.gateways import GatewayConfigError, GatewayError, GatewayUnavailable
from billing.selectors import (
    billing_settings_get,
    client_amount_due,
    client_credit,
    invoice_tax_summary,
    service_list,
)
from billing.services import (
    client_update,
    client_vat_number_confirm,
    contact_create,
    service_cancel,
    service_change_options,
    service_change_plan,
)
from core.ids import uuid_or_none
from core.locale import language_cookie_set, money_format
from portals.client_area.forms import CancelServiceForm, ContactForm, ProfileForm
from portals.client_area.panel import panel_refusal_message, request_client_ip
from portals.client_area.payments import invoice_pay_context
from portals.client_area.services import contact_remove, privacy_request_create
from portals.common.access import client_page
from portals.common.einvoices import FACTUR_X, einvoice_download
from portals.common.options import option_rows_for, options_picked
from portals.common.paging import paginate
from resale.panel import PanelUnavailable, service_panel_login_reset, service_panel_url
from resale.selectors import service_is_resold, service_is_resold_domain


def _invoices(request: HttpRequest):
    return Invoice.objects.filter(client=request.client).exclude(status=Invoice.Status.DRAFT)


def _service(request: HttpRequest, public_id) -> Service:
    return get_object_or_404(
        service_list(client=request.client).prefetch_related("options__choice"),
        public_id=public_id,
    )


@client_page
def dashboard(request: HttpRequest) -> HttpResponse:
    client = request.client
    services = service_list(client=client).exclude(
        status__in=[Service.Status.CANCELLED, Service.Status.TERMINATED]
    )
    return render(
        request,
        "client_area/dashboard.html",
        {
            "client": client,
            "services": services[:5],
            "service_count": services.count(),
            "open_invoices": _invoices(request).filter(status__in=Invoice.OPEN_STATUSES)[:5],
            # Paid ones too: a client who owes nothing still sees what it was billed.
            "recent_invoices": _invoices(request).exclude(status__in=Invoice.OPEN_STATUSES)[:5],
            "amount_due": client_amount_due(client=client),
            "credit": client_credit(client=client),
        },
    )


@client_page
def services(request: HttpRequest) -> HttpResponse:
    page = paginate(request, service_list(client=request.client))
    return render(request, "client_area/services.html", {"page": page})


@client_page
def service_detail(request: HttpRequest, public_id) -> HttpResponse:
    service = _service(request, public_id)
    lines = (
        service.invoice_lines.select_related("invoice")
        .exclude(invoice__status=Invoice.Status.DRAFT)
        .order_by("-invoice__issue_date")[:20]
    )
    return render(
        request,
        "client_area/service.html",
        {
            "service": service,
            "lines": lines,
            "has_panel": service_is_resold(service),
            "is_domain": service_is_resold_domain(service),
            "can_upgrade": service.status == Service.Status.ACTIVE and service.is_recurring,
            "can_cancel": service.status
            in (Service.Status.PENDING, Service.Status.ACTIVE, Service.Status.SUSPENDED),
        },
    )


@require_POST
@client_page
def service_panel(request: HttpRequest, public_id) -> HttpResponse:
    service = _service(request, public_id)
    try:
        url = service_panel_url(service=service, client_ip=request_client_ip(request))
    except PanelUnavailable as exc:
        messages.error(request, panel_refusal_message(exc))
        return redirect("account:service", public_id=service.public_id)
    return HttpResponseRedirect(url)


@require_POST
@client_page
def service_panel_login(request: HttpRequest, public_id) -> HttpResponse:
    """Shows a new control panel password once; it is kept nowhere."""
    service = _service(request, public_id)
    try:
        login = service_panel_login_reset(service=service)
    except PanelUnavailable as exc:
        messages.error(request, panel_refusal_message(exc))
        return redirect("account:service", public_id=service.public_id)
    response = render(
        request, "client_area/service_panel_login.html", {"service": service, "login": login}
    )
    response["Cache-Control"] = "no-store"
    return response


def _upgrade_choices(service: Service) -> list[dict]:
    plans = (
        Plan.objects.filter(product=service.plan.product, is_active=True)
        .exclude(pk=service.plan_id)
        .order_by("sort_order", "name")
    )
    prices = {
        row.plan_id: row
        for row in PlanPrice.objects.filter(plan__in=plans, cycle=service.billing_cycle)
    }
    return [{"plan": plan, "price": prices[plan.pk]} for plan in plans if plan.pk in prices]


@client_page
def service_upgrade(request: HttpRequest, public_id) -> HttpResponse:
    service = _service(request, public_id)
    choices = _upgrade_choices(service)
    option_rows = option_rows_for(service)
    error = ""
    if request.method == "POST" and request.POST.get("action") == "options":
        try:
            change = service_change_options(
                service=service, options=options_picked(request.POST, option_rows)
            )
        except (BillingError, ValueError) as exc:
            error = str(exc)
        else:
            if change.invoice is not None:
                messages.success(
                    request, _("Your options have changed. Here is the invoice for the difference.")
                )
                return redirect("account:invoice", public_id=change.invoice.public_id)
            messages.success(request, _("Your options have changed."))
            return redirect("account:service", public_id=service.public_id)
    elif request.method == "POST":
        plan = next(
            (c["plan"] for c in choices if str(c["plan"].public_id) == request.POST.get("plan")),
            None,
        )
        if plan is None:
            error = _("Choose one of the plans listed.")
        else:
            try:
                change = service_change_plan(service=service, plan=plan)
            except BillingError as exc:
                error = str(exc)
            else:
                if change.invoice is not None:
                    messages.success(
                        request, _("Your plan has changed. Here is the invoice for the difference.")
                    )
                    return redirect("account:invoice", public_id=change.invoice.public_id)
                messages.success(request, _("Your plan has changed."))
                return redirect("account:service", public_id=service.public_id)
    return render(
        request,
        "client_area/service_upgrade.html",
        {"service": service, "choices": choices, "option_rows": option_rows, "error": error},
        status=400 if error else 200,
    )


@client_page
def service_cancel_view(request: HttpRequest, public_id) -> HttpResponse:
    service = _service(request, public_id)
    form = CancelServiceForm(
        request.POST if request.method == "POST" else None, initial={"when": "end"}
    )
    if request.method == "POST" and form.is_valid():
        at_end = form.cleaned_data["when"] == "end" and service.is_recurring
        try:
            service_cancel(
                service=service, at_period_end=at_end, reason=form.cleaned_data["reason"]
            )
        except BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("The service will stop at the end of the paid period.")
                if at_end
                else _("The service has been cancelled."),
            )
            return redirect("account:service", public_id=service.public_id)
    return render(
        request,
        "client_area/service_cancel.html",
        {"service": service, "form": form},
        status=400 if form.errors else 200,
    )


@client_page
def invoices(request: HttpRequest) -> HttpResponse:
    page = paginate(request, _invoices(request))
    return render(request, "client_area/invoices.html", {"page": page})


@client_page
def invoice_detail(request: HttpRequest, public_id) -> HttpResponse:
    invoice = get_object_or_404(_invoices(request), public_id=public_id)
    return render(
        request,
        "client_area/invoice.html",
        {
            "invoice": invoice,
            "lines": invoice.lines.all(),
            "tax_rows": invoice_tax_summary(invoice=invoice),
            "payments": invoice.payments.all(),
            "credit_notes": invoice.credit_notes.all(),
            "pay": invoice_pay_context(invoice) if invoice.is_open else None,
        },
    )


@client_page
def invoice_pdf(request: HttpRequest, public_id) -> HttpResponse:
    invoice = get_object_or_404(_invoices(request), public_id=public_id)
    pdf = invoice_pdf_get(invoice)
    if pdf is None:
        # Rendering is queued; the page reloads itself until the file is there.
        return render(request, "client_area/pdf_pending.html", {"invoice": invoice}, status=202)
    filename = f"invoice-{invoice.number.replace('/', '-')}.pdf"
    return FileResponse(
        pdf.open("rb"), as_attachment=True, filename=filename, content_type="application/pdf"
    )


@client_page
def invoice_einvoice(request: HttpRequest, public_id) -> HttpResponse:
    invoice = get_object_or_404(_invoices(request), public_id=public_id)
    return einvoice_download(
        request,
        document=invoice,
        syntax=FACTUR_X,
        back_url=reverse("account:invoice", kwargs={"public_id": invoice.public_id}),
        pending_template="client_area/pdf_pending.html",
    )


@client_page
def invoice_pay(request: HttpRequest, public_id) -> HttpResponse:
    invoice = get_object_or_404(_invoices(request), public_id=public_id)
    if not invoice.is_open:
        messages.info(request, _("This invoice has nothing left to pay."))
        return redirect("account:invoice", public_id=invoice.public_id)
    return render(request, "client_area/invoice_pay.html", {"pay": invoice_pay_context(invoice)})


def _card_trouble(request: HttpRequest, exc: Exception) -> None:
    if isinstance(exc, GatewayUnavailable):
        messages.error(
            request,
            _("The card payment service could not be reached. Please try again in a few minutes."),
        )
    else:
        messages.error(
            request,
            _("Card payments are not available at the moment. Please pay by bank transfer."),
        )


@client_page
def invoice_card(request: HttpRequest, public_id) -> HttpResponse:
    """Sends the client to the card payment page Stripe hosts for this invoice."""
    invoice = get_object_or_404(_invoices(request), public_id=public_id)
    if request.method != "POST":
        return redirect("account:invoice-pay", public_id=invoice.public_id)
    back = redirect("account:invoice", public_id=invoice.public_id)
    if not invoice.is_open or invoice.amount_due.amount <= 0:
        messages.info(request, _("This invoice has nothing left to pay."))
        return back
    return_url = request.build_absolute_uri(
        reverse("account:invoice-card-return", args=[invoice.public_id])
    )
    try:
        started = invoice_checkout_start(
            invoice=invoice,
            return_url=return_url,
            item_name=_("Invoice %(number)s") % {"number": invoice.number},
            save_method=request.POST.get("save_card") == "1",
            locale=request.LANGUAGE_CODE,
        )
    except BillingError as exc:
        messages.error(request, str(exc))
        return back
    except (GatewayConfigError, GatewayUnavailable) as exc:
        _card_trouble(request, exc)
        return back
    return HttpResponseRedirect(started.url)


@client_page
def invoice_card_return(request: HttpRequest, public_id) -> HttpResponse:
    """The client is back from the card payment page: paid, still processing, refused or
    given up. The payment is read from Stripe now, so the invoice shows it at once."""
    invoice = get_object_or_404(_invoices(request), public_id=public_id)
    attempt = PaymentAttempt.objects.filter(
        invoice=invoice,
        client=request.client,
        kind=PaymentAttempt.Kind.CHECKOUT,
        public_id=uuid_or_none(request.GET.get("attempt")),
    ).first()
    if attempt is None:
        raise Http404
    session = request.GET.get("session", "")
    if session and not request.GET.get("cancelled"):
        try:
            attempt = invoice_checkout_finish(attempt=attempt, reference=session)
        except BillingError:
            raise Http404 from None
        except (GatewayConfigError, GatewayUnavailable):
            # The webhook settles it; the client is told what it knows.
            attempt.status = PaymentAttempt.Status.PROCESSING
    else:
        attempt.refresh_from_db()
    _card_outcome_message(request, attempt, cancelled=bool(request.GET.get("cancelled")))
    return redirect("account:invoice", public_id=invoice.public_id)


def _card_outcome_message(request: HttpRequest, attempt: PaymentAttempt, *, cancelled: bool):
    status = attempt.status
    S = PaymentAttempt.Status
    if status == S.SUCCEEDED:
        messages.success(
            request,
            _("Thank you: your card payment of %(amount)s has been received.")
            % {"amount": money_format(attempt.money)},
        )
    elif status == S.FAILED:
        messages.error(
            request,
            _("Your card payment did not go through: %(reason)s Nothing was charged.")
            % {"reason": attempt.error_message or _("the card was declined.")},
        )
    elif status in (S.PROCESSING, S.REQUIRES_ACTION) or (status == S.PENDING and not cancelled):
        messages.info(
            request,
            _(
                "Your card payment is being processed. The invoice will show it as paid as "
                "soon as your bank confirms it."
            ),
        )
    else:
        messages.info(request, _("The card payment was not completed. Nothing was charged."))


@client_page
def payment_methods(request: HttpRequest) -> HttpResponse:
    """The client's saved cards: add one (on Stripe's page), remove one, and choose the
    one its invoices are charged to automatically."""
    client = request.client
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "add":
            return_url = request.build_absolute_uri(reverse("account:payment-methods-return"))
            try:
                started = payment_method_checkout_start(
                    client=client,
                    return_url=return_url,
                    autocharge=request.POST.get("autocharge") == "1",
                    locale=request.LANGUAGE_CODE,
                )
            except (GatewayConfigError, GatewayUnavailable) as exc:
                _card_trouble(request, exc)
            else:
                return HttpResponseRedirect(started.url)
            return redirect("account:payment-methods")
        method = get_object_or_404(
            SavedPaymentMethod.objects.filter(client=client, removed_at__isnull=True),
            public_id=uuid_or_none(request.POST.get("method")),
        )
        try:
            if action == "remove":
                payment_method_remove(method=method)
                messages.success(request, _("The card has been removed."))
            elif action in ("autocharge_on", "autocharge_off"):
                enabled = action == "autocharge_on"
                payment_method_autocharge_set(method=method, enabled=enabled)
                messages.success(
                    request,
                    _("Your invoices will be charged to this card automatically.")
                    if enabled
                    else _("Automatic payment is off: you will pay each invoice yourself."),
                )
        except BillingError as exc:
            messages.error(request, str(exc))
        except (GatewayConfigError, GatewayUnavailable) as exc:
            _card_trouble(request, exc)
        return redirect("account:payment-methods")
    methods = list(SavedPaymentMethod.objects.filter(client=client, removed_at__isnull=True))
    can_add = card_payments_available()
    expiry: dict[str, tuple[int, int]] = {}
    if methods and can_add:
        try:
            expiry = payment_methods_expiry(client=client)
        except GatewayError:
            # The list still shows; only the expiry dates wait for Stripe.
            expiry = {}
    for method in methods:
        method.expiry = expiry.get(method.method_ref)
    return render(
        request,
        "client_area/payment_methods.html",
        {"methods": methods, "can_add": can_add},
    )


@client_page
def payment_methods_return(request: HttpRequest) -> HttpResponse:
    session = request.GET.get("session", "")
    if request.GET.get("cancelled") or not session:
        messages.info(request, _("No card was saved."))
        return redirect("account:payment-methods")
    try:
        method = payment_method_checkout_finish(client=request.client, reference=session)
    except BillingError:
        raise Http404 from None
    except (GatewayConfigError, GatewayUnavailable):
        method = None
        messages.info(request, _("Your card is being saved. It will be listed here shortly."))
    else:
        if method is not None:
            messages.success(
                request,
                _("Your card ending in %(last4)s has been saved.") % {"last4": method.last4},
            )
        else:
            messages.info(request, _("No card was saved."))
    return redirect("account:payment-methods")


@client_page
def profile(request: HttpRequest) -> HttpResponse:
    client = request.client
    user = request.user
    profile_form = ProfileForm.for_client(client, request.LANGUAGE_CODE)
    contact_form = ContactForm()
    password_form = PasswordChangeForm(user)
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "profile":
        profile_form = ProfileForm(request.POST)
        if profile_form.is_valid():
            data = dict(profile_form.cleaned_data)
            try:
                client = client_update(client=client, **data)
            except BillingError as exc:
                profile_form.add_error(None, str(exc))
            else:
                client_vat_number_confirm(client=client, settings=billing_settings_get())
                user.language = data["language"]
                user.full_name = data["name"]
                user.save(update_fields=["language", "full_name"])
                messages.success(request, _("Your details have been saved."))
                return language_cookie_set(redirect("account:profile"), data["language"])
    elif action == "contact":
        contact_form = ContactForm(request.POST)
        if contact_form.is_valid():
            try:
                contact_create(client=client, **contact_form.cleaned_data)
            except BillingError as exc:
                contact_form.add_error(None, str(exc))
            else:
                messages.success(request, _("The contact has been added."))
                return redirect("account:profile")
    elif action == "contact_remove":
        if contact_remove(client=client, contact_id=_int(request.POST.get("contact"))):
            messages.success(request, _("The contact has been removed."))
        return redirect("account:profile")
    elif action == "password":
        password_form = PasswordChangeForm(user, request.POST)
        if password_form.is_valid():
            password_form.save()
            update_session_auth_hash(request, password_form.user)
            messages.success(request, _("Your password has been changed."))
            return redirect("account:profile")
    bound = [f for f in (profile_form, contact_form, password_form) if f.is_bound and f.errors]
    return render(
        request,
        "client_area/profile.html",
        {
            "client": client,
            "profile_form": profile_form,
            "contact_form": contact_form,
            "password_form": password_form,
            "contacts": client.contacts.all(),
        },
        status=400 if bound else 200,
    )


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


@client_page
def privacy(request: HttpRequest) -> HttpResponse:
    client = request.client
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        try:
            privacy_request_create(client=client, user=request.user, kind=kind)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _("Your request has been recorded. We will contact you at %(email)s.")
                % {"email": client.email},
            )
        return redirect("account:privacy")
    return render(
        request,
        "client_area/privacy.html",
        {"requests": PrivacyRequest.objects.filter(client=client), "kinds": PrivacyRequest.Kind},
    )
