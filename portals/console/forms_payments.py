"""Forms of the console's payment pages: which Stripe account the clients' card payments
land on, when saved cards are charged and retried, topping up the balance at the provider
and the automatic top-up rule."""

from __future__ import annotations

import itertools
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import Payment
from billing.models.gateway import PaymentSettings
from billing.payments.gateways.config import (
    MAX_DUNNING_DAY,
    MAX_DUNNING_RETRIES,
    PUBLISHABLE_KEY_PREFIXES,
    SECRET_KEY_PREFIXES,
    WEBHOOK_SECRET_PREFIX,
    secret_masked,
)
from core.crypto import secret_decrypt
from portals.common.forms import AmountField

CONNECT, OWN_KEYS = "connect", "own_keys"


def _secret_input() -> forms.PasswordInput:
    # Never rendered back: a stored secret is shown masked beside the field, not in it.
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})


def _mode(key: str) -> str:
    return "live" if "_live_" in key else "test"


def _secret_key_field() -> forms.CharField:
    return forms.CharField(
        label=_("Secret key"), required=False, max_length=255, widget=_secret_input()
    )


def _secret_key_check(key: str) -> str:
    if key.startswith("pk_"):
        raise forms.ValidationError(
            _("This is a publishable key: the secret key starts with sk_ or rk_.")
        )
    if key and not key.startswith(SECRET_KEY_PREFIXES):
        raise forms.ValidationError(
            _("A Stripe secret key starts with sk_live_, sk_test_, rk_live_ or rk_test_.")
        )
    return key


class StripeAccountForm(forms.Form):
    """Where card payments land. Secrets are write-only: an empty field keeps the stored
    one."""

    stripe_mode = forms.ChoiceField(
        label=_("Card payments go to"),
        choices=[
            (CONNECT, _("Stripe Connect (through the provider)")),
            (OWN_KEYS, _("My own Stripe account")),
        ],
        widget=forms.RadioSelect,
    )
    stripe_secret_key = _secret_key_field()
    stripe_publishable_key = forms.CharField(
        label=_("Publishable key"),
        required=False,
        max_length=255,
        help_text=_("Optional. Starts with pk_live_ or pk_test_."),
    )
    stripe_webhook_secret = forms.CharField(
        label=_("Webhook signing secret"), required=False, max_length=255, widget=_secret_input()
    )

    def __init__(self, *args: Any, row: PaymentSettings, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "stripe_mode": OWN_KEYS
                if row.stripe_mode == PaymentSettings.StripeMode.OWN_KEYS
                else CONNECT,
                "stripe_publishable_key": row.stripe_publishable_key,
            },
        )
        super().__init__(*args, **kwargs)
        self.row = row
        self.stored_key = secret_decrypt(row.stripe_secret_key_encrypted)
        self.stored_webhook_secret = secret_decrypt(row.stripe_webhook_secret_encrypted)
        self.fields["stripe_secret_key"].help_text = self._stored_help(
            self.stored_key, _("Starts with sk_live_, sk_test_ or, for a restricted key, rk_.")
        )
        self.fields["stripe_webhook_secret"].help_text = self._stored_help(
            self.stored_webhook_secret,
            _("Starts with whsec_: Stripe shows it on the page of your webhook endpoint."),
        )

    @staticmethod
    def _stored_help(stored: str, otherwise: str) -> str:
        if not stored:
            return otherwise
        return _("Stored: %(masked)s. Leave empty to keep it.") % {"masked": secret_masked(stored)}

    def clean_stripe_secret_key(self) -> str:
        return _secret_key_check(self.cleaned_data["stripe_secret_key"])

    def clean_stripe_publishable_key(self) -> str:
        key = self.cleaned_data["stripe_publishable_key"]
        if key and not key.startswith(PUBLISHABLE_KEY_PREFIXES):
            raise forms.ValidationError(
                _("A Stripe publishable key starts with pk_live_ or pk_test_.")
            )
        return key

    def clean_stripe_webhook_secret(self) -> str:
        secret = self.cleaned_data["stripe_webhook_secret"]
        if secret and not secret.startswith(WEBHOOK_SECRET_PREFIX):
            raise forms.ValidationError(_("A Stripe webhook signing secret starts with whsec_."))
        return secret

    def clean(self) -> dict:
        data = super().clean()
        if data.get("stripe_mode") != OWN_KEYS:
            return data
        key = data.get("stripe_secret_key") or self.stored_key
        if "stripe_secret_key" not in self.errors and not key:
            self.add_error("stripe_secret_key", _("Enter the secret key of your Stripe account."))
        if "stripe_webhook_secret" not in self.errors and not (
            data.get("stripe_webhook_secret") or self.stored_webhook_secret
        ):
            # Without it every event of the account is refused: delayed payments,
            # refunds and disputes made at Stripe would never reach the invoices.
            self.add_error(
                "stripe_webhook_secret",
                _("Enter the signing secret of the webhook endpoint you added at Stripe."),
            )
        publishable = data.get("stripe_publishable_key")
        if key and publishable and _mode(key) != _mode(publishable):
            self.add_error(
                "stripe_publishable_key",
                _("The publishable key and the secret key must both be live or both be test keys."),
            )
        return data

    def changes(self) -> dict[str, Any]:
        """The form as ``payment_settings_update`` arguments."""
        data = self.cleaned_data
        if data["stripe_mode"] == OWN_KEYS:
            mode = PaymentSettings.StripeMode.OWN_KEYS
        elif self.row.stripe_account_id:
            mode = PaymentSettings.StripeMode.CONNECT
        else:
            # Connect chosen but no account yet: no card payments until the owner
            # connects one (which sets the mode itself).
            mode = PaymentSettings.StripeMode.DISABLED
        changes: dict[str, Any] = {
            "stripe_mode": mode,
            "stripe_publishable_key": data["stripe_publishable_key"],
        }
        for name in ("stripe_secret_key", "stripe_webhook_secret"):
            if data[name]:
                changes[name] = data[name]
        return changes


