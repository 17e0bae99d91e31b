"""A real headless Chromium (Playwright) for browser tests: pages that request nothing from a
host other than the ones a test allows, and a folder for their screenshots."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
TIMEOUT_MS = 20_000


def sync_playwright_or_skip():
    """Playwright's `sync_playwright`, or skip the test if Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}: the browser test cannot run")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the Python playwright package is not installed"
    )
    return sync_api.sync_playwright


def open_offline_page(
    playwright,
    blocked: list[str],
    allowed_hosts: set[str],
    extra_args: Iterable[str] = (),
    **context_options,
):
    """(browser, page): a page that aborts, and appends to `blocked`, every request to a host
    not in `allowed_hosts`. The caller closes the browser."""
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args]
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)

    def only_allowed_hosts(route):
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in allowed_hosts:
            blocked.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", only_allowed_hosts)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return browser, page
