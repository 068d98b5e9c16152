"""The bank profile's settlement account: the debtor of payment files, its bank named by a BIC or a CNAPS code."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from core.bank_codes import BIC, CNAPS, bank_code_kind
from revenue.statements.services import statement_issuer_update
from tests.revenue.payments.conftest import BANK


@pytest.mark.parametrize(
    ("code", "kind"),
    [("ICBKCNBJ", BIC), ("ICBKCNBJXXX", BIC), ("102100099996", CNAPS), ("ICBKCNB", None), ("10210009999", None)],
)
def test_bank_codes(code, kind):
    assert bank_code_kind(code) == kind


def test_head_office_sets_the_account_and_a_bad_bank_code_is_refused(head_office, bank_profile):
    details = {k: v for k, v in BANK.items()}
    with pytest.raises(ValidationError) as refused:
        statement_issuer_update(by=head_office, **{**details, "settlement_bank_code": "NOT-A-BIC"})
    assert "settlement_bank_code" in refused.value.message_dict
    saved = statement_issuer_update(by=head_office, **{**details, "settlement_bank_code": "102100099996"})
    assert (saved.settlement_account_no, saved.settlement_bank_code) == (BANK["settlement_account_no"], "102100099996")