class StripeKeyTestForm(forms.Form):
    """The secret key "Test the keys" asks Stripe about: the one typed, else the stored
    one. Nothing is saved."""

    stripe_secret_key = _secret_key_field()

    def clean_stripe_secret_key(self) -> str:
        return _secret_key_check(self.cleaned_data["stripe_secret_key"])


class CollectionForm(forms.Form):
    """When saved cards are charged and how a failed charge is retried."""

    autocharge_when = forms.ChoiceField(
        label=_("Charge saved cards"),
        choices=PaymentSettings.AutochargeWhen.choices,
        widget=forms.RadioSelect,
    )
    dunning_days = forms.CharField(
        label=_("Retry a failed automatic charge after (days)"),
        required=False,
        help_text=_(
            "Days counted from the failed charge, in increasing order, for example 1, 3, 5. "
            "The client is e-mailed after each failure. Empty: no retries."
        ),
    )

    @staticmethod
    def initial_for(row: PaymentSettings) -> dict[str, Any]:
        return {
            "autocharge_when": row.autocharge_when,
            "dunning_days": ", ".join(str(day) for day in row.dunning_days or []),
        }

    def clean_dunning_days(self) -> list[int]:
        raw = self.cleaned_data["dunning_days"]
        days: list[int] = []
        for part in re.split(r"[\s,;]+", raw.strip()):
            if not part:
                continue
            if not (part.isascii() and part.isdigit()):
                raise forms.ValidationError(
                    _("“%(value)s” is not a whole number of days.") % {"value": part}
                )
            days.append(int(part))
        if any(day < 1 or day > MAX_DUNNING_DAY for day in days):
            raise forms.ValidationError(
                _("Retry days are between 1 and %(max)s.") % {"max": MAX_DUNNING_DAY}
            )
        if any(later <= earlier for earlier, later in itertools.pairwise(days)):
            raise forms.ValidationError(
                _("Give each day once, in increasing order, for example 1, 3, 5.")
            )
        if len(days) > MAX_DUNNING_RETRIES:
            raise forms.ValidationError(
                _("At most %(count)s retries.") % {"count": MAX_DUNNING_RETRIES}
            )
        return days


class TopUpForm(forms.Form):
    amount = AmountField(label=_("Amount"))
    save_card = forms.BooleanField(
        label=_("Save the card for automatic top-ups"), required=False, initial=False
    )

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount is None or amount <= 0:
            raise forms.ValidationError(_("Enter an amount above zero."))
        return amount


class AutoTopUpForm(forms.Form):
    enabled = forms.BooleanField(label=_("Top up automatically"), required=False)
    threshold = AmountField(
        label=_("When the balance falls below"),
        help_text=_("Checked after every order and renewal."),
    )
    amount = AmountField(label=_("Top up by"))

    def clean(self) -> dict:
        data = super().clean()
        for name in ("threshold", "amount"):
            value = data.get(name)
            if value is not None and value < 0:
                self.add_error(name, _("Enter an amount of zero or more."))
        return data


class PaymentFilterForm(forms.Form):
    """The filters of the list of payments received."""

    method = forms.ChoiceField(
        label=_("Method"), choices=[("", _("All")), *Payment.Method.choices], required=False
    )
    client = forms.CharField(label=_("Client name or e-mail"), max_length=200, required=False)
    received_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    refunded_only = forms.BooleanField(label=_("With refunds only"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("received_from"), data.get("received_to")
        if since and until and since > until:
            raise forms.ValidationError(_("The first day comes after the last."))
        return data
