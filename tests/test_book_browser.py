"""The built book in headless Chromium: every page loads, every image renders, no error output.

Uses the offline book built once per session on a copy of the project (the ``offline_book``
fixture), never the checkout's own ``_build``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import BuiltBook

from cxr_lib.tooling.book import STAND_IN_ANNOUNCEMENT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGES = ("index.html", "book/executed/01_baseline.html", "book/executed/02_super_resolution.html",
         "book/executed/03_prompting.html", "book/app.html")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def book_html(offline_book: BuiltBook) -> Path:
    return offline_book.html


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_images_without_errors(book_html: Path, browser, page_path: str) -> None:
    page = browser.new_page()
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url) if request.url.startswith("file:") else None)
    page.goto((book_html / page_path).as_uri(), wait_until="networkidle")
    page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=15000)
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.complete && e.naturalWidth > 0])")
    broken = [src for src, ok in images if not ok]
    assert not broken, broken
    assert not failed, failed
    text = page.inner_text("body")
    assert "Traceback" not in text
    assert page.query_selector_all(".output.traceback, .output.error, .output.stderr") == []
    if page_path.startswith(("book/executed/01", "book/executed/02")):
        assert len(images) >= 2  # the notebooks' figures
    page.close()


def test_stand_in_banner_on_every_page(book_html: Path, browser) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    for page_path in PAGES:
        page.goto((book_html / page_path).as_uri())
        # index.html redirects to the first page: the assertion retries until the page it lands on has loaded
        expect(page.locator("body"), page_path).to_contain_text("STAND-IN", timeout=15000)
    page.close()
    assert "STAND-IN" in STAND_IN_ANNOUNCEMENT
