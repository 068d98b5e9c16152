"""The private storage: under PRIVATE_MEDIA_ROOT, without a URL, and refused at start-up inside a public folder."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from core.storage import check_private_media_root, private_file_response, private_storage


def test_private_files_live_under_private_media_root_and_have_no_url(settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "elsewhere"
    name = private_storage().save("a/b.pdf", ContentFile(b"%PDF-1.7"))
    assert (tmp_path / "elsewhere" / name).read_bytes() == b"%PDF-1.7"
    with pytest.raises(ValueError):
        private_storage().url(name)


def test_a_private_root_beside_the_public_folders_passes(settings):
    assert check_private_media_root() == []


@pytest.mark.parametrize("public", ["MEDIA_ROOT", "STATIC_ROOT"])
def test_a_private_root_inside_a_public_folder_is_an_error(settings, tmp_path, public):
    setattr(settings, public, tmp_path / "public")
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "public" / "private"
    (error,) = check_private_media_root()
    assert error.id == "core.E001"
    assert public in error.msg


def test_the_private_root_being_the_media_root_is_an_error(settings, tmp_path):
    settings.MEDIA_ROOT = settings.PRIVATE_MEDIA_ROOT = tmp_path
    assert [e.id for e in check_private_media_root()] == ["core.E001"]


def test_a_private_file_is_sent_as_an_attachment_nothing_renders_sniffs_or_keeps(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    with path.open("rb") as handle:
        response = private_file_response(handle, filename="执照.png", content_type="image/png")
        assert b"".join(response.streaming_content) == b"\x89PNG\r\n\x1a\n"
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%E6%89%A7%E7%85%A7.png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response["Cache-Control"] == "private, no-store"
