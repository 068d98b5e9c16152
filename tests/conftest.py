"""Shared fixtures: persona users for permission tests and a real Celery worker.

Personas (every permission test has someone who must be refused):
head office admin, RM and reviewer of branch A, RM of branch B, finance,
and a partner user each for partner X (branch A) and partner Y (branch B).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache

from organisation.roles import Role
from tests.factories import BranchFactory, PartnerFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_guards():
    """Transactional tests empty the database after each test (TRUNCATE, or DELETE on SQLite), which the
    guard triggers refuse to anyone else: the flush, and only it, runs with the guards suspended."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    from core.migrations_sql import guards_suspended

    flush = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with guards_suspended(self.connection.alias):
            flush(self, sql_list)

    with mock.patch.object(BaseDatabaseOperations, "execute_sql_flush", execute_sql_flush):
        yield


@pytest.fixture(autouse=True)
def _payments_source_registered(request):
    """Tests that use the database book as the registered source system ``payments`` unless they say otherwise."""
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names:
        request.getfixturevalue("db")
    else:
        return
    from revenue.ledger.models import SourceSystem

    SourceSystem.objects.get_or_create(code="payments", defaults={"name": "支付系统"})


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture(autouse=True)
def _no_sign_in_counts_between_tests():
    # Failed sign-ins are counted in the cache (django-axes): no test inherits another's counts or locks.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def head_office_branch(db):
    return BranchFactory(code="HQ", name="总行", is_head_office=True)


@pytest.fixture
def branch_a(db):
    return BranchFactory(code="SZ", name="深圳分行")


@pytest.fixture
def branch_b(db):
    return BranchFactory(code="HZ", name="杭州分行")


@pytest.fixture
def head_office(head_office_branch):
    return UserFactory(
        username="hq_admin", display_name="总行管理员", branch=head_office_branch, roles=[Role.HEAD_OFFICE_ADMIN]
    )


@pytest.fixture
def finance(head_office_branch):
    return UserFactory(username="finance", display_name="财务", branch=head_office_branch, roles=[Role.FINANCE])


@pytest.fixture
def rm_a(branch_a):
    return UserFactory(username="rm_a", display_name="深圳客户经理", branch=branch_a, roles=[Role.BRANCH_RM])


@pytest.fixture
def rm_b(branch_b):
    return UserFactory(username="rm_b", display_name="杭州客户经理", branch=branch_b, roles=[Role.BRANCH_RM])


@pytest.fixture
def reviewer_a(branch_a):
    return UserFactory(username="reviewer_a", display_name="深圳审核员", branch=branch_a, roles=[Role.RISK_REVIEWER])


@pytest.fixture
def partner_x(rm_a):
    return PartnerFactory(legal_name="深圳云账房科技有限公司", branch=rm_a.branch, relationship_manager=rm_a)


@pytest.fixture
def partner_y(rm_b):
    return PartnerFactory(legal_name="杭州物联设备有限公司", branch=rm_b.branch, relationship_manager=rm_b)


@pytest.fixture
def partner_user_x(partner_x):
    return UserFactory(username="partner_x", is_staff=False, partner=partner_x, roles=[Role.PARTNER_USER])


@pytest.fixture
def partner_user_y(partner_y):
    return UserFactory(username="partner_y", is_staff=False, partner=partner_y, roles=[Role.PARTNER_USER])


def _uses_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real ``celery worker`` process on the configured broker, bound to the test database.

    With no broker configured (the embedded default) tasks run eagerly
    in-process and this fixture yields ``None``. Tests that use it must commit
    their data (``transaction=True``) so that the worker sees it.
    """
    if settings.CELERY_TASK_ALWAYS_EAGER:
        yield None
        return
    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    if db["ENGINE"] == "django.db.backends.postgresql":
        user = db.get("USER") or ""
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        env["DATABASE_URL"] = f"postgres://{user}@{host}:{port}/{db['NAME']}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    log = open(ROOT / ".celery-test-worker.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "-n",
            "test@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early; see {log.name}")
        try:
            if app.control.ping(timeout=1.0):
                break
        except Exception:
            time.sleep(0.5)
    else:
        proc.terminate()
        raise RuntimeError("celery worker did not answer a ping within 60 s")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


# Business rules read the date from core.clock: every test runs on this day (Beijing) unless it sets its own,
# so no test depends on the real date (dispute deadlines of the 2026 settlements the tests close).
FIXED_NOW = "2026-11-15T10:00:00+08:00"


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch):
    import datetime as dt

    from core import clock

    fixed = dt.datetime.fromisoformat(FIXED_NOW)
    monkeypatch.setattr(clock, "now", lambda: fixed)
    return fixed
