"""A sample statement (fixed data, no database): for the documentation's screenshots and the layout's checks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.periods import CHINA_TZ
from revenue.statements.documents import LAYOUT_VERSION, StatementData, StatementLineData

D = Decimal
_TIERED = "按银行收入阶梯：100,000.00 元以下 30.00%，以上 25.00% · tiered: 30.00% up to 100,000.00, 25.00% above"


def _line(position: int, **values) -> StatementLineData:
    fields = dict(
        position=position,
        kind="product",
        product_code="PAY_SETTLE",
        product_name="支付结算",
        corrects_period=None,
        transaction_count=1200,
        net_count=D("1200"),
        bank_revenue=D("123456.78"),
        rule=_TIERED,
        rate=D("0.29049"),
        previous_share=None,
        share=D("35864.21"),
        description="",
    )
    fields.update(values)
    return StatementLineData(**fields)


def sample_statement_data(*, lines: int = 8, nothing_payable: bool = False) -> StatementData:
    """A closed October 2026 statement of ``lines`` lines (the second carried in from August)."""
    made = [_line(n) for n in range(1, lines + 1)]
    if lines >= 2:
        made[1] = _line(
            2,
            kind="carry_forward",
            product_code="",
            product_name="",
            transaction_count=0,
            net_count=D("0"),
            bank_revenue=D("0.00"),
            rule="",
            rate=None,
            share=D("-2345.67"),
            corrected_label="2026-08",
        )
    # What lines explain: the tier reached, reversals and co-served events, a cap, a correction of September.
    made[0] = _line(1, reversal_count=12, tier_reached=2, tier_basis_figure=D("123456.78"))
    if lines >= 5:
        made[2] = _line(
            3,
            kind="adjustment",
            corrects_period="2026-09",
            corrected_label="2026-09",
            transaction_count=23,
            reversal_count=5,
            net_count=D("13.4"),
            bank_revenue=D("812.40"),
            rule="按银行收入的 25.00% · 25.00% of bank revenue",
            rate=D("0.25"),
            previous_share=D("2915.79"),
            share=D("203.09"),
        )
        made[3] = _line(
            4,
            product_code="SCF_LOAN",
            product_name="供应链贷款",
            transaction_count=188,
            reversal_count=3,
            coserved_count=12,
            coserved_net_count=D("6.6"),
            net_count=D("179.6"),
            bank_revenue=D("5581.72"),
            rule="每笔 50.00 元 · CNY 50.00 per transaction",
            rate=None,
            share=D("5581.72"),
            share_limit="revenue",
        )
        made[4] = _line(5, share=D("30000.00"), share_limit="cap", tier_reached=2, tier_basis_figure=D("123456.78"))
    share_total = sum((line.share for line in made if line.kind == "product"), D("0.00"))
    carried_in = sum((line.share for line in made if line.kind == "carry_forward"), D("0.00"))
    adjustment_total = sum((line.share for line in made if line.kind == "adjustment"), D("0.00"))
    net, vat, payable = share_total + adjustment_total + carried_in, D("0.00"), D("0.00")
    if nothing_payable:
        net = D("56.78")
    else:
        vat = (net * D("0.06")).quantize(D("0.01"))
        payable = net + vat
    return StatementData(
        layout=LAYOUT_VERSION,
        number="ST-202610-000007",
        bank_name="开放联盟银行",
        bank_name_en="Open Alliance Bank",
        partner_name="深圳云账房科技有限公司",
        credit_code="91440300192185379H",
        branch_name="深圳分行",
        account_name="深圳云账房科技有限公司",
        account_bank="开放联盟银行深圳分行营业部",
        account_no="6222 **** 0001",
        period="2026-10",
        period_first_day=dt.date(2026, 10, 1),
        period_last_day=dt.date(2026, 10, 31),
        state="closed",
        closed_at=dt.datetime(2026, 11, 1, 2, 0, tzinfo=CHINA_TZ),
        transaction_count=sum(line.transaction_count for line in made if line.priced),
        bank_revenue=sum((line.bank_revenue for line in made), D("0.00")),
        share_total=share_total,
        adjustment_total=adjustment_total,
        carried_in=carried_in,
        net=net,
        vat_rate=D("0.0600"),
        vat=vat,
        payable=payable,
        carried_forward=nothing_payable,
        verify_url="https://partners.bank.example/verify/",
        lines=tuple(made),
        issued_on=dt.date(2026, 11, 1),
        payment_due_on=dt.date(2026, 12, 1),
        dispute_deadline=dt.date(2026, 12, 31),
        bank_address="上海市浦东新区世纪大道 100 号",
        bank_service_line="95588-8",
        invoice_title="开放联盟银行股份有限公司",
        taxpayer_number="91310000MA1K000000",
        invoice_content="*信息技术服务*技术服务费",
        bank_footer="本结算单由系统出具，凭验证码核验真伪；如有疑问请于争议截止日前在服务商门户提出。",
        minimum_payout=D("100.00"),
        next_period="2026-11",
    )
