"""Document and question text that holds HTML is shown as text, and nothing in it runs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .chat_page import ask, reply

pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__pwned = 1</script>"
IMG = '<img src=x onerror="window.__pwned = 1">'


def assert_nothing_ran(page: Page, requested: list[str]) -> None:
    assert page.evaluate("window.__pwned") is None
    # Only the page's own <script type=module> exists; no <img> came from any text.
    assert page.locator("script").count() == 1
    assert page.locator(".transcript img, .panel img").count() == 0
    assert not [url for url in requested if url.rstrip("/").endswith("/x")]  # an <img src=x> would fetch x


def test_markup_in_documents_and_questions_is_shown_as_text(page: Page):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    ask(page, f"{IMG} {SCRIPT} What did the first fragment read?")
    expect(page.locator(".question-text")).to_have_text(f"{IMG} {SCRIPT} What did the first fragment read?")
    # Answered or not, the reply quotes a fragment's sentence (folded-away passages included),
    # its markup as literal text.  Which fragment comes first is the reader's business.
    expect(reply(page)).to_contain_text(re.compile(f"fragment read ({re.escape(SCRIPT)}|{re.escape(IMG)}) in full"))

    reply(page).locator(".cite", has_text="Vostok Archive Notes").first.click()
    document = page.get_by_role("dialog", name="Vostok Archive Notes").locator(".doc-text")
    expect(document).to_contain_text(f"The first fragment read {SCRIPT} in full.")
    expect(document).to_contain_text(f"The second fragment read {IMG} in full.")
    assert_nothing_ran(page, requested)

    page.reload()  # and again when the conversation comes back from localStorage
    expect(page.locator(".question-text").first).to_contain_text(IMG)
    assert_nothing_ran(page, requested)


def test_the_document_page_shows_markup_as_text(page: Page, live_server: str):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server}/view/archive/vostok-markup.txt")

    expect(page.locator(".doc-text")).to_contain_text(f"The first fragment read {SCRIPT} in full.")
    expect(page.locator(".doc-text")).to_contain_text(f"The second fragment read {IMG} in full.")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script").count() == 1
    assert page.locator("main img").count() == 0
