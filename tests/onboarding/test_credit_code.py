"""Unified social credit code: every part of GB 32100-2015 checked, and refusal of duplicates."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from onboarding import services
from onboarding.models import Partner, PartnerType
from onboarding.validators import (
    USCC_ALPHABET,
    USCC_ENTITY_TYPES,
    is_valid_uscc,
    organisation_code_check_character,
    uscc_build,
    uscc_check_character,
    validate_uscc,
)
from tests.factories import make_uscc


@pytest.mark.parametrize(
    "code",
    [
        "91440300192185379H",  # the example in the domain brief
        "91110000100017643K",
        "91310000132200821H",
        "91330000142927960N",
        "9144030071526726XG",  # an organisation code whose check character is X
        "12440600MB2C07549J",  # a public institution (事业单位)
    ],
)
def test_valid_codes(code):
    assert is_valid_uscc(code)
    assert stdnum_uscc.is_valid(code)
    validate_uscc(code)


@pytest.mark.parametrize(
    ("code", "error_code", "part"),
    [
        ("9144030019218537H", "uscc_length", "18 characters"),
        ("91440300192185379HX", "uscc_length", "18 characters"),
        ("9144030019218537IH", "uscc_characters", "cannot have: I"),
        ("91440300192185379h", "uscc_characters", "cannot have: h"),
        (uscc_build(authority="0", division="440300", organisation="19218537"), "uscc_authority", "1st character"),
        (uscc_build(authority="A", division="440300", organisation="19218537"), "uscc_authority", "1st character"),
        (uscc_build(entity_type="9", division="440300", organisation="19218537"), "uscc_entity_type", "2nd character"),
        (uscc_build(entity_type="A", division="440300", organisation="19218537"), "uscc_entity_type", "2nd character"),
        (uscc_build(division="44030A", organisation="19218537"), "uscc_division", "six digits"),
        ("91440300192185378H", "uscc_organisation_code", "GB 11714"),
        ("91440300192185379J", "uscc_check", "GB 32100-2015 check character"),
    ],
)
def test_invalid_codes_name_the_wrong_part(code, error_code, part):
    assert not is_valid_uscc(code)
    assert not (stdnum_uscc.is_valid(code) and error_code in ("uscc_length", "uscc_check"))
    with pytest.raises(ValidationError) as exc:
        validate_uscc(code)
    assert exc.value.code == error_code
    assert part in exc.value.messages[0]


def test_the_messages_are_in_chinese_too():
    from django.utils import translation

    with pytest.raises(ValidationError) as exc:
        validate_uscc("91440300192185379J")
    with translation.override("zh-hans"):
        assert "校验码" in exc.value.messages[0]


def test_random_bodies_with_the_right_check_character_are_refused_as_stdnum_refuses_them():
    """A random body given the right check character is almost never a structurally possible code."""
    rng = random.Random(18)
    bodies = ["".join(rng.choice(USCC_ALPHABET) for _ in range(17)) for _ in range(20_000)]
    codes = [body + uscc_check_character(body) for body in bodies]
    accepted = [code for code in codes if is_valid_uscc(code)]
    assert all(stdnum_uscc.is_valid(code) for code in accepted)
    assert len(accepted) < 10  # stdnum alone keeps about 1 in 8,500 (eight leading digits); the parts fewer


def _organisation_codes():
    return st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8)


@st.composite
def valid_codes(draw):
    authority = draw(st.sampled_from(sorted(USCC_ENTITY_TYPES)))
    return uscc_build(
        authority=authority,
        entity_type=draw(st.sampled_from(USCC_ENTITY_TYPES[authority])),
        division=draw(st.text(alphabet="0123456789", min_size=6, max_size=6)),
        organisation=draw(_organisation_codes()),
    )


@given(code=valid_codes())
def test_codes_built_from_valid_parts_pass_here_and_in_stdnum(code):
    assert is_valid_uscc(code)
    assert stdnum_uscc.is_valid(code)


@given(seed=st.integers(min_value=0, max_value=10**8 - 1))
def test_the_factories_make_valid_codes(seed):
    assert is_valid_uscc(make_uscc(seed))


@given(
    code=valid_codes(),
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from(USCC_ALPHABET),
)
def test_changing_any_one_character_breaks_the_code(code, position, replacement):
    mutated = code[:position] + replacement + code[position + 1 :]
    assert is_valid_uscc(mutated) == (mutated == code)


def _structure_is_possible(code: str) -> bool:
    """What GB 32100-2015 asks beyond stdnum: the authority/type pair and the organisation code's own check."""
    return code[1] in USCC_ENTITY_TYPES.get(code[0], "") and code[16] == organisation_code_check_character(code[8:16])


@given(
    code=st.one_of(
        st.text(alphabet=USCC_ALPHABET, min_size=18, max_size=18),
        st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17).map(lambda b: b + uscc_check_character(b)),
        valid_codes(),
        st.text(alphabet=USCC_ALPHABET + "IOSVZa -", min_size=0, max_size=20),
    )
)
def test_validate_uscc_agrees_with_stdnum(code):
    ours = is_valid_uscc(code)
    if ours:
        assert stdnum_uscc.is_valid(code)  # never more lenient than stdnum
    if len(code) == 18 and set(code) <= set(USCC_ALPHABET):
        assert ours == (stdnum_uscc.is_valid(code) and _structure_is_possible(code))
    else:
        assert not ours


def _create(rm, code):
    return services.partner_create(
        by=rm,
        partner_type=PartnerType.HARDWARE,
        legal_name="深圳市智联装备有限公司",
        credit_code=code,
        legal_representative="陈七",
    )


def test_create_refuses_an_invalid_code_and_writes_nothing(rm_a):
    with pytest.raises(ValidationError) as exc:
        _create(rm_a, "91440300192185379J")
    assert "credit_code" in exc.value.message_dict
    assert "GB 32100-2015" in exc.value.message_dict["credit_code"][0]
    assert not Partner.objects.exists()


def test_create_refuses_a_duplicate_code_with_a_clear_message(rm_a, rm_b):
    _create(rm_a, "91440300192185379H")
    with pytest.raises(ValidationError) as exc:
        _create(rm_b, "91440300192185379h ")  # same code, typed in lower case with a trailing space
    assert exc.value.message_dict["credit_code"] == ["A partner with this unified social credit code already exists."]
    assert Partner.objects.count() == 1
