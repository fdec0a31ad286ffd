"""The console's payment pages: the tenant's own Stripe account, where its clients' card
payments land (Connect onboarding, or the keys of an account of its own), when saved cards
are charged and retried, and its prepaid balance at the provider, topped up by card on the
provider's own Stripe account. Thin: forms check input, the services in
``billing.payments.gateways.config`` and ``resale.topups`` act."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from billing.errors import BillingError
from billing.models.gateway import PaymentSettings
from billing.money import Money
from billing.payments.gateways import GatewayConfigError, GatewayUnavailable
from billing.payments.gateways.config import (
    payment_settings_get,
    payment_settings_update,
    secret_masked,
    stripe_connect_onboard_start,
    stripe_connect_refresh,
    stripe_keys_check,
)
from billing.payments.webhooks import TENANT_ENDPOINT_EVENTS
from billing.selectors import billing_settings_get
from core.crypto import secret_decrypt
from core.locale import money_format
from portals.common.access import capability_require, console_page
from portals.console import selectors as console_selectors
from portals.console.forms_payments import (
    AutoTopUpForm,
    CollectionForm,
    StripeAccountForm,
    StripeKeyTestForm,
    TopUpForm,
)
from resale.models import ResellerTopUp
from resale.selectors import reseller_account_at_local_provider
from resale.services import ResaleError
from resale.tenant_topups import (
    tenant_auto_topup_configure,
    tenant_topup_checkout_start,
    tenant_topup_return,
    tenant_topups_overview,
)

# --- the tenant's Stripe account ------------------------------------------------------


def _connect_state(row: PaymentSettings) -> str:
    if row.stripe_mode == PaymentSettings.StripeMode.OWN_KEYS:
        return "own_keys"
    if not row.stripe_account_id:
        return "not_connected"
    return "enabled" if row.stripe_charges_enabled else "pending"


def _onboarding(request: HttpRequest) -> HttpResponse:
    """Sends the owner to Stripe's onboarding for the site's connected account (made on
    first use); Stripe sends it back to the return page, or to the refresh page when the
    single-use link was already spent."""
    try:
        link = stripe_connect_onboard_start(
            refresh_url=request.build_absolute_uri(reverse("console:payments-refresh")),
            return_url=request.build_absolute_uri(reverse("console:payments-return")),
            email=request.user.email,
            country=billing_settings_get().country,
        )
    except GatewayConfigError as exc:
        messages.error(
            request, _("Stripe could not start the set-up: %(reason)s") % {"reason": exc.message}
        )
        return redirect("console:payments")
    return HttpResponseRedirect(link.url)


@console_page(write="admin")
def payments(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "connect":
        return _onboarding(request)
    if action == "refresh":
        _refresh(request)
        return redirect("console:payments")
    row = payment_settings_get()
    if action == "test_keys":
        _keys_test(request, StripeKeyTestForm(request.POST), row)
        return redirect("console:payments")
    stripe_form = StripeAccountForm(request.POST if action == "stripe" else None, row=row)
    collection_form = CollectionForm(
        request.POST if action == "collection" else None, initial=CollectionForm.initial_for(row)
    )
    if action == "stripe":
        if stripe_form.is_valid() and _settings_save(request, stripe_form, stripe_form.changes()):
            return redirect("console:payments")
    elif action == "collection":
        form = collection_form
        if form.is_valid() and _settings_save(request, form, form.cleaned_data):
            return redirect("console:payments")
    elif request.method == "POST":
        return redirect("console:payments")
    failed = any(form.is_bound and form.errors for form in (stripe_form, collection_form))
    return render(
        request,
        "console/payments.html",
        {
            "row": row,
            "state": _connect_state(row),
            "stripe_form": stripe_form,
            "collection_form": collection_form,
            "secrets": _secrets_shown(request, row),
            # Stripe sends webhooks to public HTTPS addresses only.
            "webhook_url": f"https://{request.get_host()}{reverse('payments:stripe-webhook')}",
            "webhook_events": TENANT_ENDPOINT_EVENTS,
        },
        status=400 if failed else 200,
    )


def _secrets_shown(request: HttpRequest, row: PaymentSettings) -> dict[str, str]:
    """What the page says of each stored secret: masked for those who may replace it,
    only whether there is one for the others."""
    shown = {}
    for name, stored in (
        ("secret_key", row.stripe_secret_key_encrypted),
        ("webhook_secret", row.stripe_webhook_secret_encrypted),
    ):
        if not stored:
            shown[name] = ""
        elif request.console_can["admin"]:
            shown[name] = secret_masked(secret_decrypt(stored))
        else:
            shown[name] = _("stored")
    return shown


def _settings_save(request: HttpRequest, form, changes: dict) -> bool:
    try:
        payment_settings_update(**changes)
    except BillingError as exc:
        form.add_error(None, str(exc))
        return False
    messages.success(request, _("Payment settings saved."))
    return True


def _keys_test(request: HttpRequest, form: StripeKeyTestForm, row: PaymentSettings) -> None:
    """Tells the result of asking Stripe about the key just typed, or the stored one."""
    if not form.is_valid():
        for error in form.errors.get("stripe_secret_key", []):
            messages.error(request, error)
        return
    typed = form.cleaned_data["stripe_secret_key"]
    key = typed or secret_decrypt(row.stripe_secret_key_encrypted)
    if not key:
        messages.error(request, _("Enter a secret key to test."))
        return
    try:
        account = stripe_keys_check(secret_key=key)
    except GatewayUnavailable:
        messages.error(request, _("Stripe could not be reached. Try again."))
        return
    except GatewayConfigError as exc:
        messages.error(request, _("Stripe refused the key: %(reason)s") % {"reason": exc.message})
        return
    text = (
        _("The key works: it opens the live Stripe account %(account)s.")
        if "_live_" in key
        else _("The key works: it opens the Stripe test account %(account)s.")
    ) % {"account": account.id}
    if typed:
        text = f"{text} {_('It is not saved yet: enter it again and save.')}"
    messages.success(request, text)
    if not account.charges_enabled:
        messages.warning(request, _("Stripe says this account cannot take payments yet."))


def _refresh(request: HttpRequest) -> None:
    try:
        row = stripe_connect_refresh()
    except GatewayConfigError as exc:
        messages.error(
            request, _("Stripe could not be asked: %(reason)s") % {"reason": exc.message}
        )
        return
    if row.stripe_charges_enabled:
        messages.success(request, _("Your Stripe account takes card payments."))
    else:
        messages.warning(
            request,
            _("Stripe still needs some details before your account can take payments."),
        )


@console_page
def payments_return(request: HttpRequest) -> HttpResponse:
    """Stripe's onboarding is over (finished or left): its outcome is read from Stripe."""
    if payment_settings_get().stripe_account_id:
        _refresh(request)
    return redirect("console:payments")


