"""The trained reader on the bundled corpus: questions a new user asks, phrased their own way.

Four come from the reader issue's walkthrough, where span rules answered each wrongly (a
name from the wrong clause, the wrong agency, a word of the title, an answer the documents do
not hold), and one from the project's first tests.  The reader must get the span right, cite
it, and abstain where the documents do not say.

Three are not met yet (the reader issue stays open for them): they are marked as expected
failures, strictly, so the day they pass the marker must go.
"""

from __future__ import annotations

import pytest

from spaceqa.evaluate import normalise_answer

pytestmark = pytest.mark.integration

NOT_YET = pytest.mark.xfail(strict=True, reason="reader issue: not answered rightly yet (see README, 'Not there yet')")
ANSWERED = [
    pytest.param("Who proposed going to the moon together?", {"kennedy", "president kennedy", "john f kennedy", "president john f kennedy"},
                 {"003_6c3f5f3a73d38cee.txt"}, marks=NOT_YET),
    ("Which agency does Charles Bolden lead?", {"nasa", "national aeronautics and space administration", "national aeronautics and space administration nasa"},
     {"002_ce559d12851d8811.txt", "003_6c3f5f3a73d38cee.txt"}),  # both documents say it
    pytest.param("Who signed the 1992 joint statement?", {"us and new russian federation"}, {"001_ed1ccbfae5182841.txt"}, marks=NOT_YET),
    # "Krikalev", from the clause about the first Russian, at 0.59 against 0.53 for the right
    # span, with the ONNX int8 embedder `spaceqa serve` runs and these tests now load (with the
    # PyTorch embedder the fourth pass ranks the two the other way round).
    pytest.param("Which American was the first to live on Mir?", {"norman thagard"}, {"001_ed1ccbfae5182841.txt"}, marks=NOT_YET),
]


def ask(client, question, **extra):
    response = client.post("/ask", json={"question": question, **extra})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize("question, expected, doc_ids", ANSWERED)
def test_the_reader_finds_the_span_and_cites_it(real_client, question, expected, doc_ids):
    body = ask(real_client, question)
    assert body["answer"] is not None and normalise_answer(body["answer"]) in expected, body["answers"][:1]
    top = body["answers"][0]
    assert top["doc_id"] in doc_ids and top["text"] in top["sentence"] and top["score"] >= 0.5


def test_the_reader_abstains_when_the_documents_do_not_say(real_client):
    body = ask(real_client, "Who was the first woman in space?")
    assert body["answer"] is None, body["answers"][:1]
    assert all(answer["score"] < 0.5 for answer in body["answers"])
