from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict:
    from accounts.branding import branding_context

    current = getattr(request, "tenant", None)
    return {"tenant": current, **branding_context(request)}
