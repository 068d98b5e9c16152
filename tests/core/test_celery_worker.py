import pytest
from django.db import connection

from core.tasks import healthcheck
from tests.factories import PartnerFactory


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_worker_sees_the_committed_test_database(celery_worker_process, rm_a):
    PartnerFactory.create_batch(2, branch=rm_a.branch, relationship_manager=rm_a)
    result = healthcheck.delay().get(timeout=60)
    assert result["database"] == connection.vendor
    assert result["name"] == str(connection.settings_dict["NAME"])
    assert result["partners"] == 2
    if celery_worker_process is not None:
        # a real worker process answered, not the test process
        assert celery_worker_process.poll() is None
