"""The support desk under ``/api/v1/``: tickets, their messages and the departments, with
the ``tickets:read`` and ``tickets:write`` scopes. Thin as the rest of the API: a
serializer validates, a ``support.services`` service acts, a serializer renders; a
service's refusal is a 422 problem document."""

from __future__ import annotations

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from accounts.models import User
from api import fields as f
from api import serializers as s
from api.filtering import FilterSerializer
from api.views import ApiView, find
from billing.models import Client, Service
from support import selectors, services
from support.errors import SupportError
from support.models import Department, Message, Priority, Ticket


class TicketFilter(FilterSerializer):
    status = f.Choice(choices=Ticket.Status.choices, required=False)
    priority = f.Choice(choices=Priority.choices, required=False)
    department = serializers.UUIDField(required=False)
    client = serializers.UUIDField(required=False)
    search = serializers.CharField(
        max_length=100, required=False, help_text="Part of the subject or the guest's address."
    )
    updated_after = serializers.DateTimeField(required=False)

    lookups = {
        "department": "department__public_id",
        "client": "client__public_id",
        "updated_after": "updated_at__gte",
    }
    search_columns = ("subject", "guest_email")


class TicketDepartmentListView(ApiView):
    required_scopes = {"GET": "tickets:read"}
    schema_tag = "Support"

    def get_queryset(self):
        return Department.objects.all()

    @extend_schema(
        operation_id="ticket_departments_list",
        responses=s.TicketDepartmentSerializer(many=True),
    )
    def get(self, request):
        return self.list_response(self.get_queryset(), s.TicketDepartmentSerializer)


class TicketListView(ApiView):
    required_scopes = {"GET": "tickets:read", "POST": "tickets:write"}
    filter_serializer = TicketFilter
    ordering_fields = {
        "last_message_at": "last_message_at",
        "created_at": "created_at",
        "priority": "priority",
    }
    schema_tag = "Support"

    def get_queryset(self):
        return selectors.ticket_list()

    @extend_schema(operation_id="tickets_list", responses=s.TicketSerializer(many=True))
    def get(self, request):
        return self.list_response(self.get_queryset(), s.TicketSerializer)

    @extend_schema(
        operation_id="tickets_create",
        request=s.TicketInputSerializer,
        responses={201: s.TicketSerializer},
    )
    def post(self, request):
        data = self.validated(s.TicketInputSerializer)
        client = find(Client, "client", data["client"])
        service = None
        if data.get("service"):
            service = find(
                Service, "service", data["service"], Service.objects.filter(client=client)
            )
        ticket = services.ticket_open(
            department=find(Department, "department", data["department"]),
            subject=data["subject"],
            body=data["body"],
            client=client,
            service=service,
            priority=data["priority"],
            source=Message.Source.API,
        )
        return self.render(
            s.TicketSerializer,
            ticket,
            status_code=201,
            Location=f"/api/v1/tickets/{ticket.public_id}/",
        )


class TicketDetailView(ApiView):
    required_scopes = {"GET": "tickets:read", "PATCH": "tickets:write"}
    object_model = Ticket
    schema_tag = "Support"

    def get_queryset(self):
        return selectors.ticket_list()

    @extend_schema(operation_id="tickets_retrieve", responses=s.TicketSerializer)
    def get(self, request, id: uuid.UUID):
        return self.render(s.TicketSerializer, self.get_object())

    @extend_schema(
        operation_id="tickets_partial_update",
        request=s.TicketUpdateSerializer,
        responses=s.TicketSerializer,
    )
    def patch(self, request, id: uuid.UUID):
        ticket = self.get_object()
        data = self.validated(s.TicketUpdateSerializer)
        changes = {key: data[key] for key in ("status", "priority") if key in data}
        if "assignee" in data:
            assignee = None
            if data["assignee"]:
                assignee = User.objects.filter(
                    email__iexact=data["assignee"], kind=User.Kind.STAFF, is_active=True
                ).first()
                if assignee is None:
                    raise SupportError("No staff member has this e-mail address.", code="assignee")
            changes["assignee"] = assignee
        services.ticket_update(ticket=ticket, **changes)
        return self.render(s.TicketSerializer, self.get_queryset().get(pk=ticket.pk))


class TicketMessageListView(ApiView):
    required_scopes = {"GET": "tickets:read", "POST": "tickets:write"}
    object_model = Ticket
    schema_tag = "Support"

    def get_queryset(self):
        return selectors.ticket_list()

    @extend_schema(
        operation_id="tickets_messages_list", responses=s.TicketMessageSerializer(many=True)
    )
    def get(self, request, id: uuid.UUID):
        ticket = self.get_object()
        return self.list_response(
            selectors.ticket_all_messages(ticket=ticket), s.TicketMessageSerializer
        )

    @extend_schema(
        operation_id="tickets_messages_create",
        request=s.TicketMessageInputSerializer,
        responses={201: s.TicketMessageSerializer},
    )
    def post(self, request, id: uuid.UUID):
        ticket = self.get_object()
        data = self.validated(s.TicketMessageInputSerializer)
        author = data["author"]
        if author == "client" and ticket.client_id is None:
            author = Message.AuthorKind.GUEST
        message = services.message_add(
            ticket=ticket,
            body=data["body"],
            author_kind=author,
            author_name=str(request.auth) if author == "staff" else "",
            is_internal=data["internal"],
            source=Message.Source.API,
        )
        return self.render(s.TicketMessageSerializer, message, status_code=201)
