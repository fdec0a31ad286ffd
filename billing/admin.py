"""Admin pages for a tenant's billing, on an admin site of their own.

They are not registered on ``django.contrib.admin.site``: that site is the provider
console on the platform host, where billing tables do not exist and where a reseller's
clients must never appear. ``tenant_billing_admin`` is meant to be mounted in the tenant
URLconf (e.g. ``path("console/admin/", tenant_billing_admin.urls)``) until the reseller
console has its own pages. Documents, payments and the ledger are read-only here: they
change only through the billing services."""

from __future__ import annotations

from django.contrib import admin

from billing import models


class TenantBillingAdminSite(admin.AdminSite):
    site_header = "Billing"
    site_title = "Billing"

    def has_permission(self, request) -> bool:
        user = request.user
        return bool(user.is_active and user.is_authenticated and user.is_tenant_staff)


tenant_billing_admin = TenantBillingAdminSite(name="tenant_billing_admin")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PlanPriceInline(admin.TabularInline):
    model = models.PlanPrice
    extra = 0
    fields = ["cycle", "price_amount", "setup_fee_amount", "currency"]


class InvoiceLineInline(admin.TabularInline):
    model = models.InvoiceLine
    extra = 0
    fields = [
        "kind",
        "description",
        "quantity",
        "unit_price_amount",
        "tax_rate",
        "net_amount",
        "tax_amount",
        "total_amount",
        "service",
        "period_start",
        "period_end",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CreditNoteLineInline(InvoiceLineInline):
    model = models.CreditNoteLine
    fields = [
        "description",
        "quantity",
        "unit_price_amount",
        "tax_rate",
        "net_amount",
        "tax_amount",
        "total_amount",
    ]
    readonly_fields = fields


@admin.register(models.BillingSettings, site=tenant_billing_admin)
class BillingSettingsAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "country", "currency", "prices_include_tax"]

    def has_add_permission(self, request) -> bool:
        return not models.BillingSettings.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(models.TaxRule, site=tenant_billing_admin)
class TaxRuleAdmin(admin.ModelAdmin):
    list_display = ["country", "name", "rate", "is_active"]


@admin.register(models.ProductGroup, site=tenant_billing_admin)
class ProductGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_visible", "sort_order"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(models.Product, site=tenant_billing_admin)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "type", "visibility", "stock", "is_active"]
    list_filter = ["type", "visibility", "is_active"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(models.Plan, site=tenant_billing_admin)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "product", "is_active", "upstream_plan_ref", "upstream_cycle"]
    list_filter = ["product", "is_active"]
    inlines = [PlanPriceInline]


@admin.register(models.ConfigurableOption, site=tenant_billing_admin)
class ConfigurableOptionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "max_quantity"]


@admin.register(models.Coupon, site=tenant_billing_admin)
class CouponAdmin(admin.ModelAdmin):
    list_display = ["code", "kind", "value", "applies_to", "expires_at", "max_uses", "is_active"]


@admin.register(models.Client, site=tenant_billing_admin)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "company_name", "email", "country", "status"]
    list_filter = ["status", "kind", "country"]
    search_fields = ["name", "company_name", "email", "vat_number"]
    readonly_fields = ["public_id"]


@admin.register(models.Service, site=tenant_billing_admin)
class ServiceAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "client", "plan", "status", "billing_cycle", "next_due_date"]
    list_filter = ["status", "billing_cycle"]
    search_fields = ["domain_name", "client__name", "client__email"]


@admin.register(models.Order, site=tenant_billing_admin)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "client", "status", "total_amount", "created_at"]
    list_filter = ["status"]


@admin.register(models.Invoice, site=tenant_billing_admin)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "client", "status", "issue_date", "due_date", "total_amount"]
    list_filter = ["status"]
    search_fields = ["number", "client__name", "client__email"]
    inlines = [InvoiceLineInline]


@admin.register(models.CreditNote, site=tenant_billing_admin)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ["number", "invoice", "client", "issue_date", "total_amount"]
    search_fields = ["number", "invoice__number"]
    inlines = [CreditNoteLineInline]


@admin.register(models.Payment, site=tenant_billing_admin)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ["public_id", "client", "invoice", "method", "amount", "received_at"]
    list_filter = ["method"]


@admin.register(models.LedgerEntry, site=tenant_billing_admin)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "client", "kind", "amount", "currency", "invoice"]
    list_filter = ["kind"]
    search_fields = ["client__name", "client__email", "description"]
