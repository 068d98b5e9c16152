"""A realistic synthetic month of transactions, for the demo data and the benchmarks.

Pure and streaming: partners and products in, rows (dicts of text, the
ingestion columns) out, one at a time, in the order a source system would
export them (by time). Memory stays flat: only a bounded window of recent
rows is kept, to draw duplicates and reversals from.

What a month holds, besides plain events spread over the month:

* about 2% co-served events (two partners, weights 0.5/0.5, 0.6/0.4 or 0.7/0.3);
* about 1% reversals of earlier events of the month (a refund or cancellation);
* about 0.5% duplicates (an earlier row sent again, unchanged);
* about 1% late events (they happened in the previous month);
* about 0.5% events of partners that are not active (kept, flagged, no share)
  when such partners are given.

The same seed gives the same file; external ids carry the seed and the month.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from core.periods import CHINA_TZ, Period
from revenue.ledger.choices import RevenueKind

CO_SERVED = 0.02
REVERSALS = 0.01
DUPLICATES = 0.005
LATE = 0.01
INACTIVE = 0.005
WINDOW = 20_000
WEIGHT_SPLITS = (("0.5", "0.5"), ("0.6", "0.4"), ("0.7", "0.3"))

_CITY = ("深圳", "杭州", "广州", "成都", "苏州", "武汉", "西安", "青岛", "宁波", "长沙")
_WORD = ("宏达", "鑫源", "华盛", "利通", "恒泰", "嘉禾", "瑞丰", "博远", "新奥", "天成", "润德", "众诚")
_TRADE = ("贸易", "科技", "机械", "物流", "食品", "电子", "建材", "医药", "服饰", "农业")


@dataclass(frozen=True)
class PartnerRef:
    credit_code: str
    partner_type: str
    # Products this partner distributes (codes); empty means every product.
    products: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProductRef:
    code: str
    revenue_kind: str


def _amount_and_revenue(rng: random.Random, kind: str) -> tuple[int, int]:
    """An amount and the bank's revenue from it, in fen, by the kind of revenue the product earns."""
    if kind == RevenueKind.INTEREST_MARGIN:
        amount = rng.randrange(5_000_000, 300_000_000)  # 50 000 – 3 000 000 yuan lent
        revenue = amount * rng.randrange(150, 300) // 10_000 * 30 // 365  # a month of a 1.5–3% margin
    elif kind == RevenueKind.COMMISSION:
        amount = rng.randrange(1_000_000, 100_000_000)
        revenue = amount * rng.randrange(20, 50) // 10_000
    elif kind == RevenueKind.OTHER:
        amount = rng.randrange(10_000, 1_000_000)
        revenue = amount // 100
    else:  # fees: payments and settlement, account services
        amount = int(10 ** rng.uniform(4, 6.7))  # 100 – 50 000 yuan, most of them small
        revenue = max(1, amount * rng.randrange(30, 60) // 10_000)
    return amount, revenue


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def sme_name(index: int) -> str:
    return f"{_CITY[index % 10]}{_WORD[index // 10 % 12]}{_TRADE[index // 120 % 10]}有限公司"


def generate_rows(
    *,
    period: Period,
    count: int,
    partners: Sequence[PartnerRef],
    products: Sequence[ProductRef],
    inactive_partners: Sequence[PartnerRef] = (),
    seed: int = 1,
) -> Iterator[dict[str, str]]:
    """``count`` rows for ``period`` (see the module docstring for the mix)."""
    if not partners or not products:
        raise ValueError("needs at least one partner and one product")
    rng = random.Random(seed)
    by_code = {p.code: p for p in products}
    start = period.start.timestamp()
    span = period.end.timestamp() - start
    previous = period.previous()
    late_start = previous.start.timestamp()
    late_span = previous.end.timestamp() - late_start
    recent: deque[dict[str, str]] = deque(maxlen=WINDOW)  # rows that may be sent again
    reversible: deque[dict[str, str]] = deque(maxlen=WINDOW)  # normal rows that may be reversed
    reversed_ids: set[str] = set()  # each is reversed at most once
    prefix = f"G{seed}-{period.year:04d}{period.month:02d}-"
    offset = "+08:00"

    def stamp(moment: float) -> str:
        local = dt.datetime.fromtimestamp(moment, CHINA_TZ)
        return f"{local:%Y-%m-%dT%H:%M:%S}{offset}"

    for i in range(count):
        now = start + span * (i + rng.random()) / count
        roll = rng.random()
        if roll < DUPLICATES and recent:
            yield recent[rng.randrange(len(recent))]
            continue
        external_id = f"{prefix}{i:09d}"
        original = reversible[rng.randrange(len(reversible))] if reversible else None
        if roll < DUPLICATES + REVERSALS and original and original["external_id"] not in reversed_ids:
            reversed_ids.add(original["external_id"])
            row = {
                **original,
                "external_id": external_id,
                "kind": "reversal",
                "reverses": original["external_id"],
                "amount": "-" + original["amount"] if original["amount"] != "0.00" else "0.00",
                "bank_revenue": "-" + original["bank_revenue"] if original["bank_revenue"] != "0.00" else "0.00",
                "occurred_at": stamp(now),
            }
            recent.append(row)
            yield row
            continue

        pool = inactive_partners if inactive_partners and rng.random() < INACTIVE else partners
        partner = pool[rng.randrange(len(pool))]
        codes = partner.products or tuple(by_code)
        product = by_code.get(codes[rng.randrange(len(codes))]) or products[0]
        partner_text = partner.credit_code
        if rng.random() < CO_SERVED and len(partners) > 1:
            other = partners[rng.randrange(len(partners))]
            if other.credit_code != partner.credit_code:
                first, second = WEIGHT_SPLITS[rng.randrange(len(WEIGHT_SPLITS))]
                partner_text = f"{partner.credit_code}:{first};{other.credit_code}:{second}"
        moment = late_start + late_span * rng.random() if rng.random() < LATE else now
        amount, revenue = _amount_and_revenue(rng, product.revenue_kind)
        customer = rng.randrange(400)
        row = {
            "external_id": external_id,
            "kind": "normal",
            "reverses": "",
            "partner": partner_text,
            "sme_id": f"SME-{partner.credit_code[-8:]}-{customer:04d}",
            "sme_name": sme_name(customer + sum(map(ord, partner.credit_code[-4:]))),
            "product": product.code,
            "branch": "",
            "amount": _yuan(amount),
            "bank_revenue": _yuan(revenue),
            "currency": "CNY",
            "occurred_at": stamp(moment),
        }
        recent.append(row)
        reversible.append(row)
        yield row
