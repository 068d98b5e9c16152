"""manage.py backup and restore: a round trip into a fresh database, refusals that change nothing, retention.

The round trip restores in another process, as an operator would, into a database created for the test
(PostgreSQL: ``CREATE DATABASE``; SQLite: a new file), with media folders of its own, then compares the
row counts of every table, a settlement's totals and the statement's and evidence document's digests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from onboarding import services as onboarding_services
from onboarding.models import EvidenceRequirement
from revenue.settlement.choices import SettlementState
from revenue.statements.models import Statement
from revenue.statements.services import statement_generate
from tests.revenue.factories import ProductFactory
from tests.revenue.statements.factories import LineSpec, make_settlement

ROOT = Path(__file__).resolve().parents[2]
D = Decimal
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n"
TOTALS = ("bank_revenue", "share_total", "adjustment_total", "net", "vat", "payable")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def backup_root(settings, tmp_path):
    settings.BACKUP_ROOT = tmp_path / "backups"
    return settings.BACKUP_ROOT


@pytest.fixture
def closed_month(partner_x, rm_a):
    """A closed settlement of partner X with its issued statement, and an evidence document of X."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    # Seeded by a migration, so gone after an earlier transactional test's flush: made again if so.
    requirement, _ = EvidenceRequirement.objects.get_or_create(
        partner_type=partner_x.partner_type, code="software_copyright", defaults={"name": "软件著作权登记证书"}
    )
    item = onboarding_services.evidence_item_record(
        partner=partner_x,
        requirement=requirement,
        reference="2023SR0123456",
        document=SimpleUploadedFile("软著登记证书.pdf", PDF, content_type="application/pdf"),
        by=rm_a,
    )
    product = ProductFactory(code="PAY_SETTLE")
    settlement = make_settlement(
        partner_x,
        "2026-10",
        lines=[LineSpec(product, D("1000.00"), D("0.30"), count=120)],
        state=SettlementState.CLOSED,
    )
    statement = statement_generate(settlement=settlement)
    return settlement, statement, item


def _row_counts_here() -> dict[str, int]:
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


class FreshDatabase:
    """A database of its own for the restore: its URL for the other process, and reads of its rows."""

    def __init__(self, tmp_path: Path):
        self.vendor = connection.vendor
        if self.vendor == "postgresql":
            import psycopg

            config = connection.settings_dict
            self.name = f"{config['NAME']}_restore_{uuid.uuid4().hex[:8]}"
            self.params = {
                k: v
                for k, v in {
                    "user": config.get("USER"),
                    "password": config.get("PASSWORD"),
                    "host": config.get("HOST"),
                    "port": config.get("PORT"),
                }.items()
                if v
            }
            with psycopg.connect(dbname=config["NAME"], autocommit=True, **self.params) as admin:
                admin.execute(f'CREATE DATABASE "{self.name}"')
            credentials = config.get("USER", "") + (f":{config['PASSWORD']}" if config.get("PASSWORD") else "")
            host = f"{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}"
            self.url = f"postgres://{credentials}@{host}/{self.name}"
        else:
            self.path = tmp_path / "restored.sqlite3"
            self.url = f"sqlite:///{self.path}"

    def query(self, sql: str, params=()) -> list[tuple]:
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(dbname=self.name, **self.params) as conn:
                return conn.execute(sql.replace("?", "%s"), params).fetchall()
        with sqlite3.connect(self.path) as conn:
            rows = conn.execute(sql, params).fetchall()
        conn.close()
        return rows

    def tables(self) -> list[str]:
        if self.vendor == "postgresql":
            rows = self.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        elif not self.path.exists():
            return []
        else:
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        return sorted(name for (name,) in rows)

    def row_counts(self) -> dict[str, int]:
        return {table: self.query(f'SELECT COUNT(*) FROM "{table}"')[0][0] for table in self.tables()}

    def drop(self) -> None:
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(dbname=connection.settings_dict["NAME"], autocommit=True, **self.params) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture
def fresh_database(tmp_path):
    database = FreshDatabase(tmp_path)
    yield database
    database.drop()


