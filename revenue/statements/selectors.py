"""Reads of statements: a settlement's statement data, its transactions, and every partner-scoped list.

Scoping rule: everything a partner user reads goes through a function here
that takes the partner id and filters on it first, so another partner's
settlement, line, statement or transaction is simply not found (404), by id,
filter or any other way.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.models import JSONField, Prefetch, QuerySet, Subquery
from django.db.models.functions import JSONObject
from django.urls import reverse

from core.money import round_money
from core.periods import Period
from organisation.models import User
from organisation.services import user_sees_all_branches
from revenue.ledger.models import TransactionAttribution
from revenue.settlement.choices import FROZEN_SETTLEMENT_STATES, LineKind
from revenue.settlement.dates import dispute_deadline, payment_due_date, settlement_issue_date
from revenue.settlement.models import Settlement, SettlementDispute, SettlementLine
from revenue.settlement.selectors import settlement_attributions as settled_attributions
from revenue.settlement.services.computation import minimum_payout
from revenue.statements.documents import LAYOUT_VERSION, StatementData, StatementLineData
from revenue.statements.models import DownloadEvent, PartnerWebhook, Statement, StatementIssuer

# Where statements' verification links point while PARTNER_PORTAL_BASE_URL is unset (a development set-up);
# the deploy check (revenue/statements/checks.py) requires the setting in production.
DEVELOPMENT_PORTAL_BASE_URL = "http://localhost:8000"


ISSUER_FIELDS = ("name", "name_en", "address", "service_line", "invoice_title", "taxpayer_number", "invoice_content")


def statement_issuer() -> StatementIssuer:
    """The bank as statements name it: the row head office sets, or (before it exists) the settings' name."""
    return _issuer_or_default(StatementIssuer.objects.filter(pk=StatementIssuer.SINGLETON_PK).first())


def _issuer_or_default(issuer: StatementIssuer | None) -> StatementIssuer:
    if issuer is None:
        issuer = StatementIssuer(
            name=settings.STATEMENT_BANK_NAME,
            name_en=settings.STATEMENT_BANK_NAME_EN,
            invoice_title=settings.STATEMENT_BANK_NAME,
        )
    return issuer


def issuer_annotation() -> Subquery:
    """The issuer's row as a JSON object, to read with another query (``.annotate(issuer_row=…)``): issuing a
    statement reads its settlement and the bank's profile in one round trip."""
    fields = (*ISSUER_FIELDS, "footer")
    row = StatementIssuer.objects.filter(pk=StatementIssuer.SINGLETON_PK).values(
        row=JSONObject(**{name: name for name in fields})
    )
    return Subquery(row, output_field=JSONField())


def issuer_of_row(row: dict | str | None) -> StatementIssuer:
    """:func:`statement_issuer` from the value :func:`issuer_annotation` read (None: no row yet)."""
    if isinstance(row, str):  # a database that hands JSON back as text
        row = json.loads(row)
    return _issuer_or_default(StatementIssuer(**row) if row else None)


def portal_base_url() -> str:
    """The partner portal's absolute base URL (no trailing slash); the development server's when unset."""
    return (settings.PARTNER_PORTAL_BASE_URL or DEVELOPMENT_PORTAL_BASE_URL).rstrip("/")


def verify_url() -> str:
    """The public verification page's absolute URL, printed on statements (a printed link needs its host)."""
    return f"{portal_base_url()}{reverse('statement-verify')}"


def mask_account(number: str) -> str:
    """``6222000000001234`` → ``6222 **** 1234``: enough to recognise the account, not to use it."""
    digits = "".join(number.split())
    if len(digits) <= 8:
        return digits
    return f"{digits[:4]} **** {digits[-4:]}"


def statement_number(settlement: Settlement) -> str:
    return f"ST-{settlement.period.start:%Y%m}-{settlement.pk:06d}"


def _last_day(first: dt.date) -> dt.date:
    return Period(first.year, first.month).next().first_day - dt.timedelta(days=1)


def settlement_lines(*, settlement: Settlement) -> QuerySet[SettlementLine]:
    return (
        SettlementLine.objects.filter(settlement_id=settlement.pk)
        .select_related("product", "carried_from__period", "dispute")
        .order_by("position", "id")
    )


def settlement_lines_by_settlement(*, settlement_ids: Iterable[int]) -> dict[int, list[SettlementLine]]:
    """:func:`settlement_lines` of several settlements in one query, by settlement id (an empty list for none)."""
    ids = list(settlement_ids)
    grouped: dict[int, list[SettlementLine]] = {pk: [] for pk in ids}
    lines = (
        SettlementLine.objects.filter(settlement_id__in=ids)
        .select_related("product", "carried_from__period", "dispute")
        .order_by("settlement_id", "position", "id")
    )
    for line in lines:
        grouped[line.settlement_id].append(line)
    return grouped


