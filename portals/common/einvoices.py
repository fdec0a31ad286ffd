"""E-invoice downloads of the reseller console and the client area: the Factur-X PDF of
an invoice or credit note, and the FatturaPA XML of an Italian seller's. The views find
the document in the tenant's own schema; this turns it into the download."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from billing.einvoices import EInvoiceError, document_facturx_get, einvoice_filename
from billing.fatturapa import document_fatturapa_xml
from billing.models import CreditNote

FACTUR_X = "factur-x"
FATTURAPA = "fatturapa"


def einvoice_download(
    request: HttpRequest,
    *,
    document: Any,
    syntax: str,
    back_url: str,
    pending_template: str,
) -> HttpResponse:
    try:
        if syntax == FATTURAPA:
            content, content_type, extension = (
                document_fatturapa_xml(document=document),
                ("application/xml"),
                "xml",
            )
        else:
            content = document_facturx_get(document=document)
            if content is None:
                # The PDF/A it is made from is being rendered; the page reloads itself.
                invoice = document.invoice if isinstance(document, CreditNote) else document
                return render(request, pending_template, {"invoice": invoice}, status=202)
            content_type, extension = "application/pdf", "pdf"
    except EInvoiceError as exc:
        messages.error(request, str(exc))
        return redirect(back_url)
    response = HttpResponse(content, content_type=content_type)
    filename = einvoice_filename(document, extension)
    if syntax == FATTURAPA:
        filename = f"fatturapa-{filename}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
