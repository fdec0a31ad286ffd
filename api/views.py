"""The endpoints of ``/api/v1/``. Each one: an input serializer validates, a billing
service (or ``api.services``) acts, an output serializer renders. Every view
names the scope it needs per method in ``required_scopes``; objects are found by public
id inside this tenant's schema only."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, ClassVar

from django.db import models
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.models import TermsVersion, WebhookDelivery, WebhookEndpoint
from api import selectors as api_selectors
from api import serializers as s
from api import services as api_services
from api import webhooks
from api.errors import PROBLEM_CONTENT_TYPE, ProblemError, problem_body
from api.filtering import ApiPagination, FilterSerializer, OrderingBackend, QueryBoolean
from api.filtering import QueryFilterBackend as _QueryFilterBackend
from api.idempotency import (
    HEADER as IDEMPOTENCY_HEADER,
)
from api.idempotency import (
    IdempotentReplay,
    idempotency_abandon,
    idempotency_begin,
    idempotency_complete,
)
from api.keys import ApiKeyAuthentication
from api.permissions import HasScope
from api.schema import TenantApiSchema
from api.throttling import ApiKeyRateThrottle
from billing import documents, einvoices, fatturapa, selectors
from billing import services as billing_services
from billing.models import (
    Client,
    CreditNote,
    Invoice,
    Order,
    Payment,
    Plan,
    Product,
    Service,
)
from resale.models import BalanceEntry, UpstreamCommand
from resale.outbox import upstream_command_retry
from resale.selectors import (
    reseller_account_for_current_tenant,
    reseller_ledger_rows,
    upstream_command_list,
)

# --- the base ------------------------------------------------------------------------------


class ApiView(GenericAPIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    pagination_class = ApiPagination
    filter_backends = [_QueryFilterBackend, OrderingBackend]
    schema = TenantApiSchema()
    lookup_field = "public_id"
    lookup_url_kwarg = "id"

    # HTTP method → scope; a method without one is refused (see HasScope).
    required_scopes: ClassVar[dict[str, str]] = {}
    # The model whose public id the ``id`` in the path is (the endpoint test reads it).
    object_model: ClassVar[type[models.Model] | None] = None
    filter_serializer: ClassVar[type[FilterSerializer] | None] = None
    ordering_fields: ClassVar[dict[str, str]] = {}
    default_ordering: ClassVar[tuple[str, ...] | None] = None
    schema_tag: ClassVar[str | None] = None

    # --- Idempotency-Key -------------------------------------------------------------

    def initial(self, request, *args: Any, **kwargs: Any) -> None:
        self._idempotency_record = None
        super().initial(request, *args, **kwargs)
        if request.method != "POST" or IDEMPOTENCY_HEADER not in request.headers:
            return
        outcome = idempotency_begin(
            api_key=request.auth,
            key=request.headers[IDEMPOTENCY_HEADER],
            method=request.method,
            path=request.path,
            data=request.data,
        )
        if isinstance(outcome, Response):
            raise IdempotentReplay(outcome)
        self._idempotency_record = outcome

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, IdempotentReplay):
            return exc.response
        try:
            return super().handle_exception(exc)
        except Exception:
            # A crash: the key is freed so that the client's retry runs again.
            record = getattr(self, "_idempotency_record", None)
            if record is not None:
                idempotency_abandon(record=record)
                self._idempotency_record = None
            raise

    def finalize_response(self, request, response, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotency_record", None)
        if record is not None:
            self._idempotency_record = None
            idempotency_complete(record=record, response=response)
        return response

    def service_key(self, scope: str) -> str | None:
        """An idempotency key for a billing service, derived from the request's."""
        return api_services.service_idempotency_key(
            api_key_id=self.request.auth.pk,
            header=self.request.headers.get(IDEMPOTENCY_HEADER),
            scope=scope,
        )

    # --- helpers ---------------------------------------------------------------------

    def list_response(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(self.filter_queryset(queryset))
        data = serializer_class(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    def render(self, serializer_class, instance, *, status_code: int = 200, **headers: str):
        data = serializer_class(instance, context=self.get_serializer_context()).data
        return Response(data, status=status_code, headers=headers or None)

    def validated(self, serializer_class, *, partial: bool = False) -> dict:
        serializer = serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def get_serializer_class(self):
        # Views render through explicit serializers; this keeps the schema generator and
        # DRF's OPTIONS happy without a default.
        return getattr(self, "serializer_class", None) or s.EmptyInputSerializer


def find(model: type[models.Model], field: str, value: Any, queryset=None) -> Any:
    """A row referred to in a request body, or a 400 on that field."""
    found = (queryset if queryset is not None else model.objects).filter(public_id=value).first()
    if found is None:
        raise ValidationError({field: [f"No {model._meta.verbose_name} with this id."]})
    return found


@csrf_exempt
def api_not_found(request, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any path under /api/ that is not an endpoint."""

    return JsonResponse(
        problem_body(404, "There is no such endpoint.", "not_found", instance=request.path),
        status=404,
        content_type=PROBLEM_CONTENT_TYPE,
    )


# --- clients ---------------------------------------------------------------------------


class ClientFilter(FilterSerializer):
    status = serializers.ChoiceField(choices=Client.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=Client.Kind.choices, required=False)
    country = serializers.CharField(max_length=2, required=False)
    email = serializers.CharField(max_length=254, required=False)
    search = serializers.CharField(
        max_length=100, required=False, help_text="Part of the name, company or e-mail."
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)

    lookups = {
        "country": "country__iexact",
        "email": "email__iexact",
        "created_after": "created_at__gte",
        "created_before": "created_at__lt",
    }
    search_columns = ("name", "company_name", "email")


class ClientListView(ApiView):
    required_scopes = {"GET": "clients:read", "POST": "clients:write"}
    filter_serializer = ClientFilter
    ordering_fields = {"name": "name", "email": "email", "created_at": "created_at"}
    schema_tag = "Clients"

    def get_queryset(self):
        return selectors.client_list()

    @extend_schema(operation_id="clients_list", responses=s.ClientSerializer(many=True))
    def get(self, request):
        return self.list_response(self.get_queryset(), s.ClientSerializer)

    @extend_schema(
        operation_id="clients_create",
        request=s.ClientInputSerializer,
        responses={201: s.ClientSerializer},
    )
    def post(self, request):
        data = self.validated(s.ClientInputSerializer)
        client = billing_services.client_create(**data)
        return self.render(
            s.ClientSerializer,
            client,
            status_code=201,
            Location=f"/api/v1/clients/{client.public_id}/",
        )


class ClientDetailView(ApiView):
    required_scopes = {"GET": "clients:read", "PATCH": "clients:write"}
    object_model = Client
    schema_tag = "Clients"

    def get_queryset(self):
        return selectors.client_list()

    @extend_schema(operation_id="clients_retrieve", responses=s.ClientSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.ClientSerializer, self.get_object())

    @extend_schema(
        operation_id="clients_update",
        request=s.ClientUpdateSerializer,
        responses=s.ClientSerializer,
    )
    def patch(self, request, id: uuid.UUID):
        client = self.get_object()
        data = self.validated(s.ClientUpdateSerializer, partial=True)
        client = billing_services.client_update(client=client, **data)
        return self.render(s.ClientSerializer, client)


class ContactFilter(FilterSerializer):
    search = serializers.CharField(max_length=100, required=False, help_text="Name or e-mail.")
    search_columns = ("name", "email")


class ClientContactListView(ApiView):
    required_scopes = {"GET": "clients:read", "POST": "clients:write"}
    object_model = Client
    filter_serializer = ContactFilter
    ordering_fields = {"name": "name", "created_at": "created_at"}
    schema_tag = "Clients"

    def get_queryset(self):
        return selectors.client_list()

    @extend_schema(operation_id="clients_contacts_list", responses=s.ContactSerializer(many=True))
    def get(self, request, id: uuid.UUID):
        client = self.get_object()
        return self.list_response(selectors.contact_list(client=client), s.ContactSerializer)

    @extend_schema(
        operation_id="clients_contacts_create",
        request=s.ContactInputSerializer,
        responses={201: s.ContactSerializer},
    )
    def post(self, request, id: uuid.UUID):
        client = self.get_object()
        data = self.validated(s.ContactInputSerializer)
        contact = billing_services.contact_create(client=client, **data)
        return self.render(s.ContactSerializer, contact, status_code=201)


# --- catalogue -------------------------------------------------------------------------


class ProductFilter(FilterSerializer):
    type = serializers.ChoiceField(choices=Product.Type.choices, required=False)
    visibility = serializers.ChoiceField(choices=Product.Visibility.choices, required=False)
    is_active = QueryBoolean(required=False)
    group = serializers.CharField(max_length=100, required=False, help_text="A group's slug.")
    search = serializers.CharField(max_length=100, required=False)

    lookups = {"group": "group__slug"}
    search_columns = ("name", "slug", "description")


class ProductListView(ApiView):
    required_scopes = {"GET": "catalogue:read"}
    filter_serializer = ProductFilter
    ordering_fields = {"name": "name", "sort_order": "sort_order"}
    schema_tag = "Catalogue"

    def get_queryset(self):
        return selectors.product_list()

    @extend_schema(operation_id="products_list", responses=s.ProductSerializer(many=True))
    def get(self, request):
        return self.list_response(self.get_queryset(), s.ProductSerializer)


class ProductDetailView(ApiView):
    required_scopes = {"GET": "catalogue:read"}
    object_model = Product
    schema_tag = "Catalogue"

    def get_queryset(self):
        return selectors.product_list()

    @extend_schema(operation_id="products_retrieve", responses=s.ProductSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.ProductSerializer, self.get_object())


class PlanFilter(FilterSerializer):
    product = serializers.UUIDField(required=False)
    is_active = QueryBoolean(required=False)
    search = serializers.CharField(max_length=100, required=False)

    lookups = {"product": "product__public_id"}
    search_columns = ("name", "description")


class PlanListView(ApiView):
    required_scopes = {"GET": "catalogue:read"}
    filter_serializer = PlanFilter
    ordering_fields = {"name": "name", "sort_order": "sort_order"}
    schema_tag = "Catalogue"

    def get_queryset(self):
        return selectors.plan_list()

    @extend_schema(operation_id="plans_list", responses=s.PlanSerializer(many=True))
    def get(self, request):
        return self.list_response(self.get_queryset(), s.PlanSerializer)


class PlanDetailView(ApiView):
    required_scopes = {"GET": "catalogue:read"}
    object_model = Plan
    schema_tag = "Catalogue"

    def get_queryset(self):
        return selectors.plan_list()

    @extend_schema(operation_id="plans_retrieve", responses=s.PlanSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.PlanSerializer, self.get_object())


# --- orders ----------------------------------------------------------------------------


class OrderFilter(FilterSerializer):
    client = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)

    lookups = {
        "client": "client__public_id",
        "created_after": "created_at__gte",
        "created_before": "created_at__lt",
    }


class OrderListView(ApiView):
    required_scopes = {"GET": "orders:read", "POST": "orders:write"}
    filter_serializer = OrderFilter
    ordering_fields = {"created_at": "created_at", "total": "total_amount"}
    schema_tag = "Orders"

    def get_queryset(self):
        return selectors.order_list()

    @extend_schema(operation_id="orders_list", responses=s.OrderSerializer(many=True))
    def get(self, request):
        return self.list_response(self.get_queryset(), s.OrderSerializer)

    @extend_schema(
        operation_id="orders_create",
        summary="Place an order",
        description="Checks out the items for the client in one transaction: the order, "
        "its pending services and its issued invoice. Services start once the invoice is "
        "paid (resold ones once the provider has created them).",
        request=s.OrderInputSerializer,
        responses={201: s.OrderSerializer},
    )
    def post(self, request):
        data = self.validated(s.OrderInputSerializer)
        client = find(Client, "client", data["client"])
        lines = []
        for index, item in enumerate(data["items"]):
            plan = find(Plan, f"items.{index}.plan", item["plan"])
            lines.append(
                api_services.OrderLine(
                    plan=plan,
                    cycle=item["cycle"],
                    quantity=item["quantity"],
                    domain_name=item["domain_name"],
                    options=tuple(
                        (o["option"], o["choice"], o["quantity"]) for o in item["options"]
                    ),
                )
            )
        order = api_services.order_place(
            client=client,
            lines=lines,
            coupon_code=data["coupon_code"],
            idempotency_key=self.service_key("order"),
            terms_accepted=_terms_acceptance(data["terms_accepted"]),
        )
        order = selectors.order_list().get(pk=order.pk)
        return self.render(
            s.OrderSerializer, order, status_code=201, Location=f"/api/v1/orders/{order.public_id}/"
        )


# The caller's clock and ours may differ by a little; an acceptance further ahead than
# this is a mistake, not a clock.
TERMS_CLOCK_SKEW = timedelta(minutes=5)


def _terms_acceptance(given: dict | None) -> billing_services.TermsAcceptance | None:
    """The acceptance an API caller collected, checked against the published versions: a
    version that exists, accepted after it was published and not in the future."""
    if given is None:
        return None
    version = TermsVersion.objects.filter(version=given["version"]).first()
    if version is None:
        raise ValidationError(
            {"terms_accepted": {"version": ["No published version of the terms has this number."]}}
        )
    at = given["accepted_at"]
    if at > timezone.now() + TERMS_CLOCK_SKEW:
        raise ValidationError({"terms_accepted": {"accepted_at": ["This time is in the future."]}})
    if at < version.published_at:
        raise ValidationError(
            {"terms_accepted": {"accepted_at": ["This is before that version was published."]}}
        )
    return billing_services.TermsAcceptance(version=version, at=at, ip_address=given["ip_address"])


class OrderDetailView(ApiView):
    required_scopes = {"GET": "orders:read"}
    object_model = Order
    schema_tag = "Orders"

    def get_queryset(self):
        return selectors.order_list()

    @extend_schema(operation_id="orders_retrieve", responses=s.OrderSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.OrderSerializer, self.get_object())


# --- services --------------------------------------------------------------------------


class ServiceFilter(FilterSerializer):
    client = serializers.UUIDField(required=False)
    plan = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Service.Status.choices, required=False)
    domain_name = serializers.CharField(max_length=253, required=False)
    due_before = serializers.DateField(required=False)

    lookups = {
        "client": "client__public_id",
        "plan": "plan__public_id",
        "domain_name": "domain_name__iexact",
        "due_before": "next_due_date__lt",
    }


class ServiceListView(ApiView):
    required_scopes = {"GET": "services:read"}
    filter_serializer = ServiceFilter
    ordering_fields = {"created_at": "created_at", "next_due_date": "next_due_date"}
    schema_tag = "Services"

    def get_queryset(self):
        return selectors.service_list()

    @extend_schema(operation_id="services_list", responses=s.ServiceSerializer(many=True))
    def get(self, request):
        return self.list_response(self.get_queryset(), s.ServiceSerializer)


class ServiceDetailView(ApiView):
    required_scopes = {"GET": "services:read"}
    object_model = Service
    schema_tag = "Services"

    def get_queryset(self):
        return selectors.service_list()

    @extend_schema(operation_id="services_retrieve", responses=s.ServiceSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.ServiceSerializer, self.get_object())


class ServiceActionView(ApiView):
    required_scopes = {"POST": "services:write"}
    object_model = Service
    schema_tag = "Services"

    def get_queryset(self):
        return selectors.service_list()


class ServiceSuspendView(ServiceActionView):
    @extend_schema(
        operation_id="services_suspend",
        request=s.ReasonInputSerializer,
        responses=s.ServiceSerializer,
    )
    def post(self, request, id: uuid.UUID):
        service = self.get_object()
        data = self.validated(s.ReasonInputSerializer)
        service = billing_services.service_suspend(service=service, reason=data["reason"])
        return self.render(s.ServiceSerializer, service)


class ServiceUnsuspendView(ServiceActionView):
    @extend_schema(
        operation_id="services_unsuspend",
        request=s.EmptyInputSerializer,
        responses=s.ServiceSerializer,
    )
    def post(self, request, id: uuid.UUID):
        service = self.get_object()
        self.validated(s.EmptyInputSerializer)
        service = billing_services.service_unsuspend(service=service)
        return self.render(s.ServiceSerializer, service)


class ServiceTerminateView(ServiceActionView):
    @extend_schema(
        operation_id="services_terminate",
        request=s.ReasonInputSerializer,
        responses=s.ServiceSerializer,
    )
    def post(self, request, id: uuid.UUID):
        service = self.get_object()
        data = self.validated(s.ReasonInputSerializer)
        service = billing_services.service_terminate(service=service, reason=data["reason"])
        return self.render(s.ServiceSerializer, service)


class ServiceChangePlanView(ServiceActionView):
    @extend_schema(
        operation_id="services_change_plan",
        description="Moves an active service to another plan now, prorated: an upgrade is "
        "invoiced at once, a downgrade's difference becomes account credit.",
        request=s.ChangePlanInputSerializer,
        responses=s.PlanChangeSerializer,
    )
    def post(self, request, id: uuid.UUID):
        service = self.get_object()
        data = self.validated(s.ChangePlanInputSerializer)
        plan = find(Plan, "plan", data["plan"])
        change = billing_services.service_change_plan(
            service=service, plan=plan, cycle=data.get("cycle")
        )
        body = {
            "service": s.ServiceSerializer(selectors.service_list().get(pk=change.service.pk)).data,
            "invoice": str(change.invoice.public_id) if change.invoice else None,
            "credit": str(change.credit.amount),
            "charge": str(change.charge.amount),
            "credited": str(change.credited.amount),
        }
        return Response(body)


class ServiceSsoView(ServiceActionView):
    extra_problem_codes = (503,)

    @extend_schema(
        operation_id="services_sso",
        summary="Control panel single sign-on link",
        description="A one-time link into the service's control panel, from the provider "
        "that runs it (resold services only).",
        request=s.SsoInputSerializer,
        responses=s.SsoLinkSerializer,
    )
    def post(self, request, id: uuid.UUID):
        service = self.get_object()
        data = self.validated(s.SsoInputSerializer)
        try:
            url = api_services.service_sso_url(service=service, client_ip=data["client_ip"])
        except api_services.UpstreamError as exc:
            if exc.unavailable:
                raise ProblemError(503, str(exc), "upstream_unavailable") from exc
            raise ProblemError(409, str(exc), "upstream_refused") from exc
        return Response({"url": url})


# --- invoices ------------------------------------------------------------------------------


class InvoiceFilter(FilterSerializer):
    client = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Invoice.Status.choices, required=False)
    number = serializers.CharField(max_length=64, required=False)
    issued_after = serializers.DateField(required=False)
    issued_before = serializers.DateField(required=False)
    due_before = serializers.DateField(required=False)

    lookups = {
        "client": "client__public_id",
        "issued_after": "issue_date__gte",
        "issued_before": "issue_date__lt",
        "due_before": "due_date__lt",
    }


class InvoiceListView(ApiView):
    required_scopes = {"GET": "invoices:read", "POST": "invoices:write"}
    filter_serializer = InvoiceFilter
    ordering_fields = {
        "created_at": "created_at",
        "issue_date": "issue_date",
        "due_date": "due_date",
        "number": "number",
        "total": "total_amount",
    }
    schema_tag = "Invoices"

    def get_queryset(self):
        return selectors.invoice_list()

    @extend_schema(operation_id="invoices_list", responses=s.InvoiceSerializer(many=True))
    def get(self, request):
        return self.list_response(self.get_queryset(), s.InvoiceSerializer)

    @extend_schema(
        operation_id="invoices_create",
        description="A draft invoice with these lines (issued at once with `issue`).",
        request=s.InvoiceInputSerializer,
        responses={201: s.InvoiceSerializer},
    )
    def post(self, request):
        data = self.validated(s.InvoiceInputSerializer)
        client = find(Client, "client", data["client"])
        lines = []
        for index, line in enumerate(data["lines"]):
            service = None
            if line["service"] is not None:
                service = find(Service, f"lines.{index}.service", line["service"])
            lines.append(
                api_services.DraftLine(
                    description=line["description"],
                    unit_price=line["unit_price"],
                    quantity=line["quantity"],
                    kind=line["kind"],
                    service=service,
                )
            )
        invoice = api_services.invoice_draft_create(
            client=client, lines=lines, notes=data["notes"], issue=data["issue"]
        )
        return self.render(
            s.InvoiceSerializer,
            selectors.invoice_list().get(pk=invoice.pk),
            status_code=201,
            Location=f"/api/v1/invoices/{invoice.public_id}/",
        )


class InvoiceDetailView(ApiView):
    required_scopes = {"GET": "invoices:read"}
    object_model = Invoice
    schema_tag = "Invoices"

    def get_queryset(self):
        return selectors.invoice_list()

    @extend_schema(operation_id="invoices_retrieve", responses=s.InvoiceSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.InvoiceSerializer, self.get_object())


class InvoiceActionView(ApiView):
    required_scopes = {"POST": "invoices:write"}
    object_model = Invoice
    schema_tag = "Invoices"

    def get_queryset(self):
        return selectors.invoice_list()

    def rendered(self, invoice: Invoice, status_code: int = 200) -> Response:
        return self.render(
            s.InvoiceSerializer,
            selectors.invoice_list().get(pk=invoice.pk),
            status_code=status_code,
        )


class InvoiceIssueView(InvoiceActionView):
    @extend_schema(
        operation_id="invoices_issue",
        description="Numbers a draft and makes it a legal document.",
        request=s.EmptyInputSerializer,
        responses=s.InvoiceSerializer,
    )
    def post(self, request, id: uuid.UUID):
        invoice = self.get_object()
        self.validated(s.EmptyInputSerializer)
        return self.rendered(billing_services.invoice_issue(invoice=invoice))


class InvoiceCancelView(InvoiceActionView):
    @extend_schema(
        operation_id="invoices_cancel",
        description="Drops a draft, or annuls an unpaid issued invoice with a credit note.",
        request=s.ReasonInputSerializer,
        responses=s.InvoiceSerializer,
    )
    def post(self, request, id: uuid.UUID):
        invoice = self.get_object()
        data = self.validated(s.ReasonInputSerializer)
        invoice = billing_services.invoice_cancel(invoice=invoice, reason=data["reason"])
        return self.rendered(invoice)


class InvoicePayView(InvoiceActionView):
    required_scopes = {"POST": "payments:write"}

    @extend_schema(
        operation_id="invoices_pay",
        summary="Record a payment of the invoice",
        description="Money received by bank transfer (or by hand), or the client's account "
        "credit applied. Send an Idempotency-Key: the same key never pays twice.",
        request=s.PayInputSerializer,
        responses={201: s.PaymentSerializer},
    )
    def post(self, request, id: uuid.UUID):
        invoice = self.get_object()
        data = self.validated(s.PayInputSerializer)
        payment = api_services.invoice_pay(
            invoice=invoice,
            method=data["method"],
            amount=data.get("amount"),
            reference=data["reference"],
            received_at=data["received_at"],
            idempotency_key=self.service_key("payment") or f"api:payment:{uuid.uuid4().hex}",
        )
        payment = selectors.payment_list().get(pk=payment.pk)
        return self.render(
            s.PaymentSerializer,
            payment,
            status_code=201,
            Location=f"/api/v1/payments/{payment.public_id}/",
        )


class InvoicePdfView(ApiView):
    required_scopes = {"GET": "invoices:read"}
    object_model = Invoice
    schema_tag = "Invoices"
    extra_problem_codes = (409,)

    def get_queryset(self):
        return selectors.invoice_list()

    @extend_schema(
        operation_id="invoices_pdf",
        summary="The invoice as PDF",
        description="The PDF when it is ready; otherwise 202 while it is being rendered "
        "(retry after Retry-After seconds). Drafts have no PDF (409).",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, "The PDF."),
            202: s.PdfPendingSerializer,
        },
    )
    def get(self, request, id: uuid.UUID):
        invoice = self.get_object()
        if invoice.status == Invoice.Status.DRAFT:
            raise ProblemError(409, "A draft has no PDF; issue it first.", "invoice_draft")
        stored = documents.invoice_pdf_get(invoice)
        if stored is None:
            return Response(
                {"status": "pending", "detail": "The PDF is being prepared."},
                status=status.HTTP_202_ACCEPTED,
                headers={"Retry-After": "5"},
            )
        with stored.open("rb") as handle:
            content = handle.read()
        response = HttpResponse(content, content_type="application/pdf")
        filename = invoice.number.replace("/", "-")
        response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
        return response


XML = "application/xml"
PDF = "application/pdf"


class EInvoiceView(ApiView):
    """The e-invoice of an issued invoice or credit note (GET .../einvoice/)."""

    required_scopes = {"GET": "invoices:read"}
    schema_tag = "Invoices"
    extra_problem_codes = (409,)

    def einvoice(self, document: Any) -> HttpResponse | Response:
        # A plain dict: from a QueryDict, DRF would read "?syntax=" as "not given".
        query = s.EInvoiceQuerySerializer(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        syntax = query.validated_data["syntax"]
        try:
            if syntax == "cii":
                content, content_type = einvoices.document_cii_xml(document=document), XML
            elif syntax == "fatturapa":
                content, content_type = fatturapa.document_fatturapa_xml(document=document), XML
            else:
                content, content_type = einvoices.document_facturx_get(document=document), PDF
        except einvoices.EInvoiceError as exc:
            raise ProblemError(409, str(exc), "einvoice_unavailable") from exc
        if content is None:
            return Response(
                {"status": "pending", "detail": "The PDF is being prepared."},
                status=status.HTTP_202_ACCEPTED,
                headers={"Retry-After": "5"},
            )
        response = HttpResponse(content, content_type=content_type)
        extension = "pdf" if content_type == PDF else "xml"
        filename = einvoices.einvoice_filename(document, extension)
        response["Content-Disposition"] = f'attachment; filename="{syntax}-{filename}"'
        return response


EINVOICE_RESPONSES = {
    (200, PDF): OpenApiResponse(
        OpenApiTypes.BINARY, "`syntax=factur-x`: the PDF/A-3 with the CII XML embedded."
    ),
    (200, XML): OpenApiResponse(
        OpenApiTypes.STR, "`syntax=cii` or `syntax=fatturapa`: the XML document."
    ),
    202: s.PdfPendingSerializer,
}
EINVOICE_DESCRIPTION = (
    "The document as an e-invoice: Factur-X (EN 16931) by default, its CII XML alone, or "
    "FatturaPA when the seller is in Italy. Factur-X is made from the stored PDF: 202 "
    "while that is being rendered (retry after Retry-After seconds). 409 when the "
    "document is a draft, or when the seller's or client's data lacks what an e-invoice "
    "must carry (the detail says what)."
)


class InvoiceEInvoiceView(EInvoiceView):
    object_model = Invoice

    def get_queryset(self):
        return selectors.invoice_list()

    @extend_schema(
        operation_id="invoices_einvoice",
        summary="The invoice as an e-invoice",
        description=EINVOICE_DESCRIPTION,
        parameters=[s.EInvoiceQuerySerializer],
        responses=EINVOICE_RESPONSES,
    )
    def get(self, request, id: uuid.UUID):
        return self.einvoice(self.get_object())


class CreditNoteEInvoiceView(EInvoiceView):
    object_model = CreditNote

    def get_queryset(self):
        return selectors.credit_note_list()

    @extend_schema(
        operation_id="credit_notes_einvoice",
        summary="The credit note as an e-invoice",
        description=EINVOICE_DESCRIPTION,
        parameters=[s.EInvoiceQuerySerializer],
        responses=EINVOICE_RESPONSES,
    )
    def get(self, request, id: uuid.UUID):
        return self.einvoice(self.get_object())


class InvoiceCreditNoteListView(ApiView):
    required_scopes = {"GET": "invoices:read", "POST": "invoices:write"}
    object_model = Invoice
    ordering_fields = {"issued_at": "issued_at"}
    schema_tag = "Invoices"

    def get_queryset(self):
        return selectors.invoice_list()

    @extend_schema(
        operation_id="invoices_credit_notes_list", responses=s.CreditNoteSerializer(many=True)
    )
    def get(self, request, id: uuid.UUID):
        invoice = self.get_object()
        return self.list_response(
            selectors.credit_note_list(invoice=invoice), s.CreditNoteSerializer
        )

    @extend_schema(
        operation_id="invoices_credit_notes_create",
        description="Credits the invoice in full (no `lines`) or the given parts of its "
        "lines. What the client had paid becomes account credit.",
        request=s.CreditNoteInputSerializer,
        responses={201: s.CreditNoteSerializer},
    )
    def post(self, request, id: uuid.UUID):
        invoice = self.get_object()
        data = self.validated(s.CreditNoteInputSerializer)
        lines = None
        if data["lines"] is not None:
            lines = [(line["position"], line["amount"]) for line in data["lines"]]
        credit_note = api_services.credit_note_create(
            invoice=invoice,
            reason=data["reason"],
            lines=lines,
            idempotency_key=self.service_key("credit-note"),
        )
        return self.render(
            s.CreditNoteSerializer,
            selectors.credit_note_list().get(pk=credit_note.pk),
            status_code=201,
            Location=f"/api/v1/credit-notes/{credit_note.public_id}/",
        )


# --- credit notes and payments ---------------------------------------------------------


class CreditNoteFilter(FilterSerializer):
    client = serializers.UUIDField(required=False)
    invoice = serializers.UUIDField(required=False)
    issued_after = serializers.DateField(required=False)
    issued_before = serializers.DateField(required=False)

    lookups = {
        "client": "client__public_id",
        "invoice": "invoice__public_id",
        "issued_after": "issue_date__gte",
        "issued_before": "issue_date__lt",
    }


class CreditNoteListView(ApiView):
    required_scopes = {"GET": "invoices:read"}
    filter_serializer = CreditNoteFilter
    ordering_fields = {"issued_at": "issued_at", "number": "number"}
    schema_tag = "Invoices"

    def get_queryset(self):
        return selectors.credit_note_list()

    @extend_schema(operation_id="credit_notes_list", responses=s.CreditNoteSerializer(many=True))
    def get(self, request):
        return self.list_response(self.get_queryset(), s.CreditNoteSerializer)


class CreditNoteDetailView(ApiView):
    required_scopes = {"GET": "invoices:read"}
    object_model = CreditNote
    schema_tag = "Invoices"

    def get_queryset(self):
        return selectors.credit_note_list()

    @extend_schema(operation_id="credit_notes_retrieve", responses=s.CreditNoteSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.CreditNoteSerializer, self.get_object())


class PaymentFilter(FilterSerializer):
    client = serializers.UUIDField(required=False)
    invoice = serializers.UUIDField(required=False)
    method = serializers.ChoiceField(choices=Payment.Method.choices, required=False)
    received_after = serializers.DateTimeField(required=False)
    received_before = serializers.DateTimeField(required=False)

    lookups = {
        "client": "client__public_id",
        "invoice": "invoice__public_id",
        "received_after": "received_at__gte",
        "received_before": "received_at__lt",
    }


class PaymentListView(ApiView):
    required_scopes = {"GET": "payments:read"}
    filter_serializer = PaymentFilter
    ordering_fields = {"received_at": "received_at", "amount": "amount"}
    schema_tag = "Payments"

    def get_queryset(self):
        return selectors.payment_list()

    @extend_schema(operation_id="payments_list", responses=s.PaymentSerializer(many=True))
    def get(self, request):
        return self.list_response(self.get_queryset(), s.PaymentSerializer)


class PaymentDetailView(ApiView):
    required_scopes = {"GET": "payments:read"}
    object_model = Payment
    schema_tag = "Payments"

    def get_queryset(self):
        return selectors.payment_list()

    @extend_schema(operation_id="payments_retrieve", responses=s.PaymentSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.PaymentSerializer, self.get_object())


# --- resale: balance at the provider, upstream commands --------------------------------


def _upstream_problem(exc: api_services.UpstreamError) -> ProblemError:
    if exc.unavailable:
        return ProblemError(503, str(exc), "upstream_unavailable")
    return ProblemError(409, str(exc), "upstream_refused")


class ResellerBalanceView(ApiView):
    required_scopes = {"GET": "resale:read"}
    schema_tag = "Resale"
    extra_problem_codes = (409, 503)

    @extend_schema(
        operation_id="reseller_balance",
        summary="This site's prepaid balance at its provider",
        responses=s.ResellerBalanceSerializer,
    )
    def get(self, request):
        try:
            balance = api_services.reseller_balance_get()
        except api_services.UpstreamError as exc:
            raise _upstream_problem(exc) from exc
        return Response(s.ResellerBalanceSerializer(balance).data)


class LedgerFilter(FilterSerializer):
    kind = serializers.ChoiceField(choices=BalanceEntry.Kind.choices, required=False)


class ResellerLedgerView(ApiView):
    required_scopes = {"GET": "resale:read"}
    filter_serializer = LedgerFilter
    ordering_fields = {"created_at": "created_at"}
    default_ordering = ("-created_at",)
    schema_tag = "Resale"
    extra_problem_codes = (409, 503)

    @extend_schema(
        operation_id="reseller_ledger",
        summary="Movements of the balance at the provider",
        responses=s.ResellerLedgerEntrySerializer(many=True),
    )
    def get(self, request):
        kind = request.query_params.get("kind", "")
        try:
            remote = api_services.reseller_ledger_entries(kind=kind)
        except api_services.UpstreamError as exc:
            raise _upstream_problem(exc) from exc
        if remote is not None:
            self.filter_queryset(BalanceEntry.objects.none())  # validates the parameters
            page = self.paginate_queryset(remote)
            return self.get_paginated_response(page)
        account = reseller_account_for_current_tenant()
        if account is None:
            raise ProblemError(409, "This site has no account at a provider.", "no_account")
        rows = reseller_ledger_rows(
            account=account,
            narrow=lambda entries: self.paginate_queryset(self.filter_queryset(entries)),
        )
        return self.get_paginated_response(s.ResellerLedgerEntrySerializer(rows, many=True).data)


class UpstreamCommandFilter(FilterSerializer):
    state = serializers.ChoiceField(choices=UpstreamCommand.State.choices, required=False)
    action = serializers.ChoiceField(choices=UpstreamCommand.Action.choices, required=False)
    service = serializers.UUIDField(required=False)

    def validate_service(self, value: uuid.UUID) -> str:
        return str(value)

    lookups = {"service": "service_ref"}


class UpstreamCommandView(ApiView):
    schema_tag = "Resale"

    def get_queryset(self):
        return upstream_command_list()

    def get_object(self) -> UpstreamCommand:
        # Stored as 32 hex digits; the API shows every id as a UUID.
        found = UpstreamCommand.objects.filter(public_id=self.kwargs["id"].hex).first()
        if found is None:
            raise NotFound()
        return found


class UpstreamCommandListView(UpstreamCommandView):
    required_scopes = {"GET": "resale:read"}
    filter_serializer = UpstreamCommandFilter
    ordering_fields = {"created_at": "created_at"}

    @extend_schema(
        operation_id="upstream_commands_list",
        summary="Commands sent to the provider (the outbox)",
        responses=s.UpstreamCommandSerializer(many=True),
    )
    def get(self, request):
        return self.list_response(self.get_queryset(), s.UpstreamCommandSerializer)


class UpstreamCommandDetailView(UpstreamCommandView):
    required_scopes = {"GET": "resale:read"}
    object_model = UpstreamCommand

    @extend_schema(operation_id="upstream_commands_retrieve", responses=s.UpstreamCommandSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.UpstreamCommandSerializer, self.get_object())


class UpstreamCommandRetryView(UpstreamCommandView):
    required_scopes = {"POST": "resale:write"}
    object_model = UpstreamCommand

    @extend_schema(
        operation_id="upstream_commands_retry",
        description="Puts a failed command back in the queue; other states are left as they "
        "are (the command is returned unchanged).",
        request=s.EmptyInputSerializer,
        responses={202: s.UpstreamCommandSerializer},
    )
    def post(self, request, id: uuid.UUID):
        command = self.get_object()
        self.validated(s.EmptyInputSerializer)
        command = upstream_command_retry(command=command)
        return self.render(s.UpstreamCommandSerializer, command, status_code=202)


# --- webhooks ------------------------------------------------------------------------------


class WebhookEndpointFilter(FilterSerializer):
    is_active = QueryBoolean(required=False)


class WebhookEndpointListView(ApiView):
    required_scopes = {"GET": "webhooks:read", "POST": "webhooks:write"}
    filter_serializer = WebhookEndpointFilter
    ordering_fields = {"created_at": "created_at"}
    schema_tag = "Webhooks"

    def get_queryset(self):
        return api_selectors.webhook_endpoint_list()

    @extend_schema(
        operation_id="webhook_endpoints_list", responses=s.WebhookEndpointSerializer(many=True)
    )
    def get(self, request):
        return self.list_response(self.get_queryset(), s.WebhookEndpointSerializer)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        description="The response carries the signing secret, once.",
        request=s.WebhookEndpointInputSerializer,
        responses={201: s.WebhookEndpointCreatedSerializer},
    )
    def post(self, request):
        data = self.validated(s.WebhookEndpointInputSerializer)
        created = webhooks.webhook_endpoint_create(
            url=data["url"],
            events=data.get("events", []),
            description=data.get("description", ""),
            is_active=data.get("is_active", True),
        )
        endpoint = created.endpoint
        endpoint.secret = created.secret
        return self.render(
            s.WebhookEndpointCreatedSerializer,
            endpoint,
            status_code=201,
            Location=f"/api/v1/webhook-endpoints/{endpoint.public_id}/",
        )


class WebhookEndpointDetailView(ApiView):
    required_scopes = {
        "GET": "webhooks:read",
        "PATCH": "webhooks:write",
        "DELETE": "webhooks:write",
    }
    object_model = WebhookEndpoint
    schema_tag = "Webhooks"

    def get_queryset(self):
        return api_selectors.webhook_endpoint_list()

    @extend_schema(operation_id="webhook_endpoints_retrieve", responses=s.WebhookEndpointSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.WebhookEndpointSerializer, self.get_object())

    @extend_schema(
        operation_id="webhook_endpoints_update",
        request=s.WebhookEndpointUpdateSerializer,
        responses=s.WebhookEndpointSerializer,
    )
    def patch(self, request, id: uuid.UUID):
        endpoint = self.get_object()
        data = self.validated(s.WebhookEndpointUpdateSerializer, partial=True)
        endpoint = webhooks.webhook_endpoint_update(endpoint=endpoint, **data)
        return self.render(s.WebhookEndpointSerializer, endpoint)

    @extend_schema(operation_id="webhook_endpoints_delete", responses={204: None})
    def delete(self, request, id: uuid.UUID):
        webhooks.webhook_endpoint_delete(endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointPingView(ApiView):
    required_scopes = {"POST": "webhooks:write"}
    object_model = WebhookEndpoint
    schema_tag = "Webhooks"

    def get_queryset(self):
        return api_selectors.webhook_endpoint_list()

    @extend_schema(
        operation_id="webhook_endpoints_ping",
        description="Sends a `ping` event to the endpoint.",
        request=s.EmptyInputSerializer,
        responses={202: s.WebhookDeliverySerializer},
    )
    def post(self, request, id: uuid.UUID):
        endpoint = self.get_object()
        self.validated(s.EmptyInputSerializer)
        delivery = webhooks.webhook_endpoint_ping(endpoint=endpoint)
        return self.render(s.WebhookDeliverySerializer, delivery, status_code=202)


class WebhookDeliveryFilter(FilterSerializer):
    endpoint = serializers.UUIDField(required=False)
    state = serializers.ChoiceField(choices=WebhookDelivery.State.choices, required=False)
    event_type = serializers.CharField(max_length=64, required=False)
    event_id = serializers.UUIDField(required=False)

    lookups = {"endpoint": "endpoint__public_id"}


class WebhookDeliveryListView(ApiView):
    required_scopes = {"GET": "webhooks:read"}
    filter_serializer = WebhookDeliveryFilter
    ordering_fields = {"created_at": "created_at"}
    schema_tag = "Webhooks"

    def get_queryset(self):
        return api_selectors.webhook_delivery_list()

    @extend_schema(
        operation_id="webhook_deliveries_list",
        summary="The delivery log",
        responses=s.WebhookDeliverySerializer(many=True),
    )
    def get(self, request):
        return self.list_response(self.get_queryset(), s.WebhookDeliverySerializer)


class WebhookDeliveryDetailView(ApiView):
    required_scopes = {"GET": "webhooks:read"}
    object_model = WebhookDelivery
    schema_tag = "Webhooks"

    def get_queryset(self):
        return api_selectors.webhook_delivery_list()

    @extend_schema(
        operation_id="webhook_deliveries_retrieve", responses=s.WebhookDeliverySerializer
    )
    def get(self, request, id: uuid.UUID):
        return self.render(s.WebhookDeliverySerializer, self.get_object())


class WebhookDeliveryReplayView(ApiView):
    required_scopes = {"POST": "webhooks:write"}
    object_model = WebhookDelivery
    schema_tag = "Webhooks"

    def get_queryset(self):
        return api_selectors.webhook_delivery_list()

    @extend_schema(
        operation_id="webhook_deliveries_replay",
        description="Sends the same event (same id and payload) to the endpoint again.",
        request=s.EmptyInputSerializer,
        responses={202: s.WebhookDeliverySerializer},
    )
    def post(self, request, id: uuid.UUID):
        delivery = self.get_object()
        self.validated(s.EmptyInputSerializer)
        replay = webhooks.webhook_delivery_replay(delivery=delivery)
        return self.render(
            s.WebhookDeliverySerializer,
            api_selectors.webhook_delivery_list().get(pk=replay.pk),
            status_code=202,
        )
