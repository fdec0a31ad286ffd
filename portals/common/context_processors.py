from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict:
    from tenants.branding import branding_context

    current = getattr(request, "tenant", None)
    return {"tenant": current, **branding_context(request)}
