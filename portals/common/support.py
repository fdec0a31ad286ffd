"""What the client area and the console share about tickets: the attachments field of
their reply forms and the download of an attachment.

An attachment is looked up in the schema of the host that asks (its row and its file
alike), by a selector bounded by who asks; another tenant's or another client's is a
404. The file goes out as a download with the type read from its bytes and
``nosniff``, so a browser never renders an uploaded page as the tenant's own.
"""

from __future__ import annotations

from django import forms
from django.http import FileResponse, Http404
from django.utils.translation import gettext_lazy as _

from support.attachments import INLINE_TYPES, AttachmentUpload, max_bytes, max_per_message
from support.models import Attachment


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Any number of files, as ``AttachmentUpload`` values; the limits of
    ``support.attachments`` are checked here too, before a large file is read."""

    widget = MultipleFileInput

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", _("Attachments"))
        super().__init__(**kwargs)

    def clean(self, data, initial=None) -> list[AttachmentUpload]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        if len(files) > max_per_message():
            raise forms.ValidationError(
                _("At most %(count)d files can be attached to one message."),
                params={"count": max_per_message()},
            )
        uploads = []
        for upload in files:
            if upload.size > max_bytes():
                raise forms.ValidationError(
                    _("“%(name)s” is larger than %(size)d MB."),
                    params={"name": upload.name[:100], "size": max_bytes() // (1024 * 1024)},
                )
            uploads.append(AttachmentUpload(filename=upload.name, data=upload.read()))
        return uploads


def attachment_response(attachment: Attachment | None) -> FileResponse:
    if attachment is None:
        raise Http404
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        content_type=attachment.content_type,
        as_attachment=attachment.content_type not in INLINE_TYPES,
        filename=attachment.filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    # A PDF or an image shown in the browser runs nothing and reaches nothing.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
