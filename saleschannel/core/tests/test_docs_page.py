"""The Swagger UI page /api/docs/: only local assets, and it works offline in a real browser."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client

from saleschannel.accounts.services import api_user_create
from saleschannel.channels.tests.factories import ChannelFactory
from saleschannel.customers.tests.factories import CustomerFactory

from .browser import ARTIFACTS, TIMEOUT_MS, open_offline_page, sync_playwright_or_skip
from .test_openapi import SPEC, SPEC_OPERATIONS

LIST_PATH = "/api/v1/channel/{channel_id}/customers/"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class AssetLinks(HTMLParser):
    """Collects every `<script src>` and `<link href>` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.urls.append(attributes["src"])
        if tag == "link" and attributes.get("href"):
            self.urls.append(attributes["href"])


def docs_page() -> tuple[str, list[str]]:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    parser = AssetLinks()
    parser.feed(html)
    return html, parser.urls


def body_of(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


# --- (a) without a browser ---------------------------------------------------------------------


def test_docs_page_loads_scripts_and_styles_only_from_local_paths():
    _, urls = docs_page()

    assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
    assert any(url.endswith("swagger-ui.css") for url in urls)
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", ""), url
        assert url.startswith("/static/"), url


def test_every_asset_of_the_docs_page_is_served_with_its_content_type():
    _, urls = docs_page()
    expected = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    client = Client()

    assert urls
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert expected[Path(urlsplit(url).path).suffix] in response["Content-Type"], url
        assert len(body_of(response)) > 0, url


def test_docs_page_loads_the_schema_from_a_local_url_that_answers_json():
    html, _ = docs_page()
    match = re.search(r'\burl:\s*"([^"]+)"', html)

    assert match is not None
    schema_url = match.group(1)
    assert urlsplit(schema_url).netloc == ""
    response = Client().get(schema_url)
    assert response.status_code == 200
    assert json.loads(response.content)["paths"].keys() >= {path for path, _ in SPEC_OPERATIONS}


# --- (b) in a real headless browser ------------------------------------------------------------


@pytest.fixture
def sync_playwright():
    return sync_playwright_or_skip()


def wait_for_operations(page, count: int) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('.opblock').length >= {count}", timeout=TIMEOUT_MS
    )


def test_swagger_ui_renders_offline_and_try_it_out_lists_the_channel_customers(
    live_server, sync_playwright
):
    channel = ChannelFactory()
    customer = CustomerFactory(channel=channel, email="docs.page.person@example.com")
    _, key = api_user_create(username="docs-admin", password="a-password-1", superuser=True)
    spec_operations = {
        (method.upper(), path, SPEC["paths"][path][method]["summary"])
        for path, method in SPEC_OPERATIONS
    }
    blocked: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "docs-page.png"

    # No ORM call from here on: Playwright's sync API runs an event loop in this thread.
    with sync_playwright() as playwright:
        browser, page = open_offline_page(playwright, blocked, LOCAL_HOSTS)
        try:
            page.goto(live_server.url + "/api/docs/")
            wait_for_operations(page, len(spec_operations))
            shown = {
                (
                    block.locator(".opblock-summary-method").inner_text().strip(),
                    block.locator(".opblock-summary-path").get_attribute("data-path"),
                    block.locator(".opblock-summary-description").inner_text().strip(),
                )
                for block in page.locator(".opblock").all()
            }

            page.locator(".auth-wrapper button.authorize").click()
            dialog = page.locator(".auth-container").filter(has_text="Token")
            dialog.locator("input").fill(f"Token {key}")
            dialog.locator("button.authorize").click()
            page.locator(".auth-btn-wrapper button.btn-done").click()

            operation = page.locator(".opblock-get").filter(
                has=page.locator(f'.opblock-summary-path[data-path="{LIST_PATH}"]')
            )
            operation.locator(".opblock-summary").first.click()
            try_it_out = operation.locator("button.try-out__btn")
            if try_it_out.inner_text().strip() == "Try it out":
                try_it_out.click()
            operation.locator('tr[data-param-name="channel_id"] input').fill(str(channel.pk))
            operation.locator("button.execute").click()
            live = operation.locator(".live-responses-table .response")
            live.first.wait_for()
            status = live.first.locator(".response-col_status").inner_text().strip()
            body = live.first.locator(".response-col_description pre").first.inner_text()
            sent_url = operation.locator(".request-url pre").inner_text().strip()
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert spec_operations <= shown
    sent = urlsplit(sent_url)
    assert f"{sent.scheme}://{sent.netloc}" == live_server.url
    assert sent.path == LIST_PATH.format(channel_id=channel.pk)
    assert status == "200"
    rows = json.loads(body)
    assert [(row["pk"], row["email"]) for row in rows] == [(customer.pk, customer.email)]
    assert blocked == []
    assert screenshot.stat().st_size > 10_000


def test_swagger_ui_on_a_public_host_name_requests_nothing_from_other_hosts(
    live_server, settings, sync_playwright
):
    """Swagger UI turns some online features (its validator badge) off only on localhost and
    127.0.0.1: served under a real host name the page must still request nothing elsewhere."""
    host = "docs.example.test"
    port = urlsplit(live_server.url).port
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    blocked: list[str] = []

    with sync_playwright() as playwright:
        browser, page = open_offline_page(
            playwright, blocked, {host}, [f"--host-resolver-rules=MAP {host} 127.0.0.1"]
        )
        try:
            page.goto(f"http://{host}:{port}/api/docs/")
            wait_for_operations(page, len(SPEC_OPERATIONS))
            page.wait_for_load_state("networkidle")
            title = page.locator(".information-container .title").inner_text()
        finally:
            browser.close()

    assert title.startswith(settings.SPECTACULAR_SETTINGS["TITLE"])
    assert blocked == []
