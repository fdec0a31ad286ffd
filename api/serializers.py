"""Input serializers validate what a caller sent; output serializers render rows. Object
ids are the rows' public ids (UUIDs); money is a decimal string with the currency's
decimals next to a ``currency``."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from accounts.models import WebhookDelivery, WebhookEndpoint
from api import fields as f
from api.webhook_events import EVENT_TYPES
from billing.models import (
    BillingCycle,
    Client,
    ConfigurableOption,
    Contact,
    CreditNote,
    Invoice,
    InvoiceLine,
    Order,
    OrderItem,
    Payment,
    Plan,
    Product,
    Service,
)
from billing.money import MONEY_DECIMAL_PLACES, MONEY_MAX_DIGITS, Money, round_money
from support.models import Attachment, Department, Message, Priority, Ticket

AMOUNT_PATTERN = r"^-?\d+(\.\d+)?$"


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN, "example": "12.20"}
)
class AmountField(serializers.Field):
    """An amount column rendered with its row's currency decimals ("12.20", "1500")."""

    def __init__(self, *, currency_attr: str = "currency", **kwargs: Any) -> None:
        self.currency_attr = currency_attr
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> tuple[Decimal | None, str]:
        return super().get_attribute(instance), getattr(instance, self.currency_attr)

    def to_representation(self, value: tuple[Decimal | None, str]) -> str | None:
        amount, currency = value
        if amount is None:
            return None
        return str(round_money(Decimal(amount), currency))


def amount_input(**kwargs: Any) -> serializers.DecimalField:
    """An amount a caller sends, as a decimal string; the service checks that it suits the
    currency."""
    return f.Amount(
        max_digits=MONEY_MAX_DIGITS,
        decimal_places=MONEY_DECIMAL_PLACES,
        max_value=Decimal("999999999"),
        **kwargs,
    )


class PublicIdField(serializers.UUIDField):
    """The public id of a related row, read through ``source`` (``client.public_id``)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)


def _passthrough(field: serializers.Field) -> type | None:
    """The value type the field would render unchanged (a str for a CharField, ...)."""
    if isinstance(field, serializers.BooleanField):
        return bool
    if isinstance(field, serializers.IntegerField):
        return int
    if isinstance(field, serializers.CharField | serializers.ChoiceField) and not isinstance(
        field, serializers.UUIDField
    ):
        return str
    return None


def _utc_iso(value: datetime, *, field: serializers.DateTimeField) -> str:
    # DRF's output for the UTC datetimes the database returns, without its timezone
    # round trip; anything else goes the long way.
    if value.tzinfo is UTC:
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return field.to_representation(value)


def _renders_utc_iso(field: serializers.Field) -> bool:
    if type(field) is not serializers.DateTimeField:
        return False
    zone = getattr(field, "timezone", None) or field.default_timezone()
    output = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return output == ISO_8601 and str(zone) == "UTC"


class FastOutput:
    """Renders rows as DRF does, minus DRF's per-field bookkeeping on every row: a page of
    50 rows renders several times faster. Fields that read their value their own way
    (AmountField, method fields) still go through ``get_attribute``."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # A ModelSerializer works its fields out from the model for every instance; these
        # output serializers always get the same ones, so the work is done once per class
        # and copied, as DRF itself copies declared fields.
        cls = type(self)
        template = cls.__dict__.get("_fields_template")
        if template is None:
            template = super().get_fields()
            cls._fields_template = template
        return copy.deepcopy(template)

    def _render_plan(self) -> list[tuple]:
        plan = getattr(self, "_fast_plan", None)
        if plan is None:
            plan = []
            for field in self._readable_fields:
                simple = (
                    type(field).get_attribute is serializers.Field.get_attribute
                    and field.source != "*"
                    and bool(field.source_attrs)
                )
                render = field.to_representation
                if _renders_utc_iso(field):
                    render = partial(_utc_iso, field=field)
                plan.append(
                    (field.field_name, field.source_attrs if simple else None, field,
                     _passthrough(field), render)
                )  # fmt: skip
            self._fast_plan = plan
        return plan

    def to_representation(self, instance: Any) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for name, attrs, field, passthrough, render in self._render_plan():
            if attrs is None:
                try:
                    value = field.get_attribute(instance)
                except serializers.SkipField:
                    continue
            else:
                value = instance
                for attr in attrs:
                    value = getattr(value, attr)
                    if value is None:
                        break
            if value is None:
                row[name] = None
            elif type(value) is passthrough:
                row[name] = value
            else:
                row[name] = render(value)
        return row


