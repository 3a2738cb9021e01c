"""How the chat looks: screenshots to review by eye, contrast, and phone width.

The screenshots land in test-artifacts/ (ignored by git) on every run; they are for people
to look at, not compared to anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .chat_page import EXAMPLE, FIRST, FOLLOW_UP, UNANSWERABLE, ask, reply

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Reduced motion: scrolling is instant, so a screenshot never catches the page mid-scroll.
STILL = {"reduced_motion": "reduce"}
PHONE = {**STILL, "viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

# WCAG AA contrast of every visible text node against the first opaque background behind it:
# 4.5:1, or 3:1 for large text (24px, or 18.66px bold). Disabled controls are exempt.
CONTRAST_FAILURES = """
() => {
  const rgba = (css) => css.match(/[\\d.]+/g).map(Number);
  const luminance = ([r, g, b]) => {
    const linear = (c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  };
  const background = (element) => {
    for (let node = element; node; node = node.parentElement) {
      const color = rgba(getComputedStyle(node).backgroundColor);
      if (color.length === 3 || color[3] === 1) return color;
    }
    return [255, 255, 255];
  };
  const failures = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const element = walker.currentNode.parentElement;
    if (!walker.currentNode.data.trim() || seen.has(element)) continue;
    seen.add(element);
    if (!element.checkVisibility() || element.closest(".visually-hidden, :disabled")) continue;
    const style = getComputedStyle(element);
    const [light, dark] = [luminance(rgba(style.color)), luminance(background(element))].sort((a, b) => b - a);
    const ratio = (light + 0.05) / (dark + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const text = walker.currentNode.data.trim().slice(0, 40);
      failures.push(`${element.tagName.toLowerCase()}.${element.className} ${ratio.toFixed(2)}: ${text}`);
    }
  }
  return failures;
}
"""


def converse(page: Page) -> None:
    """An answer, a follow-up, and a question the documents do not answer."""
    for question, expected in [(FIRST, "Norman Thagard"), (FOLLOW_UP, "115"), (UNANSWERABLE, "do not answer")]:
        ask(page, question)
        expect(reply(page)).to_contain_text(expected)


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png")


def open_first_citation(page: Page) -> None:
    page.locator(".turn").first.locator(".cite").first.click()
    expect(page.locator("mark.cited")).to_be_in_viewport()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_desktop_screenshots_and_contrast(open_page, scheme: str):
    page = open_page(color_scheme=scheme, **STILL)
    expect(page.get_by_role("button", name=EXAMPLE)).to_be_visible()
    shoot(page, f"desktop-{scheme}-empty")
    assert page.evaluate(CONTRAST_FAILURES) == []

    converse(page)
    shoot(page, f"desktop-{scheme}-conversation")
    page.locator(".others summary").first.click()  # the other passages too
    shoot(page, f"desktop-{scheme}-other-passages")
    assert page.evaluate(CONTRAST_FAILURES) == []

    open_first_citation(page)
    shoot(page, f"desktop-{scheme}-document")
    assert page.evaluate(CONTRAST_FAILURES) == []

    page.get_by_role("link", name="Open as page").evaluate("link => location.assign(link.href)")  # same tab
    expect(page.locator("mark.cited")).to_be_in_viewport()
    shoot(page, f"desktop-{scheme}-document-page")
    assert page.evaluate(CONTRAST_FAILURES) == []


def test_an_error_reads_clearly(open_page, problems):
    page = open_page(**STILL)
    problems.expect("net::ERR_INTERNET_DISCONNECTED")
    page.route("**/ask", lambda route: route.abort("internetdisconnected"))
    ask(page, FIRST)
    expect(page.get_by_role("alert")).to_be_visible()
    shoot(page, "desktop-light-error")
    assert page.evaluate(CONTRAST_FAILURES) == []


def test_the_chat_fits_a_phone(open_page):
    page = open_page(**PHONE)
    expect(page.get_by_role("button", name=EXAMPLE)).to_be_visible()
    shoot(page, "phone-empty")

    converse(page)
    shoot(page, "phone-conversation")
    # Nothing wider than the screen: no sideways scrolling, on the page or in the conversation.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator("#main").evaluate("main => main.scrollWidth <= main.clientWidth")

    open_first_citation(page)
    panel = page.get_by_role("dialog")
    assert panel.bounding_box()["width"] <= 375
    shoot(page, "phone-document")


# A file name used as a title: one unbroken word, far wider than a phone.
LONG_TITLE = "Shuttle_Mir_Joint_Program_Final_Report_Volume_2_Appendix_F_Crew_Training_and_Operations_1994-1998.pdf"


def with_long_titles(route) -> None:
    """The server's real reply, every cited document renamed to LONG_TITLE."""
    response = route.fetch()
    body = response.json()
    for answer in body["answers"]:
        answer["title"] = LONG_TITLE
    route.fulfill(response=response, json=body)


def test_long_citation_titles_fit_a_phone(open_page):
    page = open_page(**{**PHONE, "viewport": {"width": 390, "height": 844}})
    page.route("**/ask", with_long_titles)
    ask(page, FIRST)
    expect(reply(page).locator(".cite-title").first).to_have_text(LONG_TITLE)
    page.locator(".others summary").first.click()  # the other passages considered, unfolded
    expect(page.locator(".others .candidates").first).to_be_visible()
    ask(page, UNANSWERABLE)  # the closest passages, in cards
    expect(reply(page).locator(".candidates-label")).to_be_visible()
    shoot(page, "phone-long-titles")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#main").evaluate("main => main.getBoundingClientRect().width") <= 390
    assert page.locator("#main").evaluate("main => main.scrollWidth <= main.clientWidth")
