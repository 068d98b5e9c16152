"""factory_boy factories for the organisation and partners, shared by every test package."""

from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory
from django.contrib.auth.models import Group

from onboarding.models import AdmissionState, Partner, PartnerActivePeriod, PartnerType
from onboarding.validators import uscc_build
from organisation.models import Branch, User
from organisation.roles import Role


def make_uscc(seed: int) -> str:
    """A valid, unique-per-seed unified social credit code."""
    division = "".join(random.Random(seed).choice("0123456789") for _ in range(6))
    return uscc_build(division=division, organisation=f"{seed:08d}"[-8:])


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"B{n:03d}")
    name = factory.Sequence(lambda n: f"第{n}分行")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda u: u.username)
    email = factory.LazyAttribute(lambda u: f"{u.username}@bank.example")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if extracted:
            self.groups.set(Group.objects.filter(name__in=[Role(r).value for r in extracted]))
        if create:
            self.save()


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    partner_type = PartnerType.SOFTWARE_DATA
    legal_name = factory.Sequence(lambda n: f"测试服务商{n}有限公司")
    credit_code = factory.Sequence(lambda n: make_uscc(n + 1000))
    legal_representative = "张三"
    registered_capital = Decimal("1000000.00")
    contact_name = "李四"
    contact_phone = "13800000000"
    contact_email = factory.Sequence(lambda n: f"contact{n}@partner.example")
    settlement_account_name = factory.LazyAttribute(lambda p: p.legal_name)
    settlement_bank = "本行"
    settlement_account_no = factory.Sequence(lambda n: f"6222{n:012d}")
    branch = factory.SubFactory(BranchFactory)
    relationship_manager = factory.SubFactory(
        UserFactory, branch=factory.SelfAttribute("..branch"), roles=[Role.BRANCH_RM]
    )


class ActivePartnerFactory(PartnerFactory):
    """An admitted partner, active since 2026-01-01 00:00 China time (``active_since=`` to change).

    The state is set directly, without the admission history: for tests of what
    happens to active partners, not of how they got there (use the services for that).
    """

    class Meta:
        skip_postgeneration_save = True

    state = AdmissionState.ACTIVE

    @factory.post_generation
    def active_since(self, create, extracted, **kwargs):
        if create:
            started = extracted or datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
            PartnerActivePeriod.objects.create(partner=self, started_at=started)
