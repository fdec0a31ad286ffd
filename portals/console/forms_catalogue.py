"""Forms of the console's catalogue pages: groups, products, plans with their prices,
options with their choices, and the translations of their texts. They check input and
say what is wrong next to the field; the writes are billing's catalogue services."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from billing.models import ConfigurableOption, DomainPolicy, Plan, Product, ProductGroup
from portals.common import fields
from portals.common.forms import ChoicePriceForm, CyclePriceForm


def _position_field() -> forms.IntegerField:
    return fields.IntegerField(
        label=_("Position"),
        min_value=0,
        required=False,
        help_text=_("Lower numbers come first on the storefront."),
    )


class ProductGroupForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    is_visible = forms.BooleanField(
        label=_("Shown on the storefront"), required=False, initial=True
    )
    sort_order = _position_field()


class ProductForm(forms.Form):
    group = forms.ModelChoiceField(
        label=_("Product group"), queryset=ProductGroup.objects.all(), empty_label=None
    )
    type = forms.ChoiceField(
        label=_("Product type"), choices=Product.Type.choices, initial=Product.Type.OTHER
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    tax_category = forms.ChoiceField(label=_("Tax category"), choices=Product.TaxCategory.choices)
    visibility = forms.ChoiceField(
        label=_("Visibility"),
        choices=Product.Visibility.choices,
        help_text=_("A hidden product is not shown or sold on the storefront."),
    )
    stock = fields.IntegerField(
        label=_("Stock"),
        min_value=0,
        required=False,
        help_text=_("How many can still be sold; empty for no limit."),
    )
    sort_order = _position_field()
    is_active = forms.BooleanField(
        label=_("On sale"),
        required=False,
        initial=True,
        help_text=_("Off sale: gone from the storefront; services already sold run on."),
    )

    @staticmethod
    def initial_for(product: Product) -> dict:
        return {
            "group": product.group_id,
            "type": product.type,
            "name": product.name,
            "description": product.description,
            "tax_category": product.tax_category,
            "visibility": product.visibility,
            "stock": product.stock,
            "sort_order": product.sort_order,
            "is_active": product.is_active,
        }


class PlanForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    features = forms.CharField(
        label=_("Features"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=_("One per line, as the storefront lists them."),
    )
    sort_order = _position_field()
    is_active = forms.BooleanField(
        label=_("On sale"),
        required=False,
        initial=True,
        help_text=_("Off sale: gone from the storefront; services already sold run on."),
    )
    domain_policy = forms.ChoiceField(
        label=_("Domain with the order"),
        choices=DomainPolicy.choices,
        initial=DomainPolicy.NONE,
        required=False,
        help_text=_(
            "Whether a client ordering this plan chooses its domain: a registration or "
            "a transfer (required), or also a domain they already own (offered)."
        ),
    )
    sell_below_cost = forms.BooleanField(
        label=_("Sell below cost"),
        required=False,
        help_text=_("Tick to save prices lower than what the provider charges you."),
    )

    def clean_domain_policy(self) -> str | None:
        # Left out of a form sent without it: the plan keeps its setting.
        return self.cleaned_data.get("domain_policy") or None

    def clean_features(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["features"].splitlines()]
        lines = [line for line in lines if line]
        if any(len(line) > 200 for line in lines):
            raise forms.ValidationError(_("A feature has at most 200 characters."))
        return lines

    @staticmethod
    def initial_for(plan: Plan) -> dict:
        return {
            "name": plan.name,
            "description": plan.description,
            "features": "\n".join(plan.features or []),
            "sort_order": plan.sort_order,
            "is_active": plan.is_active,
            "domain_policy": plan.domain_policy,
        }


class PlanPriceFormSet(forms.BaseFormSet):
    """A plan's prices: each cycle once, at least one."""

    def clean(self) -> None:
        if any(self.errors):
            return
        seen: set[str] = set()
        for form in self.forms:
            if not form.is_kept():
                continue
            cycle = form.cleaned_data["cycle"]
            if cycle in seen:
                raise forms.ValidationError(_("Each cycle has one price."))
            seen.add(cycle)
        if not seen:
            raise forms.ValidationError(_("Give the plan a price for at least one cycle."))

    def prices(self) -> dict[str, tuple]:
        """Cycle → (price, setup fee), as plan_save takes them."""
        return {
            form.cleaned_data["cycle"]: (
                form.cleaned_data["price"],
                form.cleaned_data.get("setup_fee") or 0,
            )
            for form in self.forms
            if form.is_kept()
        }


PlanPrices = forms.formset_factory(CyclePriceForm, formset=PlanPriceFormSet, extra=2)


class OptionForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=ConfigurableOption.Kind.choices,
        help_text=_("Pick one of its choices, or a quantity of its single choice."),
    )
    max_quantity = fields.IntegerField(
        label=_("Most a client can take"), min_value=1, initial=1, max_value=1000
    )
    sort_order = _position_field()
    plans = forms.ModelMultipleChoiceField(
        label=_("Sold with the plans"),
        queryset=Plan.objects.select_related("product").order_by("product__name", "name"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    sell_below_cost = forms.BooleanField(
        label=_("Sell below cost"),
        required=False,
        help_text=_("Tick to save prices lower than what the provider charges you."),
    )

    def __init__(self, *args, resold: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if resold:
            # The provider defines what a resold option is; only it can change them.
            for name in ("kind", "max_quantity"):
                self.fields[name].disabled = True
            self.fields["kind"].help_text = _("Set by the provider.")
            self.fields["plans"].queryset = self.fields["plans"].queryset.exclude(
                upstream_plan_ref=""
            )
            self.fields["plans"].help_text = _(
                "A resold option is sold only with plans bought from the provider."
            )


class OptionChoiceRowForm(forms.Form):
    key = forms.CharField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    sort_order = fields.IntegerField(label=_("Position"), min_value=0, required=False)
    DELETE = forms.BooleanField(label=_("Remove"), required=False)

    def is_kept(self) -> bool:
        return bool(self.cleaned_data.get("name")) and not self.cleaned_data.get("DELETE")


OptionChoiceRows = forms.formset_factory(OptionChoiceRowForm, extra=1)
OptionPrices = forms.formset_factory(ChoicePriceForm, extra=2)


class TranslationForm(forms.Form):
    """One language's texts of a catalogue row; empty fields show the row's own."""

    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    description = forms.CharField(
        label=_("Description"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    features = forms.CharField(
        label=_("Features"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=_("One per line; empty lists the plan's own."),
    )

    def __init__(self, *args, has_description: bool, has_features: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not has_description:
            del self.fields["description"]
        if not has_features:
            del self.fields["features"]

    def clean_features(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["features"].splitlines()]
        lines = [line for line in lines if line]
        if any(len(line) > 200 for line in lines):
            raise forms.ValidationError(_("A feature has at most 200 characters."))
        return lines