# --- clients ---------------------------------------------------------------------------


class ClientSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    # Plain text, not format "email": empty when the client gave none.
    pec_email = serializers.CharField(
        read_only=True, help_text="Italy: the certified e-mail address for e-invoices, or empty"
    )

    class Meta:
        model = Client
        fields = [
            "id",
            "kind",
            "name",
            "company_name",
            "email",
            "phone",
            "address_line1",
            "address_line2",
            "postal_code",
            "city",
            "region",
            "country",
            "vat_number",
            "tax_id",
            "sdi_code",
            "pec_email",
            "tax_exempt",
            "language",
            "status",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ClientInputSerializer(serializers.Serializer):
    kind = f.Choice(choices=Client.Kind.choices, required=False)
    name = f.Text(max_length=200)
    company_name = f.Text(max_length=200, required=False, allow_blank=True)
    email = f.Email(max_length=254)
    phone = f.Text(max_length=40, required=False, allow_blank=True)
    address_line1 = f.Text(max_length=200, required=False, allow_blank=True)
    address_line2 = f.Text(max_length=200, required=False, allow_blank=True)
    postal_code = f.Text(max_length=20, required=False, allow_blank=True)
    city = f.Text(max_length=100, required=False, allow_blank=True)
    region = f.Text(max_length=100, required=False, allow_blank=True)
    country = f.Text(max_length=2, required=False, allow_blank=True, help_text="ISO 3166-1 alpha-2")
    vat_number = f.Text(max_length=32, required=False, allow_blank=True)
    tax_id = f.Text(max_length=32, required=False, allow_blank=True)
    sdi_code = f.Text(
        max_length=7,
        required=False,
        allow_blank=True,
        help_text="Italy: the SdI recipient code for e-invoices (seven letters and digits)",
    )
    pec_email = f.Email(
        max_length=254,
        required=False,
        allow_blank=True,
        help_text="Italy: the certified e-mail address for e-invoices, when there is no SdI code",
    )
    tax_exempt = f.Boolean(required=False)
    language = f.Text(max_length=8, required=False, allow_blank=True)
    status = f.Choice(choices=Client.Status.choices, required=False)
    notes = f.Text(required=False, allow_blank=True, max_length=10000)


class ClientUpdateSerializer(ClientInputSerializer):
    """Every field optional: only what is sent changes."""

    name = f.Text(max_length=200, required=False)
    email = f.Email(max_length=254, required=False)


class ContactSerializer(FastOutput, serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = [
            "name",
            "email",
            "phone",
            "receives_invoices",
            "receives_technical",
            "created_at",
        ]
        read_only_fields = fields


class ContactInputSerializer(serializers.Serializer):
    name = f.Text(max_length=200)
    email = f.Email(max_length=254)
    phone = f.Text(max_length=40, required=False, allow_blank=True, default="")
    receives_invoices = f.Boolean(required=False, default=False)
    receives_technical = f.Boolean(required=False, default=False)


# --- catalogue -------------------------------------------------------------------------


class PlanPriceSerializer(serializers.Serializer):
    cycle = serializers.ChoiceField(choices=BillingCycle.choices, read_only=True)
    currency = serializers.CharField(read_only=True)
    price = AmountField(source="price_amount")
    setup_fee = AmountField(source="setup_fee_amount")


class OptionChoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    prices = PlanPriceSerializer(many=True, read_only=True)


class PlanOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    kind = serializers.ChoiceField(choices=ConfigurableOption.Kind.choices, read_only=True)
    max_quantity = serializers.IntegerField(read_only=True)
    choices = OptionChoiceSerializer(many=True, read_only=True)


class PlanSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    product = PublicIdField(source="product.public_id")
    features = serializers.ListField(child=serializers.CharField(), read_only=True)
    prices = PlanPriceSerializer(many=True, read_only=True)
    options = PlanOptionSerializer(source="configurable_options", many=True, read_only=True)
    resold = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = [
            "id",
            "product",
            "name",
            "description",
            "features",
            "is_active",
            "prices",
            "options",
            "resold",
        ]
        read_only_fields = fields

    def get_resold(self, plan: Plan) -> bool:
        return bool(plan.upstream_plan_ref)


class ProductSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    group = serializers.CharField(source="group.name", read_only=True)
    plans = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = [
            "id",
            "group",
            "name",
            "slug",
            "description",
            "type",
            "visibility",
            "stock",
            "is_active",
            "plans",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_plans(self, product: Product) -> list[str]:
        return [str(plan.public_id) for plan in product.plans.all()]


# --- orders ----------------------------------------------------------------------------


class OrderItemOptionInputSerializer(serializers.Serializer):
    option = f.Integer(min_value=1, help_text="An option id of the plan.")
    choice = f.Integer(min_value=1, help_text="A choice id of that option.")
    quantity = f.Integer(min_value=1, max_value=10000, default=1)


class OrderItemInputSerializer(serializers.Serializer):
    plan = f.Uuid()
    cycle = f.Choice(choices=BillingCycle.choices)
    quantity = f.Integer(min_value=1, max_value=100, default=1)
    domain_name = f.Text(max_length=253, required=False, default="", allow_blank=True)
    options = OrderItemOptionInputSerializer(many=True, required=False, default=list)


class TermsAcceptanceInputSerializer(serializers.Serializer):
    version = f.Integer(
        min_value=1,
        help_text="The version of the terms of service the client accepted "
        "(the storefront's terms page shows it).",
    )
    accepted_at = f.DateTime(help_text="When the client accepted them.")
    ip_address = f.IpAddress(
        required=False,
        allow_null=True,
        default=None,
        help_text="The address the client accepted them from, when known.",
    )


class OrderInputSerializer(serializers.Serializer):
    client = f.Uuid()
    items = OrderItemInputSerializer(many=True, allow_empty=False, max_length=50)
    coupon_code = f.Text(max_length=50, required=False, default="", allow_blank=True)
    terms_accepted = TermsAcceptanceInputSerializer(
        required=False,
        allow_null=True,
        default=None,
        help_text="The client's acceptance of the terms of service, collected by your "
        "own site: recorded with the order, as the storefront records its own, as the "
        "evidence of the contract.",
    )


class TermsAcceptanceSerializer(serializers.Serializer):
    version = serializers.IntegerField(source="terms_version.version")
    accepted_at = serializers.DateTimeField(source="terms_accepted_at")
    ip_address = serializers.IPAddressField(source="terms_accepted_ip", allow_null=True)


class OrderItemSerializer(FastOutput, serializers.ModelSerializer):
    plan = PublicIdField(source="plan.public_id")
    price = AmountField(source="price_amount")
    setup_fee = AmountField(source="setup_fee_amount")
    discount = AmountField(source="discount_amount")
    recurring = AmountField(source="recurring_amount")
    services = serializers.SerializerMethodField()

    class Meta:
        model = OrderItem
        fields = [
            "plan",
            "cycle",
            "quantity",
            "domain_name",
            "description",
            "currency",
            "price",
            "setup_fee",
            "discount",
            "recurring",
            "services",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_services(self, item: OrderItem) -> list[str]:
        return [str(service.public_id) for service in item.services.all()]


class OrderSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    client = PublicIdField(source="client.public_id")
    invoice = PublicIdField(source="invoice.public_id", allow_null=True)
    subtotal = AmountField(source="subtotal_amount")
    discount = AmountField(source="discount_amount")
    tax_total = AmountField(source="tax_total_amount")
    total = AmountField(source="total_amount")
    items = OrderItemSerializer(many=True, read_only=True)
    terms_accepted = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "client",
            "status",
            "currency",
            "subtotal",
            "discount",
            "tax_total",
            "total",
            "invoice",
            "items",
            "terms_accepted",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(TermsAcceptanceSerializer(allow_null=True))
    def get_terms_accepted(self, order: Order) -> dict | None:
        if order.terms_version_id is None:
            return None
        return TermsAcceptanceSerializer(order).data


# --- services --------------------------------------------------------------------------


class ServiceSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    client = PublicIdField(source="client.public_id")
    plan = PublicIdField(source="plan.public_id")
    recurring = AmountField(source="recurring_amount")

    class Meta:
        model = Service
        fields = [
            "id",
            "client",
            "plan",
            "status",
            "billing_cycle",
            "currency",
            "recurring",
            "domain_name",
            "label",
            "registration_date",
            "next_due_date",
            "cancel_at_period_end",
            "suspension_reason",
            "activated_at",
            "suspended_at",
            "terminated_at",
            "cancelled_at",
            "created_at",
        ]
        read_only_fields = fields


class ReasonInputSerializer(serializers.Serializer):
    reason = f.Text(max_length=200, required=False, default="", allow_blank=True)


class EmptyInputSerializer(serializers.Serializer):
    """No fields: send ``{}`` or nothing."""


class ChangePlanInputSerializer(serializers.Serializer):
    plan = f.Uuid()
    cycle = f.Choice(
        choices=[c for c in BillingCycle.choices if c[0] != BillingCycle.ONE_TIME],
        required=False,
        help_text="Defaults to the service's current cycle.",
    )


class PlanChangeSerializer(serializers.Serializer):
    service = ServiceSerializer(read_only=True)
    invoice = PublicIdField(source="invoice.public_id", allow_null=True)
    credit = serializers.CharField(read_only=True, help_text="Unused part of the old plan.")
    charge = serializers.CharField(read_only=True, help_text="The new plan to the due date.")
    credited = serializers.CharField(read_only=True, help_text="Added to account credit.")


class SsoInputSerializer(serializers.Serializer):
    client_ip = serializers.IPAddressField(
        required=False,
        default="",
        help_text="The address of the browser that will open the link; some panels (Plesk) "
        "log in only a visitor from the address the session was made for.",
    )


class SsoLinkSerializer(serializers.Serializer):
    url = serializers.URLField(read_only=True)


# --- invoices, credit notes, payments ------------------------------------------------------


class InvoiceLineSerializer(FastOutput, serializers.ModelSerializer):
    unit_price = AmountField(source="unit_price_amount")
    net = AmountField(source="net_amount")
    tax = AmountField(source="tax_amount")
    total = AmountField(source="total_amount")
    service = PublicIdField(source="service.public_id", allow_null=True)

    class Meta:
        model = InvoiceLine
        fields = [
            "position",
            "kind",
            "description",
            "quantity",
            "unit_price",
            "tax_rate",
            "tax_name",
            "net",
            "tax",
            "total",
            "service",
            "period_start",
            "period_end",
        ]
        read_only_fields = fields


class InvoiceSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    client = PublicIdField(source="client.public_id")
    subtotal = AmountField(source="subtotal_amount")
    tax_total = AmountField(source="tax_total_amount")
    total = AmountField(source="total_amount")
    paid = AmountField(source="paid_amount")
    credited = AmountField(source="credited_amount")
    amount_due = serializers.SerializerMethodField()
    lines = InvoiceLineSerializer(many=True, read_only=True)
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "status",
            "client",
            "currency",
            "language",
            "issue_date",
            "due_date",
            "subtotal",
            "tax_total",
            "total",
            "paid",
            "credited",
            "amount_due",
            "reverse_charge",
            "tax_note",
            "notes",
            "lines",
            "pdf_url",
            "created_at",
            "issued_at",
            "paid_at",
            "cancelled_at",
        ]
        read_only_fields = fields

    @extend_schema_field(AmountField())
    def get_amount_due(self, invoice: Invoice) -> str:
        return str(round_money(invoice.amount_due.amount, invoice.currency))

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_pdf_url(self, invoice: Invoice) -> str | None:
        if invoice.status == Invoice.Status.DRAFT:
            return None
        path = f"/api/v1/invoices/{invoice.public_id}/pdf/"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class InvoiceLineInputSerializer(serializers.Serializer):
    description = f.Text(max_length=500)
    unit_price = amount_input(help_text="In the tenant's currency and price convention.")
    quantity = f.Amount(
        max_digits=10, decimal_places=2, min_value=Decimal("0.01"), default=Decimal(1)
    )
    kind = f.Choice(choices=[(k, label) for k, label in InvoiceLine.Kind.choices], default="other")
    service = f.Uuid(required=False, allow_null=True, default=None)


class InvoiceInputSerializer(serializers.Serializer):
    client = f.Uuid()
    notes = f.Text(required=False, default="", allow_blank=True, max_length=5000)
    lines = InvoiceLineInputSerializer(many=True, allow_empty=False, max_length=200)
    issue = f.Boolean(
        default=False, help_text="Issue the invoice at once instead of leaving a draft."
    )


class PayInputSerializer(serializers.Serializer):
    method = f.Choice(
        choices=[
            (Payment.Method.BANK_TRANSFER, "Bank transfer"),
            (Payment.Method.MANUAL, "Manual"),
            (Payment.Method.ACCOUNT_CREDIT, "Account credit"),
        ]
    )
    amount = amount_input(
        required=False,
        min_value=Decimal("0.0001"),
        help_text="Required for a transfer; for account credit, defaults to all it can pay.",
    )
    reference = f.Text(max_length=200, required=False, default="", allow_blank=True)
    received_at = f.DateTime(required=False, allow_null=True, default=None)

    def validate(self, data: dict) -> dict:
        if data["method"] != Payment.Method.ACCOUNT_CREDIT and data.get("amount") is None:
            raise serializers.ValidationError({"amount": ["An amount is required."]})
        return data


class CreditLineInputSerializer(serializers.Serializer):
    position = f.Integer(min_value=1, help_text="The invoice line's position.")
    amount = amount_input(
        required=False,
        allow_null=True,
        default=None,
        min_value=Decimal("0.0001"),
        help_text="Gross amount to credit; empty credits what is left of the line.",
    )


class CreditNoteInputSerializer(serializers.Serializer):
    reason = f.Text(max_length=500)
    lines = CreditLineInputSerializer(
        many=True, required=False, allow_null=True, default=None, max_length=200
    )


class CreditNoteSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    invoice = PublicIdField(source="invoice.public_id")
    client = PublicIdField(source="client.public_id")
    subtotal = AmountField(source="subtotal_amount")
    tax_total = AmountField(source="tax_total_amount")
    total = AmountField(source="total_amount")
    to_credit = AmountField(source="to_credit_amount")

    class Meta:
        model = CreditNote
        fields = [
            "id",
            "number",
            "invoice",
            "client",
            "currency",
            "issue_date",
            "reason",
            "subtotal",
            "tax_total",
            "total",
            "to_credit",
            "issued_at",
        ]
        read_only_fields = fields


class PaymentSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    client = PublicIdField(source="client.public_id")
    invoice = PublicIdField(source="invoice.public_id", allow_null=True)
    amount = AmountField()
    refunded = AmountField(source="refunded_amount")

    class Meta:
        model = Payment
        fields = [
            "id",
            "client",
            "invoice",
            "method",
            "gateway",
            "gateway_reference",
            "currency",
            "amount",
            "refunded",
            "received_at",
            "note",
            "created_at",
        ]
        read_only_fields = fields


class PdfPendingSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[("pending", "pending")], read_only=True)
    detail = serializers.CharField(read_only=True)


class EInvoiceQuerySerializer(serializers.Serializer):
    syntax = serializers.ChoiceField(
        choices=[
            ("factur-x", "Factur-X: the PDF/A-3 with the CII XML embedded"),
            ("cii", "The CII XML alone (EN 16931)"),
            ("fatturapa", "FatturaPA XML, for sellers in Italy"),
        ],
        default="factur-x",
        required=False,
        help_text="`factur-x` (PDF), `cii` (EN 16931 CII XML) or `fatturapa` (XML; only "
        "when the seller is in Italy).",
    )


# --- resale ------------------------------------------------------------------------------


class ResellerBalanceSerializer(serializers.Serializer):
    currency = serializers.CharField(read_only=True)
    balance = serializers.CharField(read_only=True)
    credit_limit = serializers.CharField(read_only=True)
    available = serializers.CharField(read_only=True)
    low_balance_threshold = serializers.CharField(read_only=True)


class ResellerLedgerEntrySerializer(serializers.Serializer):
    kind = serializers.CharField(read_only=True)
    amount = serializers.CharField(read_only=True)
    currency = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class UpstreamCommandSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    action = serializers.CharField(read_only=True)
    service = serializers.UUIDField(source="service_ref", read_only=True)
    state = serializers.CharField(read_only=True)
    attempts = serializers.IntegerField(read_only=True)
    last_error = serializers.CharField(read_only=True)
    upstream_ref = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    completed_at = serializers.DateTimeField(read_only=True, allow_null=True)

    @extend_schema_field(OpenApiTypes.UUID)
    def get_id(self, command: Any) -> str:
        return str(uuid.UUID(hex=command.public_id))


# --- webhooks ----------------------------------------------------------------------------


class WebhookEndpointSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_TYPES)), read_only=True
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "events", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Shown in this response only: keep it to verify signatures."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = f.Url(max_length=2000)
    description = f.Text(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(
        child=f.Choice(choices=sorted(EVENT_TYPES)),
        required=False,
        max_length=len(EVENT_TYPES),
        help_text="Event types to receive; empty for all.",
    )
    is_active = f.Boolean(required=False)


class WebhookEndpointUpdateSerializer(WebhookEndpointInputSerializer):
    url = serializers.URLField(max_length=2000, required=False)


class WebhookDeliverySerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    endpoint = PublicIdField(source="endpoint.public_id")
    replay_of = PublicIdField(source="replay_of.public_id", allow_null=True)
    payload = serializers.DictField(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "payload",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "response_excerpt",
            "replay_of",
            "created_at",
            "delivered_at",
        ]
        read_only_fields = fields


# --- support desk ------------------------------------------------------------------------


class TicketDepartmentSerializer(FastOutput, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    # Plain text, not format "email": empty for a department without a mailbox of its own.
    email = serializers.CharField(
        read_only=True, help_text="The department's e-mail address, or empty"
    )

    class Meta:
        model = Department
        fields = ["id", "name", "email", "client_access", "allow_guests", "is_active"]
        read_only_fields = fields


class TicketSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    number = serializers.IntegerField(source="pk", read_only=True)
    department = PublicIdField(source="department.public_id")
    client = serializers.UUIDField(
        source="client.public_id", read_only=True, allow_null=True, default=None
    )
    service = serializers.UUIDField(
        source="service.public_id", read_only=True, allow_null=True, default=None
    )
    assignee = serializers.EmailField(
        source="assignee.email", read_only=True, allow_null=True, default=None
    )
    merged_into = serializers.UUIDField(
        source="merged_into.public_id", read_only=True, allow_null=True, default=None
    )
    # Plain text, not format "email": empty unless a guest opened the ticket by e-mail.
    guest_email = serializers.CharField(
        read_only=True, help_text="The guest's e-mail address, or empty"
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "subject",
            "department",
            "client",
            "guest_email",
            "service",
            "domain_name",
            "priority",
            "status",
            "assignee",
            "sla_due_at",
            "merged_into",
            "last_message_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class TicketAttachmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "sha256", "created_at"]
        read_only_fields = fields


class TicketMessageSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    attachments = TicketAttachmentSerializer(many=True, read_only=True)
    # Plain text, not format "email": empty for a message without a known address.
    author_email = serializers.CharField(
        read_only=True, help_text="The author's e-mail address, or empty"
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "author_kind",
            "author_name",
            "author_email",
            "body",
            "is_internal",
            "source",
            "attachments",
            "created_at",
        ]
        read_only_fields = fields


class TicketInputSerializer(serializers.Serializer):
    department = f.Uuid(help_text="The department's id (GET /api/v1/ticket-departments/).")
    client = f.Uuid(help_text="The client the ticket is for.")
    service = f.Uuid(required=False, help_text="One of the client's services, if it is about one.")
    subject = f.Text(max_length=200)
    body = f.Text(max_length=100_000, help_text="The client's first message.")
    priority = f.Choice(choices=Priority.choices, required=False, default=Priority.MEDIUM)


class TicketUpdateSerializer(serializers.Serializer):
    status = f.Choice(choices=Ticket.Status.choices, required=False)
    priority = f.Choice(choices=Priority.choices, required=False)
    assignee = f.Email(
        max_length=254,
        required=False,
        allow_blank=True,
        help_text="A staff member's e-mail address; empty to unassign.",
    )


class TicketMessageInputSerializer(serializers.Serializer):
    body = f.Text(max_length=100_000)
    author = f.Choice(
        choices=[("staff", "staff"), ("client", "client")],
        required=False,
        default="staff",
        help_text="Who writes: staff answer the client; client adds the client's message.",
    )
    internal = f.Boolean(
        required=False, default=False, help_text="A staff note the client never sees."
    )


# --- reports (billing.reports) --------------------------------------------------------------


@extend_schema_field(
    {"type": "string", "format": "decimal", "pattern": AMOUNT_PATTERN, "example": "12.20"}
)
class MoneyAmountField(serializers.Field):
    """A ``Money`` as a decimal string with its currency's decimals; the report names the
    currency once."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Money) -> str:
        return str(value.rounded().amount)


class ReportPeriodQuerySerializer(serializers.Serializer):
    date_from = serializers.DateField(
        required=False, help_text="The first day (default: the first of the month a year ago)."
    )
    date_to = serializers.DateField(required=False, help_text="The last day (default: today).")


class AgeingQuerySerializer(serializers.Serializer):
    on_date = serializers.DateField(
        required=False, help_text="The day to age receivables as of (default: today)."
    )


class TopClientsQuerySerializer(ReportPeriodQuerySerializer):
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=100, default=10, help_text="How many clients."
    )


class ReportSerializer(serializers.Serializer):
    currency = serializers.CharField(read_only=True)
    date_from = serializers.DateField(source="period.start", read_only=True)
    date_to = serializers.DateField(source="period.last", read_only=True)


class ProductRevenueSerializer(serializers.Serializer):
    product_id = serializers.UUIDField(read_only=True, allow_null=True)
    product = serializers.CharField(read_only=True, help_text="Empty for lines of no service.")
    months = serializers.ListField(child=MoneyAmountField(), read_only=True)
    total = MoneyAmountField()


class RevenueReportSerializer(ReportSerializer):
    months = serializers.ListField(
        source="report.months", child=serializers.DateField(), read_only=True
    )
    products = ProductRevenueSerializer(source="report.products", many=True, read_only=True)
    totals = serializers.ListField(source="report.totals", child=MoneyAmountField(), read_only=True)
    total = MoneyAmountField(source="report.total")


class TaxedRowSerializer(serializers.Serializer):
    country = serializers.CharField(read_only=True)
    rate = serializers.DecimalField(
        max_digits=7, decimal_places=4, coerce_to_string=True, read_only=True, normalize_output=True
    )
    net = MoneyAmountField()
    tax = MoneyAmountField()


class UntaxedRowSerializer(serializers.Serializer):
    country = serializers.CharField(read_only=True)
    rule = serializers.CharField(read_only=True, help_text="Why no VAT: the tax engine's rule.")
    net = MoneyAmountField()


class TaxReportSerializer(ReportSerializer):
    taxed = TaxedRowSerializer(source="report.taxed", many=True, read_only=True)
    untaxed = UntaxedRowSerializer(source="report.untaxed", many=True, read_only=True)
    net = MoneyAmountField(source="report.net")
    tax = MoneyAmountField(source="report.tax")
    untaxed_net = MoneyAmountField(source="report.untaxed_net")


class AgeingBucketsSerializer(serializers.Serializer):
    current = MoneyAmountField(help_text="Not yet due.")
    days_1_30 = MoneyAmountField()
    days_31_60 = MoneyAmountField()
    days_61_90 = MoneyAmountField()
    days_over_90 = MoneyAmountField()


def _buckets(amounts: list) -> dict:
    return dict(
        zip(
            ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90"),
            amounts,
            strict=True,
        )
    )


class ClientAgeingSerializer(serializers.Serializer):
    client_id = serializers.UUIDField(read_only=True)
    client = serializers.CharField(read_only=True)
    invoices = serializers.IntegerField(read_only=True)
    buckets = serializers.SerializerMethodField()
    total = MoneyAmountField()

    @extend_schema_field(AgeingBucketsSerializer)
    def get_buckets(self, row) -> dict:
        return AgeingBucketsSerializer(_buckets(row.buckets)).data


class ReceivablesReportSerializer(serializers.Serializer):
    currency = serializers.CharField(read_only=True)
    on_date = serializers.DateField(source="report.on_date", read_only=True)
    clients = ClientAgeingSerializer(source="report.clients", many=True, read_only=True)
    totals = serializers.SerializerMethodField()
    total = MoneyAmountField(source="report.total")

    @extend_schema_field(AgeingBucketsSerializer)
    def get_totals(self, value) -> dict:
        return AgeingBucketsSerializer(_buckets(value["report"].totals)).data


class MrrMonthSerializer(serializers.Serializer):
    month = serializers.DateField(read_only=True)
    opening = MoneyAmountField()
    new = MoneyAmountField()
    expansion = MoneyAmountField()
    contraction = MoneyAmountField(help_text="Downgrades, as a positive amount.")
    churned = MoneyAmountField(help_text="Services that stopped, as a positive amount.")
    net = MoneyAmountField()
    closing = MoneyAmountField()
    services_lost = serializers.IntegerField(read_only=True)
    clients_lost = serializers.IntegerField(read_only=True)


class MrrReportSerializer(ReportSerializer):
    months = MrrMonthSerializer(source="report", many=True, read_only=True)


class TopClientSerializer(serializers.Serializer):
    client_id = serializers.UUIDField(read_only=True)
    client = serializers.CharField(read_only=True)
    invoices = serializers.IntegerField(read_only=True)
    net = MoneyAmountField()


class TopClientsReportSerializer(ReportSerializer):
    clients = TopClientSerializer(source="report", many=True, read_only=True)
