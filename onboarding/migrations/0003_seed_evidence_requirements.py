"""Seed the admission evidence each partner type must provide (the admission policy, as data).

Names are the bank's own wording (Chinese, like branch names); head office can
reword, add or make optional in the admin afterwards.
"""

from django.db import migrations

# (partner_type, code, name, what to provide, required)
REQUIREMENTS = [
    ("internet_platform", "icp_licence", "ICP经营许可证或备案号", "增值电信业务经营许可证编号或ICP备案号，如 粤ICP备12345678号", True),
    ("internet_platform", "data_security_assessment", "数据安全评估", "数据安全评估或网络安全等级测评报告编号及结论", True),
    ("internet_platform", "platform_scale", "平台规模", "入驻商户数、年交易额等规模数据", False),
    ("software_data", "software_copyright", "软件著作权登记", "计算机软件著作权登记号，如 2023SR0123456", True),
    ("software_data", "mlps_certificate", "等保备案证明", "网络安全等级保护备案证明编号及级别，如 第三级", True),
    ("software_data", "data_source_compliance", "数据来源合规声明", "数据来源、授权方式及合规承诺", True),
    ("hardware", "device_certification", "设备认证（CCC/SRRC）", "CCC认证证书编号或SRRC型号核准代码", True),
    ("hardware", "devices_connected", "联网设备数量", "当前接入平台的联网设备台数", True),
    ("supply_chain", "core_enterprise_rating", "核心企业评级", "核心企业主体信用评级及评级机构", True),
    ("supply_chain", "sme_count", "上下游中小企业数量", "上游供应商与下游经销商中小企业户数", True),
    ("supply_chain", "sample_trade_contract", "贸易合同样本", "典型上下游贸易合同编号（可上传样本）", True),
    ("pe_vc", "amac_registration", "基金管理人登记编号", "中国证券投资基金业协会私募基金管理人登记编号，如 P1001234", True),
    ("pe_vc", "aum", "管理资产规模（AUM）", "最近一期管理资产规模（亿元）", True),
]


def seed(apps, schema_editor):
    EvidenceRequirement = apps.get_model("onboarding", "EvidenceRequirement")
    for order, (partner_type, code, name, description, required) in enumerate(REQUIREMENTS, start=1):
        EvidenceRequirement.objects.update_or_create(
            partner_type=partner_type,
            code=code,
            defaults={"name": name, "description": description, "is_required": required, "sort_order": order},
        )


def unseed(apps, schema_editor):
    EvidenceRequirement = apps.get_model("onboarding", "EvidenceRequirement")
    for partner_type, code, *_rest in REQUIREMENTS:
        EvidenceRequirement.objects.filter(partner_type=partner_type, code=code, items__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0002_branch_and_staff_relations"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
