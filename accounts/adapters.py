"""How django-allauth fits Tessera: one set of accounts per schema, each site under its
own brand, no open sign-up (accounts are made at checkout or by a tenant's staff)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name

from accounts.branding import branding_context
from accounts.mail import tenant_from_email
from accounts.two_factor import two_factor_required_for
from core.crypto import secret_decrypt, secret_encrypt

# allauth e-mails a tenant sends in its own text, layout and sender, by allauth's
# template prefix: ``send(email, context)`` with allauth's context (``user``,
# ``password_reset_url``, ...). Billing, which holds the tenant's texts and sender, fills
# it in its AppConfig.ready; accounts sits below billing and cannot import it.
tenant_email_senders: dict[str, Callable[[str, dict[str, Any]], Any]] = {}


def _brand(request: HttpRequest | None) -> dict[str, Any]:
    return branding_context(request)


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        if connection.schema_name == get_public_schema_name():
            return resolve_url(settings.LOGIN_REDIRECT_URL)
        # Called once the person is signed in: the model says whether they are staff.
        if request.user.is_tenant_staff:
            return reverse("console:home")
        return reverse("account:dashboard")

    def format_email_subject(self, subject: str) -> str:
        # allauth would prefix the host name; a reseller's clients know it by its brand.
        name = _brand(context.request).get("brand_name")
        return f"[{name}] {subject}" if name else str(subject)

    def get_from_email(self) -> str:
        # A tenant's notices come from its own sender, not the installation's.
        return tenant_from_email()

    def send_mail(self, template_prefix: str, email: str, context_data: dict) -> None:
        request = context.request
        tenant_send = tenant_email_senders.get(template_prefix)
        if tenant_send is not None and connection.schema_name != get_public_schema_name():
            tenant_send(email, context_data)
            return
        brand = _brand(request)
        site = SimpleNamespace(name=brand.get("brand_name", ""), domain=request.get_host())
        data = {"request": request, "email": email, "current_site": site, **brand}
        data.update(context_data)
        self.render_mail(template_prefix, email, data).send()


class MFAAdapter(DefaultMFAAdapter):
    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": _(
            "Two-factor authentication is required for your account here: it cannot be turned off."
        ),
    }

    def get_totp_issuer(self) -> str:
        # What the authenticator app shows next to the code: the site's own name, never
        # the host or the provider behind a reseller.
        return _brand(context.request).get("brand_name") or context.request.get_host()

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        # Turning it off would only send the person back to the set-up page.
        if authenticator.type != Authenticator.Type.TOTP:
            return True
        return not two_factor_required_for(authenticator.user)

    def encrypt(self, text: str) -> str:
        return secret_encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return secret_decrypt(encrypted_text)
