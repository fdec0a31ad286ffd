"""What a tenant sells: groups, products, plans with a price per billing cycle, and
configurable options priced per cycle."""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from billing.models.base import (
    BillingCycle,
    TenantModel,
    currency_column,
    money_column,
    public_id_column,
)
from billing.money import MoneyField


class TranslatedText:
    """A catalogue row's name and description in the reader's language: the tenant's
    translation (``translations = {"it": {"name": ..., "description": ...}}``) when it
    wrote one, its own text otherwise."""

    translations: dict

    def translated(self, field: str) -> str:
        language = (get_language() or "").split("-")[0]
        own = getattr(self, field, "")
        return ((self.translations or {}).get(language) or {}).get(field) or own

    @property
    def display_name(self) -> str:
        return self.translated("name")

    @property
    def display_description(self) -> str:
        return self.translated("description")

    @property
    def display_features(self) -> list[str]:
        """A plan's features: translated as a whole list, never mixed line by line."""
        language = (get_language() or "").split("-")[0]
        own = list(getattr(self, "features", None) or [])
        return list(((self.translations or {}).get(language) or {}).get("features") or own)


class ProductGroup(TenantModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, db_index=False)
    description = models.TextField(blank=True)
    is_visible = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["slug"], name="billing_productgroup_slug_key")
        ]

    def __str__(self) -> str:
        return self.name


class Product(TranslatedText, TenantModel):
    class Type(models.TextChoices):
        SHARED_HOSTING = "shared_hosting", _("Shared hosting")
        VPS = "vps", _("VPS")
        DEDICATED = "dedicated", _("Dedicated server")
        DOMAIN = "domain", _("Domain")
        LICENCE = "licence", _("Licence")
        OTHER = "other", _("Other")

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public")
        HIDDEN = "hidden", _("Hidden")

    class TaxCategory(models.TextChoices):
        """What is sold, as the VAT place-of-supply rules see it (billing.taxes)."""

        ELECTRONIC = "electronic", _("Electronically supplied service")
        DOMAIN = "domain", _("Domain registration")
        PHYSICAL = "physical", _("Physical goods")
        EXEMPT = "exempt", _("Exempt from VAT")

    public_id = public_id_column()
    group = models.ForeignKey(ProductGroup, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, db_index=False)
    description = models.TextField(blank=True)
    translations = models.JSONField(default=dict, blank=True)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.OTHER)
    tax_category = models.CharField(
        _("tax category"),
        max_length=16,
        choices=TaxCategory.choices,
        default=TaxCategory.ELECTRONIC,
    )
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    # None is unlimited; checkout decrements it under a row lock.
    stock = models.PositiveIntegerField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["group__sort_order", "sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["slug"], name="billing_product_slug_key")]

    def __str__(self) -> str:
        return self.name

    @property
    def requires_domain(self) -> bool:
        return self.type == self.Type.DOMAIN


class DomainPolicy(models.TextChoices):
    """Whether ordering a hosting plan leads the client through choosing its domain: not
    at all, offered (register, transfer or one the client already owns), or required (a
    registration or a transfer in the same order)."""

    NONE = "none", _("No domain step")
    OFFER = "offer", _("Offer a domain")
    REQUIRE = "require", _("Require a domain")


class Plan(TranslatedText, TenantModel):
    """A sellable variant of a product (e.g. "Starter" of "Shared hosting")."""

    public_id = public_id_column()
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="plans")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    translations = models.JSONField(default=dict, blank=True)
    features = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)
    # Resale: the provider's wholesale plan and cycle this plan is bought as upstream.
    upstream_plan_ref = models.CharField(max_length=100, blank=True)
    upstream_cycle = models.CharField(max_length=16, choices=BillingCycle.choices, blank=True)
    domain_policy = models.CharField(
        max_length=8, choices=DomainPolicy.choices, default=DomainPolicy.NONE
    )
    configurable_options = models.ManyToManyField(
        "ConfigurableOption", blank=True, related_name="plans"
    )

    class Meta:
        ordering = ["product", "sort_order", "name"]

    def __str__(self) -> str:
        return f"{self.product.name} – {self.name}"

    @property
    def display_title(self) -> str:
        """``__str__`` in the reader's language."""
        return f"{self.product.display_name} – {self.display_name}"


