"""The app in headless Chromium (Debian's ``chromium``): pick an example, generate, read the stream.

Also checks that an Arabic report is laid out right to left, and takes a screenshot of the page
(under the test's temporary folder; ``pytest tests/test_ui_browser.py --update-screenshot`` also copies
it to ``book/images/ui_screenshot.png``, the picture on the book's app page). Skipped when
``/usr/bin/chromium`` is absent (``make browser`` installs it).

A generation counts as finished when the record panel shows a *new* record id and nothing on the
page is still generating: Gradio drops a click on Generate while the previous generation is pending,
so a test that moved on earlier (say, when the record panel only showed Gradio's "processing" timer)
would leave a stream running into the next test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from live_app import serving

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CXR_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BOOK_SCREENSHOT = Path(__file__).resolve().parents[1] / "book" / "images" / "ui_screenshot.png"

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
    from cxr_lib.app.ui import build_app

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


# The id of the record shown in the record panel (null before the first generation).
RECORD_ID = """() => {
  const m = document.querySelector('#record').innerText.match(/"id"\\s*:\\s*"([0-9a-f]{12})"/);
  return m ? m[1] : null;
}"""
# Finished: a new record id, and no component still streaming or showing a pending status.
FINISHED = f"""before => ({RECORD_ID})() !== before
  && document.querySelectorAll('.generating').length === 0
  && !document.body.innerText.includes('processing |')"""


def record_id(page) -> str | None:
    """The id of the record the page shows."""
    return page.evaluate(RECORD_ID)


def generate_and_watch(page) -> list[str]:
    """Click Generate; return the report box's successive values once the generation has finished."""
    before = record_id(page)
    page.evaluate(WATCH_REPORT)
    page.locator("#generate").click()
    page.wait_for_function(FINISHED, arg=before)
    return page.evaluate("() => { clearInterval(window.__watch); return window.__seen; }")


def test_pick_an_example_generate_and_read_the_stream(page, tmp_path, request):
    from cxr_lib.models.provenance import STAND_IN_LABEL

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

    screenshot = tmp_path / "ui_screenshot.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000
    if request.config.getoption("--update-screenshot"):
        shutil.copyfile(screenshot, BOOK_SCREENSHOT)


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
    before = record_id(page)
    prompt.fill("   ")
    prompt.blur()
    page.locator("#generate").click()
    page.locator("[data-testid=toast-text]", has_text="the prompt is empty").first.wait_for()
    assert record_id(page) == before  # nothing was generated
    prompt.fill(original)
    assert generate_and_watch(page)  # the page still works afterwards
    assert record_id(page) != before
