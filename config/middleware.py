"""Request checks that hold for every host, before a tenant is looked up."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from api.errors import PROBLEM_CONTENT_TYPE, problem_body

NUL = "\x00"
NUL_MESSAGE = "The address contains a NUL character (%00), which no field accepts."


def _has_nul(request: HttpRequest) -> bool:
    if NUL in request.path:
        return True
    return any(
        NUL in key or any(NUL in value for value in values) for key, values in request.GET.lists()
    )


class RefuseNulCharactersMiddleware:
    """A NUL in the path or a query parameter is refused with a 400.

    PostgreSQL cannot store or compare a string holding NUL, so any search box, filter or
    id that reaches a query with one would fail inside the database as a 500. Forms and
    serializers refuse NUL in what is posted; this covers what arrives in the address.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse(
                    problem_body(400, NUL_MESSAGE, "nul_character"),
                    status=400,
                    content_type=PROBLEM_CONTENT_TYPE,
                )
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
