"""Resellers: the list, a new reseller from a form, and one reseller's page with its
balance, ledger, services, statements, invoices, credentials and the provider's decisions
about it. Each action is one service call."""

from __future__ import annotations

import csv
import uuid
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.cycles import add_months
from billing.money import Money
from core import locale
from portals.common.paging import paginate
from portals.provider.access import MONEY, RESELLERS, provider_can, provider_page
from portals.provider.forms import (
    BalanceForm,
    CredentialForm,
    LedgerFilterForm,
    ReasonForm,
    ResellerCreateForm,
    TermsForm,
)
from resale import provider_selectors as selectors
from resale.api import resale_credential_issue
from resale.models import BalanceEntry, ResellerAccount
from resale.onboarding import ResellerTerms, reseller_create
from resale.reseller_accounts import (
    balance_entry_reverse,
    resale_credential_revoke,
    reseller_account_reactivate,
    reseller_account_suspend,
    reseller_account_terms_set,
)
from resale.services import (
    ResaleError,
    reseller_available,
    reseller_balance,
    reseller_balance_adjust,
    reseller_balance_topup,
)


def _account(public_id: str) -> ResellerAccount:
    return get_object_or_404(
        ResellerAccount.objects.select_related("tenant", "price_list"), public_id=public_id
    )


@provider_page()
def resellers(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    status = request.GET.get("status", "")
    rows = selectors.resellers_with_balances(query=query, status=status)
    return render(
        request,
        "provider/resellers.html",
        {
            "page": paginate(request, rows),
            "q": query,
            "status": status,
            "statuses": ResellerAccount.Status.choices,
            "can_create": provider_can(request.user, RESELLERS),
        },
    )


@provider_page(write=RESELLERS)
def reseller_new(request: HttpRequest) -> HttpResponse:
    form = ResellerCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if data["opening_balance"] and not request.user.has_perm(MONEY):
            form.add_error("opening_balance", _("Your role does not move money."))
        else:
            terms = ResellerTerms(
                legal_name=data["legal_name"],
                address=data["address"],
                country=data["country"],
                vat_number=data["vat_number"],
                billing_email=data["billing_email"] or "",
                currency=data["currency"],
                price_list_id=data["price_list"].pk if data["price_list"] else None,
                credit_limit=data["credit_limit"] or 0,
                opening_balance=data["opening_balance"] or 0,
            )
            try:
                created = reseller_create(
                    name=data["name"],
                    hostname=data["hostname"],
                    admin_email=data["admin_email"],
                    default_language=data["language"],
                    terms=terms,
                    created_by=request.user.email,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    _("%(name)s is ready; its admin has been sent an invitation.")
                    % {"name": created.tenant.name},
                )
                return redirect("provider:reseller", created.tenant.reseller_account.public_id)
    return render(request, "provider/reseller_new.html", {"form": form})


def _ledger(request: HttpRequest, account: ResellerAccount):
    form = LedgerFilterForm(request.GET or None)
    filters: dict = {}
    if form.is_valid():
        filters = {
            "kind": form.cleaned_data["kind"],
            "since": form.cleaned_data["since"],
            "until": form.cleaned_data["until"],
        }
    return form, selectors.reseller_ledger(account=account, **filters)


@provider_page()
def reseller(request: HttpRequest, public_id: str) -> HttpResponse:
    account = _account(public_id)
    ledger_form, entries = _ledger(request, account)
    first = timezone.localdate().replace(day=1)
    statements = [
        (add_months(first, -offset), add_months(first, 1 - offset) - timedelta(days=1))
        for offset in range(6)
    ]
    balance = reseller_balance(account=account)
    return render(
        request,
        "provider/reseller.html",
        {
            "account": account,
            "domains": account.tenant.domains.all(),
            "balance": balance,
            "available": reseller_available(account=account),
            "credit_limit": Money(account.credit_limit, account.currency),
            "threshold": Money(account.low_balance_threshold, account.currency),
            "below_threshold": balance < Money(account.low_balance_threshold, account.currency),
            "mrr": selectors.wholesale_mrr(currency=account.currency, account=account),
            "ledger_form": ledger_form,
            "page": paginate(request, entries),
            "reversed": selectors.reversed_entry_ids(account=account),
            "services": account.services.select_related("plan").order_by("-created_at")[:50],
            "invoices": account.wholesale_invoices.all()[:24],
            "statements": statements,
            "credentials": account.credentials.order_by("-created_at"),
            "balance_form": BalanceForm(initial={"token": uuid.uuid4().hex}),
            "terms_form": TermsForm(
                initial={
                    "credit_limit": Money(account.credit_limit, account.currency).rounded().amount,
                    "low_balance_threshold": Money(account.low_balance_threshold, account.currency)
                    .rounded()
                    .amount,
                    "price_list": account.price_list,
                }
            ),
            "reason_form": ReasonForm(),
            "credential_form": CredentialForm(),
            "can_money": provider_can(request.user, MONEY),
            "can_manage": provider_can(request.user, RESELLERS),
            "new_token": request.session.pop("provider_new_token", None),
        },
    )


@provider_page()
def reseller_ledger_csv(request: HttpRequest, public_id: str) -> HttpResponse:
    account = _account(public_id)
    _form, entries = _ledger(request, account)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ledger-{account.public_id}.csv"'
    writer = csv.writer(response)
    writer.writerow(["date", "kind", "amount", "currency", "description", "service", "by"])
    for entry in entries.iterator():
        writer.writerow(
            [
                entry.created_at.isoformat(timespec="seconds"),
                entry.kind,
                str(entry.amount.rounded().amount),
                entry.currency,
                entry.description,
                entry.upstream_service.public_id if entry.upstream_service_id else "",
                entry.created_by,
            ]
        )
    return response


def _back(account: ResellerAccount) -> HttpResponse:
    return redirect("provider:reseller", account.public_id)


def _error(request: HttpRequest, exc: Exception) -> None:
    messages.error(
        request, getattr(exc, "message", None) or " ".join(getattr(exc, "messages", [str(exc)]))
    )


@require_POST
@provider_page(write=MONEY)
def reseller_balance_change(request: HttpRequest, public_id: str) -> HttpResponse:
    account = _account(public_id)
    form = BalanceForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return _back(account)
    data = form.cleaned_data
    try:
        if data["kind"] == "topup":
            reseller_balance_topup(
                account=account,
                amount=data["amount"],
                reference=data["reason"],
                idempotency_key=f"console:{data['token']}",
                created_by=request.user.email,
            )
        else:
            reseller_balance_adjust(
                account=account,
                amount=data["amount"],
                reason=data["reason"],
                created_by=request.user.email,
                idempotency_key=f"console:{data['token']}",
            )
    except (ResaleError, ValueError) as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            _("The balance is now %(balance)s.")
            % {"balance": locale.money_format(reseller_balance(account=account))},
        )
    return _back(account)


