"""What the ledger's long commands print: one language (Chinese by default, English on request), progress lines."""

from __future__ import annotations

import pytest

from onboarding.models import Partner
from revenue.ledger.models import Product
from tests.console import assert_one_language, command_line
from tests.revenue.ledger.test_commands import demo_partners  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("demo_partners")


@pytest.fixture(autouse=True)
def _product_language(settings):
    settings.LANGUAGE_CODE = "zh-hans"  # the product's default (the revenue tests' fixture sets English)


def data_names() -> list[str]:
    return [*Partner.objects.values_list("legal_name", flat=True), *Product.objects.values_list("name", flat=True)]


def test_generating_and_booking_a_file_speak_chinese_by_default_and_print_progress_lines(tmp_path, monkeypatch, capsys):
    path = tmp_path / "october.csv"
    args = ("generate_transactions", "--month", "2026-10", "--count", "3000", "--out", str(path))
    out, err, code = command_line(monkeypatch, capsys, *args, env={"LANG": "C.UTF-8"})
    assert code == 0 and not err
    assert_one_language(out, "zh-hans", data=data_names())
    # Off a terminal: a plain line every 10 % of the rows (written in thousands here), then the result.
    progress = [line for line in out.splitlines() if line.startswith("写入中：")]
    assert progress == ["写入中： 33%  1000/3000", "写入中： 66%  2000/3000", "写入中：100%  3000/3000"]
    assert "\r" not in out

    # Booked in chunks of 500 rows: a line per chunk that passes another 10 % of the file's bytes.
    monkeypatch.setattr("revenue.ledger.services.ingestion.CHUNK_SIZE", 500)
    out, err, code = command_line(
        monkeypatch, capsys, "ingest_transactions", str(path), "--source", "demo", env={"LANG": "zh_CN.UTF-8"}
    )
    assert code == 0 and not err, err
    assert_one_language(out, "zh-hans", data=data_names())
    progress = [line for line in out.splitlines() if line.startswith("入账中：")]
    assert 5 <= len(progress) <= 7 and progress[-1].startswith("入账中：100%") and progress[-1].endswith(" MB")
    assert "october.csv：收到 3000 行" in out

    # The same file again, refused: one line on stderr, exit code 1, in English when the locale says so.
    out, err, code = command_line(
        monkeypatch, capsys, "ingest_transactions", str(path), "--source", "demo", env={"LANG": "en_US.UTF-8"}
    )
    assert code == 1 and err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert_one_language(out + err, "en", data=data_names())


def test_english_with_lang_en_and_nothing_but_the_result_at_verbosity_zero(tmp_path, monkeypatch, capsys):
    args = ("generate_transactions", "--month", "2026-10", "--count", "1200", "--lang", "en")
    out, err, code = command_line(monkeypatch, capsys, *args, env={"LANG": "zh_CN.UTF-8"})
    assert code == 0 and not err
    assert_one_language(out, "en", data=data_names())
    assert "Booking: 100%  1200/1200" in out and "2026-10: 1200 rows" in out

    path = tmp_path / "november.csv"
    args = ("generate_transactions", "--month", "2026-11", "--count", "2000", "--out", str(path), "-v", "0")
    out, err, code = command_line(monkeypatch, capsys, *args, env={"LANG": "C.UTF-8"})
    assert code == 0 and out.splitlines() == [out.strip()] and "2000" in out and "%" not in out
