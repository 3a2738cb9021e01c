"""The chat page in Chromium: asking, follow-ups, evidence, persistence and errors."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from .chat_page import EXAMPLE, FIRST, FIRST_SENTENCE, FOLLOW_UP, UNANSWERABLE, ask, asked, reply

pytestmark = pytest.mark.browser


def test_enter_sends_and_the_answer_shows_with_its_sentence(page: Page):
    ask(page, FIRST)

    expect(page.locator(".question-text")).to_have_text(FIRST)
    answer = reply(page)
    expect(answer.locator(".answer-text")).to_have_text("Norman Thagard")
    expect(answer.locator(".quote").first).to_have_text(FIRST_SENTENCE)
    expect(answer.locator(".quote").first.locator("mark")).to_have_text("Norman Thagard")
    expect(answer.locator(".cite").first).to_contain_text("The Shuttle-Mir Program")
    expect(answer.locator(".confidence")).to_contain_text("% confidence")
    expect(page.get_by_label("Your question")).to_have_value("")
    expect(page.locator("#empty")).to_be_hidden()


def test_an_answer_from_a_pdf_cites_its_page(page: Page):
    ask(page, "What was the oxygen generator aboard the station called?")

    answer = reply(page)
    expect(answer.locator(".answer-text")).to_have_text("Elektron")
    expect(answer.locator(".cite").first).to_contain_text("Station Life Support")
    expect(answer.locator(".cite-page").first).to_have_text(", page 2")


def test_shift_enter_makes_a_new_line_instead_of_sending(page: Page):
    box = page.get_by_label("Your question")
    box.type("What does GEOSS")
    box.press("Shift+Enter")
    box.type("stand for?")
    expect(box).to_have_value("What does GEOSS\nstand for?")
    expect(page.locator(".turn")).to_have_count(0)

    bodies = asked(page)
    box.press("Enter")  # sent as one question, and answered from the document about it
    expect(page.locator(".turn")).to_have_count(1)
    expect(reply(page).locator(".cite").first).to_contain_text("Earth Observation Partnerships")
    assert bodies == [{"question": "What does GEOSS\nstand for?", "history": []}]


def test_the_page_shows_it_is_busy_and_sends_one_question_at_a_time(page: Page):
    held = []
    page.route("**/ask", lambda route: held.append(route))  # hold the request until the test lets it go
    ask(page, FIRST)
    expect(reply(page)).to_contain_text("Searching the documents")
    expect(page.get_by_role("button", name="Send")).to_be_disabled()

    ask(page, FOLLOW_UP)  # Enter while waiting keeps the text for later
    expect(page.locator(".turn")).to_have_count(1)
    expect(page.get_by_label("Your question")).to_have_value(FOLLOW_UP)

    held[0].continue_()
    expect(reply(page).locator(".answer-text")).to_have_text("Norman Thagard")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_a_follow_up_sends_the_earlier_questions_as_history(page: Page):
    bodies = asked(page)
    ask(page, FIRST)
    expect(reply(page).locator(".answer-text")).to_have_text("Norman Thagard")
    ask(page, FOLLOW_UP)

    expect(reply(page, 1).locator(".answer-text")).to_have_text("115")
    # Each earlier turn goes with the answer shown, so the server need not ask it again.
    assert bodies == [
        {"question": FIRST, "history": []},
        {"question": FOLLOW_UP, "history": [{"question": FIRST, "answer": "Norman Thagard", "understood_as": None}]},
    ]


def test_a_conversation_shows_how_each_follow_up_was_understood(page: Page):
    """A fragment, a switch of topic and a pronoun, each answered; the follow-ups say how they were read."""
    bodies = asked(page)
    completed = "On which mission was the first Russian cosmonaut to fly aboard an American Space Shuttle?"
    turns = [  # (question, answer, the readings the page may show: none for a question taken as asked)
        ("Who was the first Russian cosmonaut to fly aboard an American Space Shuttle?", "Sergei Krikalev", ()),
        ("On which mission?", "STS-60", (completed,)),  # a fragment, completed from the question before it
        (FIRST, "Norman Thagard", ()),  # a new topic, taken as asked
        # "he" is the answer before it: read with that answer in its place, or beside the
        # question it follows (the reader's scores decide; both are right, and say so)
        (FOLLOW_UP, "115", ("How many days did Norman Thagard spend there?", f"{FOLLOW_UP} (following: {FIRST})")),
    ]
    for number, (question, answer, readings) in enumerate(turns):
        ask(page, question)
        expect(reply(page, number).locator(".answer-text")).to_contain_text(answer)
        line = page.locator(".turn").nth(number).locator(".understood")
        if readings:
            expect(line).to_be_visible()
            expect(line).to_have_text(re.compile("^Understood as: (?:" + "|".join(map(re.escape, readings)) + ")$"))
        else:
            expect(line).to_be_hidden()
    # the pronoun's question went with what the page had shown: answers and readings
    assert bodies[3]["history"][-2:] == [
        {"question": "On which mission?", "answer": "STS-60 mission", "understood_as": completed},
        {"question": FIRST, "answer": "Norman Thagard", "understood_as": None},
    ]

    shown = page.locator(".understood:visible").all_inner_texts()
    assert len(shown) == 2
    page.reload()  # the readings are kept with the conversation
    expect(page.locator(".understood:visible")).to_have_text(shown)


def test_an_example_question_is_asked_with_one_click(page: Page):
    page.get_by_role("button", name=EXAMPLE).click()
    expect(reply(page).locator(".answer-text")).to_have_text("July 15, 1975")
    expect(page.get_by_label("Your question")).to_be_focused()


def test_no_answer_is_said_plainly_and_the_closest_passages_are_labelled(page: Page):
    ask(page, UNANSWERABLE)

    no_answer = reply(page)
    expect(no_answer).to_contain_text("The documents do not answer this question.")
    expect(no_answer.locator(".candidates-label")).to_contain_text("not an answer")
    expect(no_answer.locator(".candidates .quote")).to_have_count(3)
    expect(no_answer.locator(".answer-text")).to_have_count(0)
    expect(no_answer.locator("mark")).to_have_count(0)  # nothing in them is put forward as the answer


def test_a_citation_opens_the_document_at_the_cited_sentence(page: Page):
    ask(page, FIRST)
    citation = reply(page).locator(".cite").first
    citation.press("Enter")  # keyboard, like a click

    panel = page.get_by_role("dialog", name="The Shuttle-Mir Program")
    expect(panel).to_be_visible()
    expect(panel.get_by_role("button", name="Close document")).to_be_focused()
    cited = panel.locator("mark.cited")
    expect(cited).to_have_text(FIRST_SENTENCE)
    expect(cited.locator(".cited-answer")).to_have_text("Norman Thagard")
    expect(cited).to_be_in_viewport()
    # The sentence is in the sixth paragraph: seeing it means the panel scrolled to it.
    assert panel.locator("[data-panel-body]").evaluate("body => body.scrollTop") > 0
    expect(panel.locator(".doc-text")).to_contain_text("The Shuttle-Mir Program was a collaborative space program")

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(citation).to_be_focused()


def test_a_three_question_conversation_cites_each_answer(page: Page):
    """The issue's acceptance: three questions, then every citation opens its own sentence."""
    turns = [(FIRST, "Norman Thagard"), (FOLLOW_UP, "115"), ("On what date did Soyuz-19 lift off?", "July 15, 1975")]
    for turn, (question, answer) in enumerate(turns):
        ask(page, question)
        expect(reply(page, turn).locator(".answer-text")).to_have_text(answer)

    for turn, (_, answer) in enumerate(turns):
        evidence = reply(page, turn)
        sentence = evidence.locator(".quote").first.inner_text()
        evidence.locator(".cite").first.click()
        panel = page.get_by_role("dialog")
        cited = panel.locator("mark.cited")
        expect(cited).to_have_text(sentence)
        expect(cited.locator(".cited-answer")).to_have_text(answer)
        expect(cited).to_be_in_viewport()
        panel.get_by_role("button", name="Close document").click()
        expect(panel).to_be_hidden()