@require_POST
@provider_page(write=MONEY)
def entry_reverse(request: HttpRequest, public_id: str, entry_id: int) -> HttpResponse:
    account = _account(public_id)
    entry = get_object_or_404(BalanceEntry, pk=entry_id, account=account)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A reversal needs a reason."))
        return _back(account)
    try:
        balance_entry_reverse(
            entry=entry, reason=form.cleaned_data["reason"], created_by=request.user.email
        )
    except ResaleError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("The entry is reversed by a correcting entry."))
    return _back(account)


@require_POST
@provider_page(write=RESELLERS)
def reseller_status(request: HttpRequest, public_id: str) -> HttpResponse:
    account = _account(public_id)
    form = ReasonForm(request.POST)
    action = request.POST.get("action")
    if action not in ("suspend", "reactivate"):
        raise Http404
    if not form.is_valid():
        messages.error(request, _("Say why."))
        return _back(account)
    change = reseller_account_suspend if action == "suspend" else reseller_account_reactivate
    try:
        change(account=account, reason=form.cleaned_data["reason"])
    except ResaleError as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            _("The reseller is suspended: its sites show the unavailable page.")
            if action == "suspend"
            else _("The reseller is active again."),
        )
    return _back(account)


@require_POST
@provider_page(write=RESELLERS)
def reseller_terms(request: HttpRequest, public_id: str) -> HttpResponse:
    account = _account(public_id)
    form = TermsForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return _back(account)
    try:
        reseller_account_terms_set(account=account, **form.cleaned_data)
    except ResaleError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("The terms are saved."))
    return _back(account)


@require_POST
@provider_page(write=RESELLERS)
def reseller_credential(request: HttpRequest, public_id: str) -> HttpResponse:
    account = _account(public_id)
    form = CredentialForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the credential a name."))
        return _back(account)
    _credential, token = resale_credential_issue(account=account, name=form.cleaned_data["name"])
    # Shown once, on the next page, and never stored in clear.
    request.session["provider_new_token"] = token
    return _back(account)


@require_POST
@provider_page(write=RESELLERS)
def reseller_credential_revoke(request: HttpRequest, public_id: str, prefix: str) -> HttpResponse:
    account = _account(public_id)
    try:
        resale_credential_revoke(account=account, prefix=prefix)
    except ResaleError as exc:
        raise Http404 from exc
    messages.success(request, _("The credential is revoked."))
    return _back(account)
