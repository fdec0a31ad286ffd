"""The provider console's resale pages (Django admin on the platform host). Only
provider-side models are registered: a reseller's own data never appears here."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from billing.money import currency_choices
from core.locale import babel_locale, money_format
from provisioning.modules.base import MODULE_CHOICES
from resale.models import (
    BalanceEntry,
    DriftItem,
    PriceList,
    ResaleCredential,
    ResellerAccount,
    UpstreamRequest,
    UpstreamService,
    WholesaleInvoice,
    WholesaleOption,
    WholesaleOptionChoice,
    WholesaleOptionPrice,
    WholesalePlan,
    WholesalePrice,
)
from resale.services import (
    ResaleError,
    reseller_balance,
    reseller_balance_adjust,
    reseller_balance_topup,
    wholesale_option_announce,
    wholesale_plan_announce,
)
from resale.tasks import in_schema, reconciliation_run_task


class ListCurrencyForm(forms.ModelForm):
    """A price is in its price list's currency: taken from the list, never typed."""

    def clean(self):
        data = super().clean()
        if data.get("price_list"):
            self.instance.currency = data["price_list"].currency
        return data


class WholesalePriceInline(admin.TabularInline):
    model = WholesalePrice
    form = ListCurrencyForm
    extra = 1
    fields = ["price_list", "cycle", "price_amount", "setup_fee_amount"]


class WholesalePlanForm(forms.ModelForm):
    module = forms.ChoiceField(choices=MODULE_CHOICES)

    class Meta:
        model = WholesalePlan
        fields = ["code", "name", "description", "product_type", "module", "package", "is_active"]


@admin.register(WholesalePlan)
class WholesalePlanAdmin(admin.ModelAdmin):
    form = WholesalePlanForm
    list_display = ["code", "name", "product_type", "module", "package", "is_active", "version"]
    list_filter = ["product_type", "module", "is_active"]
    search_fields = ["code", "name"]
    inlines = [WholesalePriceInline]

    def save_model(self, request, obj, form, change):
        # Resellers compare versions to learn that a plan they resell has changed.
        if change and form.changed_data:
            obj.version += 1
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        prices_changed = any(formset.has_changed() for formset in formsets)
        if change and (form.changed_data or prices_changed):
            if prices_changed and not form.changed_data:
                WholesalePlan.objects.filter(pk=form.instance.pk).update(
                    version=form.instance.version + 1
                )
                form.instance.refresh_from_db()
            count = wholesale_plan_announce(plan=form.instance)
            messages.info(request, f"{count} reseller(s) told about the change.")


class WholesaleOptionChoiceInline(admin.TabularInline):
    model = WholesaleOptionChoice
    extra = 1
    fields = ["code", "name", "settings", "sort_order"]
    show_change_link = True