def _line_data(line: SettlementLine, number: int) -> StatementLineData:
    description = line.description
    if line.kind == LineKind.CARRY_FORWARD:
        description = ""  # printed from the vocabulary (revenue.vocabulary.CARRIED_IN_NOTE), as everywhere
    return StatementLineData(
        position=number,
        kind=line.kind,
        product_code=line.product.code if line.product_id else "",
        product_name=line.product.name if line.product_id else "",
        corrects_period=str(line.corrected_period) if line.corrects_period else None,
        transaction_count=line.transaction_count,
        net_count=line.net_count,
        bank_revenue=line.bank_revenue,
        rule=line.rule_description,
        rate=line.effective_rate,
        previous_share=line.previous_share,
        share=line.share,
        description=description,
        reversal_count=line.reversal_count,
        coserved_count=line.coserved_count,
        coserved_net_count=line.coserved_net_count,
        share_limit=line.share_limit,
        tier_reached=line.tier_reached,
        tier_basis_figure=line.tier_basis_figure,
        corrected_label=line.corrected_label,
    )


def statement_issue_date(settlement: Settlement) -> dt.date:
    """A statement is dated the day its settlement closed (Beijing time): issued with the close, whenever rendered."""
    return settlement_issue_date(settlement)


def statement_data(*, settlement: Settlement) -> StatementData:
    """What the statement of ``settlement`` prints (and its code digests), read from the frozen settlement.

    Nothing here depends on when it is read: the issue date printed is the
    close, and the payment due date and dispute deadline are counted from it
    (``STATEMENT_PAYMENT_TERMS_DAYS``, ``STATEMENT_DISPUTE_WINDOW_DAYS``).
    The issuer's details are head office's at the time of reading; once
    issued, a statement keeps them in its stored data.
    """
    return statement_data_of(Settlement.objects.select_related("partner__branch", "period").get(pk=settlement.pk))


def statement_data_of(
    settlement: Settlement,
    *,
    issuer: StatementIssuer | None = None,
    lines: Iterable[SettlementLine] | None = None,
) -> StatementData:
    """:func:`statement_data` of a settlement read with its partner, branch and period (no re-read).

    ``issuer``: the bank's profile if already read (see :func:`issuer_annotation`); ``lines``: the
    settlement's lines if already read (:func:`settlement_lines_by_settlement`), in order.
    """
    if lines is None:
        lines = settlement_lines(settlement=settlement)
    partner = settlement.partner
    issuer = issuer or statement_issuer()
    first_day = settlement.period.start
    issued_on = statement_issue_date(settlement)
    return StatementData(
        layout=LAYOUT_VERSION,
        number=statement_number(settlement),
        bank_name=issuer.name,
        bank_name_en=issuer.name_en,
        partner_name=partner.legal_name,
        credit_code=partner.credit_code,
        branch_name=partner.branch.name,
        account_name=partner.settlement_account_name,
        account_bank=partner.settlement_bank,
        account_no=mask_account(partner.settlement_account_no),
        period=str(settlement.period.period),
        period_first_day=first_day,
        period_last_day=_last_day(first_day),
        state=settlement.state,
        closed_at=settlement.closed_at,
        transaction_count=settlement.transaction_count,
        bank_revenue=settlement.bank_revenue,
        share_total=settlement.share_total,
        adjustment_total=settlement.adjustment_total,
        carried_in=settlement.carried_in,
        net=settlement.net,
        vat_rate=settlement.vat_rate,
        vat=settlement.vat,
        payable=settlement.payable,
        carried_forward=settlement.carried_forward,
        verify_url=verify_url(),
        lines=tuple(_line_data(line, number) for number, line in enumerate(lines, start=1)),
        issued_on=issued_on,
        payment_due_on=payment_due_date(issued_on),
        dispute_deadline=dispute_deadline(issued_on),
        bank_address=issuer.address,
        bank_service_line=issuer.service_line,
        invoice_title=issuer.invoice_title,
        taxpayer_number=issuer.taxpayer_number,
        invoice_content=issuer.invoice_content,
        bank_footer=issuer.footer,
        minimum_payout=round_money(minimum_payout()),
        next_period=str(settlement.period.period.next()),
    )


def settlement_attributions(*, settlement: Settlement) -> QuerySet[TransactionAttribution]:
    """The attributions a settlement's ledger lines add up, each in exactly one line (the settlement's own rule).

    Product lines: the partner's active attributions of the product in the
    period, up to the settlement's watermark; adjustments: those of the
    corrected period that arrived in its window ``(watermark_from, watermark_to]``.
    """
    return settled_attributions(settlement=settlement)


