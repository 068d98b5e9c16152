"""The public verification page: no sign-in, partner/period/total only, tampering detected, rate-limited."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from revenue.statements.models import Statement
from revenue.statements.services import statement_generate


@pytest.fixture
def statement(settlement_x):
    return statement_generate(settlement=settlement_x)


def test_the_form_needs_no_sign_in(db):
    response = Client().get("/verify/")
    assert response.status_code == 200
    assert "Verification code" in response.content.decode()
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_a_printed_code_verifies(statement):
    page = Client().get("/verify/", {"code": statement.code}).content.decode()
    assert 'data-test="verified"' in page
    assert "深圳云账房科技有限公司" in page and "2026-10" in page and "835.28 CNY" in page


def test_a_retyped_code_verifies(statement):
    typed = statement.code.lower().replace("-", "")
    assert Client().get("/verify/", {"code": typed}).status_code == 200


@pytest.mark.parametrize("code", ["ABCD-EFGH-JKMN-PQRS", "1234", "<script>"])
def test_other_codes_do_not(statement, code):
    response = Client().get("/verify/", {"code": code})
    page = response.content.decode()
    assert response.status_code == 404
    assert "No statement has this code" in page
    assert "深圳云账房科技有限公司" not in page and "<script>" not in page


def test_a_statement_altered_in_the_database_does_not_verify(statement):
    from core.migrations_sql import guards_suspended

    # Forced past the database's guard (a statement is never changed otherwise).
    with guards_suspended(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Statement._meta.db_table} SET data = %s WHERE id = %s",
            [statement.data.replace('"835.28"', '"8835.28"'), statement.pk],
        )
    assert Client().get("/verify/", {"code": statement.code}).status_code == 404


def test_lookups_are_rate_limited_per_address(settings, statement):
    settings.STATEMENT_VERIFY_MAX_LOOKUPS = 3
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(3):
        assert guesser.get("/verify/", {"code": f"AAAA-AAAA-AAAA-AAA{n}"}).status_code == 404
    refused = guesser.get("/verify/", {"code": statement.code})
    assert refused.status_code == 429
    assert "深圳云账房科技有限公司" not in refused.content.decode()  # not even with the right code
    # The empty form is not a lookup; another address has its own allowance.
    assert guesser.get("/verify/").status_code == 200
    assert Client(REMOTE_ADDR="198.51.100.7").get("/verify/", {"code": statement.code}).status_code == 200
