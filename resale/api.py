"""The resale REST API on the platform host (``/api/resale/v1/``), used by remote
installations that buy from this provider. Authenticated by a credential the provider
issued to the reseller; every object is looked up within that reseller's account, so
another reseller's reference is a 404."""

from __future__ import annotations

import hashlib
import hmac

from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from core.problems import PROBLEM_BASE
from provisioning.modules.base import TransientModuleError
from resale.domains import (
    DOMAIN_ACTIONS,
    DomainSecrets,
    contact_from_dict,
    domain_command_receive,
    upstream_domain_manage,
    upstream_domains_check,
)
from resale.escalations import (
    BODY_MAX,
    MESSAGES_MAX,
    SUBJECT_MAX,
    escalation_accept,
    escalation_message_accept,
    escalation_reseller_status_set,
    escalation_view,
    provider_ticket_get,
)
from resale.models import BalanceEntry, ResaleCredential, ResellerAccount, WholesalePrice
from resale.selectors import (
    SERVICES_PAGE_MAX,
    reseller_statement_summary,
    upstream_service_panel_login_reset,
    upstream_service_sso_url,
    upstream_service_status,
    upstream_services_page,
)
from resale.services import ACTIONS, ResaleError, upstream_command_accept
from resale.statements import reseller_statement


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def resale_credential_issue(*, account: ResellerAccount, name: str) -> tuple[ResaleCredential, str]:
    """A new credential; the token is returned once and only its hash is kept."""
    prefix, token = ResaleCredential.new_token()
    credential = ResaleCredential.objects.create(
        account=account, name=name, prefix=prefix, token_hash=token_hash(token)
    )
    return credential, token


class ResaleCredentialAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.startswith("tsr_"):
            raise AuthenticationFailed("Use “Authorization: Bearer <resale credential>”.")
        prefix = token.split("_")[1] if token.count("_") >= 2 else ""
        credential = (
            ResaleCredential.objects.select_related("account", "account__tenant")
            .filter(prefix=prefix, revoked_at__isnull=True)
            .first()
        )
        if credential is None or not hmac.compare_digest(credential.token_hash, token_hash(token)):
            raise AuthenticationFailed("This credential is not valid.")
        ResaleCredential.objects.filter(pk=credential.pk).update(last_used_at=timezone.now())
        return credential.account, credential

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="resale"'


class HasResaleCredential(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ResaleCredential)


def problem(status_code: int, title: str, detail: str, code: str) -> Response:
    return Response(
        {
            "type": PROBLEM_BASE + code,
            "title": title,
            "status": status_code,
            "detail": detail,
            "code": code,
        },
        status=status_code,
        content_type="application/problem+json",
    )


class ResaleView(APIView):
    authentication_classes = [ResaleCredentialAuthentication]
    permission_classes = [HasResaleCredential]

    @property
    def account(self) -> ResellerAccount:
        return self.request.user


class CommandSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=sorted({*ACTIONS, *DOMAIN_ACTIONS}))
    payload = serializers.DictField()
    # Domain commands only, beside the payload: used at once, never stored as sent.
    contact = serializers.DictField(required=False)
    auth_code = serializers.CharField(required=False, allow_blank=True, max_length=255)


class CommandView(ResaleView):
    def post(self, request):
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return problem(
                400,
                "Idempotency key required",
                "Send an Idempotency-Key header with every command.",
                "idempotency_key_missing",
            )
        serializer = CommandSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            action = serializer.validated_data["action"]
            if action in DOMAIN_ACTIONS:
                result = domain_command_receive(
                    account=self.account,
                    idempotency_key=key,
                    action=action,
                    payload=serializer.validated_data["payload"],
                    secrets=DomainSecrets(
                        contact=contact_from_dict(serializer.validated_data.get("contact")),
                        auth_code=serializer.validated_data.get("auth_code", ""),
                    ),
                )
            else:
                result = upstream_command_accept(
                    account=self.account,
                    idempotency_key=key,
                    action=action,
                    payload=serializer.validated_data["payload"],
                )
        except TransientModuleError:
            return problem(
                503,
                "Registrar unavailable",
                "The registrar cannot be reached right now; send the command again later.",
                "registrar_unavailable",
            )
        except ResaleError as exc:
            code = (
                404
                if exc.code == "not_found"
                else 409
                if exc.code in {"idempotency_conflict", "invalid_state"}
                else 422
            )
            return problem(code, "Command refused", exc.message, exc.code)
        http_status = status.HTTP_202_ACCEPTED if result.status == "accepted" else 200
        return Response(
            {**result.response, "status": result.status, "replayed": result.replayed},
            status=http_status,
        )


