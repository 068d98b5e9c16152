"""Result files: paid through the settlement service, failed with the reason, idempotent, all or nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.periods import CHINA_TZ
from revenue.payments.choices import BatchState, ItemState
from revenue.payments.errors import BadResultFile, NotPermitted
from revenue.payments.models import PaymentBatch, PaymentResultImport
from revenue.payments.selectors import settlements_due_for_payment
from revenue.payments.services import (
    invoice_review,
    payment_batch_approve,
    payment_batch_create,
    payment_result_import,
)
from revenue.settlement.choices import SettlementState
from revenue.settlement.models import Settlement
from revenue.statements.selectors import statement_number
from tests.revenue.payments.conftest import submit
from tests.revenue.payments.test_batches import EXECUTION


@pytest.fixture
def batch(settlement_x, settlement_y, partner_user_x, partner_user_y, finance, finance2):
    invoice_review(invoice=submit(settlement_x, partner_user_x, number="10000001"), by=finance)
    invoice_review(invoice=submit(settlement_y, partner_user_y, number="10000002"), by=finance)
    return payment_batch_approve(batch=payment_batch_create(by=finance, execution_date=EXECUTION), by=finance2)


def result_file(*lines: str, header: str = "end_to_end_id,status,bank_reference,date,reason") -> SimpleUploadedFile:
    return SimpleUploadedFile("result.csv", ("\ufeff" + "\n".join([header, *lines]) + "\n").encode())


def test_paid_and_failed_lines_are_applied_and_a_reimport_changes_nothing(batch, settlement_x, settlement_y, finance):
    x, y = statement_number(settlement_x), statement_number(settlement_y)
    lines = (f"{x},paid,BANKREF-0001,2099-01-05,", f"{y},failed,,2099-01-05,账户已销户")
    record = payment_result_import(batch=batch, by=finance, file=result_file(*lines))
    assert (record.paid, record.failed, record.already_applied) == (1, 1, 0)

    paid = Settlement.objects.get(pk=settlement_x.pk)
    assert (paid.state, paid.payment_reference, paid.paid_by) == (SettlementState.PAID, "BANKREF-0001", finance)
    assert paid.paid_at.astimezone(CHINA_TZ).date().isoformat() == "2099-01-05"  # the bank's date, Beijing time
    assert Settlement.objects.get(pk=settlement_y.pk).state == SettlementState.APPROVED
    failed = batch.items.get(settlement=settlement_y)
    assert (failed.state, failed.failure_reason) == (ItemState.FAILED, "账户已销户")
    assert PaymentBatch.objects.get().state == BatchState.COMPLETED

    again = payment_result_import(batch=batch, by=finance, file=result_file(*lines))
    assert (again.paid, again.failed, again.already_applied) == (0, 0, 2)
    assert Settlement.objects.get(pk=settlement_x.pk).paid_at == paid.paid_at
    assert PaymentResultImport.objects.count() == 2

    # The failed settlement is due again and goes into a later batch.
    assert list(settlements_due_for_payment()) == [settlement_y]
    assert payment_batch_create(by=finance, execution_date=EXECUTION).transaction_count == 1


def test_unmatched_duplicate_and_contradicting_lines_are_reported_not_applied(
    batch, settlement_x, settlement_y, finance
):
    x = statement_number(settlement_x)
    record = payment_result_import(
        batch=batch,
        by=finance,
        file=result_file(
            f"{x},ACSC,BANKREF-0001,2099-01-05,",
            f"{x},RJCT,,2099-01-05,重复",
            "ST-209901-999999,paid,BANKREF-9,2099-01-05,",
        ),
    )
    assert record.paid == 1
    assert record.report["duplicates"] == [f"{x} (line 3)"]
    assert record.report["unmatched"] == ["ST-209901-999999 (line 4)"]
    assert PaymentBatch.objects.get().state == BatchState.APPROVED  # y awaits its result

    contradicting = payment_result_import(batch=batch, by=finance, file=result_file(f"{x},failed,,2099-01-06,退票"))
    assert contradicting.failed == 0 and len(contradicting.report["conflicts"]) == 1
    assert Settlement.objects.get(pk=settlement_x.pk).state == SettlementState.PAID


@pytest.mark.parametrize(
    "bad_line",
    ["{y},maybe,REF,2099-01-05,", "{y},paid,REF,05/01/2099,", "{y},paid,,2099-01-05,", ",paid,REF,2099-01-05,"],
)
def test_a_bad_file_changes_nothing(batch, settlement_x, settlement_y, finance, bad_line):
    x, y = statement_number(settlement_x), statement_number(settlement_y)
    with pytest.raises(BadResultFile, match="line 3"):
        payment_result_import(
            batch=batch, by=finance, file=result_file(f"{x},paid,BANKREF-0001,2099-01-05,", bad_line.format(y=y))
        )
    assert Settlement.objects.get(pk=settlement_x.pk).state == SettlementState.APPROVED
    assert set(batch.items.values_list("state", flat=True)) == {ItemState.PENDING}
    assert not PaymentResultImport.objects.exists()


def test_a_file_without_the_columns_is_refused(batch, finance):
    with pytest.raises(BadResultFile, match="header lacks"):
        payment_result_import(batch=batch, by=finance, file=result_file("a,b", header="id,result"))


def test_chinese_headers_are_read(batch, settlement_x, finance):
    x = statement_number(settlement_x)
    record = payment_result_import(
        batch=batch,
        by=finance,
        file=result_file(f"{x},成功,BANKREF-1,2099-01-05", header="端到端标识,状态,银行流水号,日期"),
    )
    assert record.paid == 1


def test_only_finance_imports(batch, rm_a, settlement_x):
    with pytest.raises(NotPermitted):
        payment_result_import(batch=batch, by=rm_a, file=result_file())


def test_results_are_imported_for_an_approved_batch_only(settlement_x, partner_user_x, finance):
    from revenue.payments.errors import InvalidState

    invoice_review(invoice=submit(settlement_x, partner_user_x), by=finance)
    pending = payment_batch_create(by=finance, execution_date=EXECUTION)
    with pytest.raises(InvalidState, match="approved batch"):
        payment_result_import(batch=pending, by=finance, file=result_file())


def test_admin_import_shows_the_report(batch, settlement_x, finance):
    from django.urls import reverse

    from tests.revenue.payments.conftest import login

    x = statement_number(settlement_x)
    url = reverse("admin:payments_paymentbatch_import", args=[batch.pk])
    response = login(finance).post(url, {"file": result_file(f"{x},paid,BANKREF-1,2099-01-05,")})
    assert response.status_code == 200
    assert Settlement.objects.get(pk=settlement_x.pk).state == SettlementState.PAID
    bad = login(finance).post(url, {"file": result_file("x,maybe,,bad,")})
    assert bad.status_code == 302 or "nothing was changed" in bad.content.decode()
