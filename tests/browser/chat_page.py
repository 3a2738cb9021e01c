"""Steps on the chat page, shared by the browser tests."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

# Questions about tests/browser/corpus.py, and what the reader answers over it.
FIRST = "Which American was the first to live on Mir?"
FIRST_SENTENCE = (
    "In March 1995, Norman Thagard became the first American to live on the Mir station, "
    "where he spent 115 days with his Russian counterparts."
)
FOLLOW_UP = "How many days did he spend there?"  # "115", from the same sentence
UNANSWERABLE = "What is the boiling point of mercury?"
EXAMPLE = "On what date did Soyuz-19 lift off?"  # one of the page's own example questions

def ask(page: Page, question: str) -> None:
    """Type ``question`` in the question box and press Enter."""
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")


def reply(page: Page, turn: int = -1) -> Locator:
    """The reply of one turn of the conversation (the last by default)."""
    turns = page.locator(".turn")
    return (turns.last if turn == -1 else turns.nth(turn)).locator(".message.bot")


def asked(page: Page) -> list[dict]:
    """The JSON bodies of the /ask requests the page sends from now on, filled in as they go."""
    bodies: list[dict] = []
    page.on("request", lambda request: request.url.endswith("/ask") and bodies.append(request.post_data_json))
    return bodies