def test_the_document_page_highlights_the_sentence_in_its_link(page: Page, live_server: str):
    ask(page, FIRST)
    href = reply(page).locator(".cite").first.get_attribute("href")
    assert href.startswith("/view/shuttle-mir.txt#sentence=")

    page.goto(live_server + href)
    expect(page.get_by_role("heading", level=1)).to_have_text("The Shuttle-Mir Program")
    cited = page.locator("mark.cited")
    expect(cited).to_have_text(FIRST_SENTENCE)
    expect(cited).to_be_in_viewport()


def test_the_document_page_explains_an_unknown_document(page: Page, live_server: str, problems):
    problems.expect("status of 404")  # Chromium's console line for the failed fetch
    page.goto(f"{live_server}/view/earth/missing.txt")
    expect(page.get_by_role("alert")).to_have_text("no document with id 'earth/missing.txt'")


def test_new_chat_clears_the_conversation_and_a_reload_restores_it(page: Page):
    ask(page, FIRST)
    expect(reply(page).locator(".answer-text")).to_have_text("Norman Thagard")
    ask(page, FOLLOW_UP)
    expect(reply(page, 1).locator(".answer-text")).to_have_text("115")

    page.reload()
    expect(page.locator(".question-text")).to_have_text([FIRST, FOLLOW_UP])
    expect(page.locator(".answer-text")).to_have_text(["Norman Thagard", "115"])
    bodies = asked(page)
    ask(page, UNANSWERABLE)  # the restored chat still gives its history to a follow-up
    expect(reply(page, 2)).to_contain_text("do not answer")
    assert [turn["question"] for turn in bodies[0]["history"]] == [FIRST, FOLLOW_UP]
    assert [turn["answer"] for turn in bodies[0]["history"]] == ["Norman Thagard", "115"]

    page.get_by_role("button", name="New chat").click()
    expect(page.locator(".turn")).to_have_count(0)
    expect(page.get_by_role("button", name=EXAMPLE)).to_be_visible()  # the examples are back
    expect(page.get_by_label("Your question")).to_be_focused()
    page.reload()
    expect(page.get_by_role("heading", name="Ask about U.S.–Soviet")).to_be_visible()
    expect(page.locator(".turn")).to_have_count(0)


