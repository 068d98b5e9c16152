"""Probe this container's web process: ``python deploy/healthcheck.py live|ready`` exits 0 when it answers 200.

For the container's own health check (compose.yaml): it asks 127.0.0.1 with the first allowed host name,
since the application answers only to the names in DJANGO_ALLOWED_HOSTS.
"""

import os
import sys
import urllib.request

kind = sys.argv[1] if len(sys.argv) > 1 else "live"
host = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0].strip().lstrip(".") or "localhost"
request = urllib.request.Request(
    f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health/{kind}",
    headers={"Host": host},
)
try:
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - a fixed local http URL
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
