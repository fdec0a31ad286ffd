from django.http import HttpRequest

from accounts.branding import branding_context


def tenant(request: HttpRequest) -> dict:
    current = getattr(request, "tenant", None)
    return {"tenant": current, **branding_context(request)}