class PlanPrice(TenantModel):
    """The price of a plan for one billing cycle; a cycle without a row is not sold."""

    # billing_planprice_unique (plan, cycle) serves lookups by plan.
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="prices", db_index=False)
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    currency = currency_column()
    price_amount = money_column()
    setup_fee_amount = money_column()

    price = MoneyField("price_amount")
    setup_fee = MoneyField("setup_fee_amount")

    class Meta:
        ordering = ["plan", "cycle"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "cycle"], name="billing_planprice_unique"),
            models.CheckConstraint(
                condition=models.Q(price_amount__gte=0, setup_fee_amount__gte=0),
                name="billing_planprice_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.cycle}: {self.price}"


class DomainPrice(TenantModel):
    """What a domain plan (named after its TLD) charges beyond its registration prices
    (the plan's prices per cycle: one, two or three years): a transfer in (one year
    added), each year of renewal, and a restore from redemption (once)."""

    plan = models.OneToOneField(Plan, on_delete=models.CASCADE, related_name="domain_price")
    currency = currency_column()
    transfer_amount = money_column()
    renew_amount = money_column()
    restore_amount = money_column()

    transfer = MoneyField("transfer_amount")
    renew = MoneyField("renew_amount")
    restore = MoneyField("restore_amount")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    transfer_amount__gte=0, renew_amount__gte=0, restore_amount__gte=0
                ),
                name="billing_domainprice_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan}: transfer {self.transfer}, renew {self.renew}"


class ConfigurableOption(TranslatedText, TenantModel):
    """An add-on the client picks when ordering (extra RAM, IP addresses...). A
    ``select`` option takes one of its choices; a ``quantity`` option takes a number of
    its single choice's unit."""

    class Kind(models.TextChoices):
        SELECT = "select", _("Pick one")
        QUANTITY = "quantity", _("Quantity")

    name = models.CharField(max_length=200)
    translations = models.JSONField(default=dict, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.SELECT)
    max_quantity = models.PositiveIntegerField(default=1)
    sort_order = models.PositiveIntegerField(default=0)
    # Resale: the provider's wholesale option this one is bought as upstream. Empty for
    # the tenant's own add-ons, which are never sent upstream.
    upstream_option_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.name


class ConfigurableOptionChoice(TranslatedText, TenantModel):
    option = models.ForeignKey(ConfigurableOption, on_delete=models.CASCADE, related_name="choices")
    name = models.CharField(max_length=200)
    translations = models.JSONField(default=dict, blank=True)
    sort_order = models.PositiveIntegerField(default=0)
    # Resale: the wholesale choice's code within the upstream option.
    upstream_choice_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["option", "sort_order", "name"]

    def __str__(self) -> str:
        return f"{self.option.name}: {self.name}"

    @property
    def display_title(self) -> str:
        """``__str__`` in the reader's language."""
        return f"{self.option.display_name}: {self.display_name}"


class ConfigurableOptionPrice(TenantModel):
    # billing_configurableoptionprice_unique (choice, cycle) serves lookups by choice.
    choice = models.ForeignKey(
        ConfigurableOptionChoice, on_delete=models.CASCADE, related_name="prices", db_index=False
    )
    cycle = models.CharField(max_length=16, choices=BillingCycle.choices)
    currency = currency_column()
    price_amount = money_column()
    setup_fee_amount = money_column()

    price = MoneyField("price_amount")
    setup_fee = MoneyField("setup_fee_amount")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["choice", "cycle"], name="billing_configurableoptionprice_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(price_amount__gte=0, setup_fee_amount__gte=0),
                name="billing_configurableoptionprice_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.choice} {self.cycle}: {self.price}"


class TaxRule(TenantModel):
    """The tax the tenant charges buyers of one country. A rule with an empty country
    applies to countries without a rule of their own."""

    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1; empty = any")
    name = models.CharField(max_length=50, default="VAT")
    rate = models.DecimalField(max_digits=7, decimal_places=4, help_text="Percent: 22 for 22 %")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["country"]
        constraints = [
            models.UniqueConstraint(
                fields=["country"],
                condition=models.Q(is_active=True),
                name="billing_taxrule_one_active_per_country",
            ),
            models.CheckConstraint(
                condition=models.Q(rate__gte=0, rate__lt=100), name="billing_taxrule_rate_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country or '*'} {self.name} {self.rate.normalize()} %"
