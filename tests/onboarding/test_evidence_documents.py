"""Evidence documents: PDF, JPEG or PNG by content and size, kept privately, read through an authorising view, recorded.

Refused uploads change nothing, through the service and through the admin form
alike; the stored file is outside MEDIA_ROOT and has no URL; the download view
gives the partner's own scope an attachment that a browser neither renders nor
sniffs, and every download it gives (and only those) is recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.views.static import serve

from onboarding import services
from onboarding.documents import DocumentType, detect_document_type, evidence_document_name
from onboarding.errors import NotPermitted
from onboarding.models import AdmissionState, EvidenceDownload, EvidenceItem, EvidenceRequirement, Partner
from organisation.roles import Role
from tests.factories import UserFactory
from tests.onboarding.test_admin import _change_form_data, change_url

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 32 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + b"\x00" * 16
HTML = b"<!doctype html><title>x</title><script>fetch('/admin/').then(r => r.text()).then(alert)</script>"
SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'

# Each refused upload: (name, content, the content type the browser claims).
REFUSED = {
    "html": ("licence.html", HTML, "text/html"),
    "svg_with_script": ("licence.svg", SVG, "image/svg+xml"),
    "html_named_png": ("licence.png", HTML, "image/png"),
    "empty": ("licence.pdf", b"", "application/pdf"),
}
NOT_A_DOCUMENT = "“{name}” is not a PDF, JPEG or PNG file; only these can be attached."
ACCEPTED = {
    "pdf": ("营业执照.pdf", PDF, DocumentType.PDF, ".pdf"),
    "jpeg": ("scan.JPEG", JPEG, DocumentType.JPEG, ".jpg"),
    "png": ("photo.png", PNG, DocumentType.PNG, ".png"),
}


def upload(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def stored_files(root) -> list[Path]:
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def requirement_of(partner: Partner, code: str = "software_copyright") -> EvidenceRequirement:
    return EvidenceRequirement.objects.get(partner_type=partner.partner_type, code=code)


def record(partner: Partner, by, document=None, reference: str = "2023SR0123456", code: str = "software_copyright"):
    return services.evidence_item_record(
        partner=partner, requirement=requirement_of(partner, code), reference=reference, document=document, by=by
    )


def document_url(item: EvidenceItem) -> str:
    return reverse("admin:onboarding_partner_evidence_document", args=[item.partner_id, item.pk])


@pytest.fixture
def as_user(client):
    def login(user):
        client.force_login(user)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return login


@pytest.fixture
def with_pdf(partner_x, rm_a) -> EvidenceItem:
    """Partner X (branch A, a draft) with a PDF on its software copyright item, recorded by its RM."""
    return record(partner_x, rm_a, upload("软著登记证书.pdf", PDF, "application/pdf"))


# ---- the type, by content --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PDF[:8], DocumentType.PDF),
        (JPEG[:8], DocumentType.JPEG),
        (PNG[:8], DocumentType.PNG),
        (HTML[:8], None),
        (SVG[:8], None),
        (b"", None),
        (b"%PDF", None),  # cut short
        (b"\x89PNG\r\n\x1a", None),  # cut short
        (b"GIF89a\x01\x00", None),
        (b" %PDF-1.7", None),  # the signature must come first
    ],
)
def test_detect_document_type_reads_the_signature(head, expected):
    assert detect_document_type(head) == expected


@pytest.mark.parametrize(
    ("uploaded", "document_type", "shown"),
    [
        ("营业执照.pdf", DocumentType.PDF, "营业执照.pdf"),
        ("scan.JPEG", DocumentType.JPEG, "scan.JPEG"),
        ("photo.png", DocumentType.JPEG, "photo.png.jpg"),  # the name's extension follows the content
        ("../../etc/passwd", DocumentType.PDF, "passwd.pdf"),
        ("C:\\Users\\rm\\合同.pdf", DocumentType.PDF, "合同.pdf"),
        ("a\x00b\r\n.png", DocumentType.PNG, "ab.png"),
        ("", DocumentType.PDF, "document.pdf"),
        ("x" * 300 + ".pdf", DocumentType.PDF, "x" * 251 + ".pdf"),
    ],
)
def test_the_shown_name_has_no_folders_or_control_characters_and_the_types_extension(uploaded, document_type, shown):
    assert evidence_document_name(uploaded, document_type) == shown


# ---- refused through the service: nothing stored, nothing changed ----------------------------------------


@pytest.mark.parametrize("kind", list(REFUSED))
def test_service_refuses_what_is_not_a_pdf_jpeg_or_png_and_changes_nothing(kind, with_pdf, partner_x, rm_a):
    before = EvidenceItem.objects.get(pk=with_pdf.pk)
    files = stored_files(settings.PRIVATE_MEDIA_ROOT)
    name, content, content_type = REFUSED[kind]

    with pytest.raises(ValidationError) as refused:
        record(partner_x, rm_a, upload(name, content, content_type), reference="changed too")

    assert refused.value.message_dict["document"] == [NOT_A_DOCUMENT.format(name=name)]
    after = EvidenceItem.objects.get(pk=with_pdf.pk)
    assert (after.reference, after.document.name, after.document_name, after.recorded_at) == (
        before.reference,
        before.document.name,
        before.document_name,
        before.recorded_at,
    )
    assert stored_files(settings.PRIVATE_MEDIA_ROOT) == files
    assert stored_files(settings.MEDIA_ROOT) == []


def test_service_refuses_a_document_over_the_size_limit(settings, partner_x, rm_a):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = len(PDF) - 1
    with pytest.raises(ValidationError) as refused:
        record(partner_x, rm_a, upload("big.pdf", PDF, "application/pdf"))
    assert "“big.pdf” is" in refused.value.message_dict["document"][0]
    assert "a document may be at most" in refused.value.message_dict["document"][0]
    assert not EvidenceItem.objects.filter(partner=partner_x).exclude(reference="").exists()
    assert stored_files(settings.PRIVATE_MEDIA_ROOT) == []

    settings.EVIDENCE_MAX_UPLOAD_BYTES = len(PDF)  # exactly at the limit is fine
    assert record(partner_x, rm_a, upload("big.pdf", PDF, "application/pdf")).document


def test_the_default_limit_is_20_mb():
    assert settings.EVIDENCE_MAX_UPLOAD_BYTES == 20 * 1024 * 1024


def test_the_refusal_is_in_chinese_for_chinese_users(partner_x, rm_a):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        record(partner_x, rm_a, upload("licence.svg", SVG, "image/svg+xml"))
    with translation.override("zh-hans"):
        assert refused.value.message_dict["document"] == [
            "“licence.svg”不是 PDF、JPEG 或 PNG 文件，只能上传这三种格式。"
        ]


# ---- accepted: stored privately under a name the server chose ----------------------------------------------


@pytest.mark.parametrize("kind", list(ACCEPTED))
def test_pdf_jpeg_and_png_are_accepted_and_stored_privately_under_a_server_chosen_name(kind, partner_x, rm_a):
    name, content, document_type, extension = ACCEPTED[kind]
    item = record(partner_x, rm_a, upload(name, content, "application/octet-stream"))  # the claimed type is ignored
    item.refresh_from_db()

    assert item.document_type == document_type
    assert item.document_name == name
    stored = Path(item.document.name)
    assert stored.parent == Path(f"evidence/{partner_x.pk}/software_copyright")
    assert stored.suffix == extension
    assert stored.stem != Path(name).stem and len(stored.stem) == 32  # random, not the uploaded name
    assert Path(item.document.path).is_relative_to(Path(settings.PRIVATE_MEDIA_ROOT).resolve())
    assert Path(item.document.path).read_bytes() == content
    assert stored_files(settings.MEDIA_ROOT) == []


def test_clearing_the_document_clears_its_name_and_type(with_pdf, partner_x, rm_a):
    item = services.evidence_item_record(
        partner=partner_x, requirement=with_pdf.requirement, reference=with_pdf.reference, clear_document=True, by=rm_a
    )
    item.refresh_from_db()
    assert (item.document.name, item.document_name, item.document_type) == ("", "", "")


def test_a_private_document_has_no_url_and_media_does_not_serve_it(with_pdf, client, head_office):
    path = Path(with_pdf.document.path)
    assert path.is_file()
    assert not path.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    with pytest.raises(ValueError):
        with_pdf.document.url  # noqa: B018 - the property is what a template would call
    # What DEBUG serves at /media/ (django.views.static.serve under MEDIA_ROOT) does not find it ...
    with pytest.raises(Http404):
        serve(RequestFactory().get("/"), with_pdf.document.name, document_root=settings.MEDIA_ROOT)
    # ... and nothing is routed there, for anyone.
    client.force_login(head_office)
    assert client.get(f"/{settings.MEDIA_URL}{with_pdf.document.name}").status_code == 404


# ---- refused through the admin form: a field error, no 500, nothing stored --------------------------------


def _evidence_prefix_and_row(page, code: str) -> tuple[str, int]:
    (inline,) = [i for i in page.context["inline_admin_formsets"] if i.formset.model is EvidenceItem]
    rows = [f.instance.requirement.code for f in inline.formset.forms]
    return inline.formset.prefix, rows.index(code)


def _post_document(client, partner, document, code="software_copyright", reference="2023SR7654321"):
    page = client.get(change_url(partner))
    data = _change_form_data(page)
    prefix, row = _evidence_prefix_and_row(page, code)
    data.update({f"{prefix}-{row}-reference": reference, f"{prefix}-{row}-document": document})
    return client.post(change_url(partner), data), row


@pytest.mark.parametrize("kind", list(REFUSED))
def test_admin_form_shows_the_refusal_on_the_field_and_changes_nothing(kind, as_user, with_pdf, partner_x, rm_a):
    files = stored_files(settings.PRIVATE_MEDIA_ROOT)
    name, content, content_type = REFUSED[kind]
    response, row = _post_document(as_user(rm_a), partner_x, upload(name, content, content_type))

    assert response.status_code == 200  # the form again, with the error; not a redirect, not a 500
    (inline,) = [i for i in response.context["inline_admin_formsets"] if i.formset.model is EvidenceItem]
    # Django's own file field refuses an empty upload before the type is read.
    expected = "The submitted file is empty." if kind == "empty" else NOT_A_DOCUMENT.format(name=name)
    assert inline.formset.errors[row]["document"] == [expected]
    assert expected in response.content.decode()
    item = EvidenceItem.objects.get(pk=with_pdf.pk)
    assert (item.reference, item.document.name) == (with_pdf.reference, with_pdf.document.name)
    assert stored_files(settings.PRIVATE_MEDIA_ROOT) == files
    assert stored_files(settings.MEDIA_ROOT) == []


def test_admin_form_refuses_an_oversize_document_on_the_field(settings, as_user, partner_x, rm_a):
    settings.EVIDENCE_MAX_UPLOAD_BYTES = 16
    before = record(partner_x, rm_a, reference="2023SR0000001")
    response, row = _post_document(as_user(rm_a), partner_x, upload("big.pdf", PDF, "application/pdf"))

    assert response.status_code == 200
    (inline,) = [i for i in response.context["inline_admin_formsets"] if i.formset.model is EvidenceItem]
    assert "a document may be at most 16" in inline.formset.errors[row]["document"][0]
    item = EvidenceItem.objects.get(pk=before.pk)
    assert (item.reference, item.document.name, item.recorded_at) == ("2023SR0000001", "", before.recorded_at)
    assert stored_files(settings.PRIVATE_MEDIA_ROOT) == []


@pytest.mark.parametrize("kind", list(ACCEPTED))
def test_admin_form_accepts_pdf_jpeg_and_png(kind, as_user, partner_x, rm_a):
    name, content, document_type, _ext = ACCEPTED[kind]
    record(partner_x, rm_a)  # the row the form shows (a new case has one per requirement)
    response, _row = _post_document(as_user(rm_a), partner_x, upload(name, content))
    assert response.status_code == 302
    item = EvidenceItem.objects.get(partner=partner_x, requirement__code="software_copyright")
    assert (item.document_type, item.document_name, item.recorded_by) == (document_type, name, rm_a)
    assert Path(item.document.path).read_bytes() == content


# ---- every link points to the authorising view ------------------------------------------------------------


def test_the_editable_inline_links_the_document_to_the_download_view(as_user, with_pdf, partner_x, rm_a):
    page = as_user(rm_a).get(change_url(partner_x)).content.decode()
    assert f'href="{document_url(with_pdf)}"' in page
    assert "软著登记证书.pdf" in page
    assert "/media/" not in page
    assert with_pdf.document.name not in page  # the stored name stays on the server


def test_read_only_inline_and_decision_table_link_to_the_download_view(as_user, with_pdf, partner_x, rm_a, reviewer_a):
    for requirement in EvidenceRequirement.objects.filter(partner_type=partner_x.partner_type, is_required=True):
        if requirement != with_pdf.requirement:
            record(partner_x, rm_a, code=requirement.code, reference="REF")
    services.partner_submit(partner=partner_x, by=rm_a)
    services.partner_start_review(partner=partner_x, by=reviewer_a)
    assert partner_x.state == AdmissionState.UNDER_REVIEW

    response = as_user(reviewer_a).get(change_url(partner_x))
    page = response.content.decode()
    assert response.context["admission"]["decide_items"]  # the reviewer's decision table is on the page
    assert page.count(f'href="{document_url(with_pdf)}"') == 2  # the read-only inline and the decision table
    assert "/media/" not in page


# ---- the download view -----------------------------------------------------------------------------------


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("persona", ["head_office", "rm_a", "reviewer_a", "finance"])
def test_whoever_sees_the_partner_gets_the_document_as_a_recorded_attachment(persona, request, as_user, with_pdf):
    user = request.getfixturevalue(persona)
    response = as_user(user).get(document_url(with_pdf), REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 200
    assert _body(response) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert (
        "filename*=utf-8''%E8%BD%AF%E8%91%97%E7%99%BB%E8%AE%B0%E8%AF%81%E4%B9%A6.pdf"
        in (response["Content-Disposition"])
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, no-store"
    (download,) = EvidenceDownload.objects.all()
    assert (download.item, download.user, download.document, download.document_name, download.ip) == (
        with_pdf,
        user,
        with_pdf.document.name,
        "软著登记证书.pdf",
        "10.1.2.3",
    )


def test_each_download_is_recorded(as_user, with_pdf, rm_a, head_office):
    as_user(rm_a).get(document_url(with_pdf))
    as_user(head_office).get(document_url(with_pdf))
    as_user(head_office).get(document_url(with_pdf))
    assert [d.user for d in EvidenceDownload.objects.order_by("id")] == [rm_a, head_office, head_office]


def test_the_rm_of_another_branch_is_refused_and_nothing_is_recorded(as_user, with_pdf, rm_b):
    response = as_user(rm_b).get(document_url(with_pdf))
    assert response.status_code == 404
    assert PDF not in response.content
    assert not EvidenceDownload.objects.exists()


def test_the_partners_own_user_is_refused_and_nothing_is_recorded(as_user, with_pdf, partner_user_x):
    response = as_user(partner_user_x).get(document_url(with_pdf))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert not EvidenceDownload.objects.exists()


def test_anonymous_is_sent_to_login(client, with_pdf):
    response = client.get(document_url(with_pdf))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next={document_url(with_pdf)}"
    assert not EvidenceDownload.objects.exists()


def test_staff_without_the_partner_view_permission_are_refused(as_user, with_pdf, branch_a):
    clerk = UserFactory(username="clerk_a", branch=branch_a, roles=[Role.SOURCE_SYSTEM])
    assert as_user(clerk).get(document_url(with_pdf)).status_code == 404
    assert not EvidenceDownload.objects.exists()


def test_an_item_is_only_reached_through_its_own_partner(as_user, with_pdf, partner_y, rm_b, head_office):
    other = record(partner_y, rm_b, upload("y.png", PNG, "image/png"))
    url = reverse("admin:onboarding_partner_evidence_document", args=[partner_y.pk, with_pdf.pk])
    assert as_user(head_office).get(url).status_code == 404
    assert as_user(rm_b).get(url).status_code == 404
    assert as_user(rm_b).get(document_url(other)).status_code == 200
    assert list(EvidenceDownload.objects.values_list("item", flat=True)) == [other.pk]


def test_an_item_without_a_document_is_404_and_not_recorded(as_user, partner_x, rm_a, head_office):
    item = record(partner_x, rm_a)
    assert as_user(head_office).get(document_url(item)).status_code == 404
    assert not EvidenceDownload.objects.exists()


def test_the_download_view_only_reads(as_user, with_pdf, head_office):
    assert as_user(head_office).post(document_url(with_pdf)).status_code == 405
    assert not EvidenceDownload.objects.exists()


# ---- the download service ---------------------------------------------------------------------------------


def test_the_service_refuses_outside_the_partners_scope(with_pdf, rm_b, partner_user_x):
    for user in (rm_b, partner_user_x):
        with pytest.raises(NotPermitted):
            services.evidence_document_download(item=with_pdf, by=user)
    assert not EvidenceDownload.objects.exists()


def test_the_service_opens_the_file_and_records_the_download(with_pdf, rm_a):
    document = services.evidence_document_download(item=with_pdf, by=rm_a, ip="10.0.0.1")
    with document.file:
        assert document.file.read() == PDF
    assert (document.content_type, document.filename) == ("application/pdf", "软著登记证书.pdf")
    assert EvidenceDownload.objects.get().user == rm_a


# ---- the read-only record of downloads --------------------------------------------------------------------


def test_the_download_record_is_read_only_and_scoped(as_user, with_pdf, partner_y, rm_a, rm_b, head_office):
    other = record(partner_y, rm_b, upload("y.png", PNG, "image/png"))
    services.evidence_document_download(item=with_pdf, by=rm_a)
    services.evidence_document_download(item=other, by=rm_b)
    changelist = reverse("admin:onboarding_evidencedownload_changelist")

    def listed(user):
        return {d.item for d in as_user(user).get(changelist).context["cl"].result_list}

    assert listed(head_office) == {with_pdf, other}
    assert listed(rm_a) == {with_pdf}
    assert listed(rm_b) == {other}
    download = EvidenceDownload.objects.get(item=with_pdf)
    client = as_user(head_office)
    assert client.get(reverse("admin:onboarding_evidencedownload_add")).status_code == 403
    assert client.post(reverse("admin:onboarding_evidencedownload_change", args=[download.pk]), {}).status_code == 403
    assert client.post(reverse("admin:onboarding_evidencedownload_delete", args=[download.pk])).status_code == 403
