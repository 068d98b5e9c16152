"""Unified social credit code (统一社会信用代码) validation, GB 32100-2015.

A code is five parts, each checked and named when wrong::

    9 1 440300 19218537 9 H
    │ │ │      └ organisation code (GB 11714: eight characters and its own check character)
    │ │ └ division code of the registering office (six digits, GB/T 2260)
    │ └ entity type, within what that authority registers
    └ registration authority

and the check character over the seventeen before it. python-stdnum is the
engine for the length, the alphabet, the leading digits and the check
character; the authority/type pairs and the organisation code's own check
are added here, so a code accepted here is always accepted by stdnum.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc as stdnum_uscc

# The 31 characters of the code; I, O, S, V and Z are never used.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# GB 32100-2015, appendix A: each registration authority and the entity types it registers (9 = other).
# The standard also lists A (military), N (agricultural collectives) and Y (other); stdnum refuses any letter
# in the first eight places, and none of those bodies can be a partner of the alliance.
USCC_ENTITY_TYPES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 编办直管的群众团体
    "2": "19",  # 外交: 外国常驻新闻机构
    "3": "123459",  # 司法行政: 律师事务所, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会
    "4": "19",  # 文化: 外国在华文化中心
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会
    "6": "129",  # 旅游: 外国及港澳台旅游部门常驻代表机构
    "7": "129",  # 宗教: 宗教活动场所, 宗教院校
    "8": "19",  # 工会: 基层工会
    "9": "123",  # 市场监管(工商): 企业, 个体工商户, 农民专业合作社
}

# GB 11714-1997: weights of the organisation code's eight characters; a letter counts 10 (A) to 35 (Z).
ORGANISATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def uscc_check_character(first17: str) -> str:
    """The GB 32100-2015 check character of a code's first seventeen characters."""
    return stdnum_uscc.calc_check_digit(first17)


def organisation_code_check_character(first8: str) -> str:
    """The GB 11714-1997 check character of an organisation code's first eight characters (0-9 or X)."""
    total = sum(int(ch, 36) * w for ch, w in zip(first8, ORGANISATION_CODE_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def uscc_build(*, authority: str = "9", entity_type: str = "1", division: str, organisation: str) -> str:
    """A valid code from its parts: ``organisation`` is the eight characters before the organisation check."""
    body = authority + entity_type + division + organisation
    body += organisation_code_check_character(organisation)
    return body + uscc_check_character(body)


def is_valid_uscc(code: str) -> bool:
    try:
        validate_uscc(code)
    except ValidationError:
        return False
    return True


def validate_uscc(code: str) -> None:
    """Refuse a code that is not a GB 32100-2015 code, saying which part is wrong.

    The code is taken as given: callers strip and upper-case it first.
    """
    if len(code) != 18:
        raise ValidationError(
            _("A unified social credit code has 18 characters; %(code)s has %(n)d."),
            code="uscc_length",
            params={"code": code, "n": len(code)},
        )
    bad = sorted({ch for ch in code if ch not in USCC_ALPHABET})
    if bad:
        raise ValidationError(
            _("%(code)s contains characters a unified social credit code cannot have: %(bad)s."),
            code="uscc_characters",
            params={"code": code, "bad": " ".join(bad)},
        )
    authority, entity_type, division, organisation = code[0], code[1], code[2:8], code[8:17]
    if authority not in USCC_ENTITY_TYPES:
        raise ValidationError(
            _("%(code)s: “%(authority)s” (1st character) is not a registration authority of GB 32100-2015."),
            code="uscc_authority",
            params={"code": code, "authority": authority},
        )
    if entity_type not in USCC_ENTITY_TYPES[authority]:
        raise ValidationError(
            _(
                "%(code)s: “%(type)s” (2nd character) is not an entity type registration authority"
                " %(authority)s registers."
            ),
            code="uscc_entity_type",
            params={"code": code, "type": entity_type, "authority": authority},
        )
    if not division.isdigit():
        raise ValidationError(
            _("%(code)s: the division code (characters 3 to 8) “%(division)s” is not six digits."),
            code="uscc_division",
            params={"code": code, "division": division},
        )
    if organisation_code_check_character(organisation[:8]) != organisation[8]:
        raise ValidationError(
            _(
                "%(code)s: the organisation code (characters 9 to 17) “%(organisation)s” fails its"
                " GB 11714 check character."
            ),
            code="uscc_organisation_code",
            params={"code": code, "organisation": organisation},
        )
    try:
        stdnum_uscc.validate(code)
    except stdnum_errors.InvalidChecksum:
        raise ValidationError(
            _("%(code)s fails the GB 32100-2015 check character; please check the code."),
            code="uscc_check",
            params={"code": code},
        ) from None
    except stdnum_errors.ValidationError as exc:  # anything stdnum refuses that the parts above did not name
        raise ValidationError(
            _("%(code)s is not a valid unified social credit code."),
            code="uscc_invalid",
            params={"code": code},
        ) from exc
