"""The console's pages for the tenant API: API keys and outgoing webhooks.

Every staff role sees the lists; only the ``admin`` capability (owner, administrator)
creates, revokes, rotates, replays or even opens a confirmation page. A key's token and an
endpoint's signing secret appear once, in the answer to the POST that made them, and are
never stored where this page could show them again."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ApiKey, WebhookDelivery, WebhookEndpoint
from api import webhooks
from api.keys import api_key_create, api_key_revoke
from api.selectors import api_key_list, webhook_delivery_list, webhook_endpoint_list
from billing.errors import BillingError
from portals.common.access import capability_require, console_page
from portals.common.paging import paginate
from portals.console.forms import ApiKeyForm, WebhookEndpointForm, webhook_local_allowed

API_DOCS_URL = "/api/docs/"


def _once(response: HttpResponse) -> HttpResponse:
    # The page holds a secret shown once: no cache, no back-button copy.
    response["Cache-Control"] = "no-store"
    return response


# --- API keys ------------------------------------------------------------------------------


@console_page(write="admin")
def api_keys(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = api_key_create(
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data["expires_on"],
            allowed_ips=data["allowed_ips"],
            created_by=request.user,
        )
        form = ApiKeyForm()
    now = timezone.now()
    keys = list(api_key_list())
    for key in keys:
        if key.revoked_at is not None:
            key.state = "revoked"
        elif key.expires_at is not None and key.expires_at <= now:
            key.state = "expired"
        else:
            key.state = "active"
    response = render(
        request,
        "console/api_keys.html",
        {
            "form": form,
            "created": created,
            "keys": keys,
            "docs_url": API_DOCS_URL,
        },
        status=400 if form.errors else 200,
    )
    return _once(response) if created else response


@console_page(write="admin")
def api_key_revoke_view(request: HttpRequest, public_id) -> HttpResponse:
    key = get_object_or_404(ApiKey, public_id=public_id)
    capability_require(request, "admin")
    if request.method == "POST":
        if key.revoked_at is not None:
            messages.info(request, _("The key %(name)s was already revoked.") % {"name": key.name})
        else:
            api_key_revoke(key=key)
            messages.success(
                request,
                _("The key %(name)s is revoked; requests made with it now fail.")
                % {"name": key.name},
            )
        return redirect("console:api-keys")
    return render(request, "console/api_key_revoke.html", {"key": key})


# --- webhooks --------------------------------------------------------------------------------


def _url_shown(url: str, can_manage: bool) -> str:
    """Read-only staff see where events go, not a token the receiver may keep in the query."""
    if can_manage:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@console_page(write="admin")
def webhook_endpoints(request: HttpRequest) -> HttpResponse:
    form = WebhookEndpointForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        created = webhooks.webhook_endpoint_create(
            url=data["url"],
            events=data["events"],
            description=data["description"],
            private_network_allowed=webhook_local_allowed(data["url"]),
        )
        form = WebhookEndpointForm()
    can_manage = request.console_can["admin"]
    endpoints = list(webhook_endpoint_list())
    for endpoint in endpoints:
        endpoint.url_shown = _url_shown(endpoint.url, can_manage)
    response = render(
        request,
        "console/webhooks.html",
        {
            "form": form,
            "created": created,
            "endpoints": endpoints,
            "docs_url": API_DOCS_URL,
        },
        status=400 if form.errors else 200,
    )
    return _once(response) if created else response


@console_page(write="admin")
def webhook_endpoint(request: HttpRequest, public_id) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, public_id=public_id)
    action = request.POST.get("action") if request.method == "POST" else None
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "is_active": endpoint.is_active,
    }
    form = WebhookEndpointForm(
        request.POST if action == "update" else None, initial=initial, editing=True
    )
    if action == "update" and form.is_valid():
        try:
            webhooks.webhook_endpoint_update(endpoint=endpoint, **form.cleaned_data)
        except BillingError:
            # The endpoint was made for a public host; a local one needs a new endpoint.
            form.add_error(
                "url", _("The address must be reachable on the internet, not a private network.")
            )
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("console:webhook", public_id=endpoint.public_id)
    if action == "ping":
        webhooks.webhook_endpoint_ping(endpoint=endpoint)
        messages.success(request, _("A test event is on its way; it appears in the log below."))
        return redirect("console:webhook", public_id=endpoint.public_id)
    deliveries = paginate(request, webhook_delivery_list(endpoint=endpoint, newest_first=True))
    endpoint.url_shown = _url_shown(endpoint.url, request.console_can["admin"])
    return render(
        request,
        "console/webhook.html",
        {"endpoint": endpoint, "form": form, "page": deliveries},
        status=400 if form.errors else 200,
    )


@console_page(write="admin")
def webhook_secret_rotate(request: HttpRequest, public_id) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, public_id=public_id)
    capability_require(request, "admin")
    if request.method == "POST":
        rotated = webhooks.webhook_endpoint_secret_rotate(endpoint=endpoint)
        return _once(
            render(
                request, "console/webhook_secret.html", {"endpoint": endpoint, "created": rotated}
            )
        )
    return render(request, "console/webhook_confirm.html", {"endpoint": endpoint, "what": "rotate"})


@console_page(write="admin")
def webhook_endpoint_delete(request: HttpRequest, public_id) -> HttpResponse:
    endpoint = get_object_or_404(WebhookEndpoint, public_id=public_id)
    capability_require(request, "admin")
    if request.method == "POST":
        webhooks.webhook_endpoint_delete(endpoint=endpoint)
        messages.success(request, _("Endpoint deleted with its delivery log."))
        return redirect("console:webhooks")
    return render(request, "console/webhook_confirm.html", {"endpoint": endpoint, "what": "delete"})


@console_page(write="admin")
def webhook_delivery_replay(request: HttpRequest, public_id, delivery_id) -> HttpResponse:
    delivery = get_object_or_404(
        WebhookDelivery, public_id=delivery_id, endpoint__public_id=public_id
    )
    if request.method != "POST":
        return redirect("console:webhook", public_id=public_id)
    webhooks.webhook_delivery_replay(delivery=delivery)
    messages.success(
        request,
        _("The event %(event)s is sent again as a new entry of the log.")
        % {"event": delivery.event_type},
    )
    return redirect("console:webhook", public_id=public_id)
