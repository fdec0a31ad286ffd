"""The public address of a host this installation serves."""

from __future__ import annotations

from django.conf import settings


def portal_url_for(hostname: str, path: str = "/") -> str:
    port = settings.PUBLIC_URL_PORT
    default_port = {"http": 80, "https": 443}[settings.PUBLIC_URL_SCHEME]
    suffix = "" if port == default_port else f":{port}"
    return f"{settings.PUBLIC_URL_SCHEME}://{hostname}{suffix}{path}"
