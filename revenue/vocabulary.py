"""The settlement's words: line kinds, share limits, settlement states and carried balances, in one place.

Every label a partner reads for these — on the printed statement, the portal,
the admin and the API documentation — comes from here, so a line kind or a
limit reads the same everywhere:

* ``Term.label`` is the translatable label (``gettext_lazy`` of the English
  text): model choices, the admin, the portal and the API schema use it;
* ``Term.zh`` / ``Term.en`` are the fixed bilingual pair a printed statement
  carries whatever the reader's language (the Chinese is the catalogue's
  translation of the English, so both read alike).

Pure: no ORM, so the share computation and the PDF renderer import it freely.
KPI names live with the scorecards.
"""

from __future__ import annotations

from typing import NamedTuple

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, gettext_noop


class Term(NamedTuple):
    """One word of the vocabulary: its fixed Chinese and English pair, and its translatable label."""

    zh: str
    en: str

    @property
    def label(self) -> Promise:
        return gettext_lazy(self.en)

    def __str__(self) -> str:
        return str(self.label)


def choices(terms: dict[str, Term]) -> list[tuple[str, Promise]]:
    """``(value, label)`` pairs for a model or serializer field."""
    return [(value, term.label) for value, term in terms.items()]


# ---- settlement lines ------------------------------------------------------------------------

LINE_KINDS: dict[str, Term] = {
    "product": Term("产品", gettext_noop("Product")),
    "adjustment": Term("以往期间调整", gettext_noop("Adjustment of an earlier period")),
    # The balance an earlier unpaid settlement carries into this one: named as the totals name it.
    "carry_forward": Term("上期结转", gettext_noop("Carried in")),
    "dispute_resolution": Term("争议处理", gettext_noop("Dispute resolution")),
}

# What shaped a line's share, beyond the rule's rate (revenue.calculations: floor, cap, then the revenue limit).
NO_LIMIT = ""
SHARE_LIMITS: dict[str, Term] = {
    "floor": Term("已适用保底", gettext_noop("Floor applied")),
    "cap": Term("已适用封顶", gettext_noop("Cap applied")),
    "revenue": Term("以本行收入为限", gettext_noop("Limited to the line's bank revenue")),
    "no_agreement": Term("无生效协议", gettext_noop("No agreement in force")),
}

# ---- settlements -----------------------------------------------------------------------------

SETTLEMENT_STATES: dict[str, Term] = {
    "draft": Term("预提（未关账）", gettext_noop("Draft (accrued)")),
    "closed": Term("已关账", gettext_noop("Closed")),
    "approved": Term("已审批", gettext_noop("Approved for payment")),
    "paid": Term("已支付", gettext_noop("Paid")),
}

CARRIED_IN = LINE_KINDS["carry_forward"]
CARRIED_OUT = Term("结转至下期", gettext_noop("Carried forward to the next period"))
ATTRIBUTED_TRANSACTIONS = Term("归属交易笔数", gettext_noop("Attributed transactions"))
EVENTS = Term("交易笔数", gettext_noop("Events"))
REVERSALS = Term("冲正笔数", gettext_noop("Reversals"))
TIER_REACHED = Term("达到档位", gettext_noop("Tier reached"))
TIER_BASIS = Term("计档基数", gettext_noop("Tier basis"))

# ---- what a line says about itself -----------------------------------------------------------
# Templates with %(name)s values (figures already formatted as printed: 1,234.56).

COSERVED_NOTE = Term(
    "其中合作服务 %(count)s 笔，按权重计 %(weighted)s",
    gettext_noop("of which %(count)s co-served, counted at their weight as %(weighted)s"),
)
TIER_NOTE = Term(
    "达到第 %(tier)s 档，计档基数 %(basis)s", gettext_noop("tier %(tier)s reached on a basis of %(basis)s")
)
ADJUSTMENT_NOTE = Term(
    "更正 %(period)s：重算分润 %(new)s，此前已结算 %(old)s，差额 %(difference)s",
    gettext_noop("corrects %(period)s: share recomputed %(new)s, settled before %(old)s, difference %(difference)s"),
)
CORRECTS_NOTE = Term("更正 %(period)s", gettext_noop("corrects %(period)s"))
CARRIED_IN_NOTE = Term(
    "上期结转：%(period)s 未支付净额 %(amount)s 转入本期",
    gettext_noop("Carried in: the unpaid net of %(period)s, %(amount)s"),
)
CARRIED_OUT_NOTE = Term(
    "结转至下期：本期净额 %(amount)s 结转至 %(period)s",
    gettext_noop("Carried forward to the next period: the net of %(amount)s goes to %(period)s"),
)


class Note(NamedTuple):
    """A template of the vocabulary with its values: printed in both languages, or shown in the active one."""

    term: Term
    values: dict

    @property
    def zh(self) -> str:
        return self.term.zh % self.values

    @property
    def en(self) -> str:
        return self.term.en % self.values

    def __str__(self) -> str:
        return str(self.term.label) % self.values


def _money(amount) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,.2f}"


def _weighted(count) -> str:
    if count == count.to_integral_value():
        return f"{int(count):,}"
    return f"{count.normalize():,f}"


def line_notes(line) -> list[Note | Term]:
    """What a settlement line says about its figures and share, in the order printed.

    ``line``: any object with a settlement line's fields (the model, or the statement's line data):
    ``kind``, ``coserved_count``, ``coserved_net_count``, ``share_limit``, ``tier_reached``,
    ``tier_basis_figure``, ``corrected_label`` (the corrected or carried-from period, "YYYY-MM"),
    ``previous_share`` and ``share``.
    """
    notes: list[Note | Term] = []
    kind = line.kind
    if kind in ("product", "adjustment"):
        if line.coserved_count:
            weighted = _weighted(line.coserved_net_count)
            notes.append(Note(COSERVED_NOTE, {"count": f"{line.coserved_count:,}", "weighted": weighted}))
        if line.tier_reached is not None and line.tier_basis_figure is not None:
            notes.append(Note(TIER_NOTE, {"tier": line.tier_reached, "basis": _money(line.tier_basis_figure)}))
        if line.share_limit:
            notes.append(SHARE_LIMITS[line.share_limit])
    if kind == "adjustment" and line.previous_share is not None:
        recomputed = line.previous_share + line.share
        notes.append(
            Note(
                ADJUSTMENT_NOTE,
                {
                    "period": line.corrected_label,
                    "new": _money(recomputed),
                    "old": _money(line.previous_share),
                    "difference": _money(line.share),
                },
            )
        )
    elif kind == "adjustment" and line.corrected_label:
        notes.append(Note(CORRECTS_NOTE, {"period": line.corrected_label}))
    elif kind == "carry_forward" and line.corrected_label:
        notes.append(Note(CARRIED_IN_NOTE, {"period": line.corrected_label, "amount": _money(line.share)}))
    return notes


def carried_out_note(*, net, next_period: str) -> Note:
    return Note(CARRIED_OUT_NOTE, {"amount": _money(net), "period": next_period})
