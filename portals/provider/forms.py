"""Forms of the provider console: they check input and say what is wrong in the reader's
language; the writes are done by services."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from billing.money import currency_choices
from core.locale import babel_locale
from portals.common.forms import AmountField, ChoicePriceForm, CyclePriceForm
from provisioning.modules.base import MODULE_CHOICES
from resale.models import (
    BalanceEntry,
    PriceList,
    ProviderTicket,
    WholesaleOption,
    WholesalePlan,
)
from resale.wholesale import PLAN_FIELDS


def _currencies() -> list[tuple[str, str]]:
    return currency_choices(locale=babel_locale())


class CurrencyField(forms.ChoiceField):
    def __init__(self, **kwargs) -> None:
        # A callable: the names come in the language of the page that shows the form.
        super().__init__(choices=_currencies, **kwargs)


class ResellerCreateForm(forms.Form):
    name = forms.CharField(label=_("Display name"), max_length=200)
    legal_name = forms.CharField(
        label=_("Legal name"),
        max_length=200,
        required=False,
        help_text=_("As it appears on the wholesale invoices; the display name if empty."),
    )
    address = forms.CharField(
        label=_("Address"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    country = forms.CharField(label=_("Country"), max_length=2, required=False)
    vat_number = forms.CharField(label=_("VAT number"), max_length=32, required=False)
    billing_email = forms.EmailField(label=_("Billing e-mail"), required=False)
    hostname = forms.CharField(
        label=_("First domain"),
        max_length=253,
        help_text=_("The host its storefront and console answer on, e.g. acme.example.com."),
    )
    admin_email = forms.EmailField(
        label=_("Admin e-mail"), help_text=_("The first admin gets an invitation here.")
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    currency = CurrencyField(label=_("Currency"), initial="EUR")
    price_list = forms.ModelChoiceField(
        label=_("Price list"),
        queryset=PriceList.objects.all(),
        required=False,
        empty_label=_("The default list of the currency"),
    )
    credit_limit = AmountField(label=_("Credit limit"), required=False, initial="0")
    opening_balance = AmountField(label=_("Opening balance"), required=False, initial="0")


class BalanceForm(forms.Form):
    KIND_CHOICES = [("topup", _("Top-up (money received)")), ("adjustment", _("Adjustment"))]

    kind = forms.ChoiceField(label=_("Kind"), choices=KIND_CHOICES)
    amount = AmountField(
        label=_("Amount"), help_text=_("A negative adjustment takes from the balance.")
    )
    reason = forms.CharField(label=_("Reference or reason"), max_length=200)
    token = forms.CharField(widget=forms.HiddenInput)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class TermsForm(forms.Form):
    credit_limit = AmountField(label=_("Credit limit"))
    low_balance_threshold = AmountField(label=_("Low-balance alert below"))
    price_list = forms.ModelChoiceField(
        label=_("Price list"), queryset=PriceList.objects.all(), required=False
    )


class CredentialForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("E.g. the installation."))


class LedgerFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), choices=[("", _("All")), *list(BalanceEntry.Kind.choices)], required=False
    )
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class WholesalePlanForm(forms.ModelForm):
    module = forms.ChoiceField(label=_("Module"), choices=MODULE_CHOICES)

    class Meta:
        model = WholesalePlan
        # What wholesale_plan_save accepts, so the form offers no field it would refuse.
        fields = list(PLAN_FIELDS)
        labels = {
            "code": _("Code"),
            "name": _("Name"),
            "description": _("Description"),
            "product_type": _("Product type"),
            "package": _("Panel package"),
            "domain_policy": _("Domain with the order"),
            "is_active": _("Takes orders"),
        }
        help_texts = {
            "domain_policy": _(
                "Whether a client ordering this plan chooses its domain: a registration or "
                "a transfer (required), or also a domain they already own (offered)."
            )
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("Resellers' imports refer to it: it cannot change.")

    def validate_unique(self) -> None:
        # The service says when a code is taken, in one place.
        return


class PriceRowForm(CyclePriceForm):
    """A wholesale price: the row counts once its price list is chosen."""

    price_list = forms.ModelChoiceField(
        label=_("Price list"), queryset=PriceList.objects.all(), required=False
    )
    field_order = ["price_list", "cycle", "price", "setup_fee", "DELETE"]

    def row_is_used(self, data: dict) -> bool:
        return bool(data.get("price_list"))


PriceRowFormSet = forms.formset_factory(PriceRowForm, extra=2)


class WholesaleOptionForm(forms.ModelForm):
    plans = forms.ModelMultipleChoiceField(
        label=_("Sold with the plans"),
        queryset=WholesalePlan.objects.order_by("product_type", "name"),
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WholesaleOption
        fields = ["code", "name", "kind", "max_quantity", "is_active"]
        labels = {
            "code": _("Code"),
            "name": _("Name"),
            "kind": _("Kind"),
            "max_quantity": _("Most a client can take"),
            "is_active": _("Takes orders"),
        }
        help_texts = {
            "kind": _("Pick one of its choices, or a quantity of its single choice."),
            "max_quantity": _("For a quantity option; a pick-one option is taken once."),
            "is_active": "",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["code"].disabled = True
            self.fields["code"].help_text = _("Resellers' imports refer to it: it cannot change.")
            self.initial.setdefault("plans", list(self.instance.plans.all()))

    def validate_unique(self) -> None:
        # The service says when a code is taken, in one place.
        return


# What a choice sets on the server, by module setting (provisioning.modules.base
# RESOURCE_KEYS): numbers add to the plan's own, add-ons join its list.
SETTING_LABELS = {
    "cpu": _("CPU cores"),
    "ram_mb": _("RAM (MB)"),
    "disk_gb": _("Disk (GB)"),
    "ips": _("IPv4 addresses"),
    "backups": _("Backup slots"),
}


class OptionChoiceForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=64, required=False)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    cpu = forms.IntegerField(label=SETTING_LABELS["cpu"], min_value=0, required=False)
    ram_mb = forms.IntegerField(label=SETTING_LABELS["ram_mb"], min_value=0, required=False)
    disk_gb = forms.IntegerField(label=SETTING_LABELS["disk_gb"], min_value=0, required=False)
    ips = forms.IntegerField(label=SETTING_LABELS["ips"], min_value=0, required=False)
    backups = forms.IntegerField(label=SETTING_LABELS["backups"], min_value=0, required=False)
    addons = forms.CharField(
        label=_("Add-ons"),
        max_length=300,
        required=False,
        help_text=_("Names the module installs, separated by commas (e.g. a panel licence)."),
    )
    sort_order = forms.IntegerField(label=_("Order"), min_value=0, required=False)
    DELETE = forms.BooleanField(label=_("Remove"), required=False)

    def clean(self):
        data = super().clean()
        if data.get("DELETE") or not data.get("code"):
            return data
        if not data.get("name"):
            self.add_error("name", _("Give the choice a name."))
        return data

    def settings(self) -> dict:
        data = self.cleaned_data
        settings = {key: data[key] for key in SETTING_LABELS if data.get(key)}
        addons = [a.strip() for a in (data.get("addons") or "").split(",") if a.strip()]
        if addons:
            settings["addons"] = addons
        return settings

    @staticmethod
    def initial_for(settings: dict) -> dict:
        initial = {key: settings.get(key) for key in SETTING_LABELS}
        initial["addons"] = ", ".join(settings.get("addons") or [])
        return initial


OptionChoiceFormSet = forms.formset_factory(OptionChoiceForm, extra=1)


class OptionPriceForm(ChoicePriceForm, PriceRowForm):
    pass


OptionPriceFormSet = forms.formset_factory(OptionPriceForm, extra=2)


class PriceListForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    currency = CurrencyField(label=_("Currency"), initial="EUR")
    is_default = forms.BooleanField(
        label=_("Default for new resellers in this currency"), required=False
    )


class JobCancelForm(ReasonForm):
    pass


class EscalationReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Answer"),
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "The reseller receives it as an internal note and decides what its client reads."
        ),
    )


class EscalationStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=ProviderTicket.Status.choices)