def restore_elsewhere(backup: Path, database: FreshDatabase, tmp_path: Path, *extra: str):
    """``manage.py restore`` in another process, on the fresh database and media folders of its own."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_"))}
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database.url,
        "DJANGO_MEDIA_ROOT": str(tmp_path / "restored-media"),
        "DJANGO_PRIVATE_MEDIA_ROOT": str(tmp_path / "restored-private"),
        "BACKUP_ROOT": str(tmp_path / "restored-backups"),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "restore", str(backup), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def the_backup(backup_root: Path) -> Path:
    [backup] = [p for p in backup_root.iterdir() if p.name.startswith("backup-")]
    return backup


@pytest.mark.django_db(transaction=True)
def test_backup_and_restore_into_a_fresh_database_bring_back_every_row_and_file(
    closed_month, backup_root, fresh_database, tmp_path, capsys
):
    settlement, statement, item = closed_month
    call_command("backup")
    backup = the_backup(backup_root)
    assert str(backup) in capsys.readouterr().out
    manifest = json.loads((backup / "manifest.json").read_text())
    counts_here = _row_counts_here()
    assert manifest["row_counts"] == counts_here
    assert manifest["row_counts"]["statements_statement"] == 1
    assert manifest["database"]["sha256"] == sha256(backup / manifest["database"]["file"])
    assert f"{connection.vendor}" == manifest["database"]["vendor"]
    assert "settlement.0001_initial" in manifest["database"]["migrations"]
    by_name = {(f["storage"], f["name"]): f for f in manifest["files"]}
    assert by_name[("default", statement.pdf.name)]["sha256"] == statement.sha256
    assert by_name[("private", item.document.name)]["sha256"] == hashlib.sha256(PDF).hexdigest()
    for entry in manifest["files"]:
        assert sha256(backup / entry["path"]) == entry["sha256"]

    result = restore_elsewhere(backup, fresh_database, tmp_path)
    assert result.returncode == 0, result.stderr
    assert str(backup) in result.stdout

    assert fresh_database.row_counts() == counts_here
    columns = ", ".join(TOTALS)
    [restored] = fresh_database.query(f"SELECT {columns} FROM settlement_settlement WHERE id = ?", (settlement.pk,))
    assert [D(str(v)) for v in restored] == [getattr(settlement, name) for name in TOTALS]
    [(digest,)] = fresh_database.query("SELECT sha256 FROM statements_statement WHERE id = ?", (statement.pk,))
    assert digest == statement.sha256
    assert sha256(tmp_path / "restored-media" / statement.pdf.name) == statement.sha256
    assert (tmp_path / "restored-private" / item.document.name).read_bytes() == PDF


@pytest.mark.django_db(transaction=True)
def test_a_tampered_file_makes_restore_refuse_and_change_nothing(closed_month, backup_root, fresh_database, tmp_path):
    _settlement, statement, _item = closed_month
    call_command("backup")
    backup = the_backup(backup_root)
    copied = backup / "files" / "default" / statement.pdf.name
    copied.write_bytes(copied.read_bytes().replace(b"%%EOF", b"%%EOX"))

    result = restore_elsewhere(backup, fresh_database, tmp_path)
    assert result.returncode != 0
    # The message is in the product's language (zh-hans); it names the file.
    assert f"files/default/{statement.pdf.name}" in result.stderr
    assert fresh_database.tables() == []
    assert not (tmp_path / "restored-media").exists() or not any((tmp_path / "restored-media").rglob("*.pdf"))


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_database_that_has_tables(closed_month, backup_root, settings):
    settings.LANGUAGE_CODE = "en"
    call_command("backup")
    before = _row_counts_here()
    with pytest.raises(CommandError, match=r"the database already has [0-9]+ tables"):
        call_command("restore", str(the_backup(backup_root)))
    assert _row_counts_here() == before


@pytest.mark.django_db(transaction=True)
def test_restore_with_replace_brings_a_database_back_to_the_backup(closed_month, backup_root, settings):
    from revenue.ledger.models import Product

    call_command("backup")
    manifest = json.loads((the_backup(backup_root) / "manifest.json").read_text())
    ProductFactory(code="ADDED_AFTER_THE_BACKUP")
    statement_file = Path(settings.MEDIA_ROOT) / closed_month[1].pdf.name
    statement_file.write_bytes(b"damaged")

    call_command("restore", str(the_backup(backup_root)), "--replace")
    assert not Product.objects.filter(code="ADDED_AFTER_THE_BACKUP").exists()
    assert _row_counts_here() == manifest["row_counts"]
    assert sha256(statement_file) == closed_month[1].sha256


@pytest.mark.django_db
def test_restore_refuses_a_folder_without_a_manifest(tmp_path, settings):
    settings.LANGUAGE_CODE = "en"
    with pytest.raises(CommandError, match=r"has no readable manifest\.json"):
        call_command("restore", str(tmp_path))


# ---- retention -------------------------------------------------------------------------------------------


def _fake_set(root: Path, created: dt.datetime) -> Path:
    folder = root / f"backup-{created:%Y%m%dT%H%M%SZ}"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"format": 1, "created_at": created.isoformat()}))
    return folder


@pytest.mark.django_db(transaction=True)
def test_prune_deletes_sets_older_than_the_retention_but_never_the_newest_nor_a_statement(
    closed_month, backup_root, settings
):
    _settlement, statement, _item = closed_month
    settings.BACKUP_RETENTION_DAYS = 30
    now = dt.datetime.now(dt.UTC)
    old = _fake_set(backup_root, now - dt.timedelta(days=90))
    older = _fake_set(backup_root, now - dt.timedelta(days=60))
    newest_but_old = _fake_set(backup_root, now - dt.timedelta(days=45))
    unrelated = backup_root / "notes"
    unrelated.mkdir()

    call_command("backup", "--prune-only")
    assert not old.exists() and not older.exists()
    assert newest_but_old.exists(), "the newest set is kept whatever its age"
    assert unrelated.exists()

    recent = _fake_set(backup_root, now - dt.timedelta(days=1))
    call_command("backup", "--prune")
    assert not newest_but_old.exists()
    assert recent.exists()
    assert len([p for p in backup_root.iterdir() if p.name.startswith("backup-")]) == 2
    assert Statement.objects.filter(pk=statement.pk).exists()
    assert sha256(Path(settings.MEDIA_ROOT) / statement.pdf.name) == statement.sha256


@pytest.mark.django_db
def test_a_backup_root_inside_a_media_folder_is_refused(settings):
    settings.LANGUAGE_CODE = "en"
    settings.BACKUP_ROOT = Path(settings.MEDIA_ROOT) / "backups"
    with pytest.raises(CommandError, match="must be outside the media folders"):
        call_command("backup", "--prune-only")
    with pytest.raises(CommandError, match="must be outside the media folders"):
        call_command("backup")


@pytest.mark.django_db
def test_a_backup_inside_a_transaction_is_refused_and_leaves_nothing(backup_root, settings):
    settings.LANGUAGE_CODE = "en"
    with pytest.raises(CommandError, match="outside a database transaction"):
        call_command("backup")  # the test's own transaction is open
    assert not backup_root.exists() or not any(backup_root.iterdir())