DETAIL_COLUMNS = (
    "line_kind",
    "corrects_period",
    "occurred_at",
    "external_id",
    "source",
    "kind",
    "reverses",
    "product",
    "product_name",
    "sme_id",
    "sme_name",
    "currency",
    "amount",
    "bank_revenue",
    "weight",
    "attributed_amount",
    "attributed_bank_revenue",
)


def settlement_detail_rows(*, settlement: Settlement, chunk_size: int = 2000) -> Iterator[tuple]:
    """One tuple per attribution (``DETAIL_COLUMNS``), read in chunks so memory stays flat for any size."""
    period = settlement.period.period
    rows = settlement_attributions(settlement=settlement).values_list(
        "occurred_at",
        "transaction__external_id",
        "transaction__source",
        "transaction__kind",
        "transaction__reverses__external_id",
        "transaction__product__code",
        "transaction__product__name",
        "transaction__sme_id",
        "transaction__sme_name",
        "transaction__currency",
        "transaction__amount",
        "transaction__bank_revenue",
        "weight",
        "amount",
        "bank_revenue",
    )
    for occurred_at, *rest in rows.iterator(chunk_size=chunk_size):
        adjustment = occurred_at < period.start
        corrects = str(Period.containing(occurred_at)) if adjustment else ""
        yield (LineKind.ADJUSTMENT if adjustment else LineKind.PRODUCT, corrects, occurred_at, *rest)


# ---- partner scope ------------------------------------------------------------------------------


def partner_settlements(*, partner_id: int, period: Period | None = None, state: str | None = None):
    """A partner's own settlements, newest period first, with the statement (if issued) loaded."""
    qs = Settlement.objects.filter(partner_id=partner_id)
    if period is not None:
        qs = qs.filter(period__start=period.first_day)
    if state:
        qs = qs.filter(state=state)
    return qs.select_related("period", "statement").order_by("-period__start", "-id")


def partner_settlement_get(*, partner_id: int, pk: int) -> Settlement:
    """The partner's own settlement ``pk``; ``Settlement.DoesNotExist`` for any other (a 404)."""
    return partner_settlements(partner_id=partner_id).select_related("partner__branch").get(pk=pk)


def partner_settlement_lines(*, partner_id: int, settlement_id: int) -> QuerySet[SettlementLine]:
    """Lines of the partner's own settlement, each with its disputes (newest first)."""
    return (
        SettlementLine.objects.filter(settlement_id=settlement_id, settlement__partner_id=partner_id)
        .select_related("product", "carried_from__period", "dispute", "agreement_version")
        .prefetch_related(
            # The rule is put in words in the reader's language from its version (line_rule_text).
            "agreement_version__tiers",
            Prefetch(
                "disputes",
                queryset=SettlementDispute.objects.select_related("adjust_period").order_by("-raised_at", "-id"),
            ),
        )
        .order_by("position", "id")
    )


def partner_line_get(*, partner_id: int, settlement_id: int, pk: int) -> SettlementLine:
    return partner_settlement_lines(partner_id=partner_id, settlement_id=settlement_id).get(pk=pk)


def partner_disputes(*, partner_id: int) -> QuerySet[SettlementDispute]:
    return SettlementDispute.objects.filter(settlement__partner_id=partner_id).select_related(
        "settlement__period", "line__product", "adjust_period"
    )


def partner_webhooks(*, partner_id: int) -> QuerySet[PartnerWebhook]:
    return PartnerWebhook.objects.filter(partner_id=partner_id).order_by("-id")


def settlement_has_statement(settlement: Settlement) -> bool:
    try:
        return settlement.statement is not None
    except Statement.DoesNotExist:
        return False


def settlement_is_final(settlement: Settlement) -> bool:
    """Closed, approved or paid: a statement can be issued (a draft is still being accrued)."""
    return settlement.state in FROZEN_SETTLEMENT_STATES


# ---- bank staff ------------------------------------------------------------------------------


def staff_settlements(*, user: User) -> QuerySet[Settlement]:
    """Settlements a member of staff may see: all for head office and finance, their branch's partners' otherwise."""
    if not (user.is_active and user.has_perm("settlement.view_settlement")):
        return Settlement.objects.none()
    qs = Settlement.objects.all()
    if user_sees_all_branches(user):
        return qs
    if user.branch_id:
        return qs.filter(partner__branch_id=user.branch_id)
    return qs.none()


def staff_statements(*, user: User) -> QuerySet[Statement]:
    return Statement.objects.filter(settlement__in=staff_settlements(user=user))


def download_events(*, settlement: Settlement) -> QuerySet[DownloadEvent]:
    return DownloadEvent.objects.filter(settlement_id=settlement.pk).select_related("user")
