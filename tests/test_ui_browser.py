"""The app in headless Chromium (Debian's ``chromium``): pick an example, generate, read the stream.

Also checks that an Arabic report is laid out right to left, and saves the screenshot the book's
UI page shows (``book/images/ui_screenshot.png``). Skipped when ``/usr/bin/chromium`` is absent
(``make browser`` installs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from live_app import serving

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CXR_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = Path(__file__).resolve().parents[1] / "book" / "images" / "ui_screenshot.png"

# Records every value the report box shows, so the test can see the text grow while it streams.
WATCH_REPORT = """() => {
  window.__seen = [];
  const box = document.querySelector('#report textarea');
  window.__watch = setInterval(() => {
    const v = box.value;
    if (window.__seen.length === 0 || window.__seen[window.__seen.length - 1] !== v) window.__seen.push(v);
  }, 10);
}"""


@pytest.fixture(scope="module")
def page(request, tmp_path_factory):
    """A Chromium page on the app with the stand-in models."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (make browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from cxr_lib.ui import build_app

    request.getfixturevalue("data_dir")
    stand_in_dir = request.getfixturevalue("stand_in_dir")  # built only when the browser is there

    app = build_app(str(stand_in_dir / "medgemma"), sr_model=str(stand_in_dir / "swin2sr"),
                    results_dir=tmp_path_factory.mktemp("ui_browser"))
    with serving(app) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(60_000)
            tab.goto(url, wait_until="networkidle")
            yield tab
        finally:
            browser.close()


def generate_and_watch(page) -> list[str]:
    """Click Generate; return the report box's successive values until the reading appears."""
    before = page.locator("#record").inner_text()  # each record has a new id: it changes when a run ends
    page.evaluate(WATCH_REPORT)
    page.locator("#generate").click()
    page.wait_for_function("before => document.querySelector('#record').innerText !== before"
                           " && document.querySelector('#verdict').innerText.includes('Reading')", arg=before)
    page.wait_for_timeout(200)
    return page.evaluate("() => { clearInterval(window.__watch); return window.__seen; }")


def test_pick_an_example_generate_and_read_the_stream(page):
    from cxr_lib.stand_ins import STAND_IN_LABEL

    assert STAND_IN_LABEL in page.locator("#stand-in-banner").inner_text()
    page.locator("#gallery-reference .thumbnail-item").nth(2).click()  # reference case 22
    page.wait_for_function("document.querySelector('#case-info').innerText.includes('Test image 22')")
    assert "ground truth: pneumonia" in page.locator("#case-info").inner_text()
    tokens = page.locator("#max-tokens input[type=number]")
    tokens.fill("160")
    tokens.press("Enter")

    seen = generate_and_watch(page)
    final = page.locator("#report textarea").input_value()
    assert final.strip()
    growing = [value for value in seen if value and value != final]
    assert growing, f"no partial report was shown before the final one (saw {len(seen)} values)"
    assert all(final.startswith(value.rstrip(",. ")) or value in final for value in growing)
    verdict = page.locator("#verdict").inner_text()
    assert "Ground truth: pneumonia" in verdict and STAND_IN_LABEL in verdict
    reading = page.locator("#reading").inner_text()
    assert final.split()[0] in reading  # the report appears in the highlighted reading

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 20_000


def test_arabic_report_is_right_to_left(page):
    page.locator("#language input").click()
    page.get_by_role("option", name="Arabic (ar)").click()
    report = page.locator("#report textarea")
    page.wait_for_function("document.querySelector('#report textarea').getAttribute('dir') === 'rtl'")
    generate_and_watch(page)
    assert report.input_value().strip()
    assert report.get_attribute("dir") == "rtl"
    assert report.evaluate("box => getComputedStyle(box).direction") == "rtl"
    assert page.locator("#reading").evaluate("block => getComputedStyle(block).direction") == "rtl"
    # and back to left-to-right for English
    page.locator("#language input").click()
    page.get_by_role("option", name="English (en)").click()
    page.wait_for_function("getComputedStyle(document.querySelector('#report textarea')).direction === 'ltr'")


def test_bad_input_shows_a_message_in_the_page(page):
    prompt = page.locator("#prompt textarea")
    original = prompt.input_value()
    prompt.fill("   ")
    prompt.blur()
    page.wait_for_timeout(300)
    page.locator("#generate").click()
    page.locator("[data-testid=toast-text]", has_text="the prompt is empty").first.wait_for()
    prompt.fill(original)
    assert generate_and_watch(page)  # the page still works afterwards
