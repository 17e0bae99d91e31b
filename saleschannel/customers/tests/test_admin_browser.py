"""A real headless Chromium against the live server: log in through the admin's login form,
search the customer changelist by email, open the customer, edit and save it; the page is styled
(the admin CSS loaded) and no request leaves for a host other than the live server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from saleschannel.customers.tests.factories import CustomerFactory

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
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
# The admin's header colour (--header-bg in admin/css/base.css, light theme).
ADMIN_HEADER_BG = "rgb(65, 118, 144)"
PASSWORD = "browser-pass-123"


@pytest.fixture
def sync_playwright():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the Python playwright package is not installed"
    )
    return sync_api.sync_playwright


def run_admin_edit(sync_playwright, base_url: str, email: str, new_first_name: str) -> dict:
    """Drive the browser; return what it saw. No ORM call may happen in here: Playwright's
    sync API runs an event loop in this thread, where Django refuses synchronous queries."""
    seen: dict = {"blocked": [], "css": {}}

    def guard(route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            seen["blocked"].append(route.request.url)
            route.abort()

    def record_css(response) -> None:
        if response.url.endswith(".css"):
            seen["css"][urlsplit(response.url).path] = response.status

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                color_scheme="light", viewport={"width": 1280, "height": 900}
            )
            context.route("**/*", guard)
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("response", record_css)

            page.goto(f"{base_url}/admin/")
            seen["login_path"] = urlsplit(page.url).path
            page.fill("#id_username", "root")
            page.fill("#id_password", PASSWORD)
            page.click("#login-form input[type=submit]")
            page.wait_for_load_state()
            seen["after_login_title"] = page.title()

            page.goto(f"{base_url}/admin/customers/customer/")
            page.fill("#searchbar", email.upper())
            page.press("#searchbar", "Enter")
            page.wait_for_load_state()
            rows = page.locator("#result_list tbody tr")
            seen["rows"] = [rows.nth(i).inner_text() for i in range(rows.count())]

            page.locator("#result_list tbody").get_by_role("link", name=email).click()
            page.wait_for_load_state()
            seen["change_path"] = urlsplit(page.url).path
            page.fill("#id_first_name", new_first_name)
            page.click("input[name=_save]")
            page.wait_for_load_state()
            seen["success"] = page.locator(".messagelist .success").all_inner_texts()
            seen["header_bg"] = page.evaluate(
                "getComputedStyle(document.querySelector('#header')).backgroundColor"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "admin.png"))
            context.close()
        finally:
            browser.close()
    return seen


@pytest.mark.django_db(transaction=True)
def test_admin_login_search_and_edit_customer_in_a_real_browser(sync_playwright, live_server):
    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)
    customer = CustomerFactory(email="browser.customer@example.com", first_name="Before")
    CustomerFactory(email="someone.else@example.com", channel=customer.channel)

    seen = run_admin_edit(sync_playwright, live_server.url, customer.email, "After")

    assert seen["blocked"] == []
    assert seen["login_path"] == "/admin/login/"
    assert seen["after_login_title"].startswith("Site administration")
    assert len(seen["rows"]) == 1 and customer.email in seen["rows"][0]
    assert seen["change_path"] == f"/admin/customers/customer/{customer.pk}/change/"
    assert len(seen["success"]) == 1
    assert "was changed successfully" in seen["success"][0]
    assert customer.email in seen["success"][0]
    assert seen["css"].get("/static/admin/css/base.css") == 200
    assert seen["header_bg"] == ADMIN_HEADER_BG
    assert (ARTIFACTS / "admin.png").stat().st_size > 0
    customer.refresh_from_db()
    assert customer.first_name == "After"