def ask_and_fail(page: Page, problems, status: int, code: str, message: str):
    """Ask FIRST while /ask answers ``status`` with this error; the alert the page shows."""
    problems.expect(f"status of {status}")
    error = {"error": {"code": code, "message": message}}
    page.route("**/ask", lambda route: route.fulfill(status=status, content_type="application/json", body=json.dumps(error)))
    ask(page, FIRST)
    return page.get_by_role("alert")


def test_a_4xx_error_is_shown_inline_with_the_server_message_and_no_retry(page: Page, problems):
    alert = ask_and_fail(page, problems, 400, "question_too_long", '"question" is 900 characters; the limit is 500')
    expect(alert).to_contain_text("Could not get an answer.")
    expect(alert).to_contain_text('"question" is 900 characters; the limit is 500')
    expect(alert).to_contain_text("Change the question and send it again.")
    expect(alert.get_by_role("button", name="Try again")).to_have_count(0)  # the same question would be refused again


def test_a_5xx_error_offers_to_try_again(page: Page, problems):
    alert = ask_and_fail(page, problems, 503, "internal_error", "The server is busy.")
    expect(alert).to_contain_text("The server is busy.")
    page.unroute("**/ask")
    alert.get_by_role("button", name="Try again").click()
    expect(reply(page).locator(".answer-text")).to_have_text("Norman Thagard")
    expect(page.get_by_role("alert")).to_have_count(0)


def test_the_length_of_a_long_question_is_shown_before_the_limit(page: Page):
    box = page.get_by_label("Your question")
    count = page.locator("[data-length-hint]")
    box.fill("a" * 100)
    expect(count).to_be_hidden()
    box.fill("a" * 450)
    expect(count).to_have_text("450 of 500 characters.")


