"""Browser tests: Debian's Chromium (``browser``), and the product's tasks run in-process whatever broker is
configured (no worker serves them)."""

from __future__ import annotations

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture
def browser(monkeypatch):
    """Chromium, started after the test's data: Playwright's sync API runs an event loop in this thread,
    and Django refuses database calls next to a running loop unless told it is safe (it is: the live
    server answers from its own threads, the test's own queries are plain synchronous ones)."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _tasks_in_process():
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
