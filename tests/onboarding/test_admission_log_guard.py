"""The admission log is append-only in the database itself, not only in the application.

Who moved a partner's case, when and from which state to which is evidence for auditors: raw SQL
that rewrites or deletes the log is refused on both databases, TRUNCATE too on PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, transaction
from django_fsm_log.models import StateLog

from tests.factories import PartnerFactory

TABLE = StateLog._meta.db_table


def refused(sql: str, params=()) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        return True
    return False


@pytest.fixture
def logged(db):
    partner = PartnerFactory()
    return StateLog.objects.create(
        content_type=ContentType.objects.get_for_model(partner),
        object_id=str(partner.pk),
        source_state="draft",
        state="submitted",
        transition="submit",
    )


def test_a_log_entry_cannot_be_rewritten_or_deleted_in_plain_sql(logged):
    assert refused(f"UPDATE {TABLE} SET state = 'active' WHERE id = %s", [logged.pk])
    assert refused(f"DELETE FROM {TABLE} WHERE id = %s", [logged.pk])
    assert StateLog.objects.get(pk=logged.pk).state == "submitted"


def test_the_orm_cannot_delete_one_either(logged):
    with pytest.raises(DatabaseError), transaction.atomic():
        logged.delete()
    assert StateLog.objects.filter(pk=logged.pk).exists()


def test_new_entries_are_still_written(logged):
    StateLog.objects.create(
        content_type=logged.content_type,
        object_id=logged.object_id,
        source_state="submitted",
        state="under_review",
        transition="assign",
    )
    assert StateLog.objects.count() == 2


@pytest.mark.postgres
def test_truncating_the_log_is_refused_on_postgres(logged):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    assert refused(f"TRUNCATE {TABLE}")
    assert StateLog.objects.filter(pk=logged.pk).exists()
