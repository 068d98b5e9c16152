"""Unified social credit code: the GB 32100-2015 check character and refusal of duplicates."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from onboarding import services
from onboarding.models import Partner, PartnerType
from onboarding.validators import USCC_ALPHABET, is_valid_uscc, uscc_check_character, validate_uscc


@pytest.mark.parametrize(
    "code",
    [
        "91440300192185379H",  # the example in the domain brief
        "91110000100017643K",
        "91310000132200821H",
        "91330000142927960N",
    ],
)
def test_valid_codes(code):
    assert is_valid_uscc(code)
    validate_uscc(code)


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("91440300192185379J", "check character"),
        ("91440300192185378H", "a changed digit"),
        ("9144030019218537H", "17 characters"),
        ("91440300192185379HX", "19 characters"),
        ("9144030019218537IH", "I is not in the alphabet"),
        ("91440300192185379h", "lower case"),
    ],
)
def test_invalid_codes(code, why):
    assert not is_valid_uscc(code), why
    with pytest.raises(ValidationError):
        validate_uscc(code)


@given(
    body=st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17),
    position=st.integers(min_value=0, max_value=17),
    replacement=st.sampled_from(USCC_ALPHABET),
)
def test_changing_any_one_character_breaks_the_code(body, position, replacement):
    code = body + uscc_check_character(body)
    assert is_valid_uscc(code)
    mutated = code[:position] + replacement + code[position + 1 :]
    assert is_valid_uscc(mutated) == (mutated == code)


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