class ServiceListInputSerializer(serializers.Serializer):
    after = serializers.CharField(required=False, default="", allow_blank=True, max_length=64)
    limit = serializers.IntegerField(
        required=False, default=200, min_value=1, max_value=SERVICES_PAGE_MAX
    )


class ServiceListView(ResaleView):
    """Every service of the account, a page at a time (``?after=<service_ref>&limit=``):
    plan, cycle, status, paid-until and options, so the reseller's installation can
    reconcile what it bills with what this provider holds."""

    def get(self, request):
        data = ServiceListInputSerializer(data=request.query_params)
        if not data.is_valid():
            return problem(
                400,
                "Invalid request",
                f"limit is a whole number from 1 to {SERVICES_PAGE_MAX}; "
                "after is a service reference.",
                "invalid_page",
            )
        return Response(upstream_services_page(account=self.account, **data.validated_data))


class ServiceView(ResaleView):
    def get(self, request, service_ref: str):
        try:
            return Response(upstream_service_status(account=self.account, service_ref=service_ref))
        except ResaleError as exc:
            return problem(404, "Not found", exc.message, exc.code)


class DomainCheckSerializer(serializers.Serializer):
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253), min_length=1, max_length=20
    )


class DomainCheckView(ResaleView):
    """Availability (and premium names) at the provider's registrars."""

    def post(self, request):
        serializer = DomainCheckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            results = upstream_domains_check(
                account=self.account, domains=serializer.validated_data["domains"]
            )
        except ResaleError as exc:
            return problem(422, "Check refused", exc.message, exc.code)
        return Response({"results": results})


class DomainManageSerializer(serializers.Serializer):
    params = serializers.DictField(required=False, default=dict)
    # A new registrant contact, beside the operation: used at once, never stored.
    contact = serializers.DictField(required=False)


class DomainManageView(ResaleView):
    """One change (or a fresh read) of a held domain at its registrar."""

    def post(self, request, service_ref: str, operation: str):
        serializer = DomainManageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = upstream_domain_manage(
                account=self.account,
                service_ref=service_ref,
                operation=operation,
                params=serializer.validated_data["params"],
                secrets=DomainSecrets(
                    contact=contact_from_dict(serializer.validated_data.get("contact"))
                ),
            )
        except ResaleError as exc:
            code = {"not_found": 404, "invalid_state": 409, "registrar_unavailable": 503}.get(
                exc.code, 422
            )
            return problem(code, "Domain operation refused", exc.message, exc.code)
        response = Response(result)
        response["Cache-Control"] = "no-store"  # may carry a new auth code
        return response


class SsoInputSerializer(serializers.Serializer):
    # The end client's browser address: panels such as Plesk bind the session to it.
    client_ip = serializers.IPAddressField(required=False, default="")


class ServiceSsoView(ResaleView):
    def post(self, request, service_ref: str):
        data = SsoInputSerializer(data=request.data)
        if not data.is_valid():
            return problem(
                400, "Invalid request", "client_ip must be an IP address.", "invalid_client_ip"
            )
        try:
            url = upstream_service_sso_url(
                account=self.account,
                service_ref=service_ref,
                client_ip=data.validated_data["client_ip"],
            )
        except ResaleError as exc:
            return problem(
                404 if exc.code == "not_found" else 409,
                "No control panel link",
                exc.message,
                exc.code,
            )
        return Response({"url": url})


class ServicePanelLoginView(ResaleView):
    """A new password for the client's own panel user (panels with no login by link)."""

    def post(self, request, service_ref: str):
        try:
            login = upstream_service_panel_login_reset(
                account=self.account, service_ref=service_ref
            )
        except ResaleError as exc:
            return problem(
                404 if exc.code == "not_found" else 409,
                "No control panel login",
                exc.message,
                exc.code,
            )
        response = Response(login)
        response["Cache-Control"] = "no-store"
        return response


class BalanceView(ResaleView):
    def get(self, request):
        return Response(reseller_statement_summary(account=self.account))


class LedgerView(ResaleView):
    def get(self, request):
        entries = BalanceEntry.objects.filter(account=self.account).order_by("-created_at", "-id")[
            :500
        ]
        return Response(
            {
                "results": [
                    {
                        "kind": e.kind,
                        "amount": str(e.amount_value),
                        "currency": e.currency,
                        "description": e.description,
                        "created_at": e.created_at.isoformat(),
                    }
                    for e in entries
                ]
            }
        )


