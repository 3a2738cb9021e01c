"""Browser fixtures: the app behind a real WSGI server, and Chromium driven by Playwright.

The server is waitress in a background thread over a small temporary corpus with the fake
embedder, so the page talks real HTTP to the real app without loading the model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_corpus
from fakes import HashEmbedder
from servers import serve_in_thread

from .corpus import BROWSER_DOCUMENTS, BROWSER_PDFS

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `make test` installs it when missing
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}

# Chromium reports CSP violations in the console, but only in its own words; this makes each
# one a console error of ours, with the directive, so a failing test says what was blocked.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`);
});
"""


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> str:
    """Base URL of the app served by waitress on a free port, for the whole session."""
    from spaceqa import create_app

    root = tmp_path_factory.mktemp("browser")
    corpus = write_corpus(root / "corpus", BROWSER_DOCUMENTS)
    for name, pdf in BROWSER_PDFS.items():
        (corpus / name).write_bytes(pdf)
    app = create_app({"corpus_dir": corpus, "index_dir": root / "index"}, embedder=HashEmbedder())
    with serve_in_thread(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    # A follow-up reads several readings of the question with the real reader: seconds on a
    # busy two-core machine, more than expect's default of 5 s.  Waiting longer costs nothing
    # when the page is right; a page that never shows the answer still fails.
    expect.set_options(timeout=20_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class BrowserProblems:
    """Console errors, uncaught exceptions and CSP violations seen by one page."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expected: list[str] = []

    def expect(self, fragment: str) -> None:
        """Accept console errors containing ``fragment`` (e.g. Chromium's line for a failed request)."""
        self.expected.append(fragment)

    def unexpected(self) -> list[str]:
        return [error for error in self.errors if not any(fragment in error for fragment in self.expected)]


@pytest.fixture
def problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture
def open_page(browser, live_server: str, problems: BrowserProblems):
    """Open the chat in a fresh browser context (``new_context`` options, e.g. a viewport).

    Each context has its own localStorage, so no conversation leaks between tests; the test
    fails on any console error, uncaught exception or CSP violation its pages meet.
    """
    contexts = []

    def open_page(**options):
        context = browser.new_context(**{"viewport": DESKTOP, **options})
        contexts.append(context)
        context.set_default_timeout(10_000)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        page = context.new_page()
        page.on("console", lambda message: message.type == "error" and problems.errors.append(message.text))
        page.on("pageerror", lambda error: problems.errors.append(f"uncaught: {error}"))
        page.goto(live_server)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert problems.unexpected() == []


@pytest.fixture
def page(open_page):
    """The chat page at desktop size."""
    return open_page()