@console_page
def payments_refresh(request: HttpRequest) -> HttpResponse:
    """Stripe sends the browser here when an onboarding link expired: a new one."""
    capability_require(request, "admin")
    return _onboarding(request)


# --- the balance at the provider -------------------------------------------------------


@console_page(write="money")
def balance_view(request: HttpRequest) -> HttpResponse:
    account = reseller_account_at_local_provider()
    action = request.POST.get("action") if request.method == "POST" and account else None
    topup_form = TopUpForm(request.POST if action == "topup" else None)
    auto_form = None
    if action == "topup" and topup_form.is_valid():
        started = _topup_start(request, account, topup_form.cleaned_data)
        if started is not None:
            return started
        return redirect("console:balance")
    profile = topups = None
    if account is not None:
        profile, topups = tenant_topups_overview(account=account)
        auto_form = AutoTopUpForm(
            request.POST if action == "auto" else None,
            initial={
                "enabled": profile.auto_topup_enabled,
                "threshold": profile.auto_topup_threshold,
                "amount": profile.auto_topup_amount,
            },
        )
        if (
            action == "auto"
            and auto_form.is_valid()
            and _auto_topup_save(request, account, auto_form)
        ):
            return redirect("console:balance")
    bound = [f for f in (topup_form, auto_form) if f is not None and f.is_bound and f.errors]
    return render(
        request,
        "console/balance.html",
        {
            "account": account,
            "balance": console_selectors.provider_balance(),
            "profile": profile,
            "topups": topups,
            "topup_form": topup_form,
            "auto_form": auto_form,
        },
        status=400 if bound else 200,
    )


def _topup_start(request: HttpRequest, account, data: dict) -> HttpResponse | None:
    return_url = request.build_absolute_uri(reverse("console:balance-return"))
    try:
        url = tenant_topup_checkout_start(
            account=account,
            amount=data["amount"],
            return_url=return_url,
            item_name=_("Prepaid balance top-up"),
            save_card=data["save_card"],
            locale=request.LANGUAGE_CODE,
        )
    except ResaleError as exc:
        messages.error(request, exc.message)
        return None
    except GatewayUnavailable:
        messages.error(request, _("The card payment service could not be reached. Try again."))
        return None
    except GatewayConfigError:
        messages.error(request, _("Card top-ups are not available. Please contact your provider."))
        return None
    return HttpResponseRedirect(url)


def _auto_topup_save(request: HttpRequest, account, form: AutoTopUpForm) -> bool:
    data = form.cleaned_data
    try:
        profile = tenant_auto_topup_configure(
            account=account,
            enabled=data["enabled"],
            threshold=data["threshold"],
            amount=data["amount"],
        )
    except ResaleError as exc:
        form.add_error(None, exc.message)
        return False
    if profile.auto_topup_enabled:
        messages.success(
            request,
            _("Your card will be charged %(amount)s whenever the balance is below %(threshold)s.")
            % {
                "amount": money_format(Money(profile.auto_topup_amount, account.currency)),
                "threshold": money_format(Money(profile.auto_topup_threshold, account.currency)),
            },
        )
    else:
        messages.success(request, _("Automatic top-ups are off."))
    return True


@console_page
def balance_return(request: HttpRequest) -> HttpResponse:
    """Back from the provider's card payment page: the top-up is read from Stripe now, so
    the balance shows it whether or not the webhook came first."""
    account = reseller_account_at_local_provider()
    if account is None:
        return redirect("console:balance")
    topup = tenant_topup_return(
        account=account,
        topup_ref=request.GET.get("topup", ""),
        session=request.GET.get("session", ""),
        cancelled=bool(request.GET.get("cancelled")),
    )
    if topup is None:
        return redirect("console:balance")
    _topup_message(request, topup)
    return redirect("console:balance")


def _topup_message(request: HttpRequest, topup) -> None:
    status = topup.status
    if status == ResellerTopUp.Status.SUCCEEDED:
        messages.success(
            request,
            _("%(amount)s has been added to your balance.")
            % {"amount": money_format(topup.amount)},
        )
    elif status == ResellerTopUp.Status.FAILED:
        messages.error(
            request,
            _("The top-up did not go through: %(reason)s Nothing was charged.")
            % {"reason": topup.error_message or _("the card was declined.")},
        )
    elif status in (ResellerTopUp.Status.PROCESSING, ResellerTopUp.Status.REQUIRES_ACTION):
        messages.info(request, _("The top-up is being processed; the balance follows shortly."))
    else:
        messages.info(request, _("The top-up was not completed. Nothing was charged."))
