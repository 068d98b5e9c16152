from celery import shared_task
from django.db import connection

from onboarding.models import Partner


@shared_task(name="core.healthcheck")
def healthcheck() -> dict:
    """Report which database this worker reaches and what it sees there (used by monitoring and tests)."""
    return {
        "database": connection.vendor,
        "name": str(connection.settings_dict["NAME"]),
        "partners": Partner.objects.count(),
    }
