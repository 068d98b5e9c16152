"""Build ``fixtures/demo.json``: the demo alliance, made by the real admission services.

Run on an empty, migrated database of its own, e.g.::

    DATABASE_URL=sqlite:////tmp/demo-build.sqlite3 python manage.py migrate
    DATABASE_URL=sqlite:////tmp/demo-build.sqlite3 python manage.py build_demo_fixture

Every case goes through the same services as in production (so its audit log,
evidence decisions, maker-checker and active periods are what the code really
produces) under a clock set to a plausible date for each step: the admitted
partners went live on 2026-01-01 00:00 China time, the open cases are recent.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from unittest import mock
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.db.models import DateTimeField
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_fsm_log.models import StateLog

from core.console import ConsoleCommand
from onboarding import services
from onboarding.models import AdmissionState, EvidenceDecision, Partner
from onboarding.selectors import evidence_items
from onboarding.validators import USCC_ALPHABET, uscc_build
from organisation.models import Branch, User
from organisation.roles import Role
from organisation.services import user_create

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEMO_PASSWORD = "demo12345"  # noqa: S105 - the documented password of every demo login
GO_LIVE = datetime(2026, 1, 1, tzinfo=SHANGHAI)
OUTPUT = Path(settings.BASE_DIR) / "fixtures" / "demo.json"
MODELS = [
    "organisation.Branch",
    "organisation.User",
    "onboarding.Partner",
    "onboarding.EvidenceItem",
    "onboarding.PartnerActivePeriod",
    "onboarding.PartnerTierChange",
    "django_fsm_log.StateLog",
]

# code, name, region code (for credit codes), ICP prefix, (rm, reviewer) display names
BRANCHES = [
    ("BJ", "北京分行", "110108", "京", ("王磊", "李娜")),
    ("SH", "上海分行", "310115", "沪", ("张伟", "陈静")),
    ("SZ", "深圳分行", "440305", "粤", ("刘洋", "黄敏")),
    ("HZ", "杭州分行", "330106", "浙", ("周杰", "吴婷")),
    ("CD", "成都分行", "510107", "蜀", ("杨帆", "赵雪")),
]


@dataclass(frozen=True)
class Case:
    branch: str
    partner_type: str
    legal_name: str
    representative: str
    capital_wan: int  # registered capital in 万元
    state: str
    risk: str = "medium"
    vat_rate: str = "0.0600"
    tier: str = ""  # the tier it reached at the mid-year review, if it changed


A = AdmissionState
CASES = [
    Case("BJ", "internet_platform", "北京云商汇网络科技有限公司", "孙浩", 5000, A.ACTIVE, "low", tier="gold"),
    Case("BJ", "software_data", "北京智算数据服务有限公司", "钱进", 2000, A.ACTIVE),
    Case("BJ", "hardware", "北京中科物联装备有限公司", "郑强", 8000, A.ACTIVE, tier="silver"),
    Case("BJ", "pe_vc", "北京鼎晖创远股权投资管理有限公司", "冯远", 10000, A.ACTIVE),
    Case("BJ", "supply_chain", "北京优鲜乳业供应链管理有限公司", "卫东", 3000, A.ACTIVE),
    Case("BJ", "software_data", "北京新桥数科信息技术有限公司", "蒋涛", 1000, A.UNDER_REVIEW),
    Case("BJ", "internet_platform", "北京快易购电子商务有限公司", "沈飞", 1500, A.PENDING_HEAD_OFFICE, "high"),
    Case("SH", "internet_platform", "上海汇付通达信息科技有限公司", "韩冰", 6000, A.ACTIVE, tier="silver"),
    Case("SH", "software_data", "上海财云软件股份有限公司", "杨光", 4500, A.ACTIVE, "low"),
    Case("SH", "hardware", "上海冷链通物流科技有限公司", "朱红", 2500, A.ACTIVE),
    Case("SH", "pe_vc", "上海浦江远景创业投资管理有限公司", "秦岭", 20000, A.ACTIVE, "low"),
    Case("SH", "supply_chain", "上海申联钢铁供应链有限公司", "尤勇", 12000, A.ACTIVE, "high"),
    Case("SH", "software_data", "上海易企记账服务有限公司", "许诺", 300, A.SUSPENDED, vat_rate="0.0300"),
    Case("SH", "internet_platform", "上海云聚直播电子商务有限公司", "何欢", 800, A.DRAFT),
    Case("SZ", "internet_platform", "深圳市小店通网络科技有限公司", "吕方", 3000, A.ACTIVE, "low", tier="gold"),
    Case("SZ", "software_data", "深圳市数联云软件有限公司", "施展", 1200, A.ACTIVE),
    Case("SZ", "hardware", "深圳市光伏智联能源科技有限公司", "张弛", 6000, A.ACTIVE),
    Case("SZ", "pe_vc", "深圳市前海鹏程创新投资管理有限公司", "孔明", 15000, A.ACTIVE),
    Case("SZ", "supply_chain", "深圳市华南电子元器件供应链有限公司", "曹操", 5000, A.ACTIVE),
    Case("SZ", "hardware", "深圳市智造工业互联网有限公司", "严肃", 2000, A.NEEDS_INFO),
    Case("SZ", "software_data", "深圳市微企汇科技有限公司", "华彩", 500, A.APPROVED, vat_rate="0.0300"),
    Case("HZ", "software_data", "杭州云栖数据科技有限公司", "金鑫", 2200, A.ACTIVE, "low", tier="silver"),
    Case("HZ", "internet_platform", "杭州淘选优品网络有限公司", "魏巍", 4000, A.ACTIVE),
    Case("HZ", "hardware", "杭州西湖机床物联科技有限公司", "陶然", 3500, A.ACTIVE),
    Case("HZ", "supply_chain", "杭州钱塘纺织供应链管理有限公司", "姜山", 2800, A.ACTIVE),
    Case("HZ", "pe_vc", "杭州之江天使创业投资合伙企业（有限合伙）", "戚远", 5000, A.RESUBMITTED),
    Case("HZ", "internet_platform", "杭州乐享直播科技有限公司", "谢天", 600, A.REJECTED, "high"),
    Case("HZ", "software_data", "杭州数智财税软件有限公司", "邹平", 900, A.CONTRACTED),
    Case("CD", "supply_chain", "成都天府云仓供应链管理有限公司", "喻川", 3200, A.ACTIVE),
    Case("CD", "software_data", "成都蜀信数据服务有限公司", "柏林", 1500, A.ACTIVE),
    Case("CD", "hardware", "成都川工挖掘机械物联有限公司", "水清", 7000, A.SUSPENDED),
    Case("CD", "internet_platform", "成都锦城电商平台有限公司", "窦文", 1000, A.TERMINATED),
    Case("CD", "pe_vc", "成都蓉创新兴产业投资管理有限公司", "章程", 8000, A.SUBMITTED),
    Case("CD", "supply_chain", "成都农链通供应链科技有限公司", "云飞", 600, A.DRAFT),
]
# Partner staff who log in to download statements: (username, display name, partner legal name).
PARTNER_USERS = [
    ("partner_sz", "小店通财务", "深圳市小店通网络科技有限公司"),
    ("partner_hz", "云栖数据财务", "杭州云栖数据科技有限公司"),
]


class Clock:
    """The time the services see; moved forward step by step."""

    def __init__(self) -> None:
        self.current = GO_LIVE

    def __call__(self) -> datetime:
        return self.current

    def at(self, when: datetime) -> None:
        self.current = when

    def tick(self, minutes: int = 7) -> None:
        self.current += timedelta(minutes=minutes)


@contextmanager
def frozen_at(clock: Clock):
    """Make ``timezone.now`` — and every field defaulting to it — read ``clock``."""
    patched = []
    for model in (StateLog, User):
        for field in model._meta.concrete_fields:
            if isinstance(field, DateTimeField) and field.default is timezone.now:
                patched.append(field)
                field.default = clock
                field.__dict__.pop("_get_default", None)  # Django caches the default getter
    try:
        with mock.patch("django.utils.timezone.now", clock):
            yield
    finally:
        for field in patched:
            field.default = timezone.now
            field.__dict__.pop("_get_default", None)


def credit_code(rng: random.Random, region: str) -> str:
    # An enterprise (91) registered in the branch's district; "MA…" is how post-2015 organisation codes read.
    digits = "".join(rng.choice(USCC_ALPHABET[:10]) for _ in range(4))
    organisation = "MA" + digits + "".join(rng.choice(USCC_ALPHABET) for _ in range(2))
    return uscc_build(division=region, organisation=organisation)


def reference(rng: random.Random, code: str, icp: str) -> str:
    n = rng.randint
    return {
        "icp_licence": f"{icp}ICP证{n(100000, 999999)}号",
        "data_security_assessment": f"DSA-2025-{n(1000, 9999)}，评估结论：通过",
        "platform_scale": f"入驻商户 {n(2, 90) * 1000} 家",
        "software_copyright": f"2024SR{n(1000000, 9999999)}",
        "mlps_certificate": f"{n(11000000000, 51999999999)}-2025，第三级",
        "data_source_compliance": "数据来源合规声明（已签署，含个人信息授权链路说明）",
        "device_certification": f"CCC 2024{n(100000000, 999999999)}；SRRC CMIIT ID 2024AP{n(1000, 9999)}",
        "devices_connected": f"{n(2, 80) * 1000} 台",
        "core_enterprise_rating": rng.choice(["AAA（中诚信国际）", "AA+（联合资信）", "AA（大公国际）"]),
        "sme_count": f"上游 {n(50, 600)} 户 / 下游 {n(100, 3000)} 户",
        "sample_trade_contract": f"HT-2025-{n(1000, 9999)}",
        "amac_registration": f"P10{n(10000, 99999)}",
        "aum": f"{n(5, 300)}.{n(0, 9)} 亿元",
    }[code]


class Command(ConsoleCommand):
    help = gettext_lazy("Build fixtures/demo.json from the admission services (on an empty, migrated database).")

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=OUTPUT)

    def handle(self, *args, output: Path, **options):
        if Partner.objects.exists() or Branch.objects.exists() or User.objects.exists():
            raise CommandError(_("Run this on an empty, migrated database of its own (set DATABASE_URL)."))
        clock = Clock()
        # The texts the services store (reasons, log entries) are the product's language whatever the output's.
        with frozen_at(clock), transaction.atomic(), translation.override(settings.LANGUAGE_CODE):
            self._build(clock)
        output.parent.mkdir(parents=True, exist_ok=True)
        call_command("dumpdata", *MODELS, natural_foreign=True, indent=1, output=str(output), verbosity=0)
        self.say(
            _("Wrote %(file)s (%(count)s partners)") % {"file": output, "count": Partner.objects.count()},
            self.style.SUCCESS,
        )

    # ---- the alliance ----------------------------------------------------------------------

    def _build(self, clock: Clock) -> None:
        rng = random.Random(20260101)
        clock.at(datetime(2025, 9, 1, 9, 0, tzinfo=SHANGHAI))
        head_office = Branch.objects.create(code="HQ", name="总行", is_head_office=True)
        self.hq_admin = user_create(
            username="hq_admin",
            password=DEMO_PASSWORD,
            roles=[Role.HEAD_OFFICE_ADMIN],
            branch=head_office,
            display_name="总行管理员 林立",
        )
        user_create(
            username="finance",
            password=DEMO_PASSWORD,
            roles=[Role.FINANCE],
            branch=head_office,
            display_name="总行财务 高洁",
        )
        self.branches, self.rms, self.reviewers, self.icp = {}, {}, {}, {}
        for code, name, region, icp, (rm_name, reviewer_name) in BRANCHES:
            branch = Branch.objects.create(code=code, name=name)
            self.branches[code] = (branch, region)
            self.icp[code] = icp
            self.rms[code] = user_create(
                username=f"rm_{code.lower()}",
                password=DEMO_PASSWORD,
                roles=[Role.BRANCH_RM],
                branch=branch,
                display_name=f"{name}客户经理 {rm_name}",
            )
            self.reviewers[code] = user_create(
                username=f"reviewer_{code.lower()}",
                password=DEMO_PASSWORD,
                roles=[Role.RISK_REVIEWER],
                branch=branch,
                display_name=f"{name}风险审核 {reviewer_name}",
            )

        admitted = [c for c in CASES if c.state in (A.ACTIVE, A.SUSPENDED, A.TERMINATED)]
        for i, case in enumerate(CASES):
            if case in admitted:
                start = datetime(2025, 11, 3, 9, 30, tzinfo=SHANGHAI) + timedelta(days=i % 20, hours=i % 5)
            else:
                start = datetime(2026, 10, 12, 9, 30, tzinfo=SHANGHAI) + timedelta(days=i % 25, hours=i % 6)
            clock.at(start)
            self._admit(clock, rng, case)

        for username, display_name, legal_name in PARTNER_USERS:
            clock.at(datetime(2026, 1, 5, 10, 0, tzinfo=SHANGHAI))
            user_create(
                username=username,
                password=DEMO_PASSWORD,
                roles=[Role.PARTNER_USER],
                partner=Partner.objects.get(legal_name=legal_name),
                display_name=display_name,
            )

    def _admit(self, clock: Clock, rng: random.Random, case: Case) -> Partner:
        branch, region = self.branches[case.branch]
        rm, reviewer = self.rms[case.branch], self.reviewers[case.branch]
        partner = services.partner_create(
            by=rm,
            partner_type=case.partner_type,
            legal_name=case.legal_name,
            credit_code=credit_code(rng, region),
            legal_representative=case.representative,
            registered_capital=Decimal(case.capital_wan) * 10000,
            contact_name=case.representative,
            contact_phone=f"1{rng.choice('3589')}{rng.randint(100000000, 999999999)}",
            contact_email=f"finance{rng.randint(100, 999)}@partner{rng.randint(1000, 9999)}.cn",
            settlement_account_name=case.legal_name,
            settlement_bank=f"本行{branch.name}营业部",
            settlement_account_no=f"{region[:4]}{rng.randint(10**13, 10**14 - 1)}",
            risk_rating=case.risk,
            vat_rate=Decimal(case.vat_rate),
            comment="客户经理发起准入",
        )
        if case.state == A.DRAFT and case.branch == "CD":
            return partner  # nothing recorded yet
        clock.tick(25)
        items = list(evidence_items(partner=partner))
        for item in items:
            if case.state == A.DRAFT and not item.requirement.is_required:
                continue
            services.evidence_item_record(
                partner=partner,
                requirement=item.requirement,
                reference=reference(rng, item.requirement.code, self.icp[case.branch]),
                by=rm,
            )
            clock.tick(3)
        if case.state == A.DRAFT:
            return partner

        clock.tick(60 * 20)
        services.partner_submit(partner=partner, by=rm, comment="材料已齐全，提交审核")
        if case.state == A.SUBMITTED:
            return partner
        clock.tick(60 * 22)
        services.partner_start_review(partner=partner, by=reviewer, comment="已领取，开始审核")
        clock.tick(60 * 3)

        if case.state in (A.NEEDS_INFO, A.RESUBMITTED):
            first, *rest = list(evidence_items(partner=partner).filter(requirement__is_required=True))
            for item in rest:
                services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=reviewer)
                clock.tick(4)
            reason = {
                "device_certification": "SRRC 型号核准证书已过期，请提供更新后的证书",
                "amac_registration": "登记编号与中基协公示信息不一致，请核对",
            }.get(first.requirement.code, "材料不清晰，请重新提供")
            services.evidence_item_decide(
                item=first, decision=EvidenceDecision.NEEDS_REVISION, reason=reason, by=reviewer
            )
            clock.tick(10)
            services.partner_request_info(partner=partner, by=reviewer, comment="请按标注补充材料后重新提交")
            if case.state == A.NEEDS_INFO:
                return partner
            clock.tick(60 * 48)
            services.evidence_item_record(
                partner=partner,
                requirement=first.requirement,
                reference=reference(rng, first.requirement.code, self.icp[case.branch]) + "（已更新）",
                by=rm,
            )
            clock.tick(30)
            services.partner_resubmit(partner=partner, by=rm, comment="已按要求补件")
            return partner

        required = list(evidence_items(partner=partner).filter(requirement__is_required=True))
        if case.state == A.UNDER_REVIEW:
            services.evidence_item_decide(item=required[0], decision=EvidenceDecision.ACCEPTED, by=reviewer)
            return partner
        for item in required:
            services.evidence_item_decide(item=item, decision=EvidenceDecision.ACCEPTED, by=reviewer)
            clock.tick(5)
        if case.state == A.REJECTED:
            clock.tick(60 * 24)
            services.partner_reject(
                partner=partner, by=reviewer, comment="直播带货业务涉及高风险类目，且近一年存在行政处罚，不予准入"
            )
            return partner

        clock.tick(60 * 20)
        services.partner_approve(partner=partner, by=reviewer, comment="审核通过")
        if partner.state == A.PENDING_HEAD_OFFICE:
            if case.state == A.PENDING_HEAD_OFFICE:
                return partner
            clock.tick(60 * 26)
            services.partner_approve_head_office(partner=partner, by=self.hq_admin, comment="总行复核同意")
        if case.state == A.APPROVED:
            return partner

        if case.state == A.CONTRACTED:
            clock.tick(60 * 72)
        else:
            clock.at(datetime(2025, 12, 18, 10, 0, tzinfo=SHANGHAI) + timedelta(minutes=17 * len(partner.legal_name)))
        services.partner_contract(partner=partner, by=rm, comment="合作协议已签署")
        if case.state == A.CONTRACTED:
            return partner

        clock.at(GO_LIVE)
        services.partner_activate(partner=partner, by=rm, comment="2026年1月1日起正式上线")
        if case.tier:
            clock.at(datetime(2026, 7, 1, 10, 0, tzinfo=SHANGHAI))
            services.partner_tier_change(partner=partner, tier=case.tier, by=rm, reason="2026年上半年业绩评定")
        if case.state == A.SUSPENDED:
            clock.at(datetime(2026, 7, 1, 0, 0, tzinfo=SHANGHAI))
            services.partner_suspend(partner=partner, by=rm, comment="对账数据连续两月异常，暂停合作待核查")
        elif case.state == A.TERMINATED:
            clock.at(datetime(2026, 9, 1, 0, 0, tzinfo=SHANGHAI))
            services.partner_terminate(partner=partner, by=rm, comment="平台业务转型，双方协商终止合作")
        return partner
