"""Private files: stored outside the public media folder, given to a reader only by a view that authorises them.

``PRIVATE_MEDIA_ROOT`` is not under ``MEDIA_ROOT`` and has no URL, so neither
the web server's ``/media/`` nor Django's debug media view can serve what is
in it. ``url()`` raises, so no template or widget can build a link to a
private file by accident: it links to the authorising view instead, which
streams the file with :func:`private_file_response`.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core import checks
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse
from django.utils.deconstruct import deconstructible
from django.utils.functional import SimpleLazyObject, cached_property
from django.utils.module_loading import import_string


@deconstructible(path="core.storage.PrivateStorage")
class PrivateStorage(FileSystemStorage):
    """Files under ``settings.PRIVATE_MEDIA_ROOT``, without a URL."""

    def __init__(self, location=None, **kwargs) -> None:
        super().__init__(location=location, base_url=None, **kwargs)

    @cached_property
    def base_location(self):
        return self._value_or_setting(self._location, settings.PRIVATE_MEDIA_ROOT)

    @cached_property
    def base_url(self) -> None:
        # FileSystemStorage would fall back to MEDIA_URL; None makes url() raise instead.
        return None

    def _clear_cached_properties(self, setting, **kwargs) -> None:
        super()._clear_cached_properties(setting, **kwargs)
        if setting == "PRIVATE_MEDIA_ROOT":
            self.__dict__.pop("base_location", None)
            self.__dict__.pop("location", None)


def _object_storage_class():
    from storages.backends.s3 import S3Storage  # only with MEDIA_STORAGE_BUCKET set

    class PrivateObjectStorage(S3Storage):
        """Private files in object storage: never a URL (not even a signed one), streamed by the views."""

        def url(self, name, *args, **kwargs):
            raise ValueError("This file is not accessible via a URL: link to the view that authorises the reader.")

    return PrivateObjectStorage


def __getattr__(name: str):
    # ``core.storage.PrivateObjectStorage`` (the setting's backend) without importing boto3 when unused.
    if name == "PrivateObjectStorage":
        return _object_storage_class()
    raise AttributeError(name)


def _private_storage_build():
    config = settings.PRIVATE_MEDIA_STORAGE
    if not config:
        return PrivateStorage()
    return import_string(config["BACKEND"])(**config.get("OPTIONS", {}))


_private_storage = SimpleLazyObject(_private_storage_build)


def private_storage():
    """The private storage (a callable, so migrations name it instead of copying its options): a folder under
    ``PRIVATE_MEDIA_ROOT``, or object storage under ``private/`` when ``MEDIA_STORAGE_BUCKET`` is set."""
    return _private_storage


def private_file_response(file, *, filename: str, content_type: str) -> FileResponse:
    """A private file as a download the browser will neither render nor guess the type of.

    Always an attachment with the type read from its content; ``nosniff`` and a
    sandboxing CSP keep a crafted file from running as a page of this origin even
    if opened; nothing keeps a copy on the way.
    """
    response = FileResponse(file, as_attachment=True, filename=filename, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@checks.register(checks.Tags.security)
def check_private_media_root(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Private files under MEDIA_ROOT or STATIC_ROOT would be public: refuse to start."""
    private = Path(settings.PRIVATE_MEDIA_ROOT).resolve()
    errors = []
    for name, public in (("MEDIA_ROOT", settings.MEDIA_ROOT), ("STATIC_ROOT", settings.STATIC_ROOT)):
        if public and private.is_relative_to(Path(public).resolve()):
            errors.append(
                checks.Error(
                    f"PRIVATE_MEDIA_ROOT ({private}) is inside {name} ({public}), which is served to anyone.",
                    hint="Set DJANGO_PRIVATE_MEDIA_ROOT to a folder outside the public media and static folders.",
                    id="core.E001",
                )
            )
    return errors