def test_a_network_failure_is_shown_inline(page: Page, problems):
    problems.expect("net::ERR_INTERNET_DISCONNECTED")
    page.route("**/ask", lambda route: route.abort("internetdisconnected"))
    ask(page, FIRST)

    expect(page.get_by_role("alert")).to_contain_text("No connection to the SpaceQA server")
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_a_server_that_never_answers_times_out_inline(page: Page):
    page.clock.install()
    page.reload()  # the fake clock must be in place before the page's scripts run
    page.route("**/ask", lambda route: None)  # hold the request: never fulfilled, never aborted
    ask(page, FIRST)
    expect(page.locator(".pending")).to_be_visible()

    page.clock.run_for(31_000)
    expect(page.get_by_role("alert")).to_contain_text("did not answer in time")
    expect(page.get_by_role("button", name="Send")).to_be_enabled()


def test_copy_answer_puts_the_answer_and_its_source_on_the_clipboard(page: Page, live_server: str):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    ask(page, FIRST)
    expect(reply(page).locator(".answer-text")).to_have_text("Norman Thagard")

    reply(page).get_by_role("button", name="Copy answer", exact=True).click()
    expect(reply(page).get_by_role("status")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f'Norman Thagard — "{FIRST_SENTENCE}" (The Shuttle-Mir Program)'

    ask(page, "What was the oxygen generator aboard the station called?")  # a PDF: the page is cited
    expect(reply(page).locator(".answer-text")).to_have_text("Elektron")
    reply(page).get_by_role("button", name="Copy answer", exact=True).click()
    expect(reply(page).get_by_role("status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == (
        'Elektron — "The oxygen generator aboard the station was called Elektron, and it split water '
        'into oxygen and hydrogen." (Station Life Support, page 2)'
    )


def test_a_link_asks_its_question_once_and_each_question_offers_its_link(page: Page, live_server: str):
    ask(page, FIRST)
    expect(reply(page).locator(".answer-text")).to_have_text("Norman Thagard")
    link = page.locator(".turn").first.get_by_role("link", name="Link to this question")
    expect(link).to_have_attribute("href", "/?q=" + quote(FIRST, safe=""))

    bodies = asked(page)
    linked = "What is GEOSS short for? (& #1)"
    page.goto(f"{live_server}/?q={quote(linked, safe='')}")
    expect(page.locator(".question-text")).to_have_text([FIRST, linked])
    expect(reply(page)).to_contain_text("Earth Observation Partnerships")  # the document it asks about
    # Asked on its own: a linked question was not written as a follow-up to this chat.
    assert bodies == [{"question": linked, "history": []}]
    expect(page).to_have_url(f"{live_server}/")  # the ?q= is spent
    expect(page.locator(".turn").last.get_by_role("link", name="Link to this question")).to_have_attribute(
        "href", "/?q=What%20is%20GEOSS%20short%20for%3F%20(%26%20%231)"
    )

    page.reload()  # shows the conversation, does not ask again
    expect(page.locator(".question-text")).to_have_text([FIRST, linked])
    ask(page, "What does it link?")  # a follow-up follows on from the linked question alone
    expect(page.locator(".turn")).to_have_count(3)
    expect(reply(page)).not_to_contain_text("Searching the documents")
    assert [(body["question"], [turn["question"] for turn in body["history"]]) for body in bodies[1:]] == [("What does it link?", [linked])]

    link.click()  # the first question's link asks it again, at the end of the chat
    expect(page.locator(".question-text")).to_have_text([FIRST, linked, "What does it link?", FIRST])
    expect(reply(page).locator(".answer-text")).to_have_text("Norman Thagard")


def test_the_empty_page_lists_the_documents_each_opening_as_a_page(page: Page, live_server: str):
    documents = page.request.get(f"{live_server}/documents").json()["documents"]
    page.get_by_text("The documents the answers come from").click()
    links = page.locator(".library-list a")
    expect(links).to_have_text([doc["title"] for doc in documents])  # every one, in the API's order, as text
    for number, doc in enumerate(documents):
        expect(links.nth(number)).to_have_attribute("href", "/view/" + quote(doc["doc_id"], safe="/"))
    pdf = next(number for number, doc in enumerate(documents) if doc["pages"])
    expect(page.locator(".library-list li").nth(pdf)).to_contain_text(f"· {documents[pdf]['pages']} pages")
