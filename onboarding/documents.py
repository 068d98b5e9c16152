"""What an evidence document may be: a PDF, JPEG or PNG, known by its content, of at most ``EVIDENCE_MAX_UPLOAD_BYTES``.

The type is read from the file's first bytes (its signature), never from the
name or the content type the browser sent: an HTML page named ``licence.png``
is HTML. :func:`evidence_document_check` is the one check; the recording
service calls it before anything is stored, and the admin form calls it to show
the refusal next to the field.
"""

from __future__ import annotations

import os
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import models
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _


class DocumentType(models.TextChoices):
    PDF = "application/pdf", _("PDF document")
    JPEG = "image/jpeg", _("JPEG image")
    PNG = "image/png", _("PNG image")


# The extension a stored document gets, from its type.
DOCUMENT_EXTENSIONS = {DocumentType.PDF: ".pdf", DocumentType.JPEG: ".jpg", DocumentType.PNG: ".png"}
# Extensions an uploaded name may keep for its type (any other is replaced when the name is shown).
KNOWN_EXTENSIONS = {DocumentType.PDF: {".pdf"}, DocumentType.JPEG: {".jpg", ".jpeg"}, DocumentType.PNG: {".png"}}
# The signatures: PDF (ISO 32000: "%PDF-" at the start), JPEG (SOI marker and the next marker's FF), PNG (8 bytes).
SIGNATURES = (
    (b"%PDF-", DocumentType.PDF),
    (b"\xff\xd8\xff", DocumentType.JPEG),
    (b"\x89PNG\r\n\x1a\n", DocumentType.PNG),
)
HEAD_BYTES = 8


def detect_document_type(head: bytes) -> str | None:
    """The document type whose signature ``head`` starts with, or None."""
    for signature, document_type in SIGNATURES:
        if head.startswith(signature):
            return document_type
    return None


def evidence_document_check(document: File) -> str:
    """The type of an uploaded evidence document; ``ValidationError`` if it is too big or not a PDF, JPEG or PNG."""
    limit = settings.EVIDENCE_MAX_UPLOAD_BYTES
    if document.size > limit:
        raise ValidationError(
            _("“%(name)s” is %(size)s; a document may be at most %(limit)s."),
            code="document_too_big",
            params={"name": document.name, "size": filesizeformat(document.size), "limit": filesizeformat(limit)},
        )
    document.seek(0)
    head = document.read(HEAD_BYTES)
    document.seek(0)
    document_type = detect_document_type(head)
    if document_type is None:
        raise ValidationError(
            _("“%(name)s” is not a PDF, JPEG or PNG file; only these can be attached."),
            code="document_type",
            params={"name": document.name},
        )
    return document_type


def evidence_document_name(uploaded_name: str, document_type: str) -> str:
    """The uploaded name as shown and offered on download: no folders or control characters, the type's extension."""
    name = os.path.basename((uploaded_name or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    stem, extension = os.path.splitext(name)
    if extension.lower() not in KNOWN_EXTENSIONS[document_type]:
        stem, extension = name, DOCUMENT_EXTENSIONS[document_type]
    stem = stem.strip() or str(_("document"))
    return stem[: 255 - len(extension)] + extension
