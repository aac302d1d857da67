"""The 驾驶舱 in Debian's chromium at 375 px and 1280 px: no horizontal scroll on a phone, the SVG charts
drawn with their Chinese labels, no script error under the CSP, and a figure that leads to its list.
Screenshots go to test-output/screenshots/cockpit-*.png."""

from __future__ import annotations

import pytest

from tests.web.helpers import login_token
from tests.web.test_web_browser import _confirm, _shoot, site, sqlite_rt  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_it_shows_the_cockpit_on_a_phone_and_a_desk(site, browser) -> None:  # noqa: F811
    _, url, w = site
    page = browser.new_page(viewport={"width": 375, "height": 812})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/auth/{login_token(w.admin)}?next=/cockpit")
    _confirm(page, "admin@county.example")
    assert page.url == f"{url}/cockpit"
    assert page.locator("svg.chart").count() == 3
    box = page.locator("svg.chart").first.bounding_box()
    assert box is not None and 300 <= box["width"] <= 375  # scaled to the phone, not cut off
    assert "近12周整改走势" in page.locator("svg.chart").first.inner_html()
    _shoot(page, "cockpit")
    page.set_viewport_size({"width": 1280, "height": 900})
    overdue = page.locator("a.tile.late .n").inner_text()
    page.locator("a.tile.late").click()
    page.wait_for_url(f"{url}/findings?overdue=1")
    assert f"共 {overdue} 项" in page.inner_text("main")
    assert errors == []