class CatalogueView(ResaleView):
    def get(self, request):
        prices = (
            WholesalePrice.objects.filter(
                price_list=self.account.price_list_id, plan__is_active=True
            )
            .select_related("plan")
            .order_by("plan__code", "cycle")
        )
        plans: dict[str, dict] = {}
        for price in prices:
            plan = plans.setdefault(
                price.plan.code,
                {
                    "code": price.plan.code,
                    "name": price.plan.name,
                    "product_type": price.plan.product_type,
                    "description": price.plan.description,
                    "version": price.plan.version,
                    "prices": [],
                },
            )
            plan["prices"].append(
                {
                    "cycle": price.cycle,
                    "price": str(price.price_amount),
                    "setup_fee": str(price.setup_fee_amount),
                    "currency": price.currency,
                }
            )
        return Response({"results": list(plans.values())})


class StatementView(ResaleView):
    def get(self, request, year: int, month: int):
        if not 1 <= month <= 12:
            return problem(404, "Not found", "There is no such month.", "not_found")
        statement = reseller_statement(account=self.account, year=year, month=month)
        invoice = self.account.wholesale_invoices.filter(
            period_start=statement.period_start
        ).first()
        return Response(
            {
                **statement.as_dict(),
                "wholesale_invoice": None
                if invoice is None
                else {
                    "number": invoice.number,
                    "issue_date": invoice.issue_date.isoformat(),
                    "subtotal": str(invoice.subtotal_amount),
                    "tax": str(invoice.tax_amount),
                    "total": str(invoice.total_amount),
                    "reverse_charge": invoice.reverse_charge,
                },
            }
        )


def _escalation_problem(exc: ResaleError) -> Response:
    code = (
        404
        if exc.code == "not_found"
        else 409
        if exc.code in {"idempotency_conflict", "invalid_state"}
        else 422
    )
    return problem(code, "Escalation refused", exc.message, exc.code)


def _idempotency_key_missing() -> Response:
    return problem(
        400,
        "Idempotency key required",
        "Send an Idempotency-Key header with every escalation and message.",
        "idempotency_key_missing",
    )


class EscalationOpenSerializer(serializers.Serializer):
    service_ref = serializers.CharField(max_length=32)
    subject = serializers.CharField(max_length=SUBJECT_MAX)
    messages = serializers.ListField(
        child=serializers.CharField(max_length=BODY_MAX), min_length=1, max_length=MESSAGES_MAX
    )


class EscalationMessageSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=BODY_MAX)


class EscalationStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["open", "closed"])


class EscalationsView(ResaleView):
    """A ticket at the provider's desk about one of the reseller's services."""

    def post(self, request):
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return _idempotency_key_missing()
        data = EscalationOpenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            ticket = escalation_accept(
                account=self.account, idempotency_key=key, **data.validated_data
            )
        except ResaleError as exc:
            return _escalation_problem(exc)
        return Response({"ref": ticket.public_id, "status": ticket.status}, status=201)


class EscalationView(ResaleView):
    def get(self, request, ref: str):
        try:
            after = int(request.query_params.get("after", "0") or 0)
        except ValueError:
            return problem(400, "Invalid request", "after must be a number.", "invalid_after")
        try:
            return Response(escalation_view(account=self.account, ticket_ref=ref, after=after))
        except ResaleError as exc:
            return _escalation_problem(exc)


class EscalationMessagesView(ResaleView):
    def post(self, request, ref: str):
        try:
            provider_ticket_get(account=self.account, ticket_ref=ref)
        except ResaleError as exc:
            return _escalation_problem(exc)
        key = request.headers.get("Idempotency-Key", "")
        if not key:
            return _idempotency_key_missing()
        data = EscalationMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            message = escalation_message_accept(
                account=self.account,
                ticket_ref=ref,
                idempotency_key=key,
                body=data.validated_data["body"],
            )
        except ResaleError as exc:
            return _escalation_problem(exc)
        return Response({"seq": message.seq}, status=201)


class EscalationStatusView(ResaleView):
    def post(self, request, ref: str):
        try:
            provider_ticket_get(account=self.account, ticket_ref=ref)
        except ResaleError as exc:
            return _escalation_problem(exc)
        data = EscalationStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            ticket = escalation_reseller_status_set(
                account=self.account, ticket_ref=ref, status=data.validated_data["status"]
            )
        except ResaleError as exc:
            return _escalation_problem(exc)
        return Response({"status": ticket.status})
