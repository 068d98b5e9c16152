"""core.pdf building blocks: literal text, number formatting, the font file check."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.pdf import (
    BoldParagraph,
    FontMissingError,
    TextParagraph,
    bilingual,
    format_count,
    format_money,
    format_percent,
    paragraph,
    register_fonts,
    safe_text,
)
from core.pdf import fonts as pdf_fonts


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<b>Evil</b> & Co", "&lt;b&gt;Evil&lt;/b&gt; &amp; Co"),
        ("&amp;&#60;&nbsp;", "&amp;amp;&amp;#60;&amp;nbsp;"),
        ("<img src='/etc/passwd'/>", "&lt;img src='/etc/passwd'/&gt;"),
        ("深圳\x00分行\x1b\x7f", "深圳分行"),
        ("一\n二\t三", "一\n二\t三"),
        (None, ""),
        (12, "12"),
    ],
)
def test_safe_text(raw, escaped):
    assert safe_text(raw) == escaped


def test_paragraph_text_is_the_literal_input():
    # What reportlab's parser makes of the markup is exactly the input text.
    para = paragraph("<font size=40>大</font> & <b>b</b>")
    assert "".join(frag.text for frag in para.frags) == "<font size=40>大</font> & <b>b</b>"
    assert {frag.fontSize for frag in para.frags} == {9}


def test_bilingual_label_and_bold():
    label = bilingual("结算金额", "<Amount>", bold=True)
    assert isinstance(label, BoldParagraph)
    by_size: dict[float, str] = {}
    for frag in label.frags:
        by_size[frag.fontSize] = by_size.get(frag.fontSize, "") + frag.text
    assert by_size == {8: "结算金额", 6.4: "<Amount>"}  # English smaller, beneath
    assert type(bilingual("分行", "")) is TextParagraph
    assert [frag.text for frag in bilingual("分行", "").frags] == ["分行"]


@pytest.mark.parametrize(
    ("amount", "kwargs", "printed"),
    [
        (Decimal("1234.5"), {}, "1,234.50"),
        (Decimal("-1234567.89"), {}, "-1,234,567.89"),
        (Decimal("0"), {}, "0.00"),
        (Decimal("-0.00"), {}, "0.00"),
        (Decimal("12.3400"), {}, "12.34"),
        (Decimal("9999999999999999.99"), {}, "9,999,999,999,999,999.99"),
        (Decimal("-5.10"), {"symbol": "¥"}, "-¥5.10"),
    ],
)
def test_format_money(amount, kwargs, printed):
    assert format_money(amount, **kwargs) == printed


def test_format_money_refuses_float_and_unrounded_amounts():
    with pytest.raises(TypeError):
        format_money(1234.5)
    with pytest.raises(TypeError):
        format_money(12)
    with pytest.raises(ValueError, match="round_money"):
        format_money(Decimal("1.005"))
    with pytest.raises(ValueError):
        format_money(Decimal("NaN"))


@pytest.mark.parametrize(
    ("ratio", "places", "printed"),
    [
        (Decimal("0.125"), 2, "12.50%"),
        (Decimal("0.12345"), 2, "12.35%"),  # half away from zero, not half to even
        (Decimal("-0.12345"), 2, "-12.35%"),
        (Decimal("-0.00001"), 2, "0.00%"),
        (Decimal("12.5"), 0, "1,250%"),
        (Decimal("1"), 1, "100.0%"),
    ],
)
def test_format_percent(ratio, places, printed):
    assert format_percent(ratio, places=places) == printed


def test_format_count():
    assert format_count(1234567) == "1,234,567"
    assert format_count(-5) == "-5"
    with pytest.raises(TypeError):
        format_count(True)
    with pytest.raises(TypeError):
        format_count(Decimal(1))


def test_missing_font_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_fonts, "FONT_NAME", "UnregisteredTestFont")
    monkeypatch.setattr(pdf_fonts, "FONT_PATH", tmp_path / "absent.ttc")
    with pytest.raises(FontMissingError, match=r"absent\.ttc is missing"):
        register_fonts()
    pointer = tmp_path / "pointer.ttc"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\n")
    monkeypatch.setattr(pdf_fonts, "FONT_PATH", pointer)
    with pytest.raises(FontMissingError, match="not a TrueType font"):
        register_fonts()


def test_register_fonts_is_idempotent():
    assert register_fonts() == register_fonts() == pdf_fonts.FONT_NAME