@admin.register(WholesaleOption)
class WholesaleOptionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "max_quantity", "is_active", "version"]
    list_filter = ["kind", "is_active"]
    search_fields = ["code", "name"]
    filter_horizontal = ["plans"]
    inlines = [WholesaleOptionChoiceInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and (form.changed_data or any(f.has_changed() for f in formsets)):
            _option_changed(request, form.instance)


class WholesaleOptionPriceInline(admin.TabularInline):
    model = WholesaleOptionPrice
    form = ListCurrencyForm
    extra = 1
    fields = ["price_list", "cycle", "price_amount", "setup_fee_amount"]


@admin.register(WholesaleOptionChoice)
class WholesaleOptionChoiceAdmin(admin.ModelAdmin):
    """A choice's wholesale prices per price list and cycle."""

    list_display = ["option", "code", "name", "settings"]
    list_filter = ["option"]
    inlines = [WholesaleOptionPriceInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and (form.changed_data or any(f.has_changed() for f in formsets)):
            _option_changed(request, form.instance.option)


def _option_changed(request, option: WholesaleOption) -> None:
    # Resellers are told, never repriced: they decide about their own prices.
    WholesaleOption.objects.filter(pk=option.pk).update(version=option.version + 1)
    option.refresh_from_db()
    count = wholesale_option_announce(option=option)
    messages.info(request, f"{count} reseller(s) told about the change.")


class PriceListForm(forms.ModelForm):
    currency = forms.ChoiceField(choices=lambda: currency_choices(locale=babel_locale()))

    class Meta:
        model = PriceList
        fields = ["name", "currency", "is_default", "is_cost"]


@admin.register(PriceList)
class PriceListAdmin(admin.ModelAdmin):
    form = PriceListForm
    list_display = ["name", "currency", "is_default", "is_cost"]


class BalanceForm(forms.Form):
    amount = forms.CharField(help_text="A positive amount adds to the balance.")
    reason = forms.CharField(max_length=255)

    def clean_amount(self):
        try:
            return Decimal(self.cleaned_data["amount"].strip())
        except InvalidOperation as exc:
            raise ValidationError("Enter an amount such as 50 or 12.50.") from exc


@admin.register(ResellerAccount)
class ResellerAccountAdmin(admin.ModelAdmin):
    list_display = [
        "legal_name",
        "tenant",
        "status",
        "currency",
        "balance",
        "credit_limit",
        "price_list",
    ]
    list_filter = ["status", "currency", "price_list"]
    search_fields = ["legal_name", "tenant__name"]
    # Terms, price list and status change in the provider console, where each change is
    # audited (a suspension with its reason); here they are only shown.
    readonly_fields = [
        "public_id",
        "tenant",
        "currency",
        "price_list",
        "credit_limit",
        "low_balance_threshold",
        "status",
        "low_balance_alerted_at",
        "created_at",
    ]
    actions = ["reconcile"]

    @admin.action(description="Run reconciliation now", permissions=["view"])
    def reconcile(self, request, queryset):
        for schema in queryset.values_list("tenant__schema_name", flat=True):
            in_schema(schema, reconciliation_run_task)
        messages.info(
            request,
            f"Reconciliation queued for {queryset.count()} reseller(s); "
            "its findings appear under Drift items.",
        )

    def has_add_permission(self, request):
        # An account without its tenant, domain and admin is no reseller: the provider
        # console's "New reseller" form makes all of them at once.
        return False

    @admin.display(description="Balance")
    def balance(self, obj: ResellerAccount) -> str:
        return money_format(reseller_balance(account=obj))

    def get_urls(self):
        return [
            path(
                "<int:pk>/balance/",
                self.admin_site.admin_view(self.balance_view),
                name="resale_reselleraccount_balance",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "balance_url": reverse("admin:resale_reselleraccount_balance", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def balance_view(self, request, pk: int):
        """Top-up (money received) or adjustment (a correction with a reason)."""
        account = get_object_or_404(ResellerAccount, pk=pk)
        if not request.user.has_perm("resale.view_balanceentry"):
            raise PermissionDenied
        if request.method == "POST" and not request.user.has_perm("resale.add_balanceentry"):
            raise PermissionDenied
        form = BalanceForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            amount, reason = form.cleaned_data["amount"], form.cleaned_data["reason"]
            try:
                if request.POST.get("kind") == "topup":
                    reseller_balance_topup(
                        account=account,
                        amount=amount,
                        reference=reason,
                        idempotency_key=request.POST.get("token", ""),
                        created_by=request.user.email,
                    )
                else:
                    reseller_balance_adjust(
                        account=account, amount=amount, reason=reason, created_by=request.user.email
                    )
            except (ResaleError, ValueError) as exc:
                form.add_error("amount", str(getattr(exc, "message", exc)))
            else:
                messages.success(
                    request,
                    f"Balance of {account} is now "
                    f"{money_format(reseller_balance(account=account))}.",
                )
                return redirect("admin:resale_reselleraccount_change", pk)
        return render(
            request,
            "admin/resale/balance.html",
            {
                **self.admin_site.each_context(request),
                "account": account,
                "form": form,
                "balance": reseller_balance(account=account),
                "token": uuid.uuid4().hex,
                "entries": account.entries.all()[:50],
                "title": f"Balance of {account}",
            },
        )


@admin.register(BalanceEntry)
class BalanceEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "kind", "amount_value", "currency", "description"]
    list_filter = ["kind", "account"]
    search_fields = ["description", "account__legal_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UpstreamService)
class UpstreamServiceAdmin(admin.ModelAdmin):
    list_display = [
        "public_id",
        "account",
        "plan",
        "cycle",
        "client_ref",
        "status",
        "suspend_reason",
        "next_due_date",
        "last_error",
    ]
    list_filter = ["status", "suspend_reason", "plan", "account"]
    search_fields = ["public_id", "client_ref", "domain"]
    readonly_fields = [field.name for field in UpstreamService._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # Its ledger rows point at it: a service is terminated, never deleted.
        return False


@admin.register(UpstreamRequest)
class UpstreamRequestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "account", "action", "idempotency_key", "upstream_service"]
    list_filter = ["action", "account"]
    readonly_fields = [field.name for field in UpstreamRequest._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        # The memory of idempotency keys: deleting a row would let a command run twice.
        return False


@admin.register(ResaleCredential)
class ResaleCredentialAdmin(admin.ModelAdmin):
    """Issued and revoked on the reseller's page of the provider console (the token is
    shown once there); a revoked credential stays, as the record of who could call."""

    list_display = ["name", "account", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = [field.name for field in ResaleCredential._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WholesaleInvoice)
class WholesaleInvoiceAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "account",
        "period_start",
        "issue_date",
        "subtotal_amount",
        "tax_amount",
        "total_amount",
        "currency",
    ]
    list_filter = ["account", "issue_date"]
    search_fields = ["number", "account__legal_name"]
    readonly_fields = [field.name for field in WholesaleInvoice._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DriftItem)
class DriftItemAdmin(admin.ModelAdmin):
    """What reconciliation found. Services are named by the reseller's random service id
    and the upstream service; the client only by its pseudonymous reference."""

    list_display = [
        "last_seen_at",
        "account",
        "service_ref",
        "client_ref",
        "kind",
        "expected",
        "found",
        "state",
        "repair",
    ]
    list_filter = ["state", "kind", "account"]
    search_fields = ["service_ref", "upstream_service__public_id"]
    readonly_fields = [field.name for field in DriftItem._meta.fields]
    list_select_related = ["account", "upstream_service"]
    # Items are repaired or resolved (with a reason, audited) on the console's Drift page.

    @admin.display(description="Client reference")
    def client_ref(self, obj: DriftItem) -> str:
        return obj.upstream_service.client_ref if obj.upstream_service else ""

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
