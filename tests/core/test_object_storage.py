"""Media on S3-compatible object storage: with MEDIA_STORAGE_BUCKET set, statements go to the bucket under
``media/`` and private files under ``private/`` with no URL; without it, the local folders (the default)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.core.files.storage import storages
default_storage = storages["default"]
from core.storage import private_storage
private = private_storage()
try:
    private.url("evidence/x.pdf")
    private_url = "given"
except ValueError:
    private_url = "refused"
print(json.dumps({
    "default": default_storage.__class__.__name__,
    "default_location": getattr(default_storage, "location", None),
    "bucket": getattr(default_storage, "bucket_name", None),
    "endpoint": getattr(default_storage, "endpoint_url", None),
    "private": private.__class__.__name__,
    "private_location": str(getattr(private, "location", "")),
    "private_bucket": getattr(private, "bucket_name", None),
    "private_url": private_url,
    "acl": getattr(default_storage, "default_acl", None),
}))
"""


def probe(**env) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("MEDIA_STORAGE", "DATABASE_URL"))}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings.test", **env)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_bucket_puts_media_and_private_files_in_object_storage_without_urls_for_private_ones():
    found = probe(MEDIA_STORAGE_BUCKET="partner-office", MEDIA_STORAGE_ENDPOINT_URL="https://s3.bank.example")
    assert found["default"] == "S3Storage"
    assert (found["bucket"], found["default_location"]) == ("partner-office", "media")
    assert found["endpoint"] == "https://s3.bank.example"
    assert found["acl"] == "private"
    assert found["private"] == "PrivateObjectStorage"
    assert (found["private_bucket"], found["private_location"]) == ("partner-office", "private")
    assert found["private_url"] == "refused"


def test_without_a_bucket_media_stay_in_the_local_folders():
    found = probe()
    assert found["default"] == "FileSystemStorage"
    assert found["private"] == "PrivateStorage"
    assert found["private_url"] == "refused"
