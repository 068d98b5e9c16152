"""What an invoice file may be: a PDF or an OFD, known by its content, of at most ``INVOICE_MAX_UPLOAD_BYTES``.

China's electronic invoices come as PDF or OFD (GB/T 33190, the national
layout format). An OFD is a ZIP container whose root holds ``OFD.xml``; a PDF
starts with ``%PDF-``. The type is read from the content, never from the name
or the type the browser sent. Only the ZIP's directory is read (nothing is
decompressed), so a crafted archive costs nothing to check.
"""

from __future__ import annotations

import os
import unicodedata
import zipfile

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from revenue.payments.choices import InvoiceFileType

EXTENSIONS = {InvoiceFileType.PDF: ".pdf", InvoiceFileType.OFD: ".ofd"}
ZIP_SIGNATURE = b"PK\x03\x04"


def _is_ofd(document: File) -> bool:
    document.seek(0)
    try:
        with zipfile.ZipFile(document) as archive:
            return "OFD.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    finally:
        document.seek(0)


def invoice_file_check(document: File) -> str:
    """The type of an uploaded invoice file; ``ValidationError`` if it is too big or not a PDF or OFD."""
    limit = settings.INVOICE_MAX_UPLOAD_BYTES
    if document.size > limit:
        raise ValidationError(
            _("“%(name)s” is %(size)s; an invoice file may be at most %(limit)s."),
            code="invoice_too_big",
            params={"name": document.name, "size": filesizeformat(document.size), "limit": filesizeformat(limit)},
        )
    document.seek(0)
    head = document.read(8)
    document.seek(0)
    if head.startswith(b"%PDF-"):
        return InvoiceFileType.PDF
    if head.startswith(ZIP_SIGNATURE) and _is_ofd(document):
        return InvoiceFileType.OFD
    raise ValidationError(
        _("“%(name)s” is not a PDF or OFD invoice; upload the invoice file as issued."),
        code="invoice_type",
        params={"name": document.name},
    )


def invoice_file_name(uploaded_name: str, file_type: str) -> str:
    """The uploaded name as shown and offered on download: no folders or control characters, the type's extension."""
    name = os.path.basename((uploaded_name or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    stem, extension = os.path.splitext(name)
    if extension.lower() != EXTENSIONS[file_type]:
        stem = name
    stem = stem.strip() or "invoice"
    extension = EXTENSIONS[file_type]
    return stem[: 255 - len(extension)] + extension
