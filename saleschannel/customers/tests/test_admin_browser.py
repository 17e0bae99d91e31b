"""A real headless Chromium against the live server: log in through the admin's login form,
search the customer changelist by email, open the customer, edit and save it; the page is styled
(the admin CSS loaded) and no request leaves for a host other than the live server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from saleschannel.core.tests.browser import ARTIFACTS, open_offline_page, sync_playwright_or_skip
from saleschannel.customers.tests.factories import CustomerFactory

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
# The admin's header colour (--header-bg in admin/css/base.css, light theme).
ADMIN_HEADER_BG = "rgb(65, 118, 144)"
PASSWORD = "browser-pass-123"


@pytest.fixture
def sync_playwright():
    return sync_playwright_or_skip()


def run_admin_edit(sync_playwright, base_url: str, email: str, new_first_name: str) -> dict:
    """Drive the browser; return what it saw. No ORM call may happen in here: Playwright's
    sync API runs an event loop in this thread, where Django refuses synchronous queries."""
    seen: dict = {"blocked": [], "css": {}}

    def record_css(response) -> None:
        if response.url.endswith(".css"):
            seen["css"][urlsplit(response.url).path] = response.status

    with sync_playwright() as playwright:
        browser, page = open_offline_page(
            playwright, seen["blocked"], LOCAL_HOSTS, color_scheme="light"
        )
        try:
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
            page.context.close()
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
