from decimal import Decimal

import pytest
from django.db.models import Q

from core.money import MoneySum
from onboarding.models import Partner
from tests.factories import PartnerFactory


@pytest.mark.django_db
def test_money_sum_is_exact_to_the_fen_on_this_database(rm_a):
    amounts = [Decimal("0.10"), Decimal("0.20"), Decimal("1234567890123.45"), Decimal("0.01")] * 5
    for amount in amounts:
        PartnerFactory(registered_capital=amount, branch=rm_a.branch, relationship_manager=rm_a)
    total = Partner.objects.aggregate(total=MoneySum("registered_capital"))["total"]
    assert total == sum(amounts)
    assert isinstance(total, Decimal)
    filtered = Partner.objects.aggregate(
        small=MoneySum("registered_capital", filter=Q(registered_capital__lt=1)),
        distinct=MoneySum("registered_capital", distinct=True),
    )
    assert filtered["small"] == Decimal("0.31") * 5
    assert filtered["distinct"] == sum(set(amounts))
    assert Partner.objects.none().aggregate(total=MoneySum("registered_capital"))["total"] is None
